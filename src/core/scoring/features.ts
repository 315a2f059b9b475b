/**
 * Per-ACU features that every scoring backend reads: hashed name sets, a 1-bit MinHash sketch of the
 * token shingles, and the integers the risk score weighs. Defined once here; docs/scoring.md is the
 * prose version. Everything is a 32-bit integer so that every backend, GPU kernels included, can
 * reproduce the scores bit for bit.
 */
import { assert } from '../errors.js';
import type { Acu, DeclKind } from '../acu/model.js';
import { fmix32, fnv1a32 } from './hash.js';

/** Bits in a name set: a name sets bit `fnv1a32(name) mod nameBits`. */
export const nameBits = 2048;
/** 32-bit words per name set. */
export const nameWords = nameBits / 32;
/** MinHash functions in a sketch; each contributes the lowest bit of its minimum (1-bit MinHash). */
export const minhashCount = 128;
/** 32-bit words per sketch. */
export const sketchWords = minhashCount / 32;
/** Tokens per shingle. */
export const shingleTokens = 3;
/** Characters of an ACU's text that are tokenised; the rest is ignored (bounds the cost of huge files). */
export const shingleTextCharsMax = 64 * 1024;
/** Lines counted towards the size part of the risk. */
export const riskLinesMax = 400;

/** The features of a batch of N ACUs, in batch order, as flat typed arrays. */
export interface BatchFeatures {
  readonly n: number;
  /** N x nameWords: names each ACU defines (or changes, or removes). */
  readonly defines: Uint32Array;
  /** N x nameWords: names each ACU uses. */
  readonly uses: Uint32Array;
  /** N x sketchWords: 1-bit MinHash of the ACU's token shingles. */
  readonly sketch: Uint32Array;
  /** 1 when the ACU has no token (its sketch means nothing and its similarity is 0). */
  readonly empty: Uint8Array;
  /** Lines of the ACU's text (after, else before), capped at riskLinesMax. */
  readonly lines: Int32Array;
  /** opWeight x kindWeight (docs/scoring.md). */
  readonly weight: Int32Array;
}

const tokenPattern = /[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*|[0-9][\w.]*|\S/g;

/** The text an ACU's similarity is computed on: its text after, else before; file ACUs their data or hunks. */
export function acuText(acu: Acu): string {
  if (acu.level === 'decl') return (acu.after ?? acu.before ?? '') + (acu.afterTail ?? acu.beforeTail ?? '');
  if (acu.data !== null) return acu.content === 'text' ? acu.data : '';
  if (acu.hunks !== null) return acu.hunks.map((hunk) => hunk.afterLines.join('')).join('');
  return '';
}

/** Hashes of the text's tokens (identifiers, numbers, single punctuation characters). */
export function tokenHashes(text: string): number[] {
  const out: number[] = [];
  for (const match of text.slice(0, shingleTextCharsMax).matchAll(tokenPattern)) out.push(fnv1a32(match[0]));
  return out;
}

/** Distinct shingle hashes of a token list (one shingle of all tokens when there are fewer than three). */
export function shingleHashes(tokens: readonly number[]): number[] {
  const out = new Set<number>();
  if (tokens.length === 0) return [];
  const last = Math.max(0, tokens.length - shingleTokens);
  for (let i = 0; i <= last; i += 1) {
    let h = 0;
    for (let k = 0; k < shingleTokens && i + k < tokens.length; k += 1) h = fmix32(h ^ tokens[i + k]!);
    out.add(h);
  }
  return [...out].sort((a, b) => a - b);
}

/** Seeds of the MinHash functions: function k maps a shingle h to fmix32(h ^ seed[k]). */
export const minhashSeeds: readonly number[] = Array.from({ length: minhashCount }, (_, k) => fmix32(k + 1));

/** Write the 1-bit MinHash sketch of `shingles` into `out` at `offset`. */
export function writeSketch(shingles: readonly number[], out: Uint32Array, offset: number): void {
  assert(shingles.length > 0, 'writeSketch: at least one shingle');
  for (let k = 0; k < minhashCount; k += 1) {
    const seed = minhashSeeds[k]!;
    let min = 0xffffffff;
    for (const h of shingles) {
      const v = fmix32(h ^ seed);
      if (v < min) min = v;
    }
    if ((min & 1) === 1) out[offset + (k >>> 5)]! |= 1 << (k & 31);
  }
}

/** Set the bit of each name in a name set at `offset`. */
export function writeNames(names: readonly string[], out: Uint32Array, offset: number): void {
  for (const name of names) {
    const bit = fnv1a32(name) % nameBits;
    out[offset + (bit >>> 5)]! |= 1 << (bit & 31);
  }
}

const opWeights: Record<Acu['op'], number> = { add: 1, modify: 2, move: 2, remove: 3 };

/** How far a change of this kind of declaration reaches: module surface and types ripple widest. */
export function kindWeight(kind: DeclKind | 'file'): number {
  switch (kind) {
    case 'import':
    case 'export':
    case 'class':
    case 'interface':
    case 'type':
    case 'enum':
    case 'namespace':
      return 3;
    case 'function':
    case 'method':
    case 'constructor':
    case 'accessor':
    case 'property':
    case 'variable':
    case 'file':
      return 2;
    case 'statement':
    case 'index-signature':
    case 'static-block':
    case 'member':
    case 'enum-member':
    case 'module':
      return 1;
  }
}

function lineCount(text: string): number {
  if (text === '') return 0;
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1 && at < text.length - 1; at = text.indexOf('\n', at + 1)) lines += 1;
  return lines;
}

/** Names a file-level ACU defines: none is known without parsing, so only its path, as `file:<path>`. */
function fileNames(acu: Acu): { defines: readonly string[]; uses: readonly string[] } {
  if (acu.level === 'decl') return { defines: acu.defines, uses: acu.uses };
  const paths = acu.fromFile === null ? [acu.file] : [acu.fromFile, acu.file];
  return { defines: paths.map((path) => `file:${path}`), uses: [] };
}

/** Zeroed features for a batch of `n` ACUs. */
export function emptyFeatures(n: number): BatchFeatures {
  return {
    n,
    defines: new Uint32Array(n * nameWords),
    uses: new Uint32Array(n * nameWords),
    sketch: new Uint32Array(n * sketchWords),
    empty: new Uint8Array(n),
    lines: new Int32Array(n),
    weight: new Int32Array(n),
  };
}

/** The features of a batch, in batch order. Pure and deterministic. */
export function batchFeatures(acus: readonly Acu[]): BatchFeatures {
  const n = acus.length;
  const features = emptyFeatures(n);
  acus.forEach((acu, i) => {
    const names = fileNames(acu);
    writeNames(names.defines, features.defines, i * nameWords);
    writeNames(names.uses, features.uses, i * nameWords);
    const text = acuText(acu);
    const shingles = shingleHashes(tokenHashes(text));
    if (shingles.length === 0) features.empty[i] = 1;
    else writeSketch(shingles, features.sketch, i * sketchWords);
    features.lines[i] = Math.min(lineCount(text), riskLinesMax);
    features.weight[i] = opWeights[acu.op] * kindWeight(acu.level === 'decl' ? acu.kind : 'file');
  });
  return features;
}
