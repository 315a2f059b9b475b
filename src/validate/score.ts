/**
 * Scoring a batch end to end: features (core), pair scores (a backend), risk and the fast-path
 * rule (core), and the notable pairs that validation, the conflict policy and `acu score` read.
 */
import type { Acu } from '../core/acu/model.js';
import { batchFeatures, cellInterference, cellSimilarity, fastPathBlock, nearDuplicatePermille, riskScores } from '../core/scoring/index.js';
import type { FastPathBlock } from '../core/scoring/index.js';
import type { ScoringBackend } from './scoring/backend.js';

/** A pair worth reporting: interference either way, or near-duplicates. Indices in batch order, i < j. */
export interface NotablePair {
  readonly i: number;
  readonly j: number;
  /** Names i defines that j uses. */
  readonly interferenceIj: number;
  /** Names j defines that i uses. */
  readonly interferenceJi: number;
  readonly similarity: number;
}

/** The scores of a batch. Plain integers: they go into the validation result and its digest. */
export interface BatchScores {
  readonly n: number;
  readonly risk: number[];
  readonly pairs: NotablePair[];
  readonly fastPath: FastPathBlock | null;
}

/** Score ACUs; `groups[i]` is the proposal ACU i came from (pairs within one group never block the fast path). */
export async function scoreAcus(acus: readonly Acu[], groups: readonly number[], backend: ScoringBackend): Promise<BatchScores> {
  const features = batchFeatures(acus);
  const scores = await backend.pairScores(features);
  const risk = riskScores(features, scores);
  const fastPath = fastPathBlock(scores, risk, groups);
  const n = features.n;
  const pairs: NotablePair[] = [];
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 1; j < n; j += 1) {
      const ij = scores.cells[i * n + j]!;
      const ji = scores.cells[j * n + i]!;
      const similarity = cellSimilarity(ij);
      if (cellInterference(ij) === 0 && cellInterference(ji) === 0 && similarity < nearDuplicatePermille) continue;
      pairs.push({ i, j, interferenceIj: cellInterference(ij), interferenceJi: cellInterference(ji), similarity });
    }
  }
  return { n, risk: [...risk], pairs, fastPath };
}
