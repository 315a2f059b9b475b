/**
 * How ACUs cross from an extraction worker to the pool. Structured cloning copies every string
 * separately, and a whole-file hunk of a lock file holds tens of thousands of lines: cloning them
 * one by one cost the workers more than hashing them. A hunk's lines therefore travel as one text
 * per side, with the line count, and are split again on arrival. Lines keep their terminators and
 * only a file's last line may lack one, so splitting the joined text gives back the same lines;
 * packing checks the line ends before it packs, and unpacking checks the counts.
 */
import { assert } from '../core/errors.js';
import type { FileAcu, Hunk, IdentifiedAcu } from '../core/acu/model.js';
import { splitLines } from './text.js';

/** One hunk with its lines joined. */
export interface PackedHunk {
  readonly beforeStart: number;
  readonly before: string;
  readonly beforeCount: number;
  readonly after: string;
  readonly afterCount: number;
}

/** An ACU as a worker sends it: as it is, or a file ACU whose hunks are packed. */
export type PackedAcu =
  | { readonly id: string; readonly acu: IdentifiedAcu['acu']; readonly packed?: undefined }
  | { readonly id: string; readonly acu: FileAcu; readonly packed: readonly PackedHunk[] };

/** Lines in a file ACU's hunks from which packing pays off. */
const packLinesMin = 64;

/** Pack one ACU for the trip to the pool. */
export function packAcu(identified: IdentifiedAcu): PackedAcu {
  const acu = identified.acu;
  if (acu.level !== 'file' || acu.hunks === null) return identified;
  let lines = 0;
  for (const hunk of acu.hunks) lines += hunk.beforeLines.length + hunk.afterLines.length;
  if (lines < packLinesMin || !acu.hunks.every((hunk) => splitsBack(hunk.beforeLines) && splitsBack(hunk.afterLines))) return identified;
  const packed = acu.hunks.map((hunk) => ({
    beforeStart: hunk.beforeStart,
    before: hunk.beforeLines.join(''),
    beforeCount: hunk.beforeLines.length,
    after: hunk.afterLines.join(''),
    afterCount: hunk.afterLines.length,
  }));
  return { id: identified.id, acu: { ...acu, hunks: [] }, packed };
}

/** The ACU a worker packed, with its hunks as extraction made them. */
export function unpackAcu(packed: PackedAcu): IdentifiedAcu {
  if (packed.packed === undefined) return { id: packed.id, acu: packed.acu };
  const hunks = packed.packed.map((hunk): Hunk => {
    const beforeLines = splitLines(hunk.before);
    const afterLines = splitLines(hunk.after);
    assert(beforeLines.length === hunk.beforeCount, 'unpackAcu: the lines before split back as packed');
    assert(afterLines.length === hunk.afterCount, 'unpackAcu: the lines after split back as packed');
    return { beforeStart: hunk.beforeStart, beforeLines, afterLines };
  });
  // The spread keeps `hunks` where the ACU had it: the same key order as extraction's own objects.
  return { id: packed.id, acu: { ...packed.acu, hunks } };
}

/**
 * Whether lines have the shape `splitLines` gives: not empty, each but the last ending with a
 * newline. Only `splitLines` makes hunk lines, so none holds a newline before its end; were one
 * to, the line counts checked on arrival would differ (scanning every line here for it would
 * cost as much as the copy packing saves).
 */
function splitsBack(lines: readonly string[]): boolean {
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!;
    if (line.length === 0) return false;
    if (i < lines.length - 1 && line.charCodeAt(line.length - 1) !== 0x0a) return false;
  }
  return true;
}
