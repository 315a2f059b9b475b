/**
 * When state transfer starts (src/sync/transfer.ts): at once for a peer further ahead than peers
 * retain decisions; for a peer ahead by less, only once this node's height has not moved for
 * `stalledBehindMsMax` — fetching decisions did not bring it along (a gap across two membership
 * changes) — and never while it keeps moving. The test is about that decision, so the node's
 * ports are stand-ins; test/sync/state-transfer.test.ts runs transfers between real nodes.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NodeContext } from '../../src/sync/node-types.js';
import { SerialQueue } from '../../src/sync/node-types.js';
import { StateTransfer, stalledBehindMsMax } from '../../src/sync/transfer.js';

const peer = 'p'.repeat(16);

function harness(): { transfer: StateTransfer; asks: unknown[]; setHeight: (h: number) => void; advance: (ms: number) => void; settle: () => Promise<void> } {
  let nowMs = 0;
  let height = 5;
  const asks: unknown[] = [];
  const gitQueue = new SerialQueue();
  const ctx = {
    identity: { id: 'n'.repeat(16) },
    cluster: { branch: 'main' },
    memory: { writtenHeight: 4, genesis: null },
    transport: {
      connectedPeers: () => [peer],
      send: (_to: string, frame: { t: string }) => {
        if (frame.t === 'xfer-ask') asks.push(frame);
        return 'queued';
      },
    },
    clock: { nowMs: () => nowMs, after: () => () => undefined, every: () => () => undefined },
    chain: { agreedHaves: () => Promise.resolve([]) },
    gitQueue,
    event: () => undefined,
    isStopped: () => false,
    fail: (error: unknown) => {
      throw error;
    },
    siteOf: (id: string) => id,
  } as unknown as NodeContext;
  const transfer = new StateTransfer(ctx, { replicaHeight: () => height, jumpTo: () => Promise.resolve(), decisionsKept: 256 });
  return {
    transfer, asks,
    setHeight: (h) => void (height = h),
    advance: (ms) => void (nowMs += ms),
    settle: () => gitQueue.idle(),
  };
}

it('asks at once for a peer further ahead than peers retain', async () => {
  const { transfer, asks, settle } = harness();
  transfer.onPeerHeight(peer, 5 + 257);
  await settle();
  assert.equal(asks.length, 1);
});

it('asks a peer a few heights ahead only once this node has not moved for the stall bound', async () => {
  const { transfer, asks, advance, settle } = harness();
  transfer.onPeerHeight(peer, 8);
  advance(stalledBehindMsMax - 1);
  transfer.onPeerHeight(peer, 8);
  await settle();
  assert.equal(asks.length, 0, 'not before the bound');
  advance(1);
  transfer.onPeerHeight(peer, 8);
  await settle();
  assert.equal(asks.length, 1, 'at the bound, with the height unmoved: a transfer');
});

it('never asks while this node keeps moving, however long it stays behind', async () => {
  const { transfer, asks, advance, setHeight, settle } = harness();
  for (let h = 5; h < 5 + 20; h += 1) {
    setHeight(h);
    transfer.onPeerHeight(peer, h + 3);
    advance(stalledBehindMsMax / 2);
  }
  await settle();
  assert.equal(asks.length, 0);
});
