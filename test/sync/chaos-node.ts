/**
 * Child entry of the chaos test (test/sync/chaos.test.ts): one real sync node in its own process,
 * driven over the IPC channel its parent opened. It is not a test file (the runner takes only
 * `*.test.js`); the parent spawns `node dist/test/sync/chaos-node.js <site dir> <tick ms>`.
 *
 * Messages in:  `{ t: 'propose', seq, records }` — plain record values; the node keeps them (in its
 *               write-ahead log, fsynced) and sends them to its peers; the answer goes back once
 *               `proposeRecords` has returned.
 * Messages out: `{ t: 'event', event }` for every node event; `{ t: 'ready' }` once
 *               `SyncNode.start` has returned (proposals are taken from then on);
 *               `{ t: 'proposed', seq, ids, fresh }`; `{ t: 'failed', seq, message }` when a proposal threw.
 *
 * SIGTERM stops the node cleanly (the parent also SIGKILLs it, which is the point of the test).
 */
import { readCluster } from '../../src/store/cluster.js';
import { SyncNode } from '../../src/sync/node.js';
import { decodeRecord, recordVerifier } from '../../src/sync/records.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';

type ParentMessage = { readonly t: 'propose'; readonly seq: number; readonly records: readonly unknown[] };

const [cwd, tickText] = process.argv.slice(2);
if (cwd === undefined || tickText === undefined || process.send === undefined) {
  process.stderr.write('usage: node chaos-node.js <site dir> <tick ms> (with an IPC channel)\n');
  process.exit(2);
}
const send = (message: unknown): void => {
  // The parent may be gone (or the channel closing): never let that kill the node mid-write.
  if (process.connected) process.send!(message, undefined, undefined, () => undefined);
};

const node = await SyncNode.start({
  cwd,
  validation: 'parse',
  tickMs: Number(tickText),
  batchMs: 0,
  onEvent: (event) => send({ t: 'event', event }),
});
// Proposals are checked like a peer's records: signed by a member, with that member's site.
const verifier = recordVerifier(await readCluster(cwd));
send({ t: 'ready' });

process.on('message', (raw: ParentMessage) => {
  if (raw.t !== 'propose') return;
  const items = raw.records.map((value) => decodeRecord(value, verifier));
  if (items.some((item) => item === null)) {
    send({ t: 'failed', seq: raw.seq, message: 'a record did not decode' });
    return;
  }
  const records = items as IdentifiedRecord[];
  node.proposeRecords(records).then(
    (fresh) => send({ t: 'proposed', seq: raw.seq, ids: records.map((item) => item.id), fresh }),
    (error: unknown) => send({ t: 'failed', seq: raw.seq, message: error instanceof Error ? error.message : String(error) }),
  );
});
// Without a parent there is nobody to drive us: stop.
process.on('disconnect', () => void node.stop());
process.once('SIGTERM', () => void node.stop());
await node.stoppedPromise;
if (process.connected) process.disconnect();
