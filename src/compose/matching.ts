/**
 * A list's elements, and which element of a side is which element of base: by key (the name among
 * siblings), by identical tokens, then by position and kind, and a renamed element by its words.
 * The list merge (list.ts) builds on this matching.
 */
import { ts } from 'ts-morph';
import { innerEditLengthMax, matchSequences } from './diff3.js';
import { elementKey, identText } from './syntax.js';
import type { Version } from './syntax.js';

function fullText(version: Version, node: { pos: number; end: number }): string {
  return version.text.slice(node.pos, node.end);
}

/** One element of one version of a list. */
export interface Element {
  readonly node: ts.Node;
  readonly index: number;
  /** Name among its siblings (duplicates numbered `#2`...), or null when anonymous. */
  readonly key: string | null;
  /** Tokens without layout: equality means the same element. */
  readonly ident: string;
  /** Its text, leading trivia included. */
  readonly unit: string;
  /** The separator text after it; null for the last element. */
  readonly sepAfter: string | null;
}

/** One of the two sides being merged onto base. */
export type Side = 'ours' | 'theirs';

/** Which base element each side element matches, both ways; -1 for none. */
export interface Matching {
  readonly baseToSide: Int32Array;
  readonly sideToBase: Int32Array;
}

/** The elements of one version of a list, keyed among their siblings. */
export function elementsOf(version: Version, list: ts.NodeArray<ts.Node>, parent: ts.Node): Element[] {
  const seen = new Map<string, number>();
  return list.map((node, index) => {
    let key = elementKey(version, node, parent);
    if (key !== null) {
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      if (count > 1) key = `${key}#${count}`;
    }
    const next = list[index + 1];
    return {
      node,
      index,
      key,
      ident: identText(version, node),
      unit: fullText(version, node),
      sepAfter: next === undefined ? null : version.text.slice(node.end, next.pos),
    };
  });
}

/** Match one side's elements to base's: keys and identical tokens first, then by position and kind. */
export function matchElements(base: readonly Element[], side: readonly Element[]): Matching {
  const idOf = (e: Element): string => e.key ?? `~${e.ident}`;
  const baseIds = base.map(idOf);
  const sideIds = side.map(idOf);
  const baseToSide = new Int32Array(base.length).fill(-1);
  const sideToBase = new Int32Array(side.length).fill(-1);
  const pair = (i: number, s: number): void => {
    baseToSide[i] = s;
    sideToBase[s] = i;
  };
  const lcs = lcsPairs(baseIds, sideIds);
  for (const [i, s] of lcs) pair(i, s);
  // A keyed element that moved is still the same element.
  const sideByKey = new Map<string, number>();
  side.forEach((e, s) => {
    if (e.key !== null && sideToBase[s] === -1) sideByKey.set(e.key, s);
  });
  base.forEach((e, i) => {
    const s = e.key === null || baseToSide[i] !== -1 ? undefined : sideByKey.get(e.key);
    if (s !== undefined) pair(i, s);
  });
  // An anonymous element that moved unchanged is still the same element, when its tokens occur
  // once on each side (repeated statements, `t.equal(count(), 1)`, would pair across the list).
  const occurrences = (list: readonly Element[]): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const e of list) if (e.key === null) counts.set(e.ident, (counts.get(e.ident) ?? 0) + 1);
    return counts;
  };
  const [inBase, inSide] = [occurrences(base), occurrences(side)];
  const sideByIdent = new Map<string, number>();
  side.forEach((e, s) => {
    if (e.key === null && sideToBase[s] === -1 && inSide.get(e.ident) === 1) sideByIdent.set(e.ident, s);
  });
  base.forEach((e, i) => {
    if (e.key !== null || baseToSide[i] !== -1 || inBase.get(e.ident) !== 1) return;
    const s = sideByIdent.get(e.ident);
    if (s !== undefined) pair(i, s);
  });
  pairAnonymous(base, side, baseToSide, sideToBase, pair);
  pairRenamed(base, side, baseToSide, sideToBase, pair);
  return { baseToSide, sideToBase };
}

/** Words two texts share, as a share of both (Dice's coefficient over the word multisets). */
function wordSimilarity(a: string, b: string): number {
  // Words only: punctuation is shared by any two declarations of a kind.
  const split = (text: string): string[] => text.match(/[\w$]+/g) ?? [];
  const [ta, tb] = [split(a), split(b)];
  if (Math.min(ta.length, tb.length) < renameWordsMin) return 0;
  const counts = new Map<string, number>();
  for (const token of ta) counts.set(token, (counts.get(token) ?? 0) + 1);
  let shared = 0;
  for (const token of tb) {
    const n = counts.get(token) ?? 0;
    if (n > 0) {
      shared += 1;
      counts.set(token, n - 1);
    }
  }
  return (2 * shared) / (ta.length + tb.length);
}

/**
 * A rename is recognised only where it is unambiguous: both texts have this many words at least
 * (two small declarations look alike whatever their names), and share this much of them. A false
 * pairing would carry one side's edit into the other side's new declaration instead of reporting
 * remove/modify.
 */
const renameWordsMin = 12;

const renameSimilarityMin = 0.8;

/**
 * A named element whose name changed is the same element: an unmatched base element pairs with
 * an unmatched side element of the same kind between the same matched neighbours when most of
 * their words agree and no other such element's do (`const config = ...` renamed `const configs
 * = ...`). Without this a rename on one side and an edit on the other would be a remove/modify
 * conflict.
 */
function pairRenamed(base: readonly Element[], side: readonly Element[], baseToSide: Int32Array, sideToBase: Int32Array, pair: (i: number, s: number) => void): void {
  for (let i = 0; i < base.length; i += 1) {
    const key = base[i]!.key;
    if (baseToSide[i] !== -1 || key === null || isWeak(base[i]!)) continue;
    const kindOfKey = key.slice(0, key.indexOf(':') + 1);
    const { lo, hi } = matchedGap(baseToSide, i, side.length);
    const candidates: number[] = [];
    for (let s = lo + 1; s < hi; s += 1) {
      const candidate = side[s]!;
      if (sideToBase[s] === -1 && candidate.key !== null && !isWeak(candidate) && candidate.key.startsWith(kindOfKey) && candidate.node.kind === base[i]!.node.kind) candidates.push(s);
    }
    const alike = candidates.filter((s) => wordSimilarity(base[i]!.ident, side[s]!.ident) >= renameSimilarityMin);
    const [only] = alike;
    if (alike.length === 1 && only !== undefined) pair(i, only);
  }
}

/**
 * Where an unmatched base element `i` may find its side partner: strictly between `lo` and `hi`,
 * the side positions of its nearest matched neighbours in base (-1 and `sideLength` where it has
 * none on that side). Pairing outside the gap would cross a matched pair and reorder the file.
 */
function matchedGap(baseToSide: Int32Array, i: number, sideLength: number): { lo: number; hi: number } {
  let lo = -1;
  for (let j = i - 1; j >= 0; j -= 1) {
    if (baseToSide[j] !== -1) {
      lo = baseToSide[j]!;
      break;
    }
  }
  let hi = sideLength;
  for (let j = i + 1; j < baseToSide.length; j += 1) {
    if (baseToSide[j] !== -1) {
      hi = baseToSide[j]!;
      break;
    }
  }
  return { lo, hi };
}

function lcsPairs(a: readonly string[], b: readonly string[]): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  // Reuse the sequence matcher of the line merge: it trims and bounds the search.
  const match = matchSequences(a, b, innerEditLengthMax);
  match.forEach((s, i) => {
    if (s !== -1) pairs.push([i, s]);
  });
  return pairs;
}

/**
 * Elements whose identity may change with an edit: anonymous ones, and calls known by a string
 * argument (`describe('x')`, `f('a')`), whose key is their content.
 */
function isWeak(e: Element): boolean {
  return e.key === null || e.key.startsWith('call:');
}

/**
 * A call keyed by its string argument pairs only with an anonymous call of the same function (its
 * argument became or stopped being a string), never with another keyed call: two tests with
 * different names are two tests.
 */
function sameCallee(a: Element, b: Element): boolean {
  const callee = (e: Element): string | null => (e.key !== null && e.key.startsWith('call:') ? e.key.slice('call:'.length, e.key.indexOf('(')) : null);
  const [ca, cb] = [callee(a), callee(b)];
  if (ca === null && cb === null) return true;
  if (ca !== null && cb !== null) return false;
  return (ca !== null && b.ident.startsWith(`${ca}(`)) || (cb !== null && a.ident.startsWith(`${cb}(`));
}

/** Pair unmatched anonymous elements that sit in the same gap between matched ones and share a kind. */
function pairAnonymous(
  base: readonly Element[],
  side: readonly Element[],
  baseToSide: Int32Array,
  sideToBase: Int32Array,
  pair: (i: number, s: number) => void,
): void {
  for (let i = 0; i < base.length; i += 1) {
    if (baseToSide[i] !== -1 || !isWeak(base[i]!)) continue;
    const { lo, hi } = matchedGap(baseToSide, i, side.length);
    for (let s = lo + 1; s < hi; s += 1) {
      if (sideToBase[s] !== -1 || !isWeak(side[s]!)) continue;
      if (side[s]!.node.kind !== base[i]!.node.kind) continue;
      if (!sameCallee(base[i]!, side[s]!)) continue;
      pair(i, s);
      break;
    }
  }
}

/** True when a side's elements matched to base are not in base's order. */
export function isReordered(sideToBase: Int32Array): boolean {
  let last = -1;
  for (const b of sideToBase) {
    if (b === -1) continue;
    if (b < last) return true;
    last = b;
  }
  return false;
}

/** The symbol path of a list element under its list's path (`class:A/method:m`). */
export function elementPath(path: string, e: Element): string {
  const leaf = e.key ?? `${ts.SyntaxKind[e.node.kind]}#${e.index + 1}`;
  return path === '' ? leaf : `${path}/${leaf}`;
}
