/**
 * Membership by consensus (docs/sync.md, "Membership"): what a sync node needs to verify consensus
 * messages against the membership of their height, and to hold back those it cannot judge yet.
 *
 * A change of `.acu/cluster.json` is agreed like any other change and takes effect at the next
 * height: the membership that decides height h + 1 is the document in the tree of agreed commit
 * h. A node learns it only once it has written commit h, so a message for a later height that does
 * not verify against the membership it knows is parked, raw, until it does; one that verifies only
 * against the membership before the change (a removed member, a rotated key) is refused and
 * counted.
 */
import type { DecodeLimits, Message, Verifier } from '../core/consensus/index.js';
import { decodeMessage } from '../core/consensus/index.js';
import { assert } from '../core/errors.js';

/** One membership as the decoder needs it. */
export interface MembershipKeys {
  readonly verifier: Verifier;
  readonly limits: DecodeLimits;
}

/** What to do with a consensus frame from a peer. */
export type FrameVerdict =
  /** Decoded and verified against the membership in force: step it. */
  | { readonly kind: 'step'; readonly msg: Message }
  /** For a height before the membership in force, verified against the one before it. */
  | { readonly kind: 'previous'; readonly msg: Message }
  /** For a height whose membership this node does not know yet: keep it raw, judge it later. */
  | { readonly kind: 'park' }
  /** Signed under the membership before the change, for a height after it: counted, dropped. */
  | { readonly kind: 'not-in-force' }
  /** Malformed, or no member's signature: counted, dropped. */
  | { readonly kind: 'refused' };

/** Where this node stands: the membership in force, from which height, and the one before it. */
export interface MembershipPosition {
  readonly current: MembershipKeys;
  /** First height the membership in force decides. */
  readonly fromHeight: number;
  /** The membership before the last change this node made; null when it made none since it started. */
  readonly previous: MembershipKeys | null;
  /** Highest height whose membership this node knows: its last written agreed height + 1. */
  readonly knownHeightMax: number;
}

/**
 * The height a frame claims, read without trusting it (only to choose the membership that checks
 * it); null when there is none to read.
 */
export function claimedHeight(raw: unknown): number | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const height = (raw as { height?: unknown }).height;
  return typeof height === 'number' && Number.isSafeInteger(height) && height >= 0 ? height : null;
}

/** Judge a consensus frame against the membership of its height. Pure: a peer's fault is a value. */
export function judgeFrame(raw: unknown, at: MembershipPosition): FrameVerdict {
  assert(at.fromHeight >= 0, 'judgeFrame: a membership starts at a height');
  assert(at.knownHeightMax >= at.fromHeight || at.previous === null, 'judgeFrame: a change takes effect once its commit is written');
  const height = claimedHeight(raw);
  if (height !== null && height < at.fromHeight && at.previous !== null) {
    const decoded = decodeMessage(raw, at.previous.limits, at.previous.verifier);
    return decoded.ok ? { kind: 'previous', msg: decoded.msg } : { kind: 'refused' };
  }
  const decoded = decodeMessage(raw, at.current.limits, at.current.verifier);
  if (decoded.ok) return { kind: 'step', msg: decoded.msg };
  // Not this membership's: perhaps one this node has not learned yet.
  if (height !== null && height > at.knownHeightMax) return { kind: 'park' };
  if (at.previous !== null && decodeMessage(raw, at.previous.limits, at.previous.verifier).ok) return { kind: 'not-in-force' };
  return { kind: 'refused' };
}

/** Frames parked for a membership not known yet, at most (then the oldest go: the protocol retransmits). */
export const parkedFramesMax = 1024;

/** Raw consensus frames waiting for the membership of their height, oldest first, bounded. */
export class ParkedFrames {
  private frames: { readonly from: string; readonly raw: unknown }[] = [];
  /** Frames dropped because the buffer was full. */
  dropped = 0;

  constructor(private readonly framesMax = parkedFramesMax) {
    assert(framesMax > 0, 'ParkedFrames: room for a frame');
  }

  get size(): number {
    return this.frames.length;
  }

  park(from: string, raw: unknown): void {
    if (this.frames.length >= this.framesMax) {
      this.frames.shift();
      this.dropped += 1;
    }
    this.frames.push({ from, raw });
    assert(this.frames.length <= this.framesMax, 'ParkedFrames: bounded');
  }

  /** Every parked frame, oldest first; the buffer is left empty (whatever is still unknown is parked again). */
  take(): { readonly from: string; readonly raw: unknown }[] {
    const taken = this.frames;
    this.frames = [];
    return taken;
  }
}
