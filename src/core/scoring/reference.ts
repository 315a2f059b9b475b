/**
 * The scores and their CPU reference: the definition every backend must reproduce bit for bit.
 *
 * One N x N matrix of Int32 cells, row-major; cell (i, j) = similarity * 4096 + interference,
 * both defined for ACUs i != j (the diagonal cell is 0):
 * - interference(i, j) = popcount(defines_i AND uses_j): how many (hashed) names that ACU i
 *   defines, changes or removes ACU j uses. Directed: row i is what i can break, column j what j
 *   depends on.
 * - similarity(i, j) = near-duplicate score in per-mille from the 1-bit MinHash sketches:
 *   m = minhashCount - popcount(sketch_i XOR sketch_j) matching bits, and
 *   similarity = m <= 64 ? 0 : floor((m - 64) * 125 / 8), an estimate of the Jaccard index of the
 *   token-shingle sets (1000 = same shingles). 0 when either ACU has no token. Symmetric.
 *
 * interference <= 2048 < 4096 and the largest cell, 1000 * 4096 + 2048, is below 2^24, so a cell
 * is exact in a float32 (GPU kernels compute it in floats) as well as in an Int32.
 */
import { assert } from '../errors.js';
import { popcount32 } from './hash.js';
import type { BatchFeatures } from './features.js';
import { minhashCount, nameWords, sketchWords } from './features.js';

/** The pairwise scores of a batch: N x N packed cells, row-major (see the module comment). */
export interface PairScores {
  readonly n: number;
  readonly cells: Int32Array;
}

/** A cell's similarity is stored as a multiple of this. */
export const similarityUnit = 4096;

/** The interference part of a cell. */
export function cellInterference(cell: number): number {
  return cell & (similarityUnit - 1);
}

/** The similarity part of a cell. */
export function cellSimilarity(cell: number): number {
  return cell >>> 12;
}

/** Interference of ACU i against ACU j (i defines, j uses). */
export function interferenceAt(pairs: PairScores, i: number, j: number): number {
  return cellInterference(pairs.cells[i * pairs.n + j]!);
}

/** Similarity of ACUs i and j, per-mille. */
export function similarityAt(pairs: PairScores, i: number, j: number): number {
  return cellSimilarity(pairs.cells[i * pairs.n + j]!);
}

/** Similarity in per-mille from the number of matching sketch bits. */
export function similarityFromMatches(matches: number): number {
  assert(matches >= 0 && matches <= minhashCount, 'similarityFromMatches: matches in range');
  const half = minhashCount / 2;
  return matches <= half ? 0 : Math.floor(((matches - half) * 125) / 8);
}

/** Interference of one ordered pair (i defines, j uses). */
export function pairInterference(features: BatchFeatures, i: number, j: number): number {
  let count = 0;
  for (let w = 0; w < nameWords; w += 1) count += popcount32(features.defines[i * nameWords + w]! & features.uses[j * nameWords + w]!);
  return count;
}

/** Similarity of one pair. */
export function pairSimilarity(features: BatchFeatures, i: number, j: number): number {
  if (features.empty[i] === 1 || features.empty[j] === 1) return 0;
  let differing = 0;
  for (let w = 0; w < sketchWords; w += 1) differing += popcount32(features.sketch[i * sketchWords + w]! ^ features.sketch[j * sketchWords + w]!);
  return similarityFromMatches(minhashCount - differing);
}

/** The reference: every cell computed on its own, straight from the definition. */
export function referencePairScores(features: BatchFeatures): PairScores {
  const n = features.n;
  const cells = new Int32Array(n * n);
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < n; j += 1) {
      if (i === j) continue;
      cells[i * n + j] = pairSimilarity(features, i, j) * similarityUnit + pairInterference(features, i, j);
    }
  }
  return { n, cells };
}
