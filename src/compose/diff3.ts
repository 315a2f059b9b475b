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
const diffEditLengthMax = 1_000;

/**
 * The bound for the line merges and list matchings inside the structured merge: they run once per
 * nested node both sides changed, so a generous bound there multiplies (a built bundle of a few
 * thousand lines took seconds).
 */
export const innerEditLengthMax = 200;

/** The bound between two anchors, once anchoring took over: those parts are small or hopeless. */
const anchoredEditLengthMax = 200;

/** Middle parts longer than this (both sides' lines) are anchored on unique lines before any Myers search. */
const anchorFirstLinesMin = 2_000;

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
export function matchSequences(base: readonly string[], side: readonly string[], editLengthMax: number = diffEditLengthMax): Int32Array {
  const match = new Int32Array(base.length).fill(-1);
  matchRange(base, side, match, { baseFrom: 0, baseTo: base.length, sideFrom: 0, sideTo: side.length }, editLengthMax);
  slideInsertions(base, side, match);
  slideDeletions(base, match);
  return match;
}

/**
 * The same for pure deletions: slide a run of deleted base lines up while the line above it equals
 * its last line, and keep the new place only if it touches another change of the same side.
 */
function slideDeletions(base: readonly string[], match: Int32Array): void {
  for (let j = base.length - 1; j > 0; j -= 1) {
    // A deletion run [i, j] ends at j: base j is unmatched, base j+1 (if any) is matched next to it.
    if (match[j] !== -1 || (j + 1 < base.length && match[j + 1] === -1)) continue;
    let i = j;
    while (i - 1 >= 0 && match[i - 1] === -1) i -= 1;
    const above = i - 1 >= 0 ? match[i - 1]! : -1;
    const below = j + 1 < base.length ? match[j + 1]! : -2;
    if (above === -1 || (below !== -2 && below !== above + 1)) continue;
    const moves: Array<[number, number]> = [];
    let [top, bottom] = [i, j];
    while (top - 1 >= 0 && match[top - 1] !== -1 && base[top - 1] === base[bottom]) {
      moves.push([top - 1, bottom]);
      [top, bottom] = [top - 1, bottom - 1];
      const touches = top - 1 >= 0 && (match[top - 1] === -1 || match[top - 1] !== match[top]! - 1);
      if (touches) {
        for (const [from, to] of moves) {
          match[to] = match[from]!;
          match[from] = -1;
        }
        break;
      }
    }
    j = i;
  }
}

interface Range {
  readonly baseFrom: number;
  readonly baseTo: number;
  readonly sideFrom: number;
  readonly sideTo: number;
}

/**
 * Match `base[baseFrom, baseTo)` to `side[sideFrom, sideTo)`: common prefix and suffix, then Myers'
 * diff of the middle. When that exceeds its bound (a regenerated lock file), lines that occur once
 * on each side anchor the match (the patience idea) and the parts between anchors are matched
 * again, once.
 */
function matchRange(base: readonly string[], side: readonly string[], match: Int32Array, range: Range, editLengthMax: number | null): void {
  // null: a part between anchors, matched once more without anchoring again.
  const mayAnchor = editLengthMax !== null;
  let { baseFrom, baseTo, sideFrom, sideTo } = range;
  while (baseFrom < baseTo && sideFrom < sideTo && base[baseFrom] === side[sideFrom]) match[baseFrom++] = sideFrom++;
  while (baseFrom < baseTo && sideFrom < sideTo && base[baseTo - 1] === side[sideTo - 1]) match[--baseTo] = --sideTo;
  if (baseFrom === baseTo || sideFrom === sideTo) return;
  const midBase = base.slice(baseFrom, baseTo);
  const midSide = side.slice(sideFrom, sideTo);
  // On long inputs a failing Myers search costs (N + M) * bound steps: anchor first.
  if (mayAnchor && midBase.length + midSide.length > anchorFirstLinesMin) {
    matchByAnchors(base, side, match, { baseFrom, baseTo, sideFrom, sideTo });
    return;
  }
  const changes = diffArrays(midBase, midSide, { maxEditLength: editLengthMax ?? anchoredEditLengthMax });
  if (changes === undefined) {
    if (mayAnchor) matchByAnchors(base, side, match, { baseFrom, baseTo, sideFrom, sideTo });
    return;
  }
  let i = baseFrom;
  let j = sideFrom;
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
  assert(i === baseTo, 'matchRange: base walked to the end');
  assert(j === sideTo, 'matchRange: side walked to the end');
}

function matchByAnchors(base: readonly string[], side: readonly string[], match: Int32Array, range: Range): void {
  const count = (items: readonly string[], from: number, to: number): Map<string, number> => {
    const seen = new Map<string, number>();
    for (let i = from; i < to; i += 1) seen.set(items[i]!, seen.has(items[i]!) ? -1 : i);
    return seen;
  };
  const inBase = count(base, range.baseFrom, range.baseTo);
  const inSide = count(side, range.sideFrom, range.sideTo);
  const pairs: Array<[number, number]> = [];
  for (const [line, i] of inBase) {
    const j = inSide.get(line);
    if (i !== -1 && j !== undefined && j !== -1) pairs.push([i, j]);
  }
  pairs.sort((x, y) => x[0] - y[0]);
  const anchors = longestIncreasing(pairs);
  let [b, s] = [range.baseFrom, range.sideFrom];
  for (const [i, j] of [...anchors, [range.baseTo, range.sideTo] as [number, number]]) {
    matchRange(base, side, match, { baseFrom: b, baseTo: i, sideFrom: s, sideTo: j }, null);
    if (i < range.baseTo) match[i] = j;
    [b, s] = [i + 1, j + 1];
  }
}

/** The longest subsequence of pairs (sorted by base index) whose side indexes increase. */
function longestIncreasing(pairs: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const tails: number[] = [];
  const previous = new Int32Array(pairs.length).fill(-1);
  for (let k = 0; k < pairs.length; k += 1) {
    const value = pairs[k]![1];
    let [lo, hi] = [0, tails.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[tails[mid]!]![1] < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) previous[k] = tails[lo - 1]!;
    tails[lo] = k;
  }
  const out: Array<[number, number]> = [];
  for (let k = tails.length === 0 ? -1 : tails[tails.length - 1]!; k !== -1; k = previous[k]!) out.push(pairs[k]!);
  return out.reverse();
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
 * Which of the equally short edit scripts the matching picks: Myers' search from the start, or
 * from the end. Where lines repeat (blank lines, closing braces) the two differ, and git's own
 * diff sometimes agrees with one, sometimes with the other.
 */
export type Alignment = 'forward' | 'backward' | 'lowered';

/**
 * {@link matchSequences} with each pure insertion slid down as far as the lines allow (the first
 * inserted line equals the line after the insertion), where git's diff often puts it: an insertion
 * that ends with the closing brace it shares with the base reads, from the top, as opening before
 * that brace, and then touches the other side's edit of the line above.
 */
export function matchSequencesLowered(base: readonly string[], side: readonly string[], editLengthMax: number = diffEditLengthMax): Int32Array {
  const match = matchSequences(base, side, editLengthMax);
  for (let i = 0; i < base.length; i += 1) {
    const above = i === 0 ? -1 : match[i - 1]!;
    if (i > 0 && above === -1) continue;
    // Side lines (above, match[i]) are inserted before base i; slide while the first equals base i's.
    let [a, k, b] = [above + 1, match[i]!, i];
    if (k === -1 || k <= a) continue;
    while (b < base.length && match[b] === k && side[a] === side[k]) {
      match[b] = a;
      [a, k, b] = [a + 1, k + 1, b + 1];
    }
  }
  return match;
}

/** {@link matchSequences} run on the reversed sequences, mapped back. */
export function matchSequencesBackward(base: readonly string[], side: readonly string[], editLengthMax: number = diffEditLengthMax): Int32Array {
  const reversed = matchSequences([...base].reverse(), [...side].reverse(), editLengthMax);
  const match = new Int32Array(base.length).fill(-1);
  reversed.forEach((s, i) => {
    if (s !== -1) match[base.length - 1 - i] = side.length - 1 - s;
  });
  return match;
}

/**
 * diff3: split base/ours/theirs into stable regions (unchanged on both sides) and unstable ones,
 * each resolved when only one side changed it or both changed it identically. Conflicts are
 * trimmed of the lines ours and theirs share at their start and end (git's "zealous" level).
 */
export function diff3<T extends string>(
  base: readonly T[],
  ours: readonly T[],
  theirs: readonly T[],
  alignment: Alignment = 'forward',
  editLengthMax: number = diffEditLengthMax,
  split?: SplitRule,
): Diff3Chunk<T>[] {
  const match = alignment === 'forward' ? matchSequences : alignment === 'backward' ? matchSequencesBackward : matchSequencesLowered;
  const matchOurs = match(base, ours, editLengthMax);
  const matchTheirs = match(base, theirs, editLengthMax);
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
    const region = { base: base.slice(i, next), ours: ours.slice(a, nextA), theirs: theirs.slice(b, nextB) };
    const separated = split !== undefined && region.base.length > 0 && !sameItems(region.ours, region.base) && !sameItems(region.theirs, region.base) && !sameItems(region.ours, region.theirs) && split(base, i, region) ? separateEdits(region.base, region.ours, region.theirs) : null;
    if (separated !== null) chunks.push({ kind: 'resolved', items: separated });
    else pushUnstable(chunks, region.base, region.ours, region.theirs);
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

/** Files longer than this (lines) get no other alignment: each would add the cost of a big conflict again. */
const backwardRetryLinesMax = 1_000;

/** The result of a three-way line merge. */
export interface LineMergeResult {
  /** The merged text, with conflict markers where `conflicts > 0`. */
  readonly text: string;
  readonly conflicts: number;
}

/**
 * How two insertions at one point are merged: `conflict` (git's default), or `both`, ours first
 * (git's `merge=union`, for changelogs), unless one contains the other, when the larger is kept.
 * Changes of base lines conflict either way.
 */
export type InsertionRule = 'conflict' | 'both';

/**
 * Whether a conflicting region may be split into the two sides' separate edits (see
 * {@link separateEdits}): asked with the whole base, where the region starts in it, and the
 * region's three versions. Absent: never (git's rule: edits that touch conflict).
 */
export type SplitRule = (base: readonly string[], at: number, region: { readonly base: readonly string[]; readonly ours: readonly string[]; readonly theirs: readonly string[] }) => boolean;

/** One side's edit of a sequence: base items [from, to) became `lines`. */
export interface Edit<T> {
  readonly from: number;
  readonly to: number;
  readonly lines: readonly T[];
}

/** One side's edits of base, in base order (a match bounded as the structured merge's are). */
export function editsOf<T extends string>(base: readonly T[], side: readonly T[]): Edit<T>[] {
  const match = matchSequences(base, side, innerEditLengthMax);
  const edits: Edit<T>[] = [];
  let [i, j] = [0, 0];
  while (i < base.length || j < side.length) {
    if (i < base.length && match[i] === j) {
      i += 1;
      j += 1;
      continue;
    }
    let next = i;
    while (next < base.length && match[next] === -1) next += 1;
    const sideNext = next < base.length ? match[next]! : side.length;
    edits.push({ from: i, to: next, lines: side.slice(j, sideNext) });
    [i, j] = [next, sideNext];
  }
  return edits;
}

/**
 * A conflicting region whose two sides changed different base lines, only next to each other
 * (git conflicts on edits that touch): both sides' edits applied, in base order. Null when an edit
 * of one side overlaps one of the other's, or when one side inserts lines next to or inside lines
 * the other side changed (or inserted): there the order of the two is a guess.
 */
export function separateEdits<T extends string>(base: readonly T[], ours: readonly T[], theirs: readonly T[]): T[] | null {
  const [mine, yours] = [editsOf(base, ours), editsOf(base, theirs)];
  for (const x of mine) {
    for (const y of yours) {
      if (x.from < y.to && y.from < x.to) return null;
      // An insertion that touches the other side's edit: which lines it goes between is a guess
      // (an inserted block that shares its closing line with base slides across that line).
      if (x.from === x.to && y.from <= x.from && x.from <= y.to) return null;
      if (y.from === y.to && x.from <= y.from && y.from <= x.to) return null;
    }
  }
  const all = [...mine, ...yours].sort((p, q) => p.from - q.from);
  const out: T[] = [];
  let at = 0;
  for (const edit of all) {
    out.push(...base.slice(at, edit.from), ...edit.lines);
    at = edit.to;
  }
  out.push(...base.slice(at));
  return out;
}

/** The three-way line merge of whole texts, with git's conflict markers. */
export function mergeLines(
  base: string,
  ours: string,
  theirs: string,
  markers: MarkerStyle = defaultMarkers,
  editLengthMax: number = diffEditLengthMax,
  insertions: InsertionRule = 'conflict',
  split?: SplitRule,
): LineMergeResult {
  if (ours === theirs || theirs === base) return { text: ours, conflicts: 0 };
  if (ours === base) return { text: theirs, conflicts: 0 };
  const [b, o, t] = [splitLines(base), splitLines(ours), splitLines(theirs)];
  let chunks = diff3(b, o, t, 'forward', editLengthMax, split);
  const conflictCount = (list: Diff3Chunk<string>[]): number => list.filter((c) => c.kind === 'conflict').length;
  if (conflictCount(chunks) > 0 && b.length <= backwardRetryLinesMax) {
    // Another alignment of the same edits may separate what this one made overlap.
    for (const alignment of ['backward', 'lowered'] as const) {
      const other = diff3(b, o, t, alignment, editLengthMax, split);
      if (conflictCount(other) < conflictCount(chunks) && keepsRemovals(b, o, t, other)) chunks = other;
    }
  }
  const out: string[] = [];
  let conflicts = 0;
  for (const chunk of chunks) {
    if (chunk.kind !== 'conflict') {
      out.push(...chunk.items);
      continue;
    }
    if (insertions === 'both' && chunk.base.length === 0) {
      const [o, t] = [chunk.ours.join(''), chunk.theirs.join('')];
      if (t.includes(o)) out.push(t);
      else if (o.includes(t)) out.push(o);
      else out.push(o.endsWith('\n') || o === '' ? o : `${o}\n`, t);
      continue;
    }
    conflicts += 1;
    out.push(...conflictBlock(chunk.ours.join(''), chunk.theirs.join(''), markers));
  }
  return { text: out.join(''), conflicts };
}

/**
 * False when a merge holds more copies of a line than base minus the copies one side removed,
 * while the other side kept their number. The other alignment can read a side's edit next to a
 * line as that line moving (a blank line moved from before a statement to after it reads as the
 * statement moving up), and then a statement the first side removed comes back from the second
 * side, cleanly and wrongly. Conflicts count with their base lines.
 */
function keepsRemovals(base: readonly string[], ours: readonly string[], theirs: readonly string[], chunks: readonly Diff3Chunk<string>[]): boolean {
  const count = (lines: readonly string[], into: Map<string, number> = new Map()): Map<string, number> => {
    for (const line of lines) into.set(line, (into.get(line) ?? 0) + 1);
    return into;
  };
  const [b, o, t] = [count(base), count(ours), count(theirs)];
  const merged = new Map<string, number>();
  for (const chunk of chunks) count(chunk.kind === 'conflict' ? chunk.base : chunk.items, merged);
  for (const [line, n] of b) {
    const [dO, dT] = [(o.get(line) ?? 0) - n, (t.get(line) ?? 0) - n];
    const removed = dO < 0 && dT === 0 ? dO : dT < 0 && dO === 0 ? dT : 0;
    if (removed < 0 && (merged.get(line) ?? 0) > n + removed) return false;
  }
  return true;
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
