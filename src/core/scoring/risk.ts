/**
 * Per-ACU risk and the fast-path rule, computed from the features and the pair scores. Both are
 * integer functions of integer inputs, so they are identical wherever the pair scores are.
 */
import { assert } from '../errors.js';
import type { BatchFeatures } from './features.js';
import { cellInterference, cellSimilarity } from './reference.js';
import type { PairScores } from './reference.js';

/** Similarity (per-mille) from which two ACUs count as near-duplicates. */
export const nearDuplicatePermille = 800;
/** Highest risk a batch may hold and still take the fast path. */
export const fastPathRiskMax = 96;
/** Counts are capped here before weighing, so one huge batch cannot overflow or dominate. */
export const riskCountMax = 64;

/**
 * risk_i = 4 * weight_i + (lines_i >> 3) + 8 * min(fanIn_i, 64) + 4 * min(fanOut_i, 64)
 *          + 2 * min(duplicates_i, 64)
 * where fanIn_i counts ACUs j that use a name i defines (interference[i][j] > 0), fanOut_i the ACUs
 * j whose defined names i uses (interference[j][i] > 0), duplicates_i the ACUs j with
 * similarity[i][j] >= nearDuplicatePermille.
 */
export function riskScores(features: BatchFeatures, pairs: PairScores): Int32Array {
  const n = features.n;
  assert(pairs.n === n, 'riskScores: features and pair scores describe one batch');
  const fanIn = new Int32Array(n);
  const fanOut = new Int32Array(n);
  const duplicates = new Int32Array(n);
  for (let i = 0; i < n; i += 1) {
    const row = i * n;
    for (let j = 0; j < n; j += 1) {
      const cell = pairs.cells[row + j]!;
      if (cellInterference(cell) > 0) {
        fanIn[i]! += 1;
        fanOut[j]! += 1;
      }
      if (cellSimilarity(cell) >= nearDuplicatePermille) duplicates[i]! += 1;
    }
  }
  const risk = new Int32Array(n);
  for (let i = 0; i < n; i += 1) {
    risk[i] = 4 * features.weight[i]! + (features.lines[i]! >> 3) + 8 * Math.min(fanIn[i]!, riskCountMax) +
      4 * Math.min(fanOut[i]!, riskCountMax) + 2 * Math.min(duplicates[i]!, riskCountMax);
  }
  return risk;
}

/** Why a batch may not take the fast path: the first offending pair or ACU, in batch order. */
export type FastPathBlock =
  | { readonly kind: 'interference'; readonly i: number; readonly j: number; readonly score: number }
  | { readonly kind: 'near-duplicate'; readonly i: number; readonly j: number; readonly score: number }
  | { readonly kind: 'risk'; readonly i: number; readonly score: number };

/**
 * A batch takes the fast path (validation may skip the type check of untouched dependents, and no
 * conflict vote is needed) when no two ACUs of different groups (proposals) interfere or
 * near-duplicate each other and no ACU's risk exceeds fastPathRiskMax. Returns null when it may.
 */
export function fastPathBlock(pairs: PairScores, risk: Int32Array, groups: readonly number[]): FastPathBlock | null {
  const n = pairs.n;
  assert(groups.length === n, 'fastPathBlock: one group per ACU');
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < n; j += 1) {
      if (groups[i] === groups[j]) continue;
      const cell = pairs.cells[i * n + j]!;
      const score = cellInterference(cell);
      if (score > 0) return { kind: 'interference', i, j, score };
      const similar = cellSimilarity(cell);
      if (similar >= nearDuplicatePermille) return { kind: 'near-duplicate', i, j, score: similar };
    }
  }
  for (let i = 0; i < n; i += 1) if (risk[i]! > fastPathRiskMax) return { kind: 'risk', i, score: risk[i]! };
  return null;
}
