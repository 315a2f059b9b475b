/**
 * Certificate checks: a set of signed votes is a certificate when a quorum of distinct replicas
 * signed the same statement. Signatures were already verified by the decoder (decode.ts) or were
 * made by this replica; what is left is counting and matching, done here and only here.
 */
import { assert } from '../errors.js';
import { valueIdOf } from './digest.js';
import type { Signer } from './digest.js';
import type { DecisionCert, FinalMsg, PrepareMsg, PreparedCert, ResolveMsg, ValidateMsg, VoteMsg } from './types.js';

/** The statement every vote of a certificate must sign. */
export interface VoteKey {
  readonly height: number;
  readonly round: number;
  /** The value id (PREPARE, FINAL) or `batchDigest|validationDigest` (VALIDATE, VOTE). */
  readonly key: string;
}

/** The key a vote signs, for matching votes into certificates. */
export function voteKeyOf(vote: PrepareMsg | FinalMsg | ValidateMsg | VoteMsg): string {
  switch (vote.type) {
    case 'prepare':
    case 'final':
      return vote.body.valueId;
    case 'validate':
    case 'vote':
      return `${vote.body.batchDigest}|${vote.body.validationDigest}`;
  }
}

/**
 * True when `votes` holds at least `quorum` votes from distinct replicas, all for `expected`
 * (protocol.md L40). Duplicates from one replica count once.
 */
export function isQuorumOf(
  votes: readonly (PrepareMsg | FinalMsg | ValidateMsg | VoteMsg)[],
  expected: VoteKey,
  quorum: number,
): boolean {
  assert(quorum >= 1, 'a quorum has at least one vote');
  const senders = new Set<number>();
  for (const vote of votes) {
    if (vote.height !== expected.height || vote.round !== expected.round) return false;
    if (voteKeyOf(vote) !== expected.key) return false;
    senders.add(vote.from);
  }
  return senders.size >= quorum;
}

/** True when `cert` proves a quorum PREPAREd `cert.value` at `height`, round `cert.round`. */
export function isPreparedCert(cert: PreparedCert, height: number, quorum: number, signer: Pick<Signer, 'digestHex'>): boolean {
  if (cert.value.batch.height !== height) return false;
  if (!cert.prepares.every((m) => m.type === 'prepare')) return false;
  return isQuorumOf(cert.prepares, { height, round: cert.round, key: valueIdOf(signer, cert.value) }, quorum);
}

/** True when `cert` proves a quorum FINALized `cert.value` at `cert.height` (protocol.md L40). */
export function isDecisionCert(cert: DecisionCert, quorum: number, signer: Pick<Signer, 'digestHex'>): boolean {
  if (cert.value.batch.height !== cert.height) return false;
  if (!cert.finals.every((m) => m.type === 'final')) return false;
  return isQuorumOf(cert.finals, { height: cert.height, round: cert.round, key: valueIdOf(signer, cert.value) }, quorum);
}

/**
 * True when a RESOLVE carries a quorum of matching VALIDATEs and exactly a quorum of VOTEs from
 * distinct replicas on the same batch and result, one choice per conflict (protocol.md L17).
 */
export function isResolveWellFormed(msg: ResolveMsg, quorum: number, conflicts: number): boolean {
  const first = msg.body.validates[0];
  if (first === undefined) return false;
  const key: VoteKey = { height: msg.height, round: msg.round, key: voteKeyOf(first) };
  if (!isQuorumOf(msg.body.validates, key, quorum)) return false;
  if (msg.body.votes.length !== quorum || !isQuorumOf(msg.body.votes, key, quorum)) return false;
  return msg.body.votes.every((vote) => vote.body.choices.length === conflicts);
}
