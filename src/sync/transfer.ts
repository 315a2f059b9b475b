/**
 * State transfer (docs/sync.md, "State transfer"): a node further behind than its peers retain
 * decisions — or one that starts with no log while the cluster's chain has advanced — cannot catch
 * up by fetching decisions. It fetches the agreed commits and their notes instead, as one git pack
 * from one peer, checks every certificate against the membership history, moves its refs, logs the
 * written heights, and joins consensus at the next height.
 *
 * Frames (over the authenticated peer links, beside the consensus and record frames):
 *
 * - `tip`: a node's last written height, sent to each peer when its link comes up (an idle cluster
 *   sends no consensus messages, and a new site must still learn that it is behind);
 * - `xfer-ask`: "send me your agreed chain beyond `height`; I have these commits" (a transfer id);
 * - `xfer-none`: the peer has nothing newer, or cannot serve now;
 * - `xfer-pack`: the header: tips (agreed commit, notes commits), height, total bytes, chunk count;
 * - `xfer-chunk`: the pack's bytes, in order, each at most {@link transferChunkBytesMax}.
 *
 * Nothing a peer sends is trusted: a pack git refuses, or whose chain does not verify, is removed
 * from the object store, counted (`transfersRefused`), and the next peer that is ahead is asked.
 * One transfer runs at a time, each within {@link transferBytesMaxDefault} bytes, and a peer that
 * stops sending for {@link transferIdleMsMax}, or has not finished within {@link transferMsMax}, is
 * given up on. A node serves one transfer at a time, and each peer at most once per
 * {@link serveIntervalMs}, so asking cannot keep its git queue busy.
 */
import type { PersistedState } from '../core/consensus/index.js';
import { valueIdOf } from '../core/consensus/index.js';
import { assert } from '../core/errors.js';
import type { AgreedTips, CheckedHeight } from './chain.js';
import { sha256Hex } from './crypto.js';
import { settle } from './node-log.js';
import type { NodeLogEntry } from './node-log.js';
import type { CancelTimer } from './ports.js';
import type { CatchUpStatus, NodeContext } from './node-types.js';
import { decisionsKeptOf } from './node-types.js';

/** Most bytes of one pack chunk: well under a frame, so chunks never need fragmenting. */
export const transferChunkBytesMax = 1024 * 1024;
/** Most bytes of one transferred pack (the receiver holds it in memory until it is indexed). */
export const transferBytesMaxDefault = 256 * 1024 * 1024;
/** Most heights one transfer may bring (a longer gap takes several transfers). */
export const transferHeightsMax = 100_000;
/** A transfer whose peer sends nothing for this long is given up on, and another peer asked. */
export const transferIdleMsMax = 30_000;
/** A transfer not finished this long after it was asked for is given up on (256 MiB at about 300 KB/s). */
export const transferMsMax = 15 * 60_000;
/** A peer is served at most once per this interval (each pack walks the whole agreed chain). */
export const serveIntervalMs = 5_000;
/**
 * A node that stays behind a peer this long with its own height not moving asks for the peer's
 * chain even when the gap is within what peers retain: fetching decisions did not bring it along
 * (a gap across two membership changes, which peers serve only one membership back).
 */
export const stalledBehindMsMax = 30_000;
/** After every peer that is ahead failed us, wait this long before asking again. */
const retryDelayMs = 1_000;
/** Most haves one ask may name (the agreed ref, two notes refs and the genesis). */
const havesMax = 8;

/** What the node does for the transfer: its replica's height, and jumping to a checked chain. */
export interface TransferHost {
  /** The replica's height (the next height it would decide). */
  replicaHeight(): number;
  /**
   * Heights were adopted in git (refs moved): log them durably, update memory, and restart the
   * replica at the height after the last. Runs on the replica's queue.
   */
  jumpTo(heights: readonly CheckedHeight[]): Promise<void>;
  /** How many decisions peers retain (a gap larger than this needs a transfer). */
  readonly decisionsKept: number;
}

/** A transfer in progress, receiving side. */
interface Active {
  readonly id: string;
  readonly peer: string;
  readonly from: number;
  /** When it is given up on however it goes. */
  readonly deadlineMs: number;
  to: number;
  phase: CatchUpStatus['phase'];
  tips: AgreedTips | null;
  bytesTotal: number | null;
  chunksTotal: number;
  readonly chunks: Uint8Array[];
  bytesReceived: number;
  cancelIdle: CancelTimer | null;
}

type Frame = Partial<Record<string, unknown>>;

const isOid = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(value);
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** A test-only fault for the serving side, from `ACU_TEST_TRANSFER_FAULT`: `notes` names the record bodies notes as the certificates; `bytes` flips one byte of the pack. */
type ServeFault = 'notes' | 'bytes' | null;

/** The state-transfer side of a sync node. */
export class StateTransfer {
  /** Transfers that ended with a checked chain adopted. */
  transfers = 0;
  /** Packs refused: git would not index them, or their chain did not verify. */
  transfersRefused = 0;
  private active: Active | null = null;
  private sequence = 0;
  private serving = false;
  /** When each peer was last served. */
  private readonly servedAtMs = new Map<string, number>();
  /** Peers seen more than `decisionsKept` ahead, with the height they showed. */
  private readonly ahead = new Map<string, number>();
  private readonly failed = new Set<string>();
  /** This node's replica height when a peer was last seen ahead of it, and since when it has not moved. */
  private stall: { readonly height: number; readonly sinceMs: number } | null = null;
  private cancelRetry: CancelTimer | null = null;
  private readonly fault: ServeFault;

  constructor(private readonly ctx: NodeContext, private readonly host: TransferHost) {
    const fault = process.env.ACU_TEST_TRANSFER_FAULT;
    this.fault = fault === 'notes' || fault === 'bytes' ? fault : null;
  }

  /** For `acu status`. */
  status(): CatchUpStatus | null {
    const a = this.active;
    if (a === null) return null;
    return { from: a.from, to: a.to, peer: a.peer, phase: a.phase, bytesReceived: a.bytesReceived, bytesTotal: a.bytesTotal };
  }

  /** A link came up: tell the peer how far this node has written. */
  onPeerUp(id: string): void {
    this.ctx.transport.send(id, { t: 'tip', height: this.ctx.memory.writtenHeight });
  }

  /** A peer showed it is at `height` (a consensus message, or its tip + 1). */
  onPeerHeight(from: string, height: number): void {
    const mine = this.host.replicaHeight();
    if (height > mine && this.stall?.height !== mine) this.stall = { height: mine, sinceMs: this.ctx.clock.nowMs() };
    if (!this.needsTransfer(height)) {
      this.ahead.delete(from);
      return;
    }
    this.ahead.set(from, height);
    this.startNext();
  }

  /**
   * Whether a peer at `height` is one to fetch the chain from: further ahead than peers retain
   * decisions, or ahead at all while this node's height has not moved for {@link stalledBehindMsMax}.
   */
  private needsTransfer(height: number): boolean {
    const mine = this.host.replicaHeight();
    if (height - mine > this.host.decisionsKept) return true;
    const stall = this.stall;
    return height > mine && stall !== null && stall.height === mine && this.ctx.clock.nowMs() - stall.sinceMs >= stalledBehindMsMax;
  }

  /** A state-transfer frame; false when it is malformed (the caller counts it). */
  onFrame(from: string, frame: Frame): boolean {
    switch (frame.t) {
      case 'tip':
        if (!isCount(frame.height) && frame.height !== -1) return false;
        this.onPeerHeight(from, frame.height + 1);
        return true;
      case 'xfer-ask':
        return this.onAsk(from, frame);
      case 'xfer-none':
        if (typeof frame.id !== 'string') return false;
        // A late answer to a transfer given up on is no fault.
        if (this.active?.id !== frame.id || this.active.peer !== from) return true;
        this.giveUp(`${this.ctx.siteOf(from)} has nothing to send (${typeof frame.reason === 'string' ? frame.reason.slice(0, 200) : 'no reason'})`, false);
        return true;
      case 'xfer-pack':
        return this.onHeader(from, frame);
      case 'xfer-chunk':
        return this.onChunk(from, frame);
      default:
        return false;
    }
  }

  /** Whether `t` is one of this module's frame types. */
  static handles(t: unknown): boolean {
    return t === 'tip' || t === 'xfer-ask' || t === 'xfer-none' || t === 'xfer-pack' || t === 'xfer-chunk';
  }

  /** The node is stopping. */
  stop(): void {
    this.active?.cancelIdle?.();
    this.active = null;
    this.cancelRetry?.();
    this.cancelRetry = null;
  }

  // ---- receiving side -------------------------------------------------------------------------

  private startNext(): void {
    if (this.active !== null || this.cancelRetry !== null || this.ctx.isStopped()) return;
    const connected = new Set(this.ctx.transport.connectedPeers());
    // Peers no longer far ahead (this node caught up some other way meanwhile) drop out.
    for (const [id, height] of this.ahead) if (!this.needsTransfer(height)) this.ahead.delete(id);
    const peer = [...this.ahead.keys()].find((id) => connected.has(id) && !this.failed.has(id));
    if (peer === undefined) {
      if (this.failed.size === 0) return;
      // Every peer that is ahead failed: start over with all of them, after a pause.
      this.failed.clear();
      this.cancelRetry = this.ctx.clock.after(retryDelayMs, () => {
        this.cancelRetry = null;
        this.startNext();
      });
      return;
    }
    assert(this.ahead.has(peer), 'the chosen peer is ahead');
    this.sequence += 1;
    const { memory } = this.ctx;
    const active: Active = {
      id: `${this.ctx.identity.id.slice(0, 16)}-${this.sequence}`, peer, from: memory.writtenHeight, to: this.ahead.get(peer)! - 1, phase: 'asking',
      deadlineMs: this.ctx.clock.nowMs() + transferMsMax,
      tips: null, bytesTotal: null, chunksTotal: 0, chunks: [], bytesReceived: 0, cancelIdle: null,
    };
    this.active = active;
    this.touch(active);
    const why = active.to + 1 - this.host.replicaHeight() > this.host.decisionsKept ? 'behind by more than peers keep' : `behind for ${stalledBehindMsMax / 1000} s without catching up`;
    this.ctx.event('catch-up', `${why} (at ${memory.writtenHeight}, ${this.ctx.siteOf(peer)} at ${active.to}): asking it for its agreed chain`, {
      from: active.from, to: active.to, peer,
    });
    void this.ctx.gitQueue.run(async () => {
      const haves = [...(await this.ctx.chain.agreedHaves(this.ctx.cluster.branch)), ...(memory.genesis === null ? [] : [memory.genesis])];
      if (this.active !== active) return;
      this.ctx.transport.send(active.peer, { t: 'xfer-ask', id: active.id, height: memory.writtenHeight, haves: [...new Set(haves)].slice(0, havesMax) });
    }).catch((error: unknown) => this.ctx.fail(error));
  }

  /** (Re)arm the idle timer: a peer that stops sending is given up on. */
  private touch(active: Active): void {
    active.cancelIdle?.();
    const leftMs = active.deadlineMs - this.ctx.clock.nowMs();
    active.cancelIdle = this.ctx.clock.after(Math.max(0, Math.min(transferIdleMsMax, leftMs)), () => {
      if (this.active !== active || (active.phase !== 'asking' && active.phase !== 'receiving')) return;
      const why = leftMs <= transferIdleMsMax ? `did not finish within ${transferMsMax} ms` : `sent nothing for ${transferIdleMsMax} ms`;
      this.giveUp(`${this.ctx.siteOf(active.peer)} ${why}`, false);
    });
  }

  private onHeader(from: string, frame: Frame): boolean {
    const a = this.active;
    if (typeof frame.id !== 'string') return false;
    if (a === null || a.id !== frame.id || a.peer !== from || a.phase !== 'asking') return true; // A late answer to a transfer given up on.
    const { height, bytes, chunks, commit, notes, records } = frame;
    const valid = isCount(height) && isCount(bytes) && isCount(chunks) && isOid(commit) && isOid(notes) && (records === null || isOid(records));
    if (!valid || bytes === 0 || bytes > transferBytesMaxDefault || chunks !== Math.ceil(bytes / transferChunkBytesMax)
      || height <= a.from || height - a.from > transferHeightsMax) {
      this.giveUp(`${this.ctx.siteOf(from)} sent a pack header out of bounds`, true);
      return false;
    }
    a.phase = 'receiving';
    a.to = height;
    a.tips = { commit, notes, records };
    a.bytesTotal = bytes;
    a.chunksTotal = chunks;
    this.touch(a);
    return true;
  }

  private onChunk(from: string, frame: Frame): boolean {
    const a = this.active;
    if (typeof frame.id !== 'string' || !isCount(frame.seq) || !(frame.data instanceof Uint8Array)) return false;
    if (a === null || a.id !== frame.id || a.peer !== from || a.phase !== 'receiving') return true;
    const data = frame.data;
    assert(a.bytesTotal !== null, 'a receiving transfer has its header');
    if (frame.seq !== a.chunks.length || data.length === 0 || data.length > transferChunkBytesMax || a.bytesReceived + data.length > a.bytesTotal) {
      this.giveUp(`${this.ctx.siteOf(from)} sent a pack chunk out of order or out of bounds`, true);
      return false;
    }
    a.chunks.push(data);
    a.bytesReceived += data.length;
    this.touch(a);
    if (a.chunks.length < a.chunksTotal) return true;
    if (a.bytesReceived !== a.bytesTotal) {
      this.giveUp(`${this.ctx.siteOf(from)} sent ${a.bytesReceived} bytes, not the ${a.bytesTotal} it announced`, true);
      return true;
    }
    a.phase = 'checking';
    a.cancelIdle?.();
    void this.ctx.gitQueue.run(() => this.adopt(a)).catch((error: unknown) => this.ctx.fail(error));
    return true;
  }

  /** Index the pack, check its chain, move the refs and jump (on the git queue, so no write interleaves). */
  private async adopt(a: Active): Promise<void> {
    const { ctx } = this;
    if (this.active !== a || ctx.isStopped()) return;
    assert(a.tips !== null, 'a complete transfer has its tips');
    const bytes = Buffer.concat(a.chunks);
    a.chunks.length = 0;
    const indexed = await ctx.chain.unpack(bytes);
    if (!indexed.ok) {
      this.giveUp(`refused the pack from ${ctx.siteOf(a.peer)}: ${indexed.reason}`, true);
      return;
    }
    // The written point now: the writer may have gone on while the pack came.
    const { memory } = ctx;
    const base = memory.writtenCommit ?? memory.genesis;
    assert(base !== null, 'a started node knows its genesis');
    const check = await ctx.chain.checkAgreed(a.tips, { commit: base, height: memory.writtenHeight }, transferHeightsMax);
    if (!check.ok) {
      await ctx.chain.discardPack(indexed.pack);
      this.giveUp(`refused the agreed chain from ${ctx.siteOf(a.peer)}: ${check.problem}`, true);
      return;
    }
    a.phase = 'adopting';
    // Refs before the log: after a crash in between, the log's written height is the old one and
    // the writer or a new transfer moves the refs again; the other order could leave the notes of
    // the adopted heights unreachable once the writer builds on the old notes ref.
    await ctx.chain.adoptAgreed(ctx.cluster.branch, a.tips);
    await this.host.jumpTo(check.heights);
    a.cancelIdle?.();
    this.active = null;
    this.failed.clear();
    this.transfers += 1;
    const last = check.heights.at(-1)!;
    ctx.event('catch-up', `caught up from ${ctx.siteOf(a.peer)}: heights ${check.heights[0]!.height} to ${last.height} checked and written (${bytes.length} bytes); joining at height ${last.height + 1}`, {
      from: a.from, to: last.height, peer: a.peer, bytes: bytes.length, phase: 'done',
    });
    this.ahead.clear();
  }

  /** End the transfer in progress and try the next peer; `refused`: the peer sent something bad. */
  private giveUp(reason: string, refused: boolean): void {
    const a = this.active;
    if (a === null) return;
    a.cancelIdle?.();
    this.active = null;
    this.failed.add(a.peer);
    if (refused) {
      this.transfersRefused += 1;
      this.ctx.event('fault', `state transfer: ${reason}`, { peer: a.peer, transfer: a.id });
    } else {
      this.ctx.event('catch-up', `state transfer: ${reason}`, { peer: a.peer, transfer: a.id });
    }
    this.startNext();
  }

  // ---- serving side ---------------------------------------------------------------------------

  private onAsk(from: string, frame: Frame): boolean {
    const { id, height, haves } = frame;
    if (typeof id !== 'string' || id.length > 64 || !(isCount(height) || height === -1) || !Array.isArray(haves) || haves.length > havesMax || !haves.every(isOid)) return false;
    const now = this.ctx.clock.nowMs();
    const servedAtMs = this.servedAtMs.get(from);
    if (this.serving || (servedAtMs !== undefined && now - servedAtMs < serveIntervalMs)) {
      this.ctx.transport.send(from, { t: 'xfer-none', id, reason: this.serving ? 'busy serving another transfer' : 'served this peer a moment ago' });
      return true;
    }
    this.serving = true;
    this.servedAtMs.set(from, now);
    void this.ctx.gitQueue.run(() => this.serve(from, id, height, haves))
      .finally(() => {
        this.serving = false;
      })
      .catch((error: unknown) => this.ctx.fail(error));
    return true;
  }

  /** Pack this node's agreed chain beyond the asker's haves and send it in chunks. */
  private async serve(to: string, id: string, height: number, haves: readonly string[]): Promise<void> {
    assert(this.serving, 'one transfer served at a time');
    assert(haves.length <= havesMax, 'haves are bounded at the edge');
    const { memory, chain, transport } = this.ctx;
    const tip = memory.writtenCommit;
    const tipHeight = memory.writtenHeight;
    if (tip === null || tipHeight <= height) {
      transport.send(to, { t: 'xfer-none', id, reason: `written up to height ${tipHeight} only` });
      return;
    }
    const packed = await chain.packAgreed(tip, haves, transferBytesMaxDefault);
    if (packed === null) {
      transport.send(to, { t: 'xfer-none', id, reason: 'no notes to send, or the pack is too large' });
      return;
    }
    let { tips, bytes } = packed;
    if (this.fault === 'notes' && tips.records !== null) tips = { ...tips, notes: tips.records };
    if (this.fault === 'bytes') {
      const middle = bytes.length >> 1;
      bytes = Uint8Array.from(bytes);
      bytes[middle] = bytes[middle]! ^ 0xff;
    }
    const chunks = Math.ceil(bytes.length / transferChunkBytesMax);
    transport.send(to, { t: 'xfer-pack', id, height: tipHeight, commit: tips.commit, notes: tips.notes, records: tips.records, bytes: bytes.length, chunks });
    for (let seq = 0; seq < chunks; seq += 1) {
      const data = bytes.subarray(seq * transferChunkBytesMax, Math.min(bytes.length, (seq + 1) * transferChunkBytesMax));
      transport.send(to, { t: 'xfer-chunk', id, seq, data });
    }
    this.ctx.event('catch-up', `sent ${this.ctx.siteOf(to)} the agreed chain up to height ${tipHeight} (${bytes.length} bytes in ${chunks} chunks)`, { peer: to, to: tipHeight, bytes: bytes.length });
  }
}

/**
 * Log heights a transfer adopted (their refs already moved) as the writer would have — a `written`
 * entry each, which settles their records — with the last decision and, when the replica is at
 * or below the last adopted height (`replicaHeight`), its new state: the next height, round 0, on
 * the last decision's value, nothing signed. One durable append; memory follows once it is on
 * disk. Returns that state for the replica to restart from, or null when the replica is already
 * past the adopted heights. A jump forward never signs twice: the replica signed nothing above its
 * old height. `unwritten` hears each settled record id (no longer decided-but-unwritten).
 */
export async function logAdopted(ctx: NodeContext, heights: readonly CheckedHeight[], replicaHeight: number, unwritten: (id: string) => void): Promise<PersistedState | null> {
  const { memory, log } = ctx;
  const last = heights.at(-1);
  assert(last !== undefined, 'a jump adopts at least one height');
  assert(heights[0]!.height === memory.writtenHeight + 1, 'a jump starts right after the written height');
  const jump = replicaHeight <= last.height;
  const state: PersistedState = {
    v: 1, height: last.height + 1, round: 0, parent: valueIdOf({ digestHex: sha256Hex }, last.cert.value), locked: null, valid: null, signed: [], enteredBy: [], decisions: [],
  };
  const entries: NodeLogEntry[] = heights.map((h) => ({ k: 'written', height: h.height, commit: h.commit, settled: h.cert.value.batch.acuIds }));
  entries.push({ k: 'decision', cert: last.cert });
  if (jump) entries.push({ k: 'state', state });
  await log.append(entries);
  const kept = decisionsKeptOf(ctx.options);
  for (const h of heights) {
    settle(memory, h.height, h.cert.value.batch.acuIds, kept);
    for (const id of h.cert.value.batch.acuIds) unwritten(id);
  }
  memory.writtenHeight = last.height;
  memory.writtenCommit = last.commit;
  memory.decisions.set(last.height, last.cert);
  return jump ? state : null;
}
