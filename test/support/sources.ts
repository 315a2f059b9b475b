/**
 * The repository's own TypeScript sources, for the tests that scan them for a rule (tidy: src/core
 * is pure; layering: only src/git runs git). They read the .ts files, not dist: a rule is about
 * the code as written.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (this file runs as dist/test/support/sources.js). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every .ts file under `dir`, sorted by path, folders walked in name order. */
export function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFilesUnder(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}
