/**
 * Cluster arithmetic: how many faults n replicas tolerate, how many votes make a quorum, and who
 * leads a round (docs/protocol.md §1).
 */
import { assert } from '../errors.js';
import type { ReplicaId } from './types.js';

/** The largest number of Byzantine replicas n replicas tolerate: f = floor((n - 1) / 3). */
export function faultsTolerated(replicas: number): number {
  assert(Number.isSafeInteger(replicas), 'replica count must be an integer');
  assert(replicas >= 1, 'a cluster needs at least one replica');
  return Math.floor((replicas - 1) / 3);
}

/**
 * Votes that make a quorum: ceil((n + f + 1) / 2), which is 2f + 1 when n = 3f + 1. Any two
 * quorums then share at least f + 1 replicas, so at least one honest one (protocol.md §1).
 */
export function quorumSize(replicas: number): number {
  const f = faultsTolerated(replicas);
  const q = Math.ceil((replicas + f + 1) / 2);
  assert(2 * q - replicas >= f + 1, 'two quorums must share an honest replica');
  assert(q <= replicas - f, 'the honest replicas alone must form a quorum');
  return q;
}

/** The leader of (height, round): rotates every round and every height (protocol.md L1). */
export function leaderOf(height: number, round: number, replicas: number): ReplicaId {
  assert(height >= 0, 'height is non-negative');
  assert(round >= 0, 'round is non-negative');
  return (height + round) % replicas;
}
