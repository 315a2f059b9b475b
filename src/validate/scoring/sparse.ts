/**
 * Shared preparation for the fast CPU backends: the defined-name sets are sparse (an ACU defines
 * one to a few names), so each ACU's non-zero define words are listed once, and a pair costs a few
 * word operations instead of the whole 64-word set. The result is the same sum of popcounts the
 * reference computes: the skipped words are zero and contribute nothing.
 */
import { minhashCount, nameWords, similarityFromMatches, similarityUnit } from '../../core/scoring/index.js';
import type { BatchFeatures } from '../../core/scoring/index.js';

/** Non-zero define words: ACU i's are entries offsets[i] .. offsets[i+1]-1 of words/values. */
export interface SparseDefines {
  readonly offsets: Int32Array;
  /** Word index within the name set. */
  readonly words: Int32Array;
  readonly values: Uint32Array;
}

/** List every ACU's non-zero define words. */
export function sparseDefines(features: BatchFeatures): SparseDefines {
  const offsets = new Int32Array(features.n + 1);
  let count = 0;
  for (let i = 0; i < features.defines.length; i += 1) if (features.defines[i] !== 0) count += 1;
  const words = new Int32Array(count);
  const values = new Uint32Array(count);
  let k = 0;
  for (let i = 0; i < features.n; i += 1) {
    offsets[i] = k;
    for (let w = 0; w < nameWords; w += 1) {
      const value = features.defines[i * nameWords + w]!;
      if (value === 0) continue;
      words[k] = w;
      values[k] = value;
      k += 1;
    }
  }
  offsets[features.n] = k;
  return { offsets, words, values };
}

/** The similarity part of a cell (similarity * similarityUnit) by number of differing sketch bits (0..minhashCount). */
export function similarityTable(): Int32Array {
  const table = new Int32Array(minhashCount + 1);
  for (let d = 0; d <= minhashCount; d += 1) table[d] = similarityFromMatches(minhashCount - d) * similarityUnit;
  return table;
}

/** Square tiles of the triangle loops: both a tile's rows and its transposed writes stay in cache. */
export const tileSize = 64;
