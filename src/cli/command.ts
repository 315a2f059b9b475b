import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { AcuError } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import type { Io } from './io.js';

/**
 * One CLI command: `parse(argv) -> options`, then `run(options, io)`. Commands never call
 * process.exit; they return an exit code or throw an AcuError.
 */
export interface Command<Options> {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** Full help text printed by `acu <name> --help`. */
  readonly help: string;
  parse(argv: readonly string[]): Options;
  run(options: Options, io: Io): Promise<ExitCodeValue>;
}

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

/** Result of {@link parseCommandArgs}: flag values, positionals, and what came after `--`. */
export interface ParsedArgs<V> {
  readonly values: V;
  readonly positionals: string[];
  readonly afterDashDash: string[];
}

/**
 * Parse one command's argv with node's own `util.parseArgs`, turning its errors into usage errors
 * that name the command. Arguments after `--` are returned apart (they are paths, never flags).
 */
export function parseCommandArgs<O extends ParseOptions>(
  command: string,
  argv: readonly string[],
  options: O,
): ParsedArgs<ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values']> {
  const dash = argv.indexOf('--');
  const head = dash === -1 ? [...argv] : argv.slice(0, dash);
  const afterDashDash = dash === -1 ? [] : argv.slice(dash + 1);
  try {
    const parsed = parseArgs({ args: head, options, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals, afterDashDash };
  } catch (cause) {
    const message = cause instanceof Error ? cause.message.split('\n')[0] ?? String(cause) : String(cause);
    throw new AcuError('ERR_USAGE', `${command}: ${message}`, {
      hint: `run 'acu ${command} --help' for its usage`,
      cause,
    });
  }
}

/** Parse a non-negative integer flag value or fail with a usage error naming the flag. */
export function parseCount(command: string, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new AcuError('ERR_USAGE', `${command}: --${flag} expects a whole number, got '${value}'`, {
      hint: `run 'acu ${command} --help' for its usage`,
    });
  }
  return Number(value);
}

/** Refuse stray positional arguments with a usage error naming the first. */
export function refusePositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length === 0) return;
  throw new AcuError('ERR_USAGE', `${command}: unexpected argument '${positionals[0] ?? ''}'`, {
    hint: `run 'acu ${command} --help' for its usage`,
  });
}
