/**
 * Three-way merge of sequences, in process: the line merge git's `merge-file` performs (diff3 with
 * zealous trimming of conflicts), and the same alignment reused for lists of syntax elements.
 *
 * Spawning `git merge-file` per file would cost a process per file (several milliseconds each):
 * replaying a history merges thousands of files, so the algorithm lives here.
 */
import { diffArrays } from 'diff';
import { assert } from '../core/errors.js';
import { splitLines } from '../extract/text.js';

/**
 * Edit-script length beyond which the Myers search gives up and the middle part counts as fully
 * changed (a conflict unless one side left it alone). Bounds a pathological merge's time.
 */
const diffEditLengthMax = 2_000;

/** One region of a three-way merge of sequences. */
export type Diff3Chunk<T> =
  | { readonly kind: 'stable'; readonly items: readonly T[] }
  /** Changed on one side or identically on both: `items` is the merged content. */
  | { readonly kind: 'resolved'; readonly items: readonly T[] }
  | { readonly kind: 'conflict'; readonly base: readonly T[]; readonly ours: readonly T[]; readonly theirs: readonly T[] };

/**
 * For each base position, the matching position in `side` or -1, from a longest common
 * subsequence of the keys (common prefix and suffix trimmed first: most edits are small).
 */
export function matchSequences(base: readonly string[], side: readonly string[]): Int32Array {
  const match = new Int32Array(base.length).fill(-1);
  let prefix = 0;
  while (prefix < base.length && prefix < side.length && base[prefix] === side[prefix]) {
    match[prefix] = prefix;
    prefix += 1;
  }
  let suffix = 0;
  while (suffix < base.length - prefix && suffix < side.length - prefix && base[base.length - 1 - suffix] === side[side.length - 1 - suffix]) {
    match[base.length - 1 - suffix] = side.length - 1 - suffix;
    suffix += 1;
  }
  const midBase = base.slice(prefix, base.length - suffix);
  const midSide = side.slice(prefix, side.length - suffix);
  if (midBase.length === 0 || midSide.length === 0) return match;
  const changes = diffArrays(midBase, midSide, { maxEditLength: diffEditLengthMax });
  if (changes === undefined) return match;
  let i = prefix;
  let j = prefix;
  for (const change of changes) {
    const count = change.value.length;
    if (change.added) j += count;
    else if (change.removed) i += count;
    else {
      for (let k = 0; k < count; k += 1) match[i + k] = j + k;
      i += count;
      j += count;
    }
  }
  assert(i === base.length - suffix, 'matchSequences: base walked to the suffix');
  assert(j === side.length - suffix, 'matchSequences: side walked to the suffix');
  slideInsertions(base, side, match);
  return match;
}

/**
 * Slide each pure insertion up to the change just above it when the lines allow (the line before
 * the insertion equals its last line), as git's diff does: an insertion that touches another edit
 * of the same side becomes one hunk with it, so the other side's edits a line further away do not
 * count as overlapping. Where no adjacent change is reachable the insertion stays.
 */
function slideInsertions(base: readonly string[], side: readonly string[], match: Int32Array): void {
  for (let i = 1; i < base.length; i += 1) {
    const above = match[i - 1]!;
    const below = match[i]!;
    if (above === -1 || below === -1 || below - above <= 1) continue;
    // Side lines (above, below) are inserted between base i-1 and base i.
    let [b, a, k] = [i, above + 1, below];
    const moves: Array<[number, number]> = [];
    while (b - 1 >= 0 && match[b - 1] === a - 1 && a - 1 >= 0 && side[a - 1] === side[k - 1]) {
      moves.push([b - 1, k - 1]);
      [b, a, k] = [b - 1, a - 1, k - 1];
      const touches = b - 1 >= 0 && match[b - 1] !== a - 1;
      if (touches) {
        for (const [baseIndex, sideIndex] of moves) match[baseIndex] = sideIndex;
        break;
      }
    }
  }
}

function sameItems(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/**
 * diff3: split base/ours/theirs into stable regions (unchanged on both sides) and unstable ones,
 * each resolved when only one side changed it or both changed it identically. Conflicts are
 * trimmed of the lines ours and theirs share at their start and end (git's "zealous" level).
 */
export function diff3<T extends string>(base: readonly T[], ours: readonly T[], theirs: readonly T[]): Diff3Chunk<T>[] {
  const matchOurs = matchSequences(base, ours);
  const matchTheirs = matchSequences(base, theirs);
  const chunks: Diff3Chunk<T>[] = [];
  let i = 0;
  let a = 0;
  let b = 0;
  while (i < base.length || a < ours.length || b < theirs.length) {
    let k = 0;
    while (i + k < base.length && matchOurs[i + k] === a + k && matchTheirs[i + k] === b + k) k += 1;
    if (k > 0) {
      chunks.push({ kind: 'stable', items: base.slice(i, i + k) });
      i += k;
      a += k;
      b += k;
      continue;
    }
    let next = i;
    while (next < base.length && (matchOurs[next] === -1 || matchTheirs[next] === -1)) next += 1;
    const nextA = next < base.length ? matchOurs[next]! : ours.length;
    const nextB = next < base.length ? matchTheirs[next]! : theirs.length;
    assert(nextA >= a, 'diff3: ours match is monotone');
    assert(nextB >= b, 'diff3: theirs match is monotone');
    pushUnstable(chunks, base.slice(i, next), ours.slice(a, nextA), theirs.slice(b, nextB));
    i = next;
    a = nextA;
    b = nextB;
  }
  return chunks;
}

function pushUnstable<T extends string>(chunks: Diff3Chunk<T>[], base: T[], ours: T[], theirs: T[]): void {
  if (sameItems(ours, base)) chunks.push({ kind: 'resolved', items: theirs });
  else if (sameItems(theirs, base)) chunks.push({ kind: 'resolved', items: ours });
  else if (sameItems(ours, theirs)) chunks.push({ kind: 'resolved', items: ours });
  else {
    let head = 0;
    while (head < ours.length && head < theirs.length && ours[head] === theirs[head]) head += 1;
    let tail = 0;
    while (tail < ours.length - head && tail < theirs.length - head && ours[ours.length - 1 - tail] === theirs[theirs.length - 1 - tail]) tail += 1;
    if (head > 0) chunks.push({ kind: 'resolved', items: ours.slice(0, head) });
    chunks.push({ kind: 'conflict', base, ours: ours.slice(head, ours.length - tail), theirs: theirs.slice(head, theirs.length - tail) });
    if (tail > 0) chunks.push({ kind: 'resolved', items: ours.slice(ours.length - tail) });
  }
}

/** Conflict marker labels and size, as git passes them to a merge driver. */
export interface MarkerStyle {
  readonly size: number;
  readonly ours: string;
  readonly theirs: string;
}

/** git's default markers: seven characters, labelled `ours` and `theirs`. */
export const defaultMarkers: MarkerStyle = { size: 7, ours: 'ours', theirs: 'theirs' };

/** The result of a three-way line merge. */
export interface LineMergeResult {
  /** The merged text, with conflict markers where `conflicts > 0`. */
  readonly text: string;
  readonly conflicts: number;
}

/** The three-way line merge of whole texts, with git's conflict markers. */
export function mergeLines(base: string, ours: string, theirs: string, markers: MarkerStyle = defaultMarkers): LineMergeResult {
  if (ours === theirs || theirs === base) return { text: ours, conflicts: 0 };
  if (ours === base) return { text: theirs, conflicts: 0 };
  const chunks = diff3(splitLines(base), splitLines(ours), splitLines(theirs));
  const out: string[] = [];
  let conflicts = 0;
  for (const chunk of chunks) {
    if (chunk.kind !== 'conflict') {
      out.push(...chunk.items);
      continue;
    }
    conflicts += 1;
    out.push(...conflictBlock(chunk.ours.join(''), chunk.theirs.join(''), markers));
  }
  return { text: out.join(''), conflicts };
}

/** Marker lines around two alternatives; a side without a final line break gets one. */
export function conflictBlock(ours: string, theirs: string, markers: MarkerStyle = defaultMarkers): string[] {
  const lineBreak = (text: string): string => (text === '' || text.endsWith('\n') ? text : `${text}\n`);
  return [
    `${'<'.repeat(markers.size)} ${markers.ours}\n`,
    lineBreak(ours),
    `${'='.repeat(markers.size)}\n`,
    lineBreak(theirs),
    `${'>'.repeat(markers.size)} ${markers.theirs}\n`,
  ];
}
