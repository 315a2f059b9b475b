import pc from 'picocolors';

/**
 * Where a command writes. stdout carries data; stderr carries messages. Injected so that tests run
 * commands in-process and read what they printed.
 */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stderr is a terminal (progress bars go there). */
  readonly stderrIsTty: boolean;
  /** True when colour may be used on stdout (a TTY and NO_COLOR unset). */
  readonly color: boolean;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The process's own streams. */
export function processIo(): Io {
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTty: process.stderr.isTTY === true,
    color: process.stdout.isTTY === true && !noColor && process.env.TERM !== 'dumb',
    cwd: process.cwd(),
    env: process.env,
  };
}

/** An Io that records everything, for tests. */
export function bufferIo(cwd: string, env: Record<string, string | undefined> = {}): Io & {
  out: () => string;
  err: () => string;
} {
  let out = '';
  let err = '';
  return {
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
    stderrIsTty: false,
    color: false,
    cwd,
    env,
    out: () => out,
    err: () => err,
  };
}

/** Colour helpers that become identity functions when colour is off. */
export function paint(io: Io): ReturnType<typeof pc.createColors> {
  return pc.createColors(io.color);
}
