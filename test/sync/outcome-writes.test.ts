/**
 * The outcome step answers the agreed commit's id as soon as it is hashed; the commit's object
 * files are written in the background (docs/sync.md, "The agreed commit"). These tests hold the
 * two promises that makes:
 *
 * - a background write that fails is written again (the outcome is forgotten and computed again),
 *   and no note or ref ever names an object that is not in the store;
 * - a node killed after its PREPARE was logged and sent, before the files landed, writes the very
 *   commit the cluster certified once it is restarted (a real process, killed with SIGKILL).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, it } from 'node:test';
import type { ClusterSite } from '../../fixtures/cluster.js';
import { GitRepo } from '../../src/git/index.js';
import { objectWriteFaults } from '../../src/git/iso.js';
import { WsTransport } from '../../src/net/transport.js';
import { readCluster } from '../../src/store/cluster.js';
import { loadIdentity } from '../../src/store/identity.js';
import type { AgreedNoteInput } from '../../src/sync/agreed.js';
import { GitChain } from '../../src/sync/chain.js';
import { NodeLog } from '../../src/sync/node-log.js';
import { decisionsKept } from '../../src/sync/node-types.js';
import { SyncNode } from '../../src/sync/node.js';
import type { NodeEvent } from '../../src/sync/node.js';
import { systemClock } from '../../src/sync/ports.js';
import { recordVerifier } from '../../src/sync/records.js';
import { configuredPolicy } from '../../src/validate/policy-config.js';
import { acu, git, nodeScratch, nodeStatus, soloSite, startNode, stopNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';
import { collectRejections } from '../support/rejections.js';

const running: RunningNode[] = [];
const scratch = nodeScratch('outcome-writes', running);
const rejections = collectRejections();

afterEach(() => {
  objectWriteFaults.failNext = 0;
  objectWriteFaults.hold = null;
});

async function commitSub(site: ClusterSite): Promise<void> {
  const path = join(site.dir, 'src/math.ts');
  await writeFile(path, (await readFile(path, 'utf8')) + '\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n');
  assert.equal(git(site, ['commit', '-q', '-am', 'Add sub']).status, 0);
}

function hasObject(site: ClusterSite, oid: string): boolean {
  return spawnSync('git', ['cat-file', '-e', oid], { cwd: site.dir }).status === 0;
}

/** A chain that records every note or ref it is asked to write while the commit named is not in the store. */
class CheckingChain extends GitChain {
  readonly missing: string[] = [];
  site: ClusterSite | null = null;
  override async writeNote(input: AgreedNoteInput): Promise<void> {
    this.check('note', input.commit);
    await super.writeNote(input);
  }
  override async setAgreed(branch: string, commit: string): Promise<void> {
    this.check('agreed ref', commit);
    await super.setAgreed(branch, commit);
  }
  private check(what: string, commit: string): void {
    if (this.site !== null && !hasObject(this.site, commit)) this.missing.push(`${what} -> ${commit}`);
  }
}

it('a failed background write of the agreed commit is written again; no note or ref ever names a missing object', async () => {
  const site = await soloSite(scratch.top);
  const repo = await GitRepo.open(site.dir);
  const cluster = await readCluster(site.dir);
  const identity = await loadIdentity(repo.commonDir);
  const opened = await NodeLog.open(join(repo.commonDir, 'acu', 'node.wal'), decisionsKept, recordVerifier(cluster));
  const chain = new CheckingChain(repo, 'parse', null, { identity, member: cluster.members[0]! });
  chain.site = site;
  const events: NodeEvent[] = [];
  const node = await SyncNode.create({
    cluster, identity, chain, clock: systemClock, apiSocket: null, policy: await configuredPolicy(site.dir, cluster),
    opened,
    transport: (transportEvents) => new WsTransport({ identity, members: cluster.members, listen: { host: '127.0.0.1', port: 0 }, events: transportEvents }),
  }, { cwd: site.dir, validation: 'parse', tickMs: 20, onEvent: (event) => events.push(event) });
  // The next two object files the node writes (the agreed commit's new objects) fail with ENOSPC.
  objectWriteFaults.failNext = 2;
  await commitSub(site);
  await until('the commit is agreed', () => events.some((e) => e.kind === 'agreed'));
  const status = node.status();
  await node.stop();

  assert.equal(objectWriteFaults.failNext, 0, 'both writes failed');
  assert.ok(events.some((e) => e.kind === 'write-failed' && /ENOSPC/.test(e.text)), 'the failure is reported');
  assert.deepEqual(events.filter((e) => e.kind === 'error'), [], 'no error: the node runs on');
  assert.deepEqual(chain.missing, [], 'no note or ref was asked for before the commit was stored');
  assert.equal(status.agreed.height, 0);
  assert.equal(status.writeFailure, null, 'no failure is shown once the commit is written');
  const commit = status.agreed.commit!;
  assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), commit);
  assert.ok(hasObject(site, commit), 'the agreed commit is stored');
  const note = JSON.parse(git(site, ['notes', '--ref=refs/notes/acu', 'show', commit]).stdout) as { cert: { value: { outcome: string } } };
  assert.equal(note.cert.value.outcome, commit, 'the certified outcome is the commit written');
  assert.equal(git(site, ['fsck', '--connectivity-only', '--no-dangling']).status, 0, 'every ref and note names stored objects');
  assert.equal(acu(site, ['verify']).status, 0);
  assert.deepEqual(rejections, [], 'no unhandled rejection');
});

it("a node killed after its PREPARE, before the agreed commit's files landed, writes the same commit after a restart", async () => {
  const site = await soloSite(scratch.top);
  // The files of new objects never land in this process: as if it were killed before they did.
  let node = startNode(site, [], { ACU_TEST_OBJECT_WRITES: 'hold' });
  running.push(node);
  await until('the node answers', async () => (await nodeStatus(site)) !== null);
  await commitSub(site);
  // Height 0 decided: the node answered the outcome, sent PREPARE and FINAL (each logged first).
  await until('height 0 is decided', async () => ((await nodeStatus(site))?.height ?? 0) >= 1);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the decision's log append completes
  node.child.kill('SIGKILL');
  await node.exited;

  const cluster = await readCluster(site.dir);
  const log = await NodeLog.open(join(site.dir, '.git', 'acu', 'node.wal'), decisionsKept, recordVerifier(cluster));
  const cert = log.memory.decisions.get(0);
  await log.log.close();
  assert.ok(cert !== undefined, 'the decision of height 0 is in the log');
  // Its certificate holds this node's FINAL, which it signs only after its PREPARE went out.
  assert.ok(cert.finals.some((f) => f.from === 0), 'this node signed the decision');
  const outcome = cert.value.outcome;
  assert.ok(!hasObject(site, outcome), 'the killed node had not stored the agreed commit');
  assert.notEqual(git(site, ['rev-parse', '--verify', '--quiet', 'refs/acu/main']).status, 0, 'no agreed ref');

  node = startNode(site);
  running.push(node);
  await until('the restarted node writes height 0', async () => (await nodeStatus(site))?.agreed.height === 0);
  const status = (await nodeStatus(site))!;
  assert.equal(await stopNode(node), 0);
  assert.equal(status.agreed.commit, outcome, 'the commit written is the certified one');
  assert.ok(hasObject(site, outcome), 'now stored');
  assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), outcome);
  assert.match(git(site, ['show', 'refs/acu/main:src/math.ts']).stdout, /function sub\(/);
  assert.equal(git(site, ['fsck', '--connectivity-only', '--no-dangling']).status, 0);
  assert.equal(acu(site, ['verify']).status, 0);
});

it('the git chain never names a staged commit before its files are in, refuses one whose files failed until it is staged again, and reads its cluster document without waiting', async () => {
  const site = await soloSite(scratch.top);
  const repo = await GitRepo.open(site.dir);
  const cluster = await readCluster(site.dir);
  const identity = await loadIdentity(repo.commonDir);
  const chain = new GitChain(repo, 'parse', null, { identity, member: cluster.members[0]! });
  try {
    const genesis = (await chain.revParse('refs/heads/main'))!;
    const input = { height: 0, parentCommit: genesis, records: [], tree: await repo.resolveTree(genesis), applied: [] };
    objectWriteFaults.failNext = 1;
    const failed = await chain.stageCommit(input, Promise.resolve());
    await assert.rejects(failed.written, /ENOSPC/);
    assert.ok(!hasObject(site, failed.commit), 'the commit object was not written');
    await assert.rejects(chain.setAgreed('main', failed.commit), /ENOSPC/);
    assert.notEqual(git(site, ['rev-parse', '--verify', '--quiet', 'refs/acu/main']).status, 0, 'no agreed ref');
    assert.equal(await chain.clusterAt(failed.commit), null, 'a commit whose files failed reads as not got');

    // A tree whose files failed fails the commit staged on it, though the commit's own file landed.
    const treeFailed = await chain.stageCommit(input, Promise.reject(Object.assign(new Error('ENOSPC: tree'), { code: 'ENOSPC' })));
    assert.equal(treeFailed.commit, failed.commit, 'the same id: a hash of the same content');
    await assert.rejects(treeFailed.written, /ENOSPC/);
    await assert.rejects(chain.setAgreed('main', treeFailed.commit), /ENOSPC/);
    assert.notEqual(git(site, ['rev-parse', '--verify', '--quiet', 'refs/acu/main']).status, 0, 'still no agreed ref');

    // While a staged commit's files are on their way, its cluster document is read from the
    // composed tree (its blob is the parent's, stored): the decision's membership check does not
    // wait for the files. The note and the ref do.
    let release = (): void => undefined;
    objectWriteFaults.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const composed = await chain.compose(genesis, []);
    // Another commit (another height's message) on the same tree: its file is not stored yet.
    const held = await chain.stageCommit({ ...input, height: 1, tree: composed.tree }, composed.written);
    assert.ok(!hasObject(site, held.commit), 'its file is held');
    assert.deepEqual(await chain.clusterAt(held.commit), cluster, 'the document, before the files landed');
    let named = false;
    const naming = chain.setAgreed('main', held.commit).then(() => {
      named = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(named, false, 'the ref waits for the files');
    assert.notEqual(git(site, ['rev-parse', '--verify', '--quiet', 'refs/acu/main']).status, 0);
    objectWriteFaults.hold = null;
    release();
    await naming;
    assert.ok(hasObject(site, held.commit));
    assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), held.commit);

    // Staged again without a fault: named at once, without waiting by hand.
    const again = await chain.stageCommit(input, Promise.resolve());
    await chain.setAgreed('main', again.commit);
    assert.ok(hasObject(site, again.commit));
    assert.equal(git(site, ['rev-parse', 'refs/acu/main']).stdout.trim(), again.commit);
    assert.deepEqual(rejections, [], 'no unhandled rejection');
  } finally {
    await chain.close();
  }
});
