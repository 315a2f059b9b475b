/**
 * Plain-data types of the consensus core: values, messages, certificates, evidence, the replica's
 * inputs and effects, and the state it persists. Everything here crosses the network or the disk,
 * so it holds only strings, safe integers, booleans, arrays, plain objects and null, and encodes
 * with `canonicalBytes`. The protocol these types carry is specified in docs/protocol.md.
 */

/** A replica's index in the cluster membership, 0..n-1. */
export type ReplicaId = number;

/** Version of the consensus wire and storage format. */
export const consensusFormatVersion = 1;

/** The parent of height 0's batch: there is no previous decision to build on. */
export const genesisParent = 'genesis';

/** A pending ACU as the consensus sees it: its content id and the hash of its body. */
export interface AcuRef {
  readonly id: string;
  readonly bodyHash: string;
}

/**
 * What a leader proposes: ACU ids on top of the previous decision (`parent` is that decision's
 * value id, or {@link genesisParent}), with a digest of the ACU bodies (protocol.md §2).
 */
export interface Batch {
  readonly height: number;
  readonly parent: string;
  readonly acuIds: readonly string[];
  readonly bodyDigest: string;
}

/** Two ACUs of one batch that change the same symbol differently (`a` precedes `b` in the batch). */
export interface Conflict {
  readonly a: string;
  readonly b: string;
}

/**
 * A node's deterministic verdict on a batch. Honest nodes at one height compute the same result
 * for the same batch, so they sign the same digest of it. `detailDigest` covers whatever else the
 * node checked (scores, type-check output) without shipping it.
 */
export interface ValidationResult {
  readonly ok: boolean;
  readonly conflicts: readonly Conflict[];
  readonly detailDigest: string;
}

/** A candidate resolution of one conflict. */
export type Choice = 'keep_a' | 'keep_b' | 'keep_both' | 'defer_both';

/** Every {@link Choice}, in tie-break order: the most conservative choice wins a tie. */
export const choicesInTieBreakOrder: readonly Choice[] = ['defer_both', 'keep_a', 'keep_b', 'keep_both'];

/**
 * A value before its outcome is known: the batch, its certified validation and the resolution.
 * Every honest replica of a round that gets this far holds the same draft; its host then computes
 * the outcome from it (protocol.md L19a).
 */
export interface ValueDraft {
  readonly batch: Batch;
  readonly validation: ValidationResult;
  /** One choice per conflict of `validation.conflicts`, same order. */
  readonly resolution: readonly Choice[];
  /**
   * The votes `resolution` was tallied from: the choices of the leader's RESOLVE quorum, by
   * replica, in replica order (protocol.md L18). Present exactly when there are conflicts. It is
   * part of the value, so the certificate itself says who chose what, and every node that writes
   * the decision's note writes the same votes, whatever RESOLVE it saw, or none (catch-up).
   */
  readonly tally?: readonly TallyVote[];
}

/** One replica's choices in the quorum a resolution was tallied from. */
export interface TallyVote {
  readonly from: ReplicaId;
  /** One choice per conflict, same order as the validation's conflicts. */
  readonly choices: readonly Choice[];
}

/**
 * The value replicas finalize at a height: a draft and its outcome. The outcome is what the hosts
 * make of the draft, a deterministic function of it and of the previous decision's outcome (in acu,
 * the id of the agreed git commit). Because the value id covers it, a decision certificate binds
 * the commit itself, not only what went into it (protocol.md §4).
 */
export interface Value extends ValueDraft {
  /** Lowercase hex, {@link outcomeLengthCharsMin} to {@link outcomeLengthCharsMax} characters. */
  readonly outcome: string;
}

/** Shortest outcome accepted: the simulator's 64-bit digests (git's are 40, SHA-256's 64). */
export const outcomeLengthCharsMin = 16;

/** Longest outcome accepted: a SHA-256 object id. */
export const outcomeLengthCharsMax = 64;

/** The fields every message carries; `sig` signs the canonical encoding of all the others. */
interface Envelope<T extends string, B> {
  readonly v: 1;
  readonly type: T;
  readonly from: ReplicaId;
  readonly height: number;
  readonly round: number;
  readonly body: B;
  readonly sig: string;
}

/** Leader's proposal. A re-proposal carries the prepared certificate of its value (protocol.md L5). */
export type ProposalMsg = Envelope<'proposal', {
  readonly batch: Batch;
  /** -1 for a fresh batch; else the round of `prepared`. */
  readonly validRound: number;
  readonly prepared: PreparedCert | null;
}>;

/** A replica's signed validation result for the round's batch (protocol.md L10). */
export type ValidateMsg = Envelope<'validate', {
  readonly batchDigest: string;
  readonly validationDigest: string;
  readonly result: ValidationResult;
}>;

/** A replica's signed choice per conflict of a certified batch (protocol.md L13). */
export type VoteMsg = Envelope<'vote', {
  readonly batchDigest: string;
  readonly validationDigest: string;
  readonly choices: readonly Choice[];
}>;

/** Leader's choice of the quorum of votes the resolution is computed from (protocol.md L16). */
export type ResolveMsg = Envelope<'resolve', {
  readonly validates: readonly ValidateMsg[];
  readonly votes: readonly VoteMsg[];
}>;

/** First voting phase on a value (Tendermint's prevote). */
export type PrepareMsg = Envelope<'prepare', { readonly valueId: string }>;

/** Second voting phase on a value (Tendermint's precommit); a quorum of them decides. */
export type FinalMsg = Envelope<'final', { readonly valueId: string }>;

/** A replica gave up on a round; carries its highest prepared certificate (protocol.md L30). */
export type TimeoutMsg = Envelope<'timeout', { readonly prepared: PreparedCert | null }>;

/** Catch-up request: send me decisions from `fromHeight` on. */
export type FetchMsg = Envelope<'fetch', { readonly fromHeight: number }>;

/** Catch-up answer: one decision with its certificate. */
export type DecisionMsg = Envelope<'decision', { readonly cert: DecisionCert }>;

/** A vote that may be relayed inside a {@link CertMsg}. */
export type RelayedVote = ValidateMsg | VoteMsg | PrepareMsg | FinalMsg | TimeoutMsg;

/**
 * Relayed votes: a leader's quorum above the relay threshold (protocol.md L41), or the timeout
 * certificate that moved us to our round, sent to a peer still timing out in an older one (L33a).
 */
export type CertMsg = Envelope<'cert', { readonly votes: readonly RelayedVote[] }>;

/** Every consensus message. */
export type Message =
  | ProposalMsg
  | ValidateMsg
  | VoteMsg
  | ResolveMsg
  | PrepareMsg
  | FinalMsg
  | TimeoutMsg
  | FetchMsg
  | DecisionMsg
  | CertMsg;

/** The `type` field of a {@link Message}. */
export type MessageType = Message['type'];

/** Quorum PREPAREs for one value in one round: the value may be locked and re-proposed. */
export interface PreparedCert {
  readonly round: number;
  readonly value: Value;
  readonly prepares: readonly PrepareMsg[];
}

/** Quorum FINALs for one value at one height: self-verifying proof of a decision. */
export interface DecisionCert {
  readonly height: number;
  readonly round: number;
  readonly value: Value;
  readonly finals: readonly FinalMsg[];
}

/** A peer's provable fault. A returned value, never an exception (STYLE.md rule 3). */
export type Evidence =
  | { readonly type: 'equivocation'; readonly first: Message; readonly second: Message }
  | { readonly type: 'validation_mismatch'; readonly msg: ValidateMsg; readonly certifiedDigest: string }
  | { readonly type: 'bad_certificate'; readonly msg: Message; readonly reason: string };

/** What the replica is told. */
export type Input =
  | { readonly type: 'tick' }
  | { readonly type: 'message'; readonly msg: Message }
  | {
      readonly type: 'validated';
      readonly height: number;
      readonly round: number;
      readonly batchDigest: string;
      readonly result: ValidationResult;
    }
  | {
      readonly type: 'policy_vote';
      readonly height: number;
      readonly round: number;
      readonly batchDigest: string;
      readonly validationDigest: string;
      readonly choices: readonly Choice[];
    }
  | {
      /** The host's answer to an `outcome` effect; `draftId` is `draftIdOf` the draft it was asked about. */
      readonly type: 'outcome';
      readonly height: number;
      readonly round: number;
      readonly draftId: string;
      readonly outcome: string;
    }
  | { readonly type: 'propose_request'; readonly acus: readonly AcuRef[] };

/**
 * What the replica asks its host to do. A step returns effects in this order, and the host must
 * carry them out in that order:
 *
 * 1. `persist` — at most one, first: the state to make durable. The host must write AND fsync it
 *    before carrying out any later effect, because the sends that follow may carry votes that only
 *    this state remembers; a vote that reached a peer and was then lost in a crash would let the
 *    replica sign a different vote for the same height, round and phase after restart.
 * 2. `send` — messages to peers (`to: 'all'` means every replica but this one).
 * 3. `decide` — a finalized value with its certificate, in height order, each height once. It comes
 *    before the requests because a request of the next height, made in the same step, builds on it.
 * 4. `validate`, `policy`, `outcome` — requests for node inputs; the answers come back as inputs
 *    later (`validated`, `policy_vote`, `outcome`). An `outcome` request asks the host for the
 *    outcome of a draft built on the previous decision; a host that cannot compute it yet (behind,
 *    bodies missing) just does not answer: the replica asks again every `outcomeRetryTicks` while it
 *    still waits, and never PREPAREs a fresh value without its own host's answer. A host may get the
 *    same request more than once and answers each (it may memoize by draft id).
 * 5. `evidence` — peer faults to record.
 * 6. `timer` — the round's timeout, for hosts that sleep between ticks (ticks still drive time).
 */
export type Effect =
  | { readonly type: 'persist'; readonly state: PersistedState }
  | { readonly type: 'send'; readonly to: ReplicaId | 'all'; readonly msg: Message }
  | { readonly type: 'validate'; readonly height: number; readonly round: number; readonly batch: Batch }
  | {
      readonly type: 'policy';
      readonly height: number;
      readonly round: number;
      readonly batchDigest: string;
      readonly validationDigest: string;
      readonly conflicts: readonly Conflict[];
    }
  | { readonly type: 'outcome'; readonly height: number; readonly round: number; readonly draft: ValueDraft }
  | { readonly type: 'decide'; readonly cert: DecisionCert }
  | { readonly type: 'evidence'; readonly evidence: Evidence }
  | { readonly type: 'timer'; readonly height: number; readonly round: number; readonly timeoutTicks: number };

/** The `type` field of an {@link Effect}. */
export type EffectType = Effect['type'];

/**
 * What a replica must find after a crash to stay safe (protocol.md §5): its position, its lock, its
 * highest prepared certificate, the messages it signed in its current round (so it re-sends them
 * instead of signing different ones) and its recent decisions (to serve catch-up).
 */
export interface PersistedState {
  readonly v: 1;
  readonly height: number;
  readonly round: number;
  /** Value id of the last decision (the next batch's parent). */
  readonly parent: string;
  readonly locked: { readonly round: number; readonly value: Value } | null;
  readonly valid: PreparedCert | null;
  /** Messages this replica signed at (height, round): at most one per message type. */
  readonly signed: readonly Message[];
  /** The timeouts that moved the replica into `round` (a timeout certificate, or f + 1 to join). */
  readonly enteredBy: readonly TimeoutMsg[];
  /** The most recent decisions, oldest first, at most `decisionsRetainedMax`. */
  readonly decisions: readonly DecisionCert[];
}

/**
 * Test-only switches that each break one rule, so the simulator can show it catches the breakage
 * (docs/protocol.md §9). Production configuration always uses `'none'`.
 */
export type Mutation = 'none' | 'skip_lock_check' | 'quorum_minus_one' | 'send_before_persist' | 'prepare_without_outcome';
