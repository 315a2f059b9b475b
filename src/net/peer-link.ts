/**
 * A peer's link once it is authenticated: it comes up (the frame limit raised, a new reassembler,
 * pings started, the queue flushed), carries frames in, and goes down. A peer's bytes never crash
 * the node: frames go through `decodeFrame` and the reassembler, which never throw, and what they
 * refuse is counted.
 */
import type { RawData, WebSocket } from 'ws';
import { assert, assertNever } from '../core/errors.js';
import type { FrameLimits } from './frame.js';
import { decodeFrame, frameBytesMax, frameLimits, messageLimits } from './frame.js';
import { Reassembler, isFragment } from './fragment.js';
import { startHeartbeat, stopHeartbeat } from './heartbeat.js';
import type { Peer, TransportState } from './peer.js';
import { countDropped, flush, unqueue } from './send-queue.js';
import { tlsRefusalCode } from './tls.js';
import type { TransportCounters } from './transport-types.js';

/** An authenticated socket becomes the peer's link (replacing any it had). */
export function linkUp(state: TransportState, peer: Peer, socket: WebSocket): void {
  resetLink(state.counters, peer);
  raiseMaxPayload(socket, frameBytesMax);
  peer.socket = socket;
  peer.ready = true;
  peer.attempts = 0;
  peer.reassembler = new Reassembler(state.limits);
  startHeartbeat(peer, socket, state.limits, state.counters);
  state.events.onPeerUp?.(peer.member.id);
  flush(peer, state.limits, state.counters);
}

/** The peer's link ended (a socket that is no longer its link changes nothing). */
export function linkDown(state: TransportState, peer: Peer, socket: WebSocket): void {
  if (peer.socket !== socket) return;
  const wasReady = peer.ready;
  resetLink(state.counters, peer);
  peer.ready = false;
  peer.socket = null;
  if (wasReady) state.events.onPeerDown?.(peer.member.id);
}

/**
 * Forget what belonged to the link that ended: its timers, its unfinished incoming messages, and
 * an outgoing message it was in the middle of (its receiver lost the first fragments with the
 * link; the node offers what matters again when the peer is back).
 */
function resetLink(counters: TransportCounters, peer: Peer): void {
  stopHeartbeat(peer);
  peer.reassembler = null;
  const head = peer.queue[0];
  if (head !== undefined && head.sent > 0) {
    peer.queue.shift();
    unqueue(peer, head.frames.slice(head.sent));
    countDropped(counters, head.frames.length - head.sent);
  }
}

/** A frame on an authenticated link: a whole message, or a fragment of one. */
export function receive(state: TransportState, peer: Peer, data: RawData): void {
  const counters = state.counters;
  const bytes = bytesOf(data);
  if (!isFragment(bytes)) {
    const value = decode(counters, bytes, frameLimits);
    if (value === undefined) return;
    counters.framesIn += 1;
    return deliver(state, peer, value);
  }
  const reassembler = peer.reassembler;
  assert(reassembler !== null, 'receive: an authenticated link has a reassembler');
  const evictionsBefore = reassembler.evictions;
  const outcome = reassembler.accept(bytes);
  counters.reassemblyEvictions += reassembler.evictions - evictionsBefore;
  switch (outcome.kind) {
    case 'refused':
      counters.fragmentsRefused += 1;
      return;
    case 'partial':
      counters.framesIn += 1;
      return;
    case 'complete': {
      counters.framesIn += 1;
      const value = decode(counters, outcome.message, messageLimits);
      if (value !== undefined) deliver(state, peer, value);
      return;
    }
    default:
      assertNever(outcome, 'fragment outcome');
  }
}

function deliver(state: TransportState, peer: Peer, value: unknown): void {
  state.counters.messagesIn += 1;
  state.events.onMessage(peer.member.id, value);
}

/** A frame's value under `limits`, if it is plain data and an object; undefined (counted) if refused. */
export function decode(counters: TransportCounters, bytes: Uint8Array, limits: FrameLimits): object | undefined {
  const frame = decodeFrame(bytes, limits);
  if (!frame.ok || typeof frame.value !== 'object' || frame.value === null) {
    counters.framesRefused += 1;
    return undefined;
  }
  return frame.value;
}

/** The bytes of a WebSocket message, however ws hands them over. */
export function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/**
 * Socket errors end the connection (and a redial); an oversized frame is also counted, and so is
 * a TLS handshake our side refused (the peer's certificate is not the CA's, or names another host).
 */
export function onSocketError(counters: TransportCounters, error: Error): void {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') counters.framesRefused += 1;
  else if (tlsRefusalCode.test(code)) counters.authRefusedCertificate += 1;
}

/**
 * Raise a socket's largest accepted message once its peer is authenticated. ws takes the limit
 * only when a socket is made, and its receiver keeps it in `_maxPayload`; this is the one place
 * that reaches inside ws (8.x), and it asserts the field is there so an upgrade that moves it
 * fails loudly here rather than leaving every link at the handshake's limit.
 */
function raiseMaxPayload(socket: WebSocket, bytes: number): void {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  assert(receiver !== undefined && typeof receiver._maxPayload === 'number', 'raiseMaxPayload: ws keeps the limit in _receiver._maxPayload');
  assert(receiver._maxPayload <= bytes, 'raiseMaxPayload: the limit only grows');
  receiver._maxPayload = bytes;
}
