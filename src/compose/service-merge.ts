/**
 * The merge driver's merge, bytes in and bytes out: the one function that both the warm merge
 * service and the driver's in-process fallback run, so where a file is merged never changes its
 * result. It loads the parser (through composeFile): only the service and the fallback import it.
 */
import { composeFile } from './file.js';
import type { ComposeFileInput, ComposeFileResult } from './file.js';
import { mergeLines } from './diff3.js';
import type { MarkerStyle } from './diff3.js';
import { decodeText } from '../extract/text.js';
import { assert } from '../core/errors.js';
import type { DriverConflict } from './service-protocol.js';

/** One file to merge, as git hands it to the driver. */
export interface DriverMergeInput {
  /** The path in the repository (%P); picks the parser and the changelog rule. */
  readonly path: string;
  readonly base: Uint8Array;
  readonly ours: Uint8Array;
  readonly theirs: Uint8Array;
  /** Conflict marker length (%L). */
  readonly markerSize: number;
}

/** What the driver writes and prints. */
export type DriverMergeResult =
  | { readonly type: 'binary' }
  | {
      readonly type: 'merged';
      /** The result's bytes (UTF-8), for %A. */
      readonly text: Uint8Array;
      readonly conflicts: readonly DriverConflict[];
      /** Set when composeFile threw (a bug in acu) and the line merge stood in for it. */
      readonly bug: string | null;
    };

/** Merge one file for the driver. Binary content (any of the three) is left to the user. */
export function mergeForDriver(input: DriverMergeInput): DriverMergeResult {
  assert(Number.isInteger(input.markerSize), 'marker size is a whole number');
  assert(input.markerSize >= 1, 'marker size is positive');
  const base = decodeText(input.base);
  const ours = decodeText(input.ours);
  const theirs = decodeText(input.theirs);
  if (base === null || ours === null || theirs === null) return { type: 'binary' };
  const markers = { size: input.markerSize, ours: 'ours', theirs: 'theirs' };
  const { result, bug } = composeOrLines({ path: input.path, base, ours, theirs, markers });
  const conflicts = result.conflicts.map((conflict) => ({ kind: conflict.kind, path: conflict.path }));
  return { type: 'merged', text: Buffer.from(result.text, 'utf8'), conflicts, bug };
}

/**
 * composeFile, or, should it fail (a bug in acu), git's own line merge: a merge driver that throws
 * would leave the user mid-merge with nothing in %A. The bug is returned for the driver to report.
 */
function composeOrLines(input: ComposeFileInput & { markers: MarkerStyle }): { result: ComposeFileResult; bug: string | null } {
  try {
    return { result: composeFile(input), bug: null };
  } catch (error) {
    const bug = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const lines = mergeLines(input.base, input.ours, input.theirs, input.markers);
    const conflicts: ComposeFileResult['conflicts'] = lines.conflicts === 0 ? [] : [{ path: '', kind: 'lines', base: input.base, ours: input.ours, theirs: input.theirs }];
    return { result: { text: lines.text, conflicts, method: 'lines' }, bug };
  }
}
