/**
 * Replica configuration: cluster size, identity, and a limit on everything (TIGER_STYLE), with the
 * unit last in each name.
 */
import { assert } from '../errors.js';
import type { DecodeLimits } from './decode.js';
import type { Mutation, ReplicaId } from './types.js';

/** Everything a replica needs to know besides its persisted state. */
export interface ReplicaConfig {
  /** n, the number of replicas; ids are 0..n-1. */
  readonly replicas: number;
  readonly self: ReplicaId;
  /** Round 0's timeout; round r waits `roundTimeoutTicks + r * roundTimeoutIncrementTicks`. */
  readonly roundTimeoutTicks: number;
  readonly roundTimeoutIncrementTicks: number;
  readonly roundTimeoutTicksMax: number;
  readonly batchAcusMax: number;
  readonly pendingAcusMax: number;
  readonly conflictsMax: number;
  /** Messages for rounds further ahead than this are dropped (timeouts are still counted for joins). */
  readonly roundsAheadMax: number;
  /** Rounds behind the current one whose votes are still kept (a late FINAL quorum still decides). */
  readonly roundsBehindKept: number;
  /** Messages of the next height buffered while this height is still open. */
  readonly futureMessagesMax: number;
  readonly decisionsRetainedMax: number;
  /** Decisions sent in answer to one FETCH. */
  readonly catchUpDecisionsMax: number;
  /** At most one FETCH, and one unasked decision per peer, per this many ticks. */
  readonly catchUpIntervalTicks: number;
  /**
   * An idle replica (nothing to decide at its height) sends one FETCH, to the next peer in turn,
   * every this many ticks: a replica left behind while the cluster has nothing new to decide hears
   * no message of a later height, so it must ask (L36b).
   */
  readonly idleFetchTicks: number;
  /** While a replica waits for its host's outcome of the round's draft, it asks again this often (L19a). */
  readonly outcomeRetryTicks: number;
  /** Above this many replicas, votes go to the leader, which relays quorums (O(n) per phase). */
  readonly relayThresholdReplicas: number;
  /** Test-only: breaks one rule (protocol.md §9). Always 'none' outside tests. */
  readonly mutation: Mutation;
}

/** A configuration with the defaults acu runs with, for `replicas` replicas. */
export function defaultReplicaConfig(replicas: number, self: ReplicaId): ReplicaConfig {
  const config: ReplicaConfig = {
    replicas,
    self,
    roundTimeoutTicks: 24,
    roundTimeoutIncrementTicks: 8,
    roundTimeoutTicksMax: 160,
    batchAcusMax: 64,
    pendingAcusMax: 4096,
    conflictsMax: 64,
    roundsAheadMax: 8,
    roundsBehindKept: 4,
    futureMessagesMax: 32 * replicas,
    decisionsRetainedMax: 256,
    catchUpDecisionsMax: 8,
    catchUpIntervalTicks: 8,
    idleFetchTicks: 32,
    outcomeRetryTicks: 8,
    relayThresholdReplicas: 16,
    mutation: 'none',
  };
  checkConfig(config);
  return config;
}

/** Asserts a configuration is coherent; a bad one is our bug, not a peer's fault. */
export function checkConfig(config: ReplicaConfig): void {
  assert(config.replicas >= 1, 'at least one replica');
  assert(config.self >= 0 && config.self < config.replicas, 'self is a member');
  assert(config.roundTimeoutTicks >= 1, 'a round lasts at least one tick');
  assert(config.roundTimeoutTicksMax >= config.roundTimeoutTicks, 'the timeout cap is above the base');
  assert(config.batchAcusMax >= 1, 'a batch holds at least one ACU');
  assert(config.roundsAheadMax >= 1, 'rounds ahead are buffered');
  assert(config.outcomeRetryTicks >= 1, 'outcome requests are re-sent at most once a tick');
  assert(config.idleFetchTicks >= config.catchUpIntervalTicks, 'an idle replica asks no more often than a lagging one');
  assert(config.decisionsRetainedMax >= config.catchUpDecisionsMax, 'catch-up serves retained decisions');
}

/** The decoder limits that match a replica configuration. */
export function decodeLimitsOf(config: ReplicaConfig): DecodeLimits {
  return {
    replicas: config.replicas,
    batchAcusMax: config.batchAcusMax,
    conflictsMax: config.conflictsMax,
    idLengthCharsMax: 128,
    sigLengthCharsMax: 256,
    messageNodesMax: 64 + config.replicas * (config.replicas + 8) * (3 * config.batchAcusMax + 32),
  };
}
