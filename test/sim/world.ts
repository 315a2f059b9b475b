/**
 * The deterministic simulator: n replicas running the real consensus core, a seeded network that
 * delays, drops, duplicates and reorders, partitions that heal, crash-restarts that lose whatever
 * was not fsynced, and Byzantine replicas. Checkers run on every effect (agreement, validity,
 * certificates, no honest double-sign); liveness is checked once faults stop.
 */
import { canonicalBytes, canonicalString } from '../../src/core/acu/canonical.js';
import {
  Replica, batchDigestOf, bodyDigestOf, decodeLimitsOf, decodeMessage, defaultReplicaConfig, draftIdOf, faultsTolerated,
  isDecisionCert, quorumSize, signMessage, valueIdOf, verifyMessage,
} from '../../src/core/consensus/index.js';
import type {
  AcuRef, Batch, Choice, DecisionCert, DecodeLimits, DecodeResult, Effect, Input, Message, PersistedState,
  ReplicaConfig, Signer, ValidationResult, ValueDraft, Verifier,
} from '../../src/core/consensus/index.js';
import { MinHeap } from '../../src/sync/min-heap.js';
import { fakeDigestHex, fakeSigner, fakeVerifier } from './fake-crypto.js';
import { Prng } from './prng.js';
import type { ByzantineStrategy, SimOptions } from './options.js';

/** What a run found. */
export interface SimResult {
  readonly seed: number;
  readonly violations: readonly string[];
  readonly liveness: string | null;
  readonly ticks: number;
  readonly decisions: number;
  readonly messagesSent: number;
  readonly crashes: number;
  readonly evidence: number;
  readonly garbageRejected: number;
  /** Per decided height: ticks from the first proposal sent to the first honest decision. */
  readonly decisionLatencyTicks: readonly number[];
  /** Mean over honest replicas and heights of ticks from the proposal to that replica's decision. */
  readonly meanReplicaLatencyTicks: number;
}

type Event = NewEvent & { seq: number };
type NewEvent =
  | { kind: 'deliver'; time: number; to: number; from: number; msg: unknown }
  | { kind: 'input'; time: number; to: number; copy: number; input: Input }
  | { kind: 'submit'; time: number; acus: AcuRef[] }
  | { kind: 'offer'; time: number; to: number; copy: number; acus: AcuRef[] }
  | { kind: 'restart'; time: number; to: number };

/** One simulated site: its replica (two for twins), its durable store and its node-side state. */
interface SimNode {
  readonly id: number;
  readonly strategy: ByzantineStrategy | null;
  copies: (Replica | null)[];
  /** Durable state per copy: what survives a crash. */
  durable: (PersistedState | null)[];
  /** Written but not yet fsynced; a crash loses it. */
  pendingWrite: (PersistedState | null)[];
  /** ACU ids this node's decisions hold (its certificate log): used by validation. */
  readonly decided: Set<string>;
  /** Heights this node has applied, so a restore re-applies only what it lacks. */
  appliedHeight: number;
  /** The outcome of the last decision it applied ({@link genesisOutcome} before any): its "HEAD". */
  lastOutcome: string;
  /** Messages received, for the replay strategy. */
  readonly heard: Message[];
  /** Value ids seen at the node's height, for equivocating votes. */
  readonly seenValueIds: Set<string>;
  /** Votes the equivocator already echoed. */
  readonly echoed: Set<string>;
  /** What its own (honest-code) replica signed, for the equivocator. */
  readonly ownVotes: Set<string>;
}

/** Events by time, then by the order they were scheduled: events due together run in that order. */
function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

const choiceList: readonly Choice[] = ['keep_a', 'keep_b', 'keep_both', 'defer_both'];

/** What the simulated hosts build height 0's outcome on: there is no previous decision. */
const genesisOutcome = 'genesis';

/**
 * The outcome an honest simulated host computes for a draft: a digest of the previous decision's
 * outcome and the draft, as acu's sync node computes the agreed commit from the previous agreed
 * commit and what the draft says to apply. Never the draft id alone, so a replica that stands in
 * the draft id for its host's answer is caught (the `prepare_without_outcome` mutation).
 */
export function simOutcomeOf(previous: string, draft: ValueDraft): string {
  return fakeDigestHex(canonicalBytes({
    previous, draft: { batch: draft.batch, validation: draft.validation, resolution: draft.resolution },
  }));
}
const signedTypes = new Set(['proposal', 'validate', 'vote', 'resolve', 'prepare', 'final', 'timeout']);

/** One simulated cluster for one seed. */
export class World {
  private readonly prng: Prng;
  private readonly queue = new MinHeap<Event>(before);
  private seq = 0;
  private now = 0;
  private readonly n: number;
  private readonly q: number;
  private readonly worldKey: number;
  private readonly verifier: Verifier;
  private readonly limits: DecodeLimits;
  private readonly nodes: SimNode[] = [];
  private readonly byzantine = new Set<number>();
  private readonly twinGroup: number[] = [];
  private readonly splitBrain: boolean;
  private readonly acuBodies = new Map<string, { bodyHash: string; symbol: number }>();
  private readonly submitted: AcuRef[] = [];
  private readonly decodeCache = new WeakMap<object, DecodeResult>();
  // Checker state.
  private readonly chain: string[] = [];
  /** The outcome decided at each height, as `chain` holds the value id. */
  private readonly chainOutcomes: string[] = [];
  private readonly acuHeight = new Map<string, number>();
  private readonly signedBy = new Map<string, string>();
  private readonly violations: string[] = [];
  private readonly proposalSeenTick = new Map<number, number>();
  private readonly decisionTick = new Map<number, number>();
  /** Per height, ticks from the first proposal to every honest replica's decision, summed. */
  private decisionTicksAll = 0;
  private decisionsAll = 0;
  private readonly roundsAfterGst = new Map<string, number>();
  private roundsLiveness: string | null = null;
  private messagesSent = 0;
  private crashes = 0;
  private evidence = 0;
  private garbageRejected = 0;

  constructor(private readonly opts: SimOptions) {
    this.prng = new Prng(opts.seed ^ 0x5eed);
    this.n = opts.replicas;
    this.q = quorumSize(this.n);
    this.worldKey = this.prng.u32();
    this.verifier = fakeVerifier(this.worldKey);
    this.limits = decodeLimitsOf(this.configFor(0));
    for (const b of opts.byzantine) this.byzantine.add(b.id);
    this.splitBrain = opts.byzantine.some((b) => b.strategy === 'equivocate');
    for (let i = 0; i < this.n; i += 1) this.twinGroup.push(this.prng.int(2));
    for (let id = 0; id < this.n; id += 1) this.nodes.push(this.makeNode(id));
  }

  private configFor(self: number): ReplicaConfig {
    const base = defaultReplicaConfig(this.n, self);
    const honest = !this.byzantine.has(self);
    return {
      ...base,
      batchAcusMax: this.opts.batchAcusMax,
      relayThresholdReplicas: this.opts.relayThresholdReplicas,
      // Mutations break honest replicas only: that is where a broken rule must be caught.
      mutation: honest ? this.opts.mutation : 'none',
    };
  }

  private makeNode(id: number): SimNode {
    const strategy = this.opts.byzantine.find((b) => b.id === id)?.strategy ?? null;
    const copies = strategy === 'twins' ? 2 : 1;
    const signer = fakeSigner(id, this.worldKey);
    return {
      id, strategy,
      copies: [...Array(copies).keys()].map(() => Replica.create(this.configFor(id), signer)),
      durable: [...Array(copies).keys()].map(() => null),
      pendingWrite: [...Array(copies).keys()].map(() => null),
      decided: new Set(), appliedHeight: 0, lastOutcome: genesisOutcome, heard: [], seenValueIds: new Set(), echoed: new Set(), ownVotes: new Set(),
    };
  }

  private push(event: NewEvent): void {
    this.seq += 1;
    this.queue.push({ ...event, seq: this.seq });
  }

  /** Run the scenario to completion (everything decided everywhere) or to the liveness deadline. */
  run(): SimResult {
    this.scheduleWorkload();
    const deadline = this.opts.faultTicks + this.opts.stableTicksMax;
    let liveness: string | null = null;
    for (this.now = 0; ; this.now += 1) {
      if (this.now === this.opts.faultTicks) this.stabilize();
      while ((this.queue.peek()?.time ?? Infinity) <= this.now) this.handle(this.queue.pop() as Event);
      this.tickAll();
      if (this.violations.length > 0) break;
      if (this.roundsLiveness !== null) {
        liveness = this.roundsLiveness;
        break;
      }
      if (this.now > this.opts.faultTicks && this.now % 8 === 0 && this.allDone()) break;
      if (this.now >= deadline) {
        liveness = this.livenessReport();
        break;
      }
    }
    return this.result(liveness);
  }

  private result(liveness: string | null): SimResult {
    const latency: number[] = [];
    for (const [height, tick] of this.decisionTick) {
      const start = this.proposalSeenTick.get(height);
      if (start !== undefined) latency.push(tick - start);
    }
    return {
      seed: this.opts.seed, violations: this.violations, liveness, ticks: this.now, decisions: this.chain.length,
      messagesSent: this.messagesSent, crashes: this.crashes, evidence: this.evidence,
      garbageRejected: this.garbageRejected, decisionLatencyTicks: latency,
      meanReplicaLatencyTicks: this.decisionsAll === 0 ? 0 : this.decisionTicksAll / this.decisionsAll,
    };
  }

  // ---- workload -----------------------------------------------------------------------------

  private scheduleWorkload(): void {
    const all: AcuRef[] = [];
    for (let i = 0; i < this.opts.acus; i += 1) {
      const id = `acu${this.opts.seed}x${i}`;
      const bodyHash = fakeDigestHex(new TextEncoder().encode(`body of ${id}`));
      this.acuBodies.set(id, { bodyHash, symbol: this.prng.int(this.opts.symbols) });
      all.push({ id, bodyHash });
    }
    const waves = this.opts.submitWaves;
    const per = Math.ceil(all.length / waves);
    for (let w = 0; w < waves; w += 1) {
      const acus = all.slice(w * per, (w + 1) * per);
      // The last wave arrives at GST, so liveness is always measured on fresh work.
      const time = w === waves - 1 ? this.opts.faultTicks : this.prng.int(this.opts.faultTicks);
      if (acus.length > 0) this.push({ kind: 'submit', time, acus });
    }
  }

  /**
   * Developers at different sites hand ACUs to their own node: each node hears of a wave in its own
   * order and at its own time, so leaders of different rounds propose different batches.
   */
  private submit(acus: AcuRef[]): void {
    this.submitted.push(...acus);
    for (const node of this.nodes) {
      node.copies.forEach((_replica, copy) => {
        const time = this.now + (this.now < this.opts.faultTicks ? this.prng.int(20) : 0);
        this.push({ kind: 'offer', time, to: node.id, copy, acus: this.prng.shuffle(acus) });
      });
    }
  }

  private stabilize(): void {
    for (const node of this.nodes) {
      if (node.copies.some((c) => c === null)) this.restart(node.id);
    }
  }

  private allDone(): boolean {
    if (this.submitted.length < this.opts.acus) return false;
    for (const node of this.nodes) {
      if (node.strategy !== null) continue;
      if (node.decided.size < this.opts.acus) return false;
    }
    return true;
  }

  private livenessReport(): string {
    const lagging = this.nodes.filter((n) => n.strategy === null && n.decided.size < this.opts.acus)
      .map((n) => `replica ${n.id} decided ${n.decided.size}/${this.opts.acus} ACUs at ${JSON.stringify(n.copies[0]?.status())}`);
    return `after GST (tick ${this.opts.faultTicks}) honest replicas did not decide within ${this.opts.stableTicksMax} ticks: ${lagging.join('; ')}`;
  }

  // ---- events -------------------------------------------------------------------------------

  private handle(event: Event): void {
    switch (event.kind) {
      case 'deliver':
        this.deliver(event.to, event.from, event.msg);
        return;
      case 'input': {
        const replica = this.nodes[event.to]?.copies[event.copy];
        if (replica != null) this.execute(event.to, event.copy, replica.step(event.input));
        return;
      }
      case 'submit':
        this.submit(event.acus);
        return;
      case 'offer': {
        const replica = this.nodes[event.to]?.copies[event.copy];
        const node = this.nodes[event.to] as SimNode;
        const acus = event.acus.filter((acu) => !node.decided.has(acu.id));
        if (replica != null) this.execute(event.to, event.copy, replica.step({ type: 'propose_request', acus }));
        return;
      }
      case 'restart':
        this.restart(event.to);
        return;
    }
  }

  private tickAll(): void {
    for (const node of this.nodes) {
      node.copies.forEach((replica, copy) => {
        if (replica !== null) this.execute(node.id, copy, replica.step({ type: 'tick' }));
      });
      if (node.strategy !== null) this.byzantineTick(node);
    }
  }

  private deliver(to: number, from: number, raw: unknown): void {
    const node = this.nodes[to];
    if (node === undefined) return;
    const decoded = this.decode(raw);
    if (!decoded.ok) {
      this.garbageRejected += 1;
      return;
    }
    const msg = decoded.msg;
    if (node.strategy !== null) this.noteForByzantine(node, msg);
    // The equivocator's own replica stays behind with the non-favourites: it ignores the
    // favourite and every FINAL, so it keeps voting at a height the favourite already decided.
    if (node.strategy === 'equivocate' && (msg.from === this.favourite(msg.height) || msg.type === 'final' || msg.type === 'decision' || msg.type === 'cert')) return;
    // Twins: each copy hears only its half of the cluster.
    const copy = node.copies.length === 2 ? (this.twinGroup[from] ?? 0) : 0;
    const replica = node.copies[copy];
    if (replica == null) return;
    this.execute(to, copy, replica.step({ type: 'message', msg }));
  }

  /** The edge decoder, memoized per message object: the network hands one object to many receivers. */
  private decode(raw: unknown): DecodeResult {
    if (typeof raw !== 'object' || raw === null) return decodeMessage(raw, this.limits, this.verifier);
    const cached = this.decodeCache.get(raw);
    if (cached !== undefined) return cached;
    const decoded = decodeMessage(raw, this.limits, this.verifier);
    this.decodeCache.set(raw, decoded);
    return decoded;
  }

  // ---- effects ------------------------------------------------------------------------------

  /** Carry out effects in order, maybe crashing part-way (honest replicas only, before GST). */
  private execute(id: number, copy: number, effects: Effect[]): void {
    const node = this.nodes[id] as SimNode;
    const crashAt = this.plannedCrash(node, effects);
    for (let i = 0; i < effects.length; i += 1) {
      const effect = effects[i] as Effect;
      if (i === crashAt.index && !crashAt.insidePersist) return this.crash(node);
      switch (effect.type) {
        case 'persist':
          node.pendingWrite[copy] = effect.state;
          // A crash between write and fsync loses the write: the durable state stays the old one.
          if (i === crashAt.index) return this.crash(node);
          node.durable[copy] = effect.state;
          node.pendingWrite[copy] = null;
          break;
        case 'send':
          this.route(node, copy, effect.to, effect.msg);
          break;
        case 'validate':
          this.scheduleValidation(node, copy, effect);
          break;
        case 'policy':
          this.schedulePolicy(node, copy, effect);
          break;
        case 'outcome':
          this.scheduleOutcome(node, copy, effect);
          break;
        case 'decide':
          this.onDecide(node, copy, effect.cert);
          break;
        case 'evidence':
          this.evidence += 1;
          break;
        case 'timer':
          this.countRound(node, effect.height, effect.round);
          break;
      }
    }
  }

  /**
   * Liveness in rounds: after GST an honest replica may change rounds only a bounded number of
   * times per height (protocol.md §8 argues f + 2 after the timeouts outgrow the delays; the
   * bound here leaves room for the rounds the timeouts need to grow).
   */
  private countRound(node: SimNode, height: number, round: number): void {
    if (node.strategy !== null || round === 0 || this.now < this.opts.faultTicks) return;
    const key = `${node.id}|${height}`;
    const rounds = (this.roundsAfterGst.get(key) ?? 0) + 1;
    this.roundsAfterGst.set(key, rounds);
    const bound = 2 * faultsTolerated(this.n) + 4;
    if (rounds > bound && this.roundsLiveness === null) {
      this.roundsLiveness = `after GST replica ${node.id} changed rounds ${rounds} times at height ${height} (bound ${bound})`;
    }
  }

  private plannedCrash(node: SimNode, effects: Effect[]): { index: number; insidePersist: boolean } {
    const none = { index: -1, insidePersist: false };
    if (node.strategy !== null || this.now >= this.opts.faultTicks || this.crashes >= this.opts.crashesMax) return none;
    if (effects.length === 0 || !effects.some((e) => e.type === 'persist') || !this.prng.chance(this.opts.crashP)) return none;
    const index = this.prng.int(effects.length);
    return { index, insidePersist: effects[index]?.type === 'persist' && this.prng.chance(0.5) };
  }

  private crash(node: SimNode): void {
    this.crashes += 1;
    node.copies = node.copies.map(() => null);
    node.pendingWrite = node.pendingWrite.map(() => null);
    const downTicks = this.prng.range(1, this.opts.downTicksMax);
    this.push({ kind: 'restart', time: Math.min(this.now + downTicks, this.opts.faultTicks), to: node.id });
  }

  private restart(id: number): void {
    const node = this.nodes[id] as SimNode;
    if (node.copies.every((c) => c !== null)) return;
    const signer = fakeSigner(id, this.worldKey);
    node.copies = node.durable.map((state) =>
      state === null ? Replica.create(this.configFor(id), signer) : Replica.restore(this.configFor(id), signer, state));
    // The node's certificate log is durable with the replica's state: re-apply what it lacks.
    const state = node.durable[0] ?? null;
    for (const cert of state?.decisions ?? []) if (cert.height >= node.appliedHeight) this.applyDecision(node, cert);
    const pending = this.submitted.filter((acu) => !node.decided.has(acu.id));
    node.copies.forEach((replica, copy) => {
      if (replica !== null && pending.length > 0) this.execute(id, copy, replica.step({ type: 'propose_request', acus: pending }));
    });
  }

  private route(node: SimNode, copy: number, to: number | 'all', msg: Message): void {
    if (msg.type === 'proposal' && !this.proposalSeenTick.has(msg.height)) this.proposalSeenTick.set(msg.height, this.now);
    if (node.strategy === null) this.checkSigned(msg);
    else node.ownVotes.add(`${msg.type}|${msg.height}|${msg.round}|${canonicalString(msg.body)}`);
    const targets = to === 'all' ? [...Array(this.n).keys()].filter((t) => t !== node.id) : [to];
    for (const target of targets) {
      if (node.copies.length === 2 && this.twinGroup[target] !== copy) continue;
      for (const out of this.byzantineRewrite(node, msg, target)) this.transmit(node.id, target, out);
    }
  }

  /** The network: partitions, drops, duplicates and delays before GST; bounded delay after. */
  private transmit(from: number, to: number, msg: unknown): void {
    this.messagesSent += 1;
    const faulty = this.now < this.opts.faultTicks;
    if (faulty && this.partitioned(from, to)) return;
    if (faulty && this.prng.chance(this.opts.dropP)) return;
    // Before GST the network is the adversary's: with an equivocator about, it also muffles the
    // favourite, so that its decisions reach the other honest replicas late or not at all.
    if (faulty && this.splitBrain && !this.byzantine.has(to) && from === this.favourite(this.heightOf(msg))) return;
    const delayMax = faulty ? this.opts.delayTicksMax : this.opts.stableDelayTicksMax;
    this.push({ kind: 'deliver', time: this.now + this.prng.range(1, delayMax), to, from, msg });
    if (faulty && this.prng.chance(this.opts.duplicateP)) {
      this.push({ kind: 'deliver', time: this.now + this.prng.range(1, delayMax), to, from, msg });
    }
  }

  private partitioned(from: number, to: number): boolean {
    for (const p of this.opts.partitions) {
      if (this.now < p.startTick || this.now >= p.endTick) continue;
      const gf = p.group[from];
      const gt = p.group[to];
      if (gf === gt) continue;
      if (!p.asymmetric || gf === 0) return true;
    }
    return false;
  }

  // ---- the node's side: validation and policy -------------------------------------------------

  private scheduleValidation(node: SimNode, copy: number, effect: Extract<Effect, { type: 'validate' }>): void {
    const result = this.validate(node, effect.batch);
    const batchDigest = batchDigestOf({ digestHex: fakeDigestHex }, effect.batch);
    const time = this.now + this.prng.range(0, this.opts.validationDelayTicksMax);
    this.push({ kind: 'input', time, to: node.id, copy, input: { type: 'validated', height: effect.height, round: effect.round, batchDigest, result } });
  }

  /** Deterministic validation: known ACUs, none decided before, bodies match; same symbol = conflict. */
  validate(node: SimNode, batch: Batch): ValidationResult {
    const refs = batch.acuIds.map((id) => ({ id, body: this.acuBodies.get(id) }));
    let ok = refs.every((r) => r.body !== undefined && !node.decided.has(r.id));
    ok = ok && bodyDigestOf(fakeDigestHex, refs.map((r) => ({ id: r.id, bodyHash: r.body?.bodyHash ?? '' }))) === batch.bodyDigest;
    const conflicts: { a: string; b: string }[] = [];
    for (let i = 0; ok && i < refs.length; i += 1) {
      for (let j = i + 1; j < refs.length; j += 1) {
        if (refs[i]?.body?.symbol === refs[j]?.body?.symbol) conflicts.push({ a: refs[i]?.id ?? '', b: refs[j]?.id ?? '' });
      }
    }
    if (conflicts.length > this.limits.conflictsMax) return { ok: false, conflicts: [], detailDigest: 'too-many-conflicts' };
    const detailDigest = node.strategy === 'wrong_validation' ? `bogus${node.id}` : 'detail';
    return ok ? { ok, conflicts, detailDigest } : { ok, conflicts: [], detailDigest };
  }

  private schedulePolicy(node: SimNode, copy: number, effect: Extract<Effect, { type: 'policy' }>): void {
    const choices = effect.conflicts.map((c, i) => choiceList[(c.a.length + c.b.charCodeAt(c.b.length - 1) + i + node.id) % 4] as Choice);
    const time = this.now + this.prng.range(0, 1);
    this.push({
      kind: 'input', time, to: node.id, copy,
      input: { type: 'policy_vote', height: effect.height, round: effect.round, batchDigest: effect.batchDigest, validationDigest: effect.validationDigest, choices },
    });
  }

  /**
   * The host's outcome for a draft, computed on the node's own last decision. A node that has not
   * applied the draft's parent yet (or has moved past it) does not answer: the replica asks again.
   * Byzantine hosts answer another outcome (wrong_validation, the second twin) or random hex (garbage).
   */
  private scheduleOutcome(node: SimNode, copy: number, effect: Extract<Effect, { type: 'outcome' }>): void {
    if (node.appliedHeight !== effect.height) return;
    let outcome = simOutcomeOf(node.lastOutcome, effect.draft);
    if (node.strategy === 'wrong_validation' || (node.strategy === 'twins' && copy === 1)) {
      outcome = simOutcomeOf(`bogus${node.id}`, effect.draft);
    }
    if (node.strategy === 'garbage') outcome = this.prng.u32().toString(16).padStart(8, '0') + this.prng.u32().toString(16).padStart(8, '0');
    const draftId = draftIdOf({ digestHex: fakeDigestHex }, effect.draft);
    const time = this.now + this.prng.range(0, this.opts.validationDelayTicksMax);
    this.push({ kind: 'input', time, to: node.id, copy, input: { type: 'outcome', height: effect.height, round: effect.round, draftId, outcome } });
  }

  // ---- checkers -----------------------------------------------------------------------------

  private violation(text: string): void {
    if (this.violations.length < 8) this.violations.push(`tick ${this.now}: ${text}`);
  }

  /** No honest double-sign, across restarts included: one body per (replica, height, round, type). */
  private checkSigned(msg: Message): void {
    if (!signedTypes.has(msg.type)) return;
    const key = `${msg.from}|${msg.height}|${msg.round}|${msg.type}`;
    // Signatures are deterministic over the whole message, so equal signatures mean equal bodies
    // and different ones different bodies (up to the fake hash's collisions).
    const body = msg.sig;
    const first = this.signedBy.get(key);
    if (first === undefined) this.signedBy.set(key, body);
    else if (first !== body) this.violation(`honest replica ${msg.from} signed two different ${msg.type} messages at height ${msg.height} round ${msg.round}`);
  }

  private onDecide(node: SimNode, copy: number, cert: DecisionCert): void {
    if (node.strategy !== null) {
      if (copy === 0) this.applyDecision(node, cert);
      return;
    }
    this.checkDecision(node, cert);
    this.applyDecision(node, cert);
    if (!this.decisionTick.has(cert.height)) this.decisionTick.set(cert.height, this.now);
    const proposed = this.proposalSeenTick.get(cert.height);
    if (proposed !== undefined) {
      this.decisionTicksAll += this.now - proposed;
      this.decisionsAll += 1;
    }
  }

  /** Agreement, validity and certificate validity, on every honest decision. */
  private checkDecision(node: SimNode, cert: DecisionCert): void {
    const signer: Pick<Signer, 'digestHex'> = { digestHex: fakeDigestHex };
    if (!isDecisionCert(cert, this.q, signer) || !cert.finals.every((m) => verifyMessage(this.verifier, m))) {
      this.violation(`replica ${node.id} decided height ${cert.height} with an invalid certificate`);
    }
    const valueId = valueIdOf(signer, cert.value);
    const agreed = this.chain[cert.height];
    if (agreed === undefined) {
      if (cert.height !== this.chain.length) this.violation(`replica ${node.id} decided height ${cert.height} before ${this.chain.length}`);
      const parent = cert.height === 0 ? 'genesis' : this.chain[cert.height - 1];
      if (cert.value.batch.parent !== parent) this.violation(`height ${cert.height} does not extend the previous decision`);
      this.chain[cert.height] = valueId;
      this.checkValidity(cert);
      this.checkOutcome(cert);
    } else if (agreed !== valueId) {
      this.violation(`agreement: replica ${node.id} decided ${valueId} at height ${cert.height}, another honest replica ${agreed}`);
    }
  }

  private checkValidity(cert: DecisionCert): void {
    const known = new Set(this.submitted.map((a) => a.id));
    const validation = cert.value.validation;
    if (!validation.ok) this.violation(`height ${cert.height} decided a batch that failed validation`);
    for (const id of cert.value.batch.acuIds) {
      if (!known.has(id)) this.violation(`validity: height ${cert.height} decided ${id}, which nobody proposed`);
      const earlier = this.acuHeight.get(id);
      if (earlier !== undefined) this.violation(`validity: ${id} decided at heights ${earlier} and ${cert.height}`);
      this.acuHeight.set(id, cert.height);
    }
  }

  /** Outcome: the decided value's outcome is the one an honest host computes for its draft. */
  private checkOutcome(cert: DecisionCert): void {
    const previous = cert.height === 0 ? genesisOutcome : this.chainOutcomes[cert.height - 1];
    // A height decided out of order was already reported as a violation; nothing to build on.
    if (previous === undefined) return;
    const honest = simOutcomeOf(previous, cert.value);
    if (cert.value.outcome !== honest) {
      this.violation(`outcome: height ${cert.height} decided outcome ${cert.value.outcome}, an honest host computes ${honest}`);
    }
    this.chainOutcomes[cert.height] = cert.value.outcome;
  }

  private applyDecision(node: SimNode, cert: DecisionCert): void {
    if (cert.height < node.appliedHeight) return;
    node.appliedHeight = cert.height + 1;
    node.lastOutcome = cert.value.outcome;
    for (const id of cert.value.batch.acuIds) node.decided.add(id);
    node.seenValueIds.clear();
  }

  // ---- Byzantine behaviour ------------------------------------------------------------------

  private noteForByzantine(node: SimNode, msg: Message): void {
    if (node.heard.length < 256) node.heard.push(msg);
    if (msg.type === 'prepare' || msg.type === 'final') node.seenValueIds.add(msg.body.valueId);
    if (node.strategy === 'equivocate') this.echo(node, msg);
  }

  /**
   * The split-brain adversary. Per height it favours one honest replica: its own honest-code
   * votes reach only the favourite, while it countersigns whatever the other honest replicas
   * validate, prepare or finalize and sends that only to them. If the network then drops a few
   * FINALs, the favourite decides alone and the others can be pushed to another value: exactly
   * what quorum intersection and the lock rule exist to prevent.
   */
  private echo(node: SimNode, msg: Message): void {
    if (msg.type !== 'validate' && msg.type !== 'prepare' && msg.type !== 'final') return;
    if (msg.from === this.favourite(msg.height) || this.byzantine.has(msg.from)) return;
    const key = `${msg.type}|${msg.height}|${msg.round}|${canonicalString(msg.body)}`;
    // Only values its own replica did not vote for: echoing those would let the others decide
    // what the favourite decided, and the split would heal.
    if (node.echoed.has(key) || node.ownVotes.has(key)) return;
    node.echoed.add(key);
    const echo = signMessage<Message>(fakeSigner(node.id, this.worldKey), {
      v: 1, type: msg.type, from: node.id, height: msg.height, round: msg.round, body: msg.body,
    });
    for (let to = 0; to < this.n; to += 1) {
      if (to !== node.id && to !== this.favourite(msg.height)) this.transmit(node.id, to, echo);
    }
  }

  private heightOf(msg: unknown): number {
    const height = (msg as { height?: unknown } | null)?.height;
    return typeof height === 'number' && Number.isSafeInteger(height) ? height : 0;
  }

  private favourite(height: number): number {
    const honest = [...Array(this.n).keys()].filter((id) => !this.byzantine.has(id));
    return honest[(this.opts.seed + height) % honest.length] ?? 0;
  }

  /** What a Byzantine node actually sends for one honest-code message to one peer. */
  private byzantineRewrite(node: SimNode, msg: Message, target: number): unknown[] {
    switch (node.strategy) {
      case null:
      case 'twins':
      case 'replay':
      case 'wrong_validation':
        return [msg];
      case 'silent':
        return [];
      case 'withhold':
        return this.prng.chance(0.5) ? [msg] : [];
      case 'garbage':
        return this.prng.chance(0.2) ? [this.garbage(node, msg)] : [msg];
      case 'equivocate':
        // The favourite gets everything; the others get a conflicting proposal, no FINAL (so
        // they lock but do not decide), and, now and then, a conflicting vote.
        if (target === this.favourite(msg.height)) return [msg];
        if (msg.type === 'proposal') return [this.equivocation(node, msg)];
        if (msg.type === 'final' || msg.type === 'decision' || msg.type === 'cert') return [];
        return this.prng.chance(0.1) ? [this.equivocation(node, msg)] : [msg];
    }
  }

  private resign(node: SimNode, msg: Message, body: Message['body']): Message {
    const { sig: _sig, ...unsigned } = msg;
    return signMessage(fakeSigner(node.id, this.worldKey), { ...unsigned, body });
  }

  private equivocation(node: SimNode, msg: Message): Message {
    switch (msg.type) {
      case 'proposal': {
        const batch = msg.body.batch;
        const pending = this.submitted.filter((a) => !node.decided.has(a.id) && !batch.acuIds.includes(a.id));
        // A one-ACU batch cannot hold a conflict, so it needs no RESOLVE from the adversary.
        const ids = batch.acuIds.length >= 2 ? batch.acuIds.slice(-1) : pending.slice(0, 1).map((a) => a.id);
        if (ids.length === 0) return msg;
        const refs = ids.map((id) => ({ id, bodyHash: this.acuBodies.get(id)?.bodyHash ?? '' }));
        const alt: Batch = { ...batch, acuIds: ids, bodyDigest: bodyDigestOf(fakeDigestHex, refs) };
        return this.resign(node, msg, { batch: alt, validRound: -1, prepared: null });
      }
      case 'prepare':
      case 'final': {
        const others = [...node.seenValueIds].filter((v) => v !== msg.body.valueId);
        const valueId = others.length > 0 ? this.prng.pick(others) : `v${this.prng.u32()}`;
        return this.resign(node, msg, { valueId });
      }
      case 'validate':
        return this.resign(node, msg, { ...msg.body, validationDigest: `x${this.prng.u32()}` });
      case 'vote':
      case 'resolve':
      case 'timeout':
      case 'fetch':
      case 'decision':
      case 'cert':
        return msg;
    }
  }

  private garbage(node: SimNode, msg: Message): unknown {
    const honestVictim = (node.id + 1) % this.n;
    switch (this.prng.int(9)) {
      case 0: return 42;
      case 1: return { ...msg, v: 2 };
      case 2: return { ...msg, type: 'surprise' };
      case 3: return { ...msg, from: honestVictim };
      case 4: return { ...msg, sig: 'forged' };
      case 5: return { ...msg, body: { junk: 1.5, nested: [undefined, NaN] } };
      case 6: return { ...msg, round: -1 };
      case 7: return this.resign(node, msg, { ...(msg.body as object), extra: 'x'.repeat(32) } as unknown as Message['body']);
      default: return { ...msg, height: 2 ** 60 };
    }
  }

  private byzantineTick(node: SimNode): void {
    if (node.strategy === 'replay' && node.heard.length > 0 && this.prng.chance(0.3)) {
      const old = this.prng.pick(node.heard);
      this.transmit(node.id, this.prng.int(this.n), old);
    }
    if (node.strategy === 'garbage' && this.prng.chance(0.2)) {
      const signer = fakeSigner(node.id, this.worldKey);
      // A well-signed TIMEOUT for a far-away round: a Byzantine replica alone must not move anyone.
      const far = signMessage<Message>(signer, { v: 1, type: 'timeout', from: node.id, height: node.appliedHeight, round: 1000 + this.prng.int(1000), body: { prepared: null } });
      this.transmit(node.id, this.prng.int(this.n), far);
    }
  }
}

/** Run one scenario. */
export function runScenario(opts: SimOptions): SimResult {
  return new World(opts).run();
}

/** Fault tolerance of the scenario's cluster, for reports. */
export function faultsOf(opts: SimOptions): number {
  return faultsTolerated(opts.replicas);
}
