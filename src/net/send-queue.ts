/**
 * A peer's send queue. Per peer, at most `socketBufferBytesMax` is handed to the socket (ws's
 * `bufferedAmount`) before the transport waits for the kernel to take it, and at most
 * `queueBytesMax` / `queueFramesMax` wait here. Beyond that, the oldest whole messages not yet
 * started are dropped and counted. Dropping rather than closing: the consensus tolerates loss and
 * retransmits on its own timeouts, and a peer that is only slow for a while keeps its link and the
 * messages it can still take; a peer that reads nothing at all stops answering pings too, and the
 * ping timeout (heartbeat.ts) closes its link.
 */
import { WebSocket } from 'ws';
import { assert } from '../core/errors.js';
import { frameBytesMax, messageBytesMax } from './frame.js';
import { fragmentsOf } from './fragment.js';
import type { Peer } from './peer.js';
import type { SendOutcome, TransportCounters, TransportLimits } from './transport-types.js';

/**
 * Queue an encoded message for a peer, as one frame or as fragments, making room by dropping older
 * messages not yet started; then write what the socket takes.
 */
export function enqueue(peer: Peer, encoded: Uint8Array, limits: TransportLimits, counters: TransportCounters): SendOutcome {
  if (encoded.length > messageBytesMax) {
    counters.messagesOversized += 1;
    return 'oversized';
  }
  const frames = encoded.length <= frameBytesMax ? [encoded] : fragmentsOf(nextId(peer), encoded);
  const bytes = frames.reduce((sum, f) => sum + f.length, 0);
  let droppedOlder = false;
  while (peer.queuedBytes + bytes > limits.queueBytesMax || peer.queuedFrames + frames.length > limits.queueFramesMax) {
    // Oldest first, whole messages only, and never one already started: its receiver would be
    // left holding a partial message.
    const at = peer.queue[0]?.sent === 0 ? 0 : 1;
    if (at >= peer.queue.length) {
      countDropped(counters, frames.length);
      return 'dropped';
    }
    const [victim] = peer.queue.splice(at, 1);
    unqueue(peer, victim!.frames);
    countDropped(counters, victim!.frames.length);
    droppedOlder = true;
  }
  peer.queue.push({ frames, sent: 0 });
  peer.queuedFrames += frames.length;
  peer.queuedBytes += bytes;
  flush(peer, limits, counters);
  return droppedOlder ? 'queued-dropped-older' : 'queued';
}

function nextId(peer: Peer): number {
  const id = peer.nextMessageId;
  peer.nextMessageId = (id + 1) >>> 0;
  return id;
}

/** Take frames that leave the queue (written or dropped) off its frame and byte counts. */
export function unqueue(peer: Peer, frames: readonly Uint8Array[]): void {
  peer.queuedFrames -= frames.length;
  peer.queuedBytes -= frames.reduce((sum, f) => sum + f.length, 0);
  assert(peer.queuedFrames >= 0 && peer.queuedBytes >= 0, 'unqueue: queue sizes never negative');
}

/** Count one message dropped unsent, and its frames. */
export function countDropped(counters: TransportCounters, frames: number): void {
  counters.framesDropped += frames;
  counters.messagesDropped += 1;
}

/** Write queued frames while the socket holds less than its bound; the kernel taking one writes more. */
export function flush(peer: Peer, limits: TransportLimits, counters: TransportCounters): void {
  const socket = peer.socket;
  if (!peer.ready || socket === null || socket.readyState !== WebSocket.OPEN) return;
  while (peer.queue.length > 0 && socket.bufferedAmount < limits.socketBufferBytesMax) {
    const head = peer.queue[0]!;
    const frame = head.frames[head.sent]!;
    head.sent += 1;
    unqueue(peer, [frame]);
    if (head.sent === head.frames.length) {
      peer.queue.shift();
      counters.messagesOut += 1;
    }
    counters.framesOut += 1;
    socket.send(frame, (error) => {
      if (error === undefined || error === null) flush(peer, limits, counters);
    });
  }
}
