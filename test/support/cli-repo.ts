/**
 * The acu CLI run in-process, what it prints captured: against a fixture repository, the way a
 * user types its commands (a repository with one commit, README.md, at `<top>/repo`, made before
 * the file's tests and removed after them, and `cli(...args)` that runs acu there); or one
 * command module on its own, in a repository a test built.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { Command } from '../../src/cli/command.js';
import { bufferIo } from '../../src/cli/io.js';
import { reportError, runCli } from '../../src/cli/main.js';
import type { ExitCodeValue } from '../../src/core/errors.js';

/** What one acu command did: its exit code and its two streams. */
export interface CliOutput {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** The repository of a test file and the CLI run in it. */
export interface CliRepo {
  /** The temporary folder that holds the repository (set once the `before` hook has run). */
  readonly top: string;
  /** The repository's work tree, `<top>/repo`. */
  readonly dir: string;
  /** Run `acu <args>` in the repository. */
  readonly cli: (...args: string[]) => Promise<CliOutput>;
}

/**
 * Register the `before` hook that builds the repository (in a temporary folder named after `label`)
 * and the `after` hook that removes it; call once, at the top of a test file.
 */
export function cliRepo(label: string): CliRepo {
  let top = '';
  let dir = '';
  before(async () => {
    top = await makeTempDir(label);
    dir = join(top, 'repo');
    await buildFixtureRepo(dir, { commits: [{ id: 'root', files: { 'README.md': 'x\n' } }] });
  });
  after(async () => {
    await removeTempDir(top);
  });
  return {
    get top(): string {
      return top;
    },
    get dir(): string {
      return dir;
    },
    cli: async (...args) => {
      const io = bufferIo(dir);
      const code = await runCli(args, io);
      return { code, out: io.out(), err: io.err() };
    },
  };
}

/**
 * Run `command` (its parse, then its run) in `cwd` with `args`, a failure reported as main
 * reports it without --debug: for a test that calls one command module without main's dispatch.
 */
export async function runCommandIn<O>(command: Command<O>, cwd: string, ...args: string[]): Promise<{ code: ExitCodeValue; out: string; err: string }> {
  const io = bufferIo(cwd);
  let code: ExitCodeValue;
  try {
    code = await command.run(command.parse(args), io);
  } catch (error) {
    code = reportError(error, io, false);
  }
  return { code, out: io.out(), err: io.err() };
}

/** The raw Ed25519 public key (hex) of another node, one that exists only in a cluster document. */
export function otherKey(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('hex');
}
