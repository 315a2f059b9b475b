/**
 * The status page's view of a real sync node (its status and votes from the running node, the
 * latest agreed commits read from its repository the way `acu log` reads them), and serving the
 * page on the node's `--http` listener.
 */
import { rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Acu } from '../core/acu/index.js';
import { logEntryOf } from '../cli/log.js';
import { GitRepo } from '../git/index.js';
import { agreedRef, readAgreedChain } from '../sync/agreed.js';
import type { SyncNode } from '../sync/node.js';
import type { OpsServer } from './http.js';
import { ensurePageToken, pageTokenPath, StatusPage } from './page.js';
import type { ConflictSideText, PageSource } from './page.js';

/** Lines of a file-level change the page shows, at most. */
const fileChangeLinesMax = 200;

/** The page source of `node`, reading agreed commits from `repo` (the node's repository). */
export function nodePageSource(node: SyncNode, repo: GitRepo): PageSource {
  return {
    status: () => node.status(),
    roundVotes: () => node.roundVotes(),
    vote: (conflict, choice) => node.vote(conflict, choice),
    conflictSides: (id) => {
      const held = node.conflictAcus(id);
      if (held === null) return null;
      const side = (s: { readonly acu: Acu; readonly site: string } | null): ConflictSideText =>
        s === null ? { where: '(not held by this node)', site: '', before: null, after: null } : sideText(s.acu, s.site);
      return { a: side(held.a), b: side(held.b) };
    },
    agreed: async (limit) => {
      const cluster = node.cluster();
      const tip = await repo.revParseCommit(agreedRef(cluster.branch));
      if (tip === null) return [];
      return (await readAgreedChain(repo, tip, limit)).map((entry) => logEntryOf(entry, cluster));
    },
  };
}

/** What one side of a conflict changed, as text. */
export function sideText(acu: Acu, site: string): ConflictSideText {
  if (acu.level === 'decl') {
    return { where: acu.symbol === '' ? acu.file : `${acu.file}#${acu.symbol}`, site, before: acu.before, after: acu.after };
  }
  if (acu.hunks !== null) {
    const lines: string[] = [];
    for (const hunk of acu.hunks) {
      lines.push(`@@ line ${hunk.beforeStart + 1} @@`);
      for (const line of hunk.beforeLines) lines.push(`-${line.replace(/\r?\n$/, '')}`);
      for (const line of hunk.afterLines) lines.push(`+${line.replace(/\r?\n$/, '')}`);
    }
    const shown = lines.length > fileChangeLinesMax ? [...lines.slice(0, fileChangeLinesMax), `(${lines.length - fileChangeLinesMax} more lines)`] : lines;
    return { where: acu.file, site, before: null, after: shown.join('\n') };
  }
  const after = acu.op === 'remove' ? null : acu.content === 'text' || acu.content === 'symlink' ? acu.data : `(${acu.content} content ${acu.afterOid ?? ''})`;
  return { where: acu.file, site, before: null, after };
}

/** Where a node serving a page writes its URL, so `acu node page` can print the operator's link. */
export function pageUrlPath(gitCommonDir: string): string {
  return `${gitCommonDir}/acu/page-url`;
}

/**
 * Serve the status page for `node` on `server` (the node's `--http` listener): the operator's
 * token is read or made, the page's URL written beside it. The returned page takes the node's
 * events (its timeline and live updates) and is closed when the node stops.
 */
export async function serveStatusPage(node: SyncNode, server: OpsServer, cwd: string): Promise<{ readonly page: StatusPage; close(): Promise<void> }> {
  const repo = await GitRepo.open(cwd);
  const token = await ensurePageToken(pageTokenPath(repo.commonDir));
  const page = new StatusPage(nodePageSource(node, repo), token);
  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (!(await page.handle(request, response))) response.writeHead(404).end();
  };
  server.route('/', handler);
  server.route('/api/state', handler);
  server.route('/api/events', handler);
  server.route('/api/vote', { methods: ['POST'], handler });
  await writeFile(pageUrlPath(repo.commonDir), `${server.url}/\n`, { mode: 0o600 });
  return {
    page,
    close: async () => {
      page.close();
      await rm(pageUrlPath(repo.commonDir), { force: true });
      await repo.close();
    },
  };
}
