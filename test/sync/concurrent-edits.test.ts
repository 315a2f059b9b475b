/**
 * Early warning of concurrent edits (docs/sync.md, "Concurrent edits"), end to end: two clones with
 * acu's real hooks and real sync nodes edit one function; the second site's `git commit` prints one
 * line naming the first site, its author and the declaration, both nodes report the overlap as an
 * event, and `acu status` lists it. Two of the cluster's four members run, so nothing is agreed and
 * both edits stay pending; then the other two start, the cluster agrees on both in one batch where
 * they conflict, and every node's note keeps the same votes, which `acu log` shows. The scoring backend a node validates with shows in `acu status`, and a
 * cluster document naming an unknown one stops the node with an error and a hint.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureEpochSeconds } from '../../fixtures/builder.js';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterSite } from '../../fixtures/cluster.js';
import { acu, nodeScratch, nodeStatus, startNode, stopNode, until } from './real-nodes.js';
import type { RunningNode } from './real-nodes.js';
import type { LogEntry } from '../../src/cli/log.js';

const base = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport const zero = 0;\n';

const running: RunningNode[] = [];
const scratch = nodeScratch('concurrent-edits', running);

/**
 * Change the body of `add` and commit with git itself, so the installed post-commit hook runs.
 * The hook's budget is raised for the test: on a loaded machine the node's answer may take longer
 * than the 150 ms a person's commit waits, and this test is about what the answer says.
 */
async function editAdd(site: ClusterSite, body: string, at: number): Promise<{ status: number; stderr: string }> {
  const path = join(site.dir, 'src/math.ts');
  await writeFile(path, (await readFile(path, 'utf8')).replace(/return [^;]*;/, `return ${body};`));
  const date = `@${fixtureEpochSeconds + at} +0000`;
  const result = spawnSync('git', ['commit', '-q', '-am', `add: ${body}`], {
    cwd: site.dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, ACU_HOOK_BUDGET_MS: '5000' },
  });
  return { status: result.status ?? 128, stderr: result.stderr };
}

describe('concurrent edits', () => {
  it('warns the second site at commit time, and both nodes, when two sites edit one function', async () => {
    const fixture = await buildClusterFixture(join(scratch.top, 'two-sites'), { sites: ['paris', 'tokyo', 'lima', 'oslo'], files: { 'src/math.ts': base } });
    const [paris, tokyo] = fixture.sites as [ClusterSite, ClusterSite];
    for (const site of [paris, tokyo]) assert.equal(acu(site, ['hooks', 'install']).status, 0);
    const parisNode = startNode(paris);
    const tokyoNode = startNode(tokyo);
    running.push(parisNode, tokyoNode);
    await until('paris and tokyo are connected', async () => (await nodeStatus(paris))?.peers.find((peer) => peer.site === 'tokyo')?.connected === true
      && (await nodeStatus(tokyo))?.peers.find((peer) => peer.site === 'paris')?.connected === true);

    const first = await editAdd(paris, 'a + b + 0', 7200);
    assert.equal(first.status, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /warning/, 'nobody else edits add yet');
    await until("tokyo holds paris's pending ACU", async () => ((await nodeStatus(tokyo))?.pendingAcus ?? 0) >= 1);

    const second = await editAdd(tokyo, 'b + a', 7300);
    assert.equal(second.status, 0, second.stderr);
    const warnings = second.stderr.split('\n').filter((line) => line.includes('warning'));
    assert.equal(warnings.length, 1, second.stderr);
    assert.match(warnings[0]!, /^acu: warning: paris \(paris <paris@example\.com>\) also has a pending change to src\/math\.ts#function:add, commit [0-9a-f]{12}/);

    // Both sites are told: each node's timeline names the other site.
    await until('paris reports the overlap', () => parisNode.events.some((event) => event.kind === 'concurrent-edit'));
    const parisEvent = parisNode.events.find((event) => event.kind === 'concurrent-edit')!;
    assert.equal(parisEvent.data?.declaration, 'src/math.ts#function:add');
    assert.equal(parisEvent.data?.site, 'tokyo');
    assert.equal(parisEvent.data?.author, 'tokyo <tokyo@example.com>');
    const tokyoEvent = tokyoNode.events.find((event) => event.kind === 'concurrent-edit');
    assert.equal(tokyoEvent?.data?.site, 'paris');
    assert.equal(tokyoEvent?.data?.file, 'src/math.ts');

    const status = await nodeStatus(tokyo);
    assert.deepEqual(status?.concurrentEdits.map((edit) => [edit.declaration, edit.edits.map((one) => one.site)]), [['src/math.ts#function:add', ['paris', 'tokyo']]]);
    const shown = acu(tokyo, ['status']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /concurrent edits .*:\n {2}src\/math\.ts#function:add\n +paris +paris <paris@example\.com>, commit [0-9a-f]{12}\n +tokyo +tokyo <tokyo@example\.com>/);

    assert.equal(status?.scoring, null, 'a node that only parses does not score');

    // The other two members start: the cluster agrees on both edits in one batch, where they
    // conflict; each node's policy votes, and the note of the agreed commit keeps who chose what.
    const [lima, oslo] = fixture.sites.slice(2) as [ClusterSite, ClusterSite];
    running.push(startNode(lima, ['--batch-ms', '2000']), startNode(oslo, ['--batch-ms', '2000']));
    await until('paris wrote the decision of both edits', async () => ((await nodeStatus(paris))?.agreed.height ?? -1) >= 0 && (await nodeStatus(paris))?.pendingAcus === 0);
    const entries = JSON.parse(acu(paris, ['log', '--json']).stdout) as LogEntry[];
    const voted = entries.find((entry) => entry.votes.length > 0);
    assert.ok(voted !== undefined, `a decision with a conflict: ${JSON.stringify(entries)}`);
    const [vote] = voted.votes as [LogEntry['votes'][number]];
    assert.equal(vote.conflict, `${voted.height}.0`);
    assert.equal(voted.scoring, 'auto', 'the note names the scoring the cluster document asks for');
    assert.equal(vote.a, 'src/math.ts#function:add');
    assert.equal(vote.b, 'src/math.ts#function:add');
    const voters = vote.tally.flatMap((t) => t.members.map((m) => m.site));
    assert.equal(voters.length, 3, 'the quorum of 3 of 4 votes');
    assert.equal(new Set(voters).size, 3, 'one vote per member');
    assert.ok(vote.tally.some((t) => t.choice === vote.resolution), 'the resolution is a choice made');
    // Every node wrote the same votes, whatever RESOLVE it saw: they are the certified value's.
    for (const site of [tokyo, lima, oslo]) {
      await until(`${site.name} wrote height ${voted.height}`, async () => ((await nodeStatus(site))?.agreed.height ?? -1) >= voted.height!);
      const theirs: LogEntry | undefined = (JSON.parse(acu(site, ['log', '--json']).stdout) as LogEntry[]).find((entry) => entry.height === voted.height);
      assert.deepEqual(theirs?.votes, voted.votes, `${site.name}'s note keeps the same votes`);
    }
    const shownLog = acu(paris, ['log']);
    assert.match(shownLog.stdout, new RegExp(`^ {2}conflict ${voted.height}\\.0 {2}src/math\\.ts#function:add vs src/math\\.ts#function:add: ${vote.resolution} by (keep_a|keep_b|keep_both|defer_both) \\d \\(`, 'm'));
    assert.deepEqual((await nodeStatus(tokyo))?.concurrentEdits, [], 'agreed edits are no longer pending');
    for (const node of running) assert.equal(await stopNode(node), 0);
  });
});

describe('scoring in the cluster document', () => {
  it('refuses to start on a backend it does not know, with an error and a hint', async () => {
    const fixture = await buildClusterFixture(join(scratch.top, 'scoring'), { sites: ['lyon'], files: { 'src/math.ts': base } });
    const site = fixture.sites[0]!;
    const path = join(site.dir, '.acu', 'cluster.json');
    await writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(path, 'utf8')) as object, scoring: 'quantum' }, null, 2));
    const started = acu(site, ['node', 'start', '--validation', 'parse']);
    assert.equal(started.status, 128, started.stderr);
    assert.match(started.stderr, /^error: .*\.acu\/cluster\.json is not a valid cluster document: scoring: "quantum" is not a scoring backend; choose one of auto, cpu-reference, js-bitset, wasm-popcount, gpujs or gpujs:<mode>/m);
    assert.match(started.stderr, /^hint: /m);

    await writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(path, 'utf8')) as object, scoring: undefined }, null, 2));
    const node = startNode(site, ['--validation', 'typecheck']);
    running.push(node);
    await until('the node answers', async () => (await nodeStatus(site)) !== null);
    const status = await nodeStatus(site);
    assert.equal(status?.scoring?.choice, 'auto');
    assert.ok(['js-bitset', 'wasm-popcount', 'gpujs'].includes(status?.scoring?.backend ?? ''), JSON.stringify(status?.scoring));
    assert.match(acu(site, ['status']).stdout, /^scoring: (js-bitset|wasm-popcount|gpujs).*; cluster asks for auto: auto: /m);
    assert.equal(await stopNode(node), 0);
  });
});
