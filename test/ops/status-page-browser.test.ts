/**
 * Issue #16, the status page in a real browser: two `acu node start --http` processes whose sites
 * edit one function within one batch window, under the `vote` policy. Debian's Chromium, driven by
 * playwright-core, opens each site's page from the link `acu node page` prints; the page shows the
 * members, the open conflict with both sides' text, and updates itself as the cluster moves. Each
 * site's operator votes from its page; `acu log` then shows the side they chose applied and the
 * other deferred. A page opened without the token shows no vote buttons, and a vote posted without
 * it is refused.
 *
 * Needs a Chromium (`bash scripts/setup-browser.sh` installs Debian's). Without one the test skips
 * and says so, unless ACU_BROWSER_REQUIRED is set (CI sets it), where it fails.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildClusterFixture } from '../../fixtures/cluster.js';
import type { ClusterFixture, ClusterSite } from '../../fixtures/cluster.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import type { Page } from 'playwright-core';
import type { LogEntry } from '../../src/cli/log.js';
import type { OpenConflict } from '../../src/sync/node-types.js';
import { acu, git, killAll, nodeStatus, startNode, stopNode, until } from '../sync/real-nodes.js';
import type { RunningNode } from '../sync/real-nodes.js';

const chromium = [process.env.ACU_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => path !== undefined && path !== '' && existsSync(path));
const required = process.env.ACU_BROWSER_REQUIRED !== undefined && process.env.ACU_BROWSER_REQUIRED !== '';
const skip = chromium === undefined && !required ? 'no Chromium on this machine: run `bash scripts/setup-browser.sh` (Debian) or set ACU_CHROMIUM' : false;

let top = '';
let cluster: ClusterFixture;
const nodes: RunningNode[] = [];

const original = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';

before(async () => {
  if (skip !== false) return;
  top = await makeTempDir('status-page');
  cluster = await buildClusterFixture(top, {
    sites: ['north', 'south'],
    files: { 'src/math.ts': original, 'README.md': '# math\n' },
    // People vote; the fallback comes only after 30,000 ticks of 20 ms, far beyond the test.
    config: { 'acu.policy': 'vote', 'acu.voteTimeoutTicks': '30000', 'acu.voteFallback': 'defer' },
  });
});

after(async () => {
  await killAll(nodes);
  if (top !== '') await removeTempDir(top);
});

it('shows the cluster and a conflict in Chromium, votes from the page, and acu log shows the outcome', { skip }, async () => {
  assert.ok(chromium !== undefined, 'ACU_BROWSER_REQUIRED is set, and no Chromium was found: run `bash scripts/setup-browser.sh`');
  const { chromium: driver } = await import('playwright-core');
  const [north, south] = cluster.sites as [ClusterSite, ClusterSite];
  for (const site of [north, south]) nodes.push(startNode(site, ['--batch-ms', '6000', '--http', '127.0.0.1:0']));
  await until('both nodes are connected', async () => (await Promise.all([nodeStatus(north), nodeStatus(south)])).every((s) => s !== null && s.peers.every((p) => p.connected)));
  const links = new Map<string, string>();
  await until('both nodes serve their page', () => {
    for (const site of [north, south]) {
      const printed = acu(site, ['node', 'page']);
      if (printed.status === 0) links.set(site.name, printed.stdout.trim());
    }
    return links.size === 2;
  });
  for (const link of links.values()) assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43}$/);

  const browser = await driver.launch({ executablePath: chromium, args: ['--no-sandbox'] });
  try {
    const pages = new Map<string, Page>();
    for (const site of [north, south]) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(links.get(site.name)!);
      pages.set(site.name, page);
    }
    const northPage = pages.get('north')!;
    await northPage.waitForFunction("document.getElementById('live')?.textContent === 'live'");
    assert.equal(await northPage.textContent('[data-testid=site]'), 'north');
    assert.match((await northPage.textContent('[data-testid=members]')) ?? '', /south\s*up/);
    assert.ok(!northPage.url().includes('token='), 'the page takes the token out of the address bar');

    for (const [site, body] of [[north, 'a + b + 0'], [south, 'b + a']] as const) {
      assert.equal(acu(site, ['hooks', 'install']).status, 0);
      await writeFile(join(site.dir, 'src/math.ts'), original.replace('a + b', body));
      const commit = git(site, ['commit', '-q', '-am', `add: ${body}`]);
      assert.equal(commit.status, 0, commit.stderr);
    }
    // The page updates itself: the conflict appears without a reload, with both sides' text.
    // (Between two rounds no conflict is open for an instant, so the text is read as one snapshot.)
    const shown = await northPage.waitForFunction(
      "(() => { const t = document.querySelector('[data-testid=conflicts]')?.textContent ?? ''; return t.includes('return a + b + 0;') && t.includes('return b + a;') && t; })()",
      undefined, { timeout: 120_000 },
    );
    const conflictText = String(await shown.jsonValue());
    assert.match(conflictText, /src\/math\.ts/);
    assert.ok(conflictText.includes('return a + b + 0;') && conflictText.includes('return b + a;'), `both sides' text side by side: ${conflictText}`);
    assert.match(conflictText, /this site: waiting for a person/);
    // ACU_PAGE_SCREENSHOTS=<dir>: the pictures of docs/operations.md (nothing is written otherwise).
    const shots = process.env.ACU_PAGE_SCREENSHOTS;
    if (shots !== undefined) await northPage.screenshot({ path: join(shots, 'status-page-conflict.png'), fullPage: true });

    // Nobody without the token votes: no buttons on a page opened without it, and the API refuses.
    const reader = await browser.newPage();
    await reader.goto(links.get('north')!.replace(/#.*$/, ''));
    await reader.waitForFunction("document.querySelectorAll('[data-conflict]').length > 0");
    assert.equal(await reader.locator('[data-conflict] button').count(), 0);
    const refused = await reader.evaluate<number>("fetch('/api/vote', { method: 'POST', body: JSON.stringify({ conflict: '0.0', choice: 'keep-a' }) }).then((r) => r.status)");
    assert.equal(refused, 403);

    // Each site's operator votes keep-a from its own page.
    // Read while a round has it open (between two rounds none is, for an instant); its id and
    // sides stay the same from round to round.
    let open: OpenConflict | undefined;
    await until('north shows the conflict open', async () => {
      open = (await nodeStatus(north))?.conflicts[0];
      return open !== undefined;
    });
    assert.ok(open !== undefined);
    for (const page of pages.values()) {
      await page.click('[data-conflict] button[data-choice=keep-a]');
      await page.waitForFunction(`document.querySelector('[data-testid=vote-result]')?.textContent === 'voted keep-a on ${open.id}'`);
    }
    await until('north agreed the height', async () => ((await nodeStatus(north))?.agreed.height ?? -1) >= 0);
    // The page shows the agreed commit without a reload.
    await northPage.waitForFunction("(document.querySelector('[data-testid=recent]')?.textContent ?? '').includes('src/math.ts')");
    if (shots !== undefined) await northPage.screenshot({ path: join(shots, 'status-page-agreed.png'), fullPage: true });

    const log = acu(north, ['log', '--json']);
    assert.equal(log.status, 0, log.stderr);
    const entries = JSON.parse(log.stdout) as LogEntry[];
    const decided = entries.find((entry) => entry.applied.some((a) => a.where.startsWith('src/math.ts')))!;
    assert.ok(decided !== undefined, `acu log shows the decision: ${log.stdout}`);
    assert.deepEqual(decided.applied.filter((a) => a.where.startsWith('src/math.ts')).map((a) => a.site), [open.aSite], 'side a, as voted, is applied');
    assert.deepEqual(decided.deferred.map((a) => a.site), [open.bSite], 'side b is deferred');
  } finally {
    await browser.close();
  }
  for (const node of nodes) assert.equal(await stopNode(node), 0);
});
