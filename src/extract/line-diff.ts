/**
 * The line diff behind text hunks. ACU ids hash the hunks, so every site must align two texts the
 * same way: the procedure is acu's own (no library's tie-breaking can change under it) and depends
 * only on the lines, never on time.
 *
 * 1. The common prefix and suffix are matched.
 * 2. Myers' greedy diff aligns the middle with the fewest edits, within a work budget.
 * 3. When the budget runs out (a regenerated lock file: tens of thousands of lines, thousands of
 *    edits), lines that occur exactly once on each side anchor the alignment (patience diff: the
 *    longest run of such lines in the same order on both sides), and each gap between anchors is
 *    aligned from step 1 again, a bounded number of levels deep.
 * 4. What is still unaligned is one edit (still byte-exact, only larger).
 */

/**
 * Work budget of one Myers search: diagonals visited plus lines compared. Deterministic (counted,
 * not timed).
 */
const myersStepsMax = 100_000;

/** Edit length beyond which Myers gives up whatever the budget (its trace holds D^2 numbers). */
const myersEditsMax = 1_000;

/** How deep anchoring recurses into the gaps between anchors. Each level costs one pass. */
const anchorDepthMax = 8;

/**
 * The edits that turn `a` into `b`: regions `a[aStart, aEnd)` replaced by `b[bStart, bEnd)`, flat
 * (`[aStart, aEnd, bStart, bEnd, ...]`), in increasing order, never adjacent, and with every line
 * outside them equal on both sides.
 */
export function lineEdits(a: readonly string[], b: readonly string[], textA?: string, textB?: string): number[] {
  const edits: number[] = [];
  alignRange({ a, b, textA: textA ?? null, textB: textB ?? null, hashA: null, hashB: null }, 0, a.length, 0, b.length, 0, edits);
  return edits;
}

/** Append an edit, joining it to the previous one when they touch. */
function pushEdit(edits: number[], aStart: number, aEnd: number, bStart: number, bEnd: number): void {
  if (aStart === aEnd && bStart === bEnd) return;
  const last = edits.length - 4;
  if (last >= 0 && edits[last + 1] === aStart && edits[last + 3] === bStart) {
    edits[last + 1] = aEnd;
    edits[last + 3] = bEnd;
    return;
  }
  edits.push(aStart, aEnd, bStart, bEnd);
}

/**
 * The two sides, with their texts when the caller has them (each the concatenation of its lines)
 * and 32-bit hashes of their lines once anchoring needs them.
 */
interface Sides {
  readonly a: readonly string[];
  readonly b: readonly string[];
  readonly textA: string | null;
  readonly textB: string | null;
  hashA: Int32Array | null;
  hashB: Int32Array | null;
}

function alignRange(sides: Sides, aLo: number, aHi: number, bLo: number, bHi: number, depth: number, edits: number[]): void {
  const { a, b } = sides;
  let lo = 0;
  while (aLo + lo < aHi && bLo + lo < bHi && a[aLo + lo] === b[bLo + lo]) lo += 1;
  let hi = 0;
  while (aHi - hi > aLo + lo && bHi - hi > bLo + lo && a[aHi - 1 - hi] === b[bHi - 1 - hi]) hi += 1;
  const midALo = aLo + lo;
  const midAHi = aHi - hi;
  const midBLo = bLo + lo;
  const midBHi = bHi - hi;
  if (midALo < midAHi && midBLo < midBHi) alignMiddle(sides, midALo, midAHi, midBLo, midBHi, depth, edits);
  else pushEdit(edits, midALo, midAHi, midBLo, midBHi);
}

/** Two non-empty ranges: Myers within its budget, else anchors and their gaps, else one edit. */
function alignMiddle(sides: Sides, aLo: number, aHi: number, bLo: number, bHi: number, depth: number, edits: number[]): void {
  if (myers(sides, aLo, aHi, bLo, bHi, edits)) return;
  const anchors = depth < anchorDepthMax ? uniqueAnchors(sides, aLo, aHi, bLo, bHi) : [];
  let i = aLo;
  let j = bLo;
  for (let k = 0; k < anchors.length; k += 2) {
    const ai = anchors[k]!;
    const bj = anchors[k + 1]!;
    alignRange(sides, i, ai, j, bj, depth + 1, edits);
    i = ai + 1;
    j = bj + 1;
  }
  if (anchors.length === 0) pushEdit(edits, aLo, aHi, bLo, bHi);
  else alignRange(sides, i, aHi, j, bHi, depth + 1, edits);
}

/**
 * Myers' greedy shortest edit script between two ranges: pushes its edits and returns true, or
 * returns false (pushing nothing) when the budget runs out first. On each diagonal the
 * furthest point is kept; a tie between coming from the diagonal above and below goes to the one
 * further along in `a` (so, at equal cost, removals come before insertions).
 */
function myers(sides: Sides, aLo: number, aHi: number, bLo: number, bHi: number, edits: number[]): boolean {
  const { a, b } = sides;
  const n = aHi - aLo;
  const m = bHi - bLo;
  const dMax = Math.min(n + m, myersEditsMax);
  const offset = dMax + 1;
  // v[offset + k]: the furthest x reached on diagonal k = x - y.
  const v = new Int32Array(2 * dMax + 3);
  // trace[d]: v over diagonals -d..d after step d, for walking the script back.
  const trace: Int32Array[] = [];
  let steps = 0;
  for (let d = 0; d <= dMax; d += 1) {
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)) x = v[offset + k + 1]!;
      else x = v[offset + k - 1]! + 1;
      let y = x - k;
      const snakeFrom = x;
      // Lengths first: most lines that differ differ in length, and that test is inline.
      while (x < n && y < m && a[aLo + x]!.length === b[bLo + y]!.length && a[aLo + x] === b[bLo + y]) {
        x += 1;
        y += 1;
      }
      steps += 1 + x - snakeFrom;
      v[offset + k] = x;
      if (x >= n && y >= m) {
        trace.push(v.slice(offset - d, offset + d + 1));
        pushScript(trace, n, m, aLo, bLo, edits);
        return true;
      }
    }
    trace.push(v.slice(offset - d, offset + d + 1));
    if (steps > myersStepsMax) return false;
  }
  return false;
}

/** Walk a finished Myers trace back from (n, m) and push its edits in order. */
function pushScript(trace: readonly Int32Array[], n: number, m: number, aLo: number, bLo: number, edits: number[]): void {
  // One line removed (x - 1, y) or inserted (x, y - 1) per step, collected from the end.
  const steps: number[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d -= 1) {
    const previous = trace[d - 1]!;
    const k = x - y;
    // previous[k + (d - 1)] is v[k] after step d - 1.
    const at = (diagonal: number): number => previous[diagonal + d - 1]!;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const previousK = down ? k + 1 : k - 1;
    x = at(previousK);
    y = x - previousK;
    steps.push(x, y, down ? 0 : 1);
  }
  for (let s = steps.length - 3; s >= 0; s -= 3) {
    const sx = aLo + steps[s]!;
    const sy = bLo + steps[s + 1]!;
    if (steps[s + 2] === 1) pushEdit(edits, sx, sx + 1, sy, sy);
    else pushEdit(edits, sx, sx, sy, sy + 1);
  }
}

/**
 * 32-bit FNV-1a of each line (UTF-16 code units), read from the text the lines were split from:
 * reading the characters of one flat string is several times faster than of thousands of slices.
 */
function hashLines(list: readonly string[], text: string = list.join('')): Int32Array {
  const hashes = new Int32Array(list.length);
  let at = 0;
  for (let i = 0; i < list.length; i += 1) {
    const end = at + list[i]!.length;
    let hash = 0x811c9dc5;
    for (; at < end; at += 1) hash = Math.imul(hash ^ text.charCodeAt(at), 0x01000193);
    hashes[i] = hash;
  }
  return hashes;
}

/**
 * Patience anchors of two ranges: among lines that occur exactly once in each range, the longest
 * sequence in the same order on both sides (flat pairs i, j in increasing order; among equally
 * long sequences, the one the scan in `b` order meets first).
 *
 * Lines are counted by hash in an open-addressing table of typed arrays. Two different lines with
 * one hash count as one key, so neither is unique: a collision can lose an anchor but never match
 * unequal lines (and each candidate pair is compared as text as well).
 */
function uniqueAnchors(sides: Sides, aLo: number, aHi: number, bLo: number, bHi: number): number[] {
  const { a, b } = sides;
  sides.hashA ??= hashLines(a, sides.textA ?? undefined);
  sides.hashB ??= hashLines(b, sides.textB ?? undefined);
  const hashA = sides.hashA;
  const hashB = sides.hashB;
  let size = 16;
  while (size < 2 * (aHi - aLo)) size *= 2;
  const mask = size - 1;
  // Per slot: the hash held, how often it occurs in a and in b (capped at 2), and where.
  const used = new Uint8Array(size);
  const keys = new Int32Array(size);
  const countA = new Uint8Array(size);
  const countB = new Uint8Array(size);
  const atA = new Int32Array(size);
  const slotOf = (hash: number): number => {
    let slot = hash & mask;
    while (used[slot] === 1 && keys[slot] !== hash) slot = (slot + 1) & mask;
    return slot;
  };
  for (let i = aLo; i < aHi; i += 1) {
    const hash = hashA[i]!;
    const slot = slotOf(hash);
    if (used[slot] === 0) {
      used[slot] = 1;
      keys[slot] = hash;
      atA[slot] = i;
    }
    if (countA[slot]! < 2) countA[slot] = countA[slot]! + 1;
  }
  for (let j = bLo; j < bHi; j += 1) {
    const slot = slotOf(hashB[j]!);
    if (used[slot] === 1 && countB[slot]! < 2) countB[slot] = countB[slot]! + 1;
  }
  // Candidates in b order, with their index in a; then the longest run increasing in a.
  const candA: number[] = [];
  const candB: number[] = [];
  for (let j = bLo; j < bHi; j += 1) {
    const slot = slotOf(hashB[j]!);
    if (used[slot] === 0 || countA[slot] !== 1 || countB[slot] !== 1) continue;
    const i = atA[slot]!;
    if (a[i] !== b[j]) continue;
    candA.push(i);
    candB.push(j);
  }
  if (candA.length === 0) return [];
  const run = longestIncreasingSubsequence(candA);
  const result = new Array<number>(run.length * 2);
  for (let at = 0; at < run.length; at += 1) {
    result[at * 2] = candA[run[at]!]!;
    result[at * 2 + 1] = candB[run[at]!]!;
  }
  return result;
}

/**
 * Indices (into `values`) of one longest strictly increasing subsequence, in O(n log n). Ties are
 * broken towards the earliest elements, so the result is deterministic.
 */
export function longestIncreasingSubsequence(values: readonly number[]): number[] {
  // tails[l]: the index ending the best increasing run of length l + 1 found so far.
  const tails: number[] = [];
  const previous = new Int32Array(values.length).fill(-1);
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i]!;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (values[tails[mid]!]! < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) previous[i] = tails[lo - 1]!;
    tails[lo] = i;
  }
  const out = new Array<number>(tails.length);
  let i = tails.length === 0 ? -1 : tails[tails.length - 1]!;
  for (let at = tails.length - 1; at >= 0; at -= 1) {
    out[at] = i;
    i = previous[i]!;
  }
  return out;
}
