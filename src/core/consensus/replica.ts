/**
 * The consensus replica: a pure state machine in the style of etcd raft and malachite. Ticks,
 * decoded messages and node inputs go in through {@link Replica.step}; effects come out, in the
 * order the {@link Effect} type states (persist, send, requests, decide, evidence, timer). It never
 * touches a socket, a file or a clock. Every rule cites the line of docs/protocol.md it implements.
 */
import { canonicalString } from '../acu/canonical.js';
import { assert, assertNever } from '../errors.js';
import { isDecisionCert, isPreparedCert, isResolveWellFormed, voteKeyOf } from './certs.js';
import { checkConfig } from './config.js';
import type { ReplicaConfig } from './config.js';
import { isOutcome } from './decode.js';
import { batchDigestOf, bodyDigestOf, draftIdOf, signMessage, validationDigestOf, valueIdOf } from './digest.js';
import type { Signer } from './digest.js';
import { faultsTolerated, leaderOf, quorumSize } from './quorum.js';
import { tallyOf, tallyResolution } from './tally.js';
import type {
  AcuRef, Batch, Choice, CertMsg, DecisionCert, Effect, Evidence, FinalMsg, Input, Message, MessageType, PersistedState,
  PrepareMsg, PreparedCert, ProposalMsg, ReplicaId, ResolveMsg, TallyVote, TimeoutMsg, ValidateMsg, ValidationResult, Value, ValueDraft,
  VoteMsg,
} from './types.js';
import { genesisParent } from './types.js';

/** What one round of the current height has seen (volatile: rebuilt from peers after a crash). */
interface RoundLog {
  proposal: ProposalMsg | null;
  proposalBatchDigest: string;
  validates: Map<ReplicaId, ValidateMsg>;
  votes: Map<ReplicaId, VoteMsg>;
  resolve: ResolveMsg | null;
  prepares: Map<ReplicaId, PrepareMsg>;
  finals: Map<ReplicaId, FinalMsg>;
  timeouts: Map<ReplicaId, TimeoutMsg>;
  /** `batchDigest|validationDigest` once a quorum of VALIDATEs matched (L14). */
  vcKey: string | null;
  prepareQuorum: string | null;
  finalQuorum: string | null;
  /** L19: the round's fresh value without its outcome, and its draft id. */
  draft: ValueDraft | null;
  draftId: string;
  /** L19b: the draft with the outcome our own host computed; the only fresh value we PREPARE. */
  candidate: Value | null;
  /** `nowTicks` of our last outcome request for `draft` (L19a), -Infinity before the first. */
  outcomeAskedTick: number;
  validationRequested: boolean;
  policyRequested: boolean;
  mismatchReported: Set<ReplicaId>;
  relayed: Set<MessageType>;
}

/** Where a replica is in its current round, for people: the last phase it signed in. */
export type ReplicaPhase = 'idle' | 'proposal' | 'validation' | 'conflict-vote' | 'prepare' | 'final' | 'round-change';

/** Counters a host exports as metrics. */
export interface ReplicaStats {
  ignoredMessages: number;
  /** Messages received again (replays and retransmissions): dropped after the first copy. */
  duplicateMessages: number;
  evidence: number;
  decisions: number;
}

/** Bound on rule re-evaluation per step: each pass fires at least one rule, and there are few. */
const advancePassesMax = 64;

/** A consensus replica. Create with {@link Replica.create} or rebuild after a crash with {@link Replica.restore}. */
export class Replica {
  readonly stats: ReplicaStats = { ignoredMessages: 0, duplicateMessages: 0, evidence: 0, decisions: 0 };
  private readonly n: number;
  private readonly f: number;
  private readonly q: number;
  private height = 0;
  private round = 0;
  private parent = genesisParent;
  private locked: { round: number; value: Value } | null = null;
  private valid: PreparedCert | null = null;
  private signed = new Map<MessageType, Message>();
  private decisions: DecisionCert[] = [];
  private rounds = new Map<number, RoundLog>();
  private values = new Map<string, Value>();
  /** Per peer, its TIMEOUT of the highest round at this height (for joins, L33). */
  private highTimeouts = new Map<ReplicaId, TimeoutMsg>();
  /** The timeout certificate that moved us into the current round, if one did (L33a). */
  private enteredBy: readonly TimeoutMsg[] = [];
  private readonly lastHelpTick = new Map<ReplicaId, number>();
  private future: Message[] = [];
  private readonly pool = new Map<string, AcuRef>();
  private ticksInRound = 0;
  private nowTicks = 0;
  private lastFetchTick = -Infinity;
  /** Ticks idle since the last idle FETCH, and how many idle FETCHes went out (picks the next peer). */
  private idleTicks = 0;
  private idleFetches = 0;
  private readonly lastPushTick = new Map<ReplicaId, number>();
  private dirty = false;
  private readonly out = { sends: [] as Effect[], requests: [] as Effect[], decides: [] as Effect[], evidence: [] as Effect[], timers: [] as Effect[] };

  private constructor(private readonly config: ReplicaConfig, private readonly signer: Signer) {
    checkConfig(config);
    assert(signer.self === config.self, 'the signer signs as this replica');
    this.n = config.replicas;
    this.f = faultsTolerated(this.n);
    // The test-only mutation accepts one vote short of a quorum (protocol.md §9).
    this.q = quorumSize(this.n) - (config.mutation === 'quorum_minus_one' ? 1 : 0);
  }

  /** A fresh replica at height 0, round 0. */
  static create(config: ReplicaConfig, signer: Signer): Replica {
    return new Replica(config, signer);
  }

  /** Rebuild a replica from the last state it persisted (protocol.md §5). */
  static restore(config: ReplicaConfig, signer: Signer, state: PersistedState): Replica {
    assert(state.v === 1, 'persisted state version');
    const replica = new Replica(config, signer);
    replica.height = state.height;
    replica.round = state.round;
    replica.parent = state.parent;
    replica.locked = state.locked;
    replica.valid = state.valid;
    replica.decisions = [...state.decisions];
    replica.enteredBy = state.enteredBy;
    for (const msg of state.signed) {
      assert(msg.height === state.height && msg.round === state.round, 'signed messages are of the persisted round');
      replica.signed.set(msg.type, msg);
    }
    if (state.locked !== null) replica.values.set(valueIdOf(signer, state.locked.value), state.locked.value);
    if (state.valid !== null) replica.values.set(valueIdOf(signer, state.valid.value), state.valid.value);
    // Our own votes count towards our quorums: put what we signed back into the round log.
    for (const msg of state.signed) replica.receive(msg);
    for (const msg of state.enteredBy) if (msg.height === state.height) replica.noteHighTimeout(msg);
    return replica;
  }

  /** Current position, for hosts and tests. */
  status(): { height: number; round: number; phase: ReplicaPhase; leader: ReplicaId; lockedRound: number; validRound: number; pendingAcus: number } {
    return {
      height: this.height,
      round: this.round,
      phase: this.phase(),
      leader: leaderOf(this.height, this.round, this.n),
      lockedRound: this.locked?.round ?? -1,
      validRound: this.valid?.round ?? -1,
      pendingAcus: this.pool.size,
    };
  }

  /**
   * The conflict votes this replica has received in its current round, by member: read only, for
   * the status page's "votes so far" (the resolution itself is tallied from the leader's RESOLVE).
   */
  roundVotes(): { readonly from: ReplicaId; readonly choices: readonly Choice[] }[] {
    const log = this.rounds.get(this.round);
    if (log === undefined) return [];
    return [...log.votes.values()].sort((a, b) => a.from - b.from).map((msg) => ({ from: msg.from, choices: msg.body.choices }));
  }

  /** The phase of the current round, from what this replica has signed in it. */
  private phase(): ReplicaPhase {
    if (this.signed.has('timeout')) return 'round-change';
    if (this.signed.has('final')) return 'final';
    if (this.signed.has('prepare')) return 'prepare';
    if (this.signed.has('vote')) return 'conflict-vote';
    if (this.signed.has('validate')) return 'validation';
    return this.active() ? 'proposal' : 'idle';
  }

  /** Feed one input; returns the effects to carry out, in order (see {@link Effect}). */
  step(input: Input): Effect[] {
    switch (input.type) {
      case 'tick':
        this.onTick();
        break;
      case 'message':
        this.onMessage(input.msg);
        break;
      case 'validated':
        this.onValidated(input.height, input.round, input.batchDigest, input.result);
        break;
      case 'policy_vote':
        this.onPolicyVote(input);
        break;
      case 'outcome':
        this.onOutcome(input);
        break;
      case 'propose_request':
        this.onProposeRequest(input.acus);
        break;
      default:
        assertNever(input, 'input');
    }
    this.advance();
    return this.drainEffects();
  }

  // ---- effects ------------------------------------------------------------------------------

  private drainEffects(): Effect[] {
    const persist: Effect[] = this.dirty ? [{ type: 'persist', state: this.snapshot() }] : [];
    this.dirty = false;
    const { sends, requests, decides, evidence, timers } = this.out;
    // Persist before send (protocol.md L38): the sends may carry votes only this state remembers.
    // The test-only mutation reverses the two so the simulator can show it catches the breakage.
    const head = this.config.mutation === 'send_before_persist' ? [...sends, ...persist] : [...persist, ...sends];
    // Decisions before requests: a request of the next height made in this step (an outcome above
    // all) builds on the decision, and a host carrying effects out in order must have it first.
    const effects = [...head, ...decides, ...requests, ...evidence, ...timers];
    this.out.sends = [];
    this.out.requests = [];
    this.out.decides = [];
    this.out.evidence = [];
    this.out.timers = [];
    assert(persist.length <= 1, 'at most one persist per step');
    return effects;
  }

  private snapshot(): PersistedState {
    return {
      v: 1,
      height: this.height,
      round: this.round,
      parent: this.parent,
      locked: this.locked,
      valid: this.valid,
      signed: [...this.signed.values()],
      enteredBy: this.enteredBy,
      decisions: [...this.decisions],
    };
  }

  private send(to: ReplicaId | 'all', msg: Message): void {
    if (to === this.config.self) return;
    this.out.sends.push({ type: 'send', to, msg });
  }

  private report(evidence: Evidence): void {
    this.stats.evidence += 1;
    this.out.evidence.push({ type: 'evidence', evidence });
  }

  /** Relay mode sends votes to the round's leader only (protocol.md L41). */
  private voteTarget(round: number): ReplicaId | 'all' {
    return this.n > this.config.relayThresholdReplicas ? leaderOf(this.height, round, this.n) : 'all';
  }

  /**
   * Sign at most one message per (height, round, type) (protocol.md L39). A second request returns
   * the first message, which the persisted state remembers across restarts, so a restarted replica
   * re-sends what it signed instead of signing something else.
   */
  private signOnce<M extends Message>(type: M['type'], body: M['body']): M {
    const existing = this.signed.get(type);
    if (existing !== undefined) {
      assert(existing.height === this.height && existing.round === this.round, 'signed messages are of this round');
      return existing as M;
    }
    const msg = signMessage<M>(this.signer, {
      v: 1, type, from: this.config.self, height: this.height, round: this.round, body,
    } as Omit<M, 'sig'>);
    this.signed.set(type, msg);
    this.dirty = true;
    assert(msg.from === this.config.self, 'we sign as ourselves');
    return msg;
  }

  // ---- inputs -------------------------------------------------------------------------------

  private onProposeRequest(acus: readonly AcuRef[]): void {
    for (const acu of acus) {
      if (this.pool.size >= this.config.pendingAcusMax) break;
      this.pool.set(acu.id, acu);
    }
  }

  /** L2, L30: the round timer. A round only times out while there is work at this height. */
  private onTick(): void {
    this.nowTicks += 1;
    if (!this.active()) {
      this.fetchWhenIdle();
      return;
    }
    this.ticksInRound += 1;
    if (this.ticksInRound < this.timeoutTicks(this.round)) return;
    this.ticksInRound = 0;
    const stored = this.signed.get('timeout');
    // Re-sending the same TIMEOUT is what lets a timeout certificate form after a partition heals.
    if (stored !== undefined) this.send('all', stored);
    else this.timeOut();
  }

  private active(): boolean {
    return this.pool.size > 0 || this.round > 0 || this.rounds.size > 0 || this.future.length > 0;
  }

  private timeoutTicks(round: number): number {
    const grown = this.config.roundTimeoutTicks + round * this.config.roundTimeoutIncrementTicks;
    return Math.min(grown, this.config.roundTimeoutTicksMax);
  }

  /** L9-L11: our node validated the round's batch. */
  private onValidated(height: number, round: number, batchDigest: string, result: ValidationResult): void {
    if (height !== this.height || round !== this.round) return;
    const log = this.rounds.get(round);
    if (log?.proposal == null || log.proposalBatchDigest !== batchDigest) return;
    const validationDigest = validationDigestOf(this.signer, result);
    const msg = this.signOnce<ValidateMsg>('validate', { batchDigest, validationDigest, result });
    this.send(this.voteTarget(round), msg);
    this.receive(msg);
    if (msg.body.result.ok && msg.body.result.conflicts.length > 0 && !log.policyRequested) {
      log.policyRequested = true;
      this.out.requests.push({
        type: 'policy', height, round, batchDigest, validationDigest: msg.body.validationDigest,
        conflicts: msg.body.result.conflicts,
      });
    }
  }

  /** L12-L13: our node's policy chose per conflict; the vote goes to the leader. */
  private onPolicyVote(input: Extract<Input, { type: 'policy_vote' }>): void {
    if (input.height !== this.height || input.round !== this.round) return;
    const mine = this.signed.get('validate') as ValidateMsg | undefined;
    if (mine === undefined || mine.body.batchDigest !== input.batchDigest) return;
    if (mine.body.validationDigest !== input.validationDigest) return;
    if (input.choices.length !== mine.body.result.conflicts.length) return;
    const msg = this.signOnce<VoteMsg>('vote', {
      batchDigest: input.batchDigest, validationDigest: input.validationDigest, choices: input.choices,
    });
    this.send(leaderOf(this.height, this.round, this.n), msg);
    this.receive(msg);
  }

  /**
   * L19b: our host's outcome for the round's draft. Only an answer for the draft we hold now counts:
   * a stale one (another height, round or draft) is dropped, and so is a second answer, so the one
   * fresh value we may PREPARE in a round is fixed once.
   */
  private onOutcome(input: Extract<Input, { type: 'outcome' }>): void {
    // The host is ours: a malformed outcome is our bug, and peers' decoders would refuse the value.
    assert(isOutcome(input.outcome), 'the host answers a lowercase hex outcome');
    assert(input.draftId.length > 0, 'the host names the draft it answers');
    if (input.height !== this.height || input.round !== this.round) return;
    const log = this.rounds.get(input.round);
    if (log?.draft == null || log.candidate !== null || log.draftId !== input.draftId) return;
    const value: Value = { ...log.draft, outcome: input.outcome };
    log.candidate = value;
    this.values.set(valueIdOf(this.signer, value), value);
  }

  // ---- messages -----------------------------------------------------------------------------

  /** Route a decoded peer message by height (L34-L37), then store it for its round. */
  private onMessage(msg: Message): void {
    if (msg.type === 'decision') {
      this.onDecision(msg.body.cert);
      if (msg.height > this.height) this.requestFetch(msg.from);
      return;
    }
    if (msg.type === 'fetch') {
      this.serveFetch(msg.from, msg.body.fromHeight);
      // L34 holds for a FETCH too: one from a later height (an idle peer's, L36b) says we are behind.
      if (msg.height > this.height) this.requestFetch(msg.from);
      return;
    }
    if (msg.height < this.height) {
      this.pushDecision(msg.from, msg.height);
      return;
    }
    if (msg.height > this.height) {
      // L34: a peer is ahead. Keep the next height's messages; ask for the decisions we miss.
      if (msg.height === this.height + 1 && this.future.length < this.config.futureMessagesMax) this.future.push(msg);
      else this.stats.ignoredMessages += 1;
      this.requestFetch(msg.from);
      return;
    }
    this.receive(msg);
  }

  /** Store a message of the current height in its round's log (our own messages come here too). */
  private receive(msg: Message): void {
    assert(msg.height === this.height, 'only current-height messages are stored');
    if (msg.type === 'timeout') this.noteHighTimeout(msg);
    if (msg.type === 'cert') {
      // The envelope's round says nothing about its votes' rounds: each is checked on its own.
      this.storeCert(msg);
      return;
    }
    if (msg.round + this.config.roundsBehindKept < this.round || msg.round > this.round + this.config.roundsAheadMax) {
      this.stats.ignoredMessages += 1;
      return;
    }
    const log = this.logFor(msg.round);
    switch (msg.type) {
      case 'proposal':
        this.storeProposal(log, msg);
        return;
      case 'validate':
      case 'vote':
      case 'prepare':
      case 'final':
        this.storeVote(log, msg);
        return;
      case 'resolve':
        this.storeResolve(log, msg);
        return;
      case 'timeout':
        this.storeTimeout(log, msg);
        return;
      case 'fetch':
      case 'decision':
        assert(false, 'catch-up and relay messages are routed before the round log');
        return;
      default:
        assertNever(msg, 'message');
    }
  }

  private logFor(round: number): RoundLog {
    let log = this.rounds.get(round);
    if (log === undefined) {
      log = {
        proposal: null, proposalBatchDigest: '', validates: new Map(), votes: new Map(), resolve: null,
        prepares: new Map(), finals: new Map(), timeouts: new Map(), vcKey: null, prepareQuorum: null,
        finalQuorum: null, draft: null, draftId: '', candidate: null, outcomeAskedTick: -Infinity,
        validationRequested: false, policyRequested: false,
        mismatchReported: new Set(), relayed: new Set(),
      };
      this.rounds.set(round, log);
    }
    return log;
  }

  /** L43: the first message per sender is kept; a different second one is evidence. */
  private keepFirst<M extends Message>(map: Map<ReplicaId, M>, msg: M): boolean {
    const first = map.get(msg.from);
    if (first === undefined) {
      map.set(msg.from, msg);
      return true;
    }
    if (first.sig !== msg.sig && canonicalString(first.body) !== canonicalString(msg.body)) {
      this.report({ type: 'equivocation', first, second: msg });
    } else {
      this.stats.duplicateMessages += 1;
    }
    return false;
  }

  /** L6-L8: the leader's proposal, checked against our parent and, for a re-proposal, its certificate. */
  private storeProposal(log: RoundLog, msg: ProposalMsg): void {
    if (msg.from !== leaderOf(this.height, msg.round, this.n)) {
      this.stats.ignoredMessages += 1;
      return;
    }
    if (log.proposal !== null) {
      if (log.proposal.sig !== msg.sig && canonicalString(log.proposal.body) !== canonicalString(msg.body)) {
        this.report({ type: 'equivocation', first: log.proposal, second: msg });
      }
      return;
    }
    const reason = this.proposalFault(msg);
    if (reason !== null) {
      this.stats.ignoredMessages += 1;
      if (reason === 'bad prepared certificate') this.report({ type: 'bad_certificate', msg, reason });
      return;
    }
    log.proposal = msg;
    log.proposalBatchDigest = batchDigestOf(this.signer, msg.body.batch);
    if (msg.body.prepared !== null) {
      this.values.set(valueIdOf(this.signer, msg.body.prepared.value), msg.body.prepared.value);
      this.adopt(msg.body.prepared);
    }
  }

  private proposalFault(msg: ProposalMsg): string | null {
    const { batch, validRound, prepared } = msg.body;
    if (batch.height !== this.height || batch.parent !== this.parent) return 'wrong parent';
    if (batch.acuIds.length === 0 || batch.acuIds.length > this.config.batchAcusMax) return 'bad size';
    if (new Set(batch.acuIds).size !== batch.acuIds.length) return 'duplicate ACU';
    if (validRound === -1) return prepared === null ? null : 'certificate without round';
    if (prepared === null || prepared.round !== validRound || validRound >= msg.round) return 'bad valid round';
    if (batchDigestOf(this.signer, prepared.value.batch) !== batchDigestOf(this.signer, batch)) return 'batch mismatch';
    return isPreparedCert(prepared, this.height, this.q, this.signer) ? null : 'bad prepared certificate';
  }

  /** L31, L25: keep the highest prepared certificate seen; it is what we re-propose as leader. */
  private adopt(cert: PreparedCert): void {
    if (this.valid !== null && this.valid.round >= cert.round) return;
    if (!isPreparedCert(cert, this.height, this.q, this.signer)) return;
    if (cert.value.batch.parent !== this.parent) return;
    this.valid = cert;
    this.values.set(valueIdOf(this.signer, cert.value), cert.value);
    this.dirty = true;
  }

  /** L14-L15, L24, L26, L28: count matching votes; note the quorums they complete. */
  private storeVote(log: RoundLog, msg: ValidateMsg | VoteMsg | PrepareMsg | FinalMsg): void {
    if (msg.type === 'validate' && validationDigestOf(this.signer, msg.body.result) !== msg.body.validationDigest) {
      this.report({ type: 'bad_certificate', msg, reason: 'validation digest does not match its result' });
      return;
    }
    const map = this.voteMap(log, msg.type) as Map<ReplicaId, typeof msg>;
    if (!this.keepFirst(map, msg)) return;
    const key = voteKeyOf(msg);
    let count = 0;
    for (const other of map.values()) if (voteKeyOf(other) === key) count += 1;
    if (count < this.q) return;
    if (msg.type === 'validate' && log.vcKey === null) log.vcKey = key;
    if (msg.type === 'prepare' && log.prepareQuorum === null) log.prepareQuorum = key;
    if (msg.type === 'final' && log.finalQuorum === null) log.finalQuorum = key;
  }

  private voteMap(log: RoundLog, type: 'validate' | 'vote' | 'prepare' | 'final'): Map<ReplicaId, Message> {
    switch (type) {
      case 'validate':
        return log.validates;
      case 'vote':
        return log.votes;
      case 'prepare':
        return log.prepares;
      case 'final':
        return log.finals;
    }
  }

  /** L17: a RESOLVE counts only from the round's leader and only when well formed. */
  private storeResolve(log: RoundLog, msg: ResolveMsg): void {
    if (msg.from !== leaderOf(this.height, msg.round, this.n)) return;
    const conflicts = msg.body.validates[0]?.body.result.conflicts.length ?? 0;
    if (!isResolveWellFormed(msg, this.q, conflicts)) {
      this.report({ type: 'bad_certificate', msg, reason: 'malformed resolve' });
      return;
    }
    for (const validate of msg.body.validates) this.storeVote(log, validate);
    if (log.resolve === null) log.resolve = msg;
    else if (log.resolve.sig !== msg.sig) this.report({ type: 'equivocation', first: log.resolve, second: msg });
  }

  private storeTimeout(log: RoundLog, msg: TimeoutMsg): void {
    if (msg.body.prepared !== null) this.adopt(msg.body.prepared);
    this.keepFirst(log.timeouts, msg);
  }

  private noteHighTimeout(msg: TimeoutMsg): void {
    const known = this.highTimeouts.get(msg.from)?.round ?? -1;
    if (msg.round > known) this.highTimeouts.set(msg.from, msg);
    if (msg.round < this.round && msg.from !== this.config.self) this.helpLaggard(msg.from);
  }

  /**
   * L33a: a peer still timing out in an older round of our height gets the timeouts that moved us
   * on. Without this, a replica that missed one TIMEOUT before a partition healed could wait
   * forever for a timeout certificate the others, already a round ahead, no longer re-send.
   */
  private helpLaggard(peer: ReplicaId): void {
    const last = this.lastHelpTick.get(peer) ?? -Infinity;
    if (this.nowTicks - last < this.config.catchUpIntervalTicks) return;
    this.lastHelpTick.set(peer, this.nowTicks);
    const ahead = [...this.highTimeouts.values()].filter((m) => m.round >= this.round);
    const votes = [...this.enteredBy, ...ahead].slice(0, 2 * this.n);
    if (votes.length === 0) return;
    const cert = signMessage<CertMsg>(this.signer, {
      v: 1, type: 'cert', from: this.config.self, height: this.height, round: this.round, body: { votes },
    });
    this.send(peer, cert);
  }

  /** L42: relayed votes are handled one by one, each under its own signature. */
  private storeCert(msg: CertMsg): void {
    for (const vote of msg.body.votes) {
      if (vote.height === this.height) this.receive(vote);
    }
  }

  // ---- rules --------------------------------------------------------------------------------

  /** Re-evaluate the protocol's `upon` rules until none fires (each fires at most once per round). */
  private advance(): void {
    for (let pass = 0; pass < advancePassesMax; pass += 1) {
      const fired = this.tryDecide() || this.tryRoundChange() || this.tryPropose() || this.tryRequestValidation() ||
        this.tryResolve() || this.tryDraft() || this.tryRequestOutcome() || this.tryPrepare() || this.tryValid() ||
        this.tryFinal() ||
        this.tryRelay() || this.reportMismatches();
      if (!fired) return;
    }
    assert(false, 'consensus rules did not settle');
  }

  /** L3-L5: the leader proposes its highest prepared value, else a fresh batch from the pool. */
  private tryPropose(): boolean {
    if (leaderOf(this.height, this.round, this.n) !== this.config.self) return false;
    if (this.signed.has('proposal') || this.signed.has('timeout')) return false;
    let body: ProposalMsg['body'];
    // A certificate adopted from a round at or past ours cannot justify a proposal in ours (L6
    // needs vr < r); we will join that round soon enough, so propose nothing rather than a batch
    // the locked replicas would refuse.
    if (this.valid !== null && this.valid.round >= this.round) return false;
    if (this.valid !== null) {
      body = { batch: this.valid.value.batch, validRound: this.valid.round, prepared: this.valid };
    } else {
      const acus = [...this.pool.values()].slice(0, this.config.batchAcusMax);
      if (acus.length === 0) return false;
      const batch: Batch = {
        height: this.height, parent: this.parent, acuIds: acus.map((acu) => acu.id),
        bodyDigest: bodyDigestOf((bytes) => this.signer.digestHex(bytes), acus),
      };
      body = { batch, validRound: -1, prepared: null };
    }
    const msg = this.signOnce<ProposalMsg>('proposal', body);
    this.send('all', msg);
    this.receive(msg);
    return true;
  }

  /** L7: ask our node to validate a fresh batch. */
  private tryRequestValidation(): boolean {
    const log = this.rounds.get(this.round);
    if (log?.proposal == null || log.validationRequested || log.proposal.body.validRound !== -1) return false;
    log.validationRequested = true;
    this.out.requests.push({ type: 'validate', height: this.height, round: this.round, batch: log.proposal.body.batch });
    return true;
  }

  /** L16: the leader picks the quorum of votes the resolution is computed from. */
  private tryResolve(): boolean {
    if (leaderOf(this.height, this.round, this.n) !== this.config.self || this.signed.has('resolve')) return false;
    const log = this.rounds.get(this.round);
    if (log?.vcKey == null) return false;
    const vcKey = log.vcKey;
    const validates = [...log.validates.values()].filter((m) => voteKeyOf(m) === vcKey).sort((a, b) => a.from - b.from);
    if (validates[0] === undefined || validates[0].body.result.conflicts.length === 0) return false;
    const votes = [...log.votes.values()].filter((m) => voteKeyOf(m) === vcKey).sort((a, b) => a.from - b.from);
    if (votes.length < this.q) return false;
    const msg = this.signOnce<ResolveMsg>('resolve', { validates: validates.slice(0, this.q), votes: votes.slice(0, this.q) });
    this.send('all', msg);
    this.receive(msg);
    return true;
  }

  /** L19: the round's draft, from a conflict-free VC or from the leader's RESOLVE. */
  private tryDraft(): boolean {
    const log = this.rounds.get(this.round);
    if (log === undefined || log.draft !== null || log.vcKey === null || log.proposal === null) return false;
    if (log.proposal.body.validRound !== -1) return false;
    const [batchDigest] = log.vcKey.split('|');
    if (batchDigest !== log.proposalBatchDigest) return false;
    const vcKey = log.vcKey;
    const certified = [...log.validates.values()].find((m) => voteKeyOf(m) === vcKey);
    assert(certified !== undefined, 'a VC has votes');
    const result = certified.body.result;
    if (!result.ok) return false;
    let resolution: Value['resolution'] = [];
    let tally: TallyVote[] | null = null;
    if (result.conflicts.length > 0) {
      if (log.resolve === null || voteKeyOf(log.resolve.body.votes[0] ?? certified) !== vcKey) return false;
      resolution = tallyResolution(log.resolve.body.votes, result.conflicts.length); // L18
      // The votes go into the value: its certificate then says who chose what.
      tally = tallyOf(log.resolve.body.votes);
    }
    const draft: ValueDraft = { batch: log.proposal.body.batch, validation: result, resolution, ...(tally === null ? {} : { tally }) };
    log.draft = draft;
    log.draftId = draftIdOf(this.signer, draft);
    return true;
  }

  /**
   * L19a: ask our host for the draft's outcome while we could still PREPARE it, again every
   * `outcomeRetryTicks` until it answers: a host that was behind, or that lost the request in a
   * crash, gets another chance; until then we do not PREPARE (a stall, never a wrong vote).
   */
  private tryRequestOutcome(): boolean {
    if (this.signed.has('prepare') || this.signed.has('timeout')) return false;
    const log = this.rounds.get(this.round);
    if (log?.draft == null || log.candidate !== null) return false;
    if (this.nowTicks - log.outcomeAskedTick < this.config.outcomeRetryTicks) return false;
    // Locked on another draft, L21 refuses this one whatever its outcome: spare the host the work.
    const skipLock = this.config.mutation === 'skip_lock_check';
    if (!skipLock && this.locked !== null && draftIdOf(this.signer, this.locked.value) !== log.draftId) return false;
    log.outcomeAskedTick = this.nowTicks;
    if (this.config.mutation === 'prepare_without_outcome') {
      // Test-only (protocol.md §9): a stand-in outcome instead of the host's, and no waiting.
      const value: Value = { ...log.draft, outcome: log.draftId };
      log.candidate = value;
      this.values.set(valueIdOf(this.signer, value), value);
      return true;
    }
    this.out.requests.push({ type: 'outcome', height: this.height, round: this.round, draft: log.draft });
    assert(log.draftId.length > 0, 'a draft has an id');
    return true;
  }

  /** L20-L23: PREPARE the round's value if the lock allows it. */
  private tryPrepare(): boolean {
    if (this.signed.has('prepare') || this.signed.has('timeout')) return false;
    const log = this.rounds.get(this.round);
    if (log?.proposal == null) return false;
    const skipLock = this.config.mutation === 'skip_lock_check';
    let value: Value | null = null;
    if (log.proposal.body.prepared !== null) {
      const vr = log.proposal.body.validRound;
      const candidate = log.proposal.body.prepared.value;
      // L23: a value prepared at vr may override a lock taken at or before vr.
      if (skipLock || this.locked === null || this.locked.round <= vr || this.isLocked(candidate)) value = candidate;
    } else if (log.candidate !== null) {
      // L21: a fresh value is acceptable only to a replica unlocked or locked on that very value.
      // It is our own host's outcome (L19b): never one a peer or a leader handed us.
      if (skipLock || this.locked === null || this.isLocked(log.candidate)) value = log.candidate;
    }
    if (value === null) return false;
    const msg = this.signOnce<PrepareMsg>('prepare', { valueId: valueIdOf(this.signer, value) });
    this.send(this.voteTarget(this.round), msg);
    this.receive(msg);
    return true;
  }

  private isLocked(value: Value): boolean {
    return this.locked !== null && valueIdOf(this.signer, this.locked.value) === valueIdOf(this.signer, value);
  }

  /** L24-L25: a prepared quorum in any round of this height raises `valid`. */
  private tryValid(): boolean {
    for (const [round, log] of this.rounds) {
      if (log.prepareQuorum === null || (this.valid !== null && this.valid.round >= round)) continue;
      const value = this.values.get(log.prepareQuorum);
      if (value === undefined) continue;
      const key = log.prepareQuorum;
      const prepares = [...log.prepares.values()].filter((m) => m.body.valueId === key).slice(0, this.q);
      this.adopt({ round, value, prepares });
      if (this.valid?.round === round) return true;
    }
    return false;
  }

  /** L26-L27: lock and FINAL once the current round's value is prepared. */
  private tryFinal(): boolean {
    if (this.signed.has('final') || this.signed.has('timeout')) return false;
    const log = this.rounds.get(this.round);
    if (log?.prepareQuorum == null) return false;
    const value = this.values.get(log.prepareQuorum);
    if (value === undefined) return false;
    // Lock before FINAL, in the same persisted state: the lock is what keeps a later round from
    // contradicting a value this FINAL may help decide.
    assert(this.locked === null || this.locked.round <= this.round, 'locks only move forward');
    assert(this.valid !== null && this.valid.round >= this.round, 'a prepared quorum raised valid first (L25)');
    this.locked = { round: this.round, value };
    this.dirty = true;
    const msg = this.signOnce<FinalMsg>('final', { valueId: log.prepareQuorum });
    this.send(this.voteTarget(this.round), msg);
    this.receive(msg);
    return true;
  }

  /** L41: in relay mode the leader forwards each quorum it completes, once per kind. */
  private tryRelay(): boolean {
    if (this.n <= this.config.relayThresholdReplicas) return false;
    if (leaderOf(this.height, this.round, this.n) !== this.config.self) return false;
    const log = this.rounds.get(this.round);
    if (log === undefined) return false;
    const quorums: [MessageType, string | null, Map<ReplicaId, ValidateMsg | PrepareMsg | FinalMsg>][] = [
      ['validate', log.vcKey, log.validates], ['prepare', log.prepareQuorum, log.prepares], ['final', log.finalQuorum, log.finals],
    ];
    for (const [kind, key, map] of quorums) {
      if (key === null || log.relayed.has(kind)) continue;
      log.relayed.add(kind);
      const votes = [...map.values()].filter((m) => voteKeyOf(m) === key).slice(0, this.q);
      const cert = signMessage<CertMsg>(this.signer, {
        v: 1, type: 'cert', from: this.config.self, height: this.height, round: this.round, body: { votes },
      });
      this.send('all', cert);
      return true;
    }
    return false;
  }

  /** L15: once a VC exists, a VALIDATE with another digest for the same batch is evidence. */
  private reportMismatches(): boolean {
    const log = this.rounds.get(this.round);
    if (log?.vcKey == null) return false;
    const [batchDigest, certifiedDigest] = log.vcKey.split('|') as [string, string];
    let fired = false;
    for (const msg of log.validates.values()) {
      if (msg.body.batchDigest !== batchDigest || msg.body.validationDigest === certifiedDigest) continue;
      if (log.mismatchReported.has(msg.from)) continue;
      log.mismatchReported.add(msg.from);
      this.report({ type: 'validation_mismatch', msg, certifiedDigest });
      fired = true;
    }
    return fired;
  }

  /** L28-L29: a FINAL quorum in any round of this height, with the value known, decides. */
  private tryDecide(): boolean {
    for (const [round, log] of this.rounds) {
      if (log.finalQuorum === null) continue;
      const value = this.values.get(log.finalQuorum);
      if (value === undefined) continue;
      const key = log.finalQuorum;
      const finals = [...log.finals.values()].filter((m) => m.body.valueId === key).slice(0, this.q);
      this.decide({ height: this.height, round, value, finals });
      return true;
    }
    return false;
  }

  /** L29: record the decision, move to the next height, replay what arrived early for it. */
  private decide(cert: DecisionCert): void {
    assert(cert.height === this.height, 'decisions come in height order');
    assert(cert.value.batch.parent === this.parent, 'a decision extends the previous one');
    assert(isDecisionCert(cert, this.q, this.signer), 'we decide only on a certificate');
    this.decisions.push(cert);
    if (this.decisions.length > this.config.decisionsRetainedMax) this.decisions.shift();
    this.parent = valueIdOf(this.signer, cert.value);
    for (const id of cert.value.batch.acuIds) this.pool.delete(id);
    this.stats.decisions += 1;
    this.out.decides.push({ type: 'decide', cert });
    if (this.n > this.config.relayThresholdReplicas && leaderOf(this.height, cert.round, this.n) === this.config.self) {
      const relay = signMessage<CertMsg>(this.signer, {
        v: 1, type: 'cert', from: this.config.self, height: this.height, round: cert.round, body: { votes: cert.finals },
      });
      this.send('all', relay);
    }
    this.height += 1;
    this.round = 0;
    this.locked = null;
    this.valid = null;
    this.signed = new Map();
    this.rounds = new Map();
    this.values = new Map();
    this.highTimeouts = new Map();
    this.enteredBy = [];
    this.ticksInRound = 0;
    this.dirty = true;
    this.out.timers.push({ type: 'timer', height: this.height, round: 0, timeoutTicks: this.timeoutTicks(0) });
    const early = this.future;
    this.future = [];
    for (const msg of early) this.onMessage(msg);
  }

  /** L32-L33: a timeout certificate moves us on; f + 1 timeouts ahead of us make us join them. */
  private tryRoundChange(): boolean {
    for (const [round, log] of this.rounds) {
      if (round >= this.round && log.timeouts.size >= this.q) {
        this.enterRound(round + 1);
        this.enteredBy = [...log.timeouts.values()];
        return true;
      }
    }
    const ahead = [...this.highTimeouts.values()].map((m) => m.round).filter((r) => r >= this.round).sort((a, b) => b - a);
    const join = ahead[this.f];
    if (join === undefined) return false;
    if (join === this.round && this.signed.has('timeout')) return false;
    // f + 1 replicas timed out at rounds >= join, so at least one honest replica did: joining
    // cannot be forced by Byzantine replicas alone, and it keeps honest replicas within a round.
    if (join > this.round) {
      this.enterRound(join);
      this.enteredBy = [...this.highTimeouts.values()].filter((m) => m.round >= join);
    }
    this.timeOut();
    return true;
  }

  private enterRound(round: number): void {
    assert(round > this.round, 'rounds only increase');
    assert(round <= this.round + this.config.roundsAheadMax + this.timeoutsAheadSlack(), 'rounds advance on timeouts we hold');
    this.round = round;
    this.signed = new Map();
    this.enteredBy = [];
    this.ticksInRound = 0;
    // Persisted with the round: after a crash we can still show laggards why we moved on (L33a).
    this.dirty = true;
    for (const old of [...this.rounds.keys()]) {
      if (old + this.config.roundsBehindKept < round) this.rounds.delete(old);
    }
    this.out.timers.push({ type: 'timer', height: this.height, round, timeoutTicks: this.timeoutTicks(round) });
  }

  /** Joins (L33) may jump past the buffered window, but never past a round someone timed out in. */
  private timeoutsAheadSlack(): number {
    let highest = this.round;
    for (const msg of this.highTimeouts.values()) highest = Math.max(highest, msg.round);
    return highest - this.round;
  }

  /** L30: give up on the round, carrying our highest prepared certificate to the next leader. */
  private timeOut(): void {
    const msg = this.signOnce<TimeoutMsg>('timeout', { prepared: this.valid });
    this.send('all', msg);
    this.receive(msg);
  }

  // ---- catch-up -----------------------------------------------------------------------------

  /** L37: accept a decision for our height only with a valid certificate on our parent. */
  private onDecision(cert: DecisionCert): void {
    if (cert.height !== this.height) return;
    if (cert.value.batch.parent !== this.parent || !isDecisionCert(cert, this.q, this.signer)) {
      this.stats.ignoredMessages += 1;
      return;
    }
    this.decide(cert);
  }

  private requestFetch(peer: ReplicaId): void {
    if (this.nowTicks - this.lastFetchTick < this.config.catchUpIntervalTicks) return;
    this.sendFetch(peer);
  }

  /**
   * L36b: an idle replica asks one peer in turn for the decisions from its height on. Catch-up is
   * otherwise driven by messages: a peer at a later height answers our votes (L35), and we fetch
   * when we hear a later height (L34). A replica left behind with nothing to do at its height —
   * restarted after the others decided, say — sends no votes, and a cluster with nothing new to
   * decide sends no messages: without asking, it would stay behind for good. A peer at our height
   * has nothing to serve and answers nothing, so an idle cluster costs one small message per
   * replica per `idleFetchTicks`.
   */
  private fetchWhenIdle(): void {
    if (this.n === 1) return;
    this.idleTicks += 1;
    if (this.idleTicks < this.config.idleFetchTicks) return;
    this.idleTicks = 0;
    const peer = (this.config.self + 1 + (this.idleFetches % (this.n - 1))) % this.n;
    this.idleFetches += 1;
    this.sendFetch(peer);
  }

  private sendFetch(peer: ReplicaId): void {
    assert(peer !== this.config.self, 'a replica fetches from a peer');
    this.lastFetchTick = this.nowTicks;
    const msg = signMessage<Message>(this.signer, {
      v: 1, type: 'fetch', from: this.config.self, height: this.height, round: 0, body: { fromHeight: this.height },
    });
    this.send(peer, msg);
  }

  /** L36: serve the decisions we hold from `fromHeight` on. */
  private serveFetch(peer: ReplicaId, fromHeight: number): void {
    let served = 0;
    for (const cert of this.decisions) {
      if (cert.height < fromHeight || served >= this.config.catchUpDecisionsMax) continue;
      this.sendDecision(peer, cert);
      served += 1;
    }
  }

  /** L35: a peer still voting at an old height gets that height's decision, at most once per interval. */
  private pushDecision(peer: ReplicaId, height: number): void {
    const last = this.lastPushTick.get(peer) ?? -Infinity;
    if (this.nowTicks - last < this.config.catchUpIntervalTicks) return;
    const cert = this.decisions.find((d) => d.height === height);
    if (cert === undefined) return;
    this.lastPushTick.set(peer, this.nowTicks);
    this.sendDecision(peer, cert);
  }

  private sendDecision(peer: ReplicaId, cert: DecisionCert): void {
    const msg = signMessage<Message>(this.signer, {
      v: 1, type: 'decision', from: this.config.self, height: cert.height, round: cert.round, body: { cert },
    });
    this.send(peer, msg);
  }
}
