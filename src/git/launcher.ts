/**
 * How git reaches acu: the absolute command line of this checkout's launcher, for the merge driver
 * configuration and the hook shims. Absolute paths, because git runs drivers and hooks with
 * whatever PATH the user's shell or GUI has, where `acu` may not be.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The absolute path of this checkout's launcher, `bin/acu.js`. */
export function launcherPath(): string {
  // dist/src/git/launcher.js -> bin/acu.js
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'acu.js');
}

/** Quote a value for a POSIX shell. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `'<node>' '<launcher>'`: the start of every command line git runs to call acu. */
export function launcherCommand(): string {
  return `${shellQuote(process.execPath)} ${shellQuote(launcherPath())}`;
}
