/**
 * The small cases of the composeFile tests: texts written a line an argument, and a merge that
 * must come out clean.
 */
import assert from 'node:assert/strict';
import { composeFile } from '../../src/compose/file.js';
import type { ComposeFileResult } from '../../src/compose/file.js';
import { parsesCleanly } from '../../src/compose/syntax.js';

/** A text of these lines, each ended by a newline. */
export const lines = (...items: string[]): string => `${items.join('\n')}\n`;

/** composeFile of three versions of the file at `path`. */
export function compose(base: string, ours: string, theirs: string, path = 'a.ts'): ComposeFileResult {
  return composeFile({ path, base, ours, theirs });
}

/**
 * The merge of three versions, which must have no conflict; a JavaScript or TypeScript result
 * must parse too (prose and line lists have no parser to ask).
 */
export function clean(base: string, ours: string, theirs: string, path = 'a.ts'): ComposeFileResult {
  const result = compose(base, ours, theirs, path);
  assert.deepEqual(result.conflicts, [], `expected a clean merge, got:\n${result.text}`);
  if (/\.[cm]?[jt]sx?$/.test(path)) assert.ok(parsesCleanly(path, result.text), 'a clean result parses');
  return result;
}
