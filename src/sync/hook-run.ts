/**
 * What acu's hooks do when git runs them. Each is bounded in time: post-commit always succeeds;
 * pre-push blocks only on a definite, explained policy failure (an uncertified commit, a
 * certificate that does not hold, a cluster document it cannot read); pre-receive, the server's
 * gate, refuses whatever it cannot show was certified. The consensus and verification code is
 * loaded only by the hooks that need it, so post-commit starts fast.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { commitOf, countCommitsText, hasRefMatching, headInfo, isAncestorOf, objectExists } from '../git/hook-queries.js';
import type { HeadInfo } from '../git/hook-queries.js';
import type { GitRepo } from '../git/index.js';
import type { ClusterDoc } from '../store/cluster.js';
import { enqueueCommit } from '../store/outbox.js';
import type { ConcurrentEdit } from './node-types.js';
import type { VerifyFinding } from './verify-chain.js';

/** Where a hook writes its messages (git shows a hook's stderr to the user). */
export interface HookIo {
  readonly stderr: (text: string) => void;
}

/** The post-commit hook's time budget: it must return well inside the 200 ms a commit may wait. */
export const postCommitBudgetMs = 150;

/** The pre-push hook's budget for its local checks; past it the push goes ahead, with a warning. */
export const prePushBudgetMs = 10_000;

/** The socket the local sync node listens on for the CLI and hooks. */
export function nodeSocketPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'node.sock');
}

/** What the node answered a poke with: the concurrent edits of the commit just queued. */
interface PokeAnswer {
  readonly concurrent: readonly ConcurrentEdit[];
}

/**
 * Tell the local node there is work, naming the commit just queued; false when no node listens,
 * 'late' when none took the connection within the budget. The node answers once it has taken the
 * commit, with the concurrent edits its ACUs are part of; the hook waits for that only within its
 * budget (a node still extracting the commit then answers nothing, and the warning is left to its
 * timeline and `acu status`).
 */
function poke(socketPath: string, commit: string, late: Promise<'late'>): Promise<PokeAnswer | false | 'late'> {
  return new Promise((done) => {
    const socket = createConnection(socketPath);
    let buffered = '';
    const finish = (answer: PokeAnswer | false | 'late'): void => {
      socket.destroy();
      done(answer);
    };
    let connected = false;
    // Past the budget the hook goes on without the answer: a node that took the connection has the
    // poke (and takes the commit), it only had no time to say whether another site edits the same.
    void late.then(() => finish(connected ? { concurrent: [] } : 'late'));
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify({ type: 'poke', commit })}\n`);
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) finish(pokeAnswerOf(buffered.slice(0, newline)));
    });
    // Connected and then closed without an answer: an older node that takes the poke and says nothing.
    socket.once('close', () => finish({ concurrent: [] }));
    socket.once('error', () => finish(false));
  });
}

/** The concurrent edits of a poke's answer line (none when the line is not what a node sends). */
function pokeAnswerOf(line: string): PokeAnswer {
  try {
    const answer = JSON.parse(line) as { ok?: unknown; result?: { concurrent?: unknown } };
    const concurrent = answer.ok === true ? answer.result?.concurrent : undefined;
    return { concurrent: Array.isArray(concurrent) ? (concurrent as ConcurrentEdit[]) : [] };
  } catch {
    return { concurrent: [] };
  }
}

/**
 * The one line post-commit prints for a commit that edits a declaration another site has a pending
 * change to: the other site, its author and the declaration (null: no overlap, or none readable).
 */
export function concurrentEditLine(commit: string, overlaps: readonly ConcurrentEdit[]): string | null {
  for (const overlap of overlaps) {
    const mine = overlap.edits.find((edit) => edit.commit === commit);
    const other = overlap.edits.findLast((edit) => mine !== undefined && edit.site !== mine.site);
    if (mine === undefined || other === undefined || typeof other.author !== 'string' || typeof overlap.declaration !== 'string') continue;
    const more = overlaps.length > 1 ? ` (and ${overlaps.length - 1} more declaration${overlaps.length === 2 ? '' : 's'}; see 'acu status')` : '';
    return `acu: warning: ${other.site} (${other.author}) also has a pending change to ${overlap.declaration}, commit ${other.commit.slice(0, 12)}: expect a conflict to vote on${more}\n`;
  }
  return null;
}

/**
 * The post-commit budget in force: {@link postCommitBudgetMs}, or `ACU_HOOK_BUDGET_MS` (at most
 * {@link postCommitWriteMsMax}) where a slow machine, or a test on a loaded one, needs the node's answer.
 */
function budgetMs(): number {
  const value = Number(process.env.ACU_HOOK_BUDGET_MS);
  return Number.isSafeInteger(value) && value > 0 ? Math.min(value, postCommitWriteMsMax) : postCommitBudgetMs;
}

/**
 * How long post-commit waits for its outbox write to become durable before it gives up on it. Far
 * past the budget, on purpose: the hook's process exits when it returns, and a write still in
 * flight then is lost, with the commit (the node could not take it). A slow commit is the lesser
 * harm; this only bounds a disk that hangs.
 */
export const postCommitWriteMsMax = 5_000;

/** Resolves 'late' after `ms`; `cancel` clears the timer so the process can exit at once. */
function deadline(ms: number): { promise: Promise<'late'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'late'>((done) => {
    timer = setTimeout(() => done('late'), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Read HEAD and append it to the outbox, durably; null when HEAD cannot be read. */
async function queueHead(cwd: string, seen: { commit: string | null }): Promise<HeadInfo | null> {
  const head = await headInfo(cwd);
  if (head === null) return null;
  seen.commit = head.commit;
  await enqueueCommit(head.commonDir, { v: 1, type: 'commit', commit: head.commit, branch: head.branch, queuedAtMs: Date.now() });
  return head;
}

/**
 * post-commit: queue HEAD for the node and poke it. Never fails. It returns (and prints) only once
 * the outbox record is durable or has definitely failed, so what it prints is true; the poke and
 * the count get what is left of {@link postCommitBudgetMs}.
 */
export async function runPostCommit(cwd: string, io: HookIo): Promise<void> {
  // The poke gets what is left of the budget: a node that is not running refuses the connection
  // at once; one that is busy may take a while, and still finds the outbox entry on its next scan.
  const budget = deadline(budgetMs());
  const cap = deadline(postCommitWriteMsMax);
  const seen: { commit: string | null } = { commit: null };
  const queued = await Promise.race([queueHead(cwd, seen), cap.promise]).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  cap.cancel();
  if (queued === null) {
    budget.cancel();
    io.stderr('acu: could not read HEAD; nothing queued (the commit itself is fine)\n');
    return;
  }
  if (queued === 'late' || queued instanceof Error) {
    budget.cancel();
    const why = queued === 'late' ? `the outbox write did not finish within ${postCommitWriteMsMax / 1000} s` : `the outbox write failed (${queued.message})`;
    io.stderr(`acu: ${why}, so this commit may not be queued (the commit itself is fine); run 'acu propose ${seen.commit ?? 'HEAD'}' once the disk is fixed\n`);
    return;
  }
  const short = queued.commit.slice(0, 12);
  // A node that misses this poke still takes the record on its next scan, start or poke.
  const told = await poke(nodeSocketPath(queued.commonDir), queued.commit, budget.promise).catch(() => 'late' as const);
  budget.cancel();
  if (told !== false && told !== 'late') {
    io.stderr(`acu: proposed ${short} to the sync node\n`);
    const warning = concurrentEditLine(queued.commit, told.concurrent);
    if (warning !== null) io.stderr(warning);
  } else if (told === false) io.stderr(`acu: queued ${short} for the sync node; no node is running, so it waits in the outbox\n`);
  else io.stderr(`acu: queued ${short} for the sync node (it is busy; it takes the commit from the outbox)\n`);
}

/** One line of pre-push's stdin: `<local ref> <local sha> <remote ref> <remote sha>`. */
interface PushedRef {
  readonly localSha: string;
  readonly remoteRef: string;
  readonly remoteSha: string;
}

function parsePushed(stdin: string): PushedRef[] {
  return stdin
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 4)
    .map(([, localSha, remoteRef, remoteSha]) => ({ localSha: localSha!, remoteRef: remoteRef!, remoteSha: remoteSha! }));
}

const isZeroOid = (oid: string): boolean => /^0+$/.test(oid);

/**
 * pre-push: refuse to push the protected branch to a commit the cluster has not certified (one not
 * contained in `refs/acu/<branch>`, or one whose certificate does not hold), and refuse every push
 * while the cluster document cannot be read. Returns the exit code. Local checks only.
 */
export async function runPrePush(cwd: string, stdin: string, io: HookIo): Promise<0 | 1> {
  const budget = deadline(prePushBudgetMs);
  const outcome = await Promise.race([checkPush(cwd, stdin), budget.promise]);
  budget.cancel();
  if (outcome === 'late') {
    io.stderr('acu: the certification check took too long; the push goes ahead unchecked\n');
    return 0;
  }
  if (outcome !== null) io.stderr(outcome);
  return outcome === null ? 0 : 1;
}

/** The cluster document pre-push goes by, or why it cannot tell; `none`: not an acu repository. */
type ClusterFound = { readonly kind: 'found'; readonly cluster: ClusterDoc } | { readonly kind: 'none' } | { readonly kind: 'unreadable'; readonly problem: string };

/**
 * The work tree's cluster document. Missing, it is still an acu repository when HEAD holds the
 * document or the repository has agreed refs or certificate notes: then the push is refused rather
 * than let through unchecked (a deleted or broken document must not switch the check off).
 */
async function pushCluster(cwd: string, workTree: string): Promise<ClusterFound> {
  const raw = await readFile(join(workTree, '.acu', 'cluster.json'), 'utf8').catch(() => null);
  if (raw !== null) {
    // Loaded here, not at the top: post-commit never reads the cluster document, and the module
    // brings the identity and quorum code with it.
    const { parseCluster } = await import('../store/cluster.js');
    try {
      return { kind: 'found', cluster: parseCluster(raw, '.acu/cluster.json') };
    } catch (error) {
      return { kind: 'unreadable', problem: error instanceof Error ? error.message : String(error) };
    }
  }
  const inHead = await objectExists(cwd, 'HEAD:.acu/cluster.json');
  const acuRefs = await hasRefMatching(cwd, ['refs/acu/', 'refs/notes/acu']);
  if (inHead || acuRefs) {
    return { kind: 'unreadable', problem: '.acu/cluster.json is missing from the work tree' };
  }
  return { kind: 'none' };
}

/** Null when the push may go ahead; else the message that explains why not. */
async function checkPush(cwd: string, stdin: string): Promise<string | null> {
  const head = await headInfo(cwd);
  if (head?.workTree == null) return null;
  const found = await pushCluster(cwd, head.workTree);
  if (found.kind === 'none') return null;
  if (found.kind === 'unreadable') {
    return `error: refusing to push: the acu cluster document cannot be read (${found.problem}), so acu cannot tell which branch it protects\n`
      + "hint: restore it ('git checkout HEAD -- .acu/cluster.json') and push again\n";
  }
  const cluster = found.cluster;
  const protectedRef = `refs/heads/${cluster.branch}`;
  const certifiedRef = `refs/acu/${cluster.branch}`;
  for (const pushed of parsePushed(stdin)) {
    if (pushed.remoteRef !== protectedRef) continue;
    if (isZeroOid(pushed.localSha)) {
      return `error: refusing to delete ${cluster.branch}: the acu cluster protects it\nhint: the cluster document .acu/cluster.json names the protected branch\n`;
    }
    const tip = await commitOf(cwd, certifiedRef);
    if (tip === null) {
      return `error: refusing to push ${cluster.branch}: the acu cluster has certified nothing yet (${certifiedRef} does not exist)\nhint: agreed commits appear on ${certifiedRef} once the sync nodes agree; push that ref then\n`;
    }
    if (!(await isAncestorOf(cwd, pushed.localSha, tip))) {
      const n = await countCommitsText(cwd, { from: tip, to: pushed.localSha });
      return `error: refusing to push ${cluster.branch}: ${n} commit${n === '1' ? ' is' : 's are'} not certified by the acu cluster\nhint: push what the cluster agreed on ('git push <remote> ${certifiedRef}:${protectedRef}'), or wait for the cluster to agree\n`;
    }
    const refusal = await certificateRefusal(cwd, head.commonDir, cluster.branch, pushed);
    if (refusal !== null) return refusal;
  }
  return null;
}

/**
 * Check the certificates of the commits a push adds to the protected branch: the same check as
 * `acu verify --since` and the server's gate. Only new commits are walked: the walk stops at the
 * remote's tip, or at the tip this hook last found valid, whichever is nearer; a commit once
 * verified stays verified (its certificate binds its content, and its parent's membership is in
 * history), so pushing an already-checked range costs a few git calls.
 */
async function certificateRefusal(cwd: string, commonDir: string, branch: string, pushed: PushedRef): Promise<string | null> {
  const [{ GitRepo }, { notesFromRef, verifyChain }] = await Promise.all([import('../git/index.js'), import('./verify-chain.js')]);
  const repo = await GitRepo.open(cwd);
  try {
    const verified = await readVerifiedTips(commonDir);
    const stopAt = await nearestAncestor(repo, pushed.localSha, [pushed.remoteSha, verified[branch] ?? '']);
    if (stopAt === pushed.localSha) return null;
    const findings = await verifyChain(repo, pushed.localSha, { notes: notesFromRef(repo), stopAt });
    const bad: VerifyFinding[] = [];
    for (const finding of findings) if (!finding.ok && !(await beforeTheCluster(repo, finding))) bad.push(finding);
    if (bad.length === 0) {
      await writeVerifiedTip(commonDir, branch, pushed.localSha).catch(() => undefined); // Only a cache: losing it costs time.
      return null;
    }
    const first = bad[bad.length - 1]!;
    const what = `${bad.length} of ${findings.length} commit${findings.length === 1 ? '' : 's'} pushed`;
    return `error: refusing to push ${branch}: ${what} do not carry a valid acu certificate; first: ${first.commit.slice(0, 12)}${first.height === null ? '' : ` (height ${first.height})`}: ${first.problems.join('; ')}\n`
      + `hint: run 'acu verify ${pushed.localSha.slice(0, 12)}' to see every problem; push only what the sync nodes agreed and certified\n`;
  } finally {
    await repo.close();
  }
}

/**
 * Commits before the cluster existed carry no certificate: a commit without a note whose parent
 * holds no cluster document (or that has no parent) is history below the chain, or the genesis.
 */
async function beforeTheCluster(repo: GitRepo, finding: VerifyFinding): Promise<boolean> {
  if (finding.problems.length !== 1 || !finding.problems[0]!.startsWith('no certificate note')) return false;
  const parent = (await repo.commitInfo(finding.commit)).parents[0];
  return parent === undefined || (await repo.blobAtPath(parent, '.acu/cluster.json')) === null;
}

/** Of `candidates`, the nearest one that is `tip` or an ancestor of it (null: none is). */
async function nearestAncestor(repo: GitRepo, tip: string, candidates: readonly string[]): Promise<string | null> {
  let best: string | null = null;
  for (const candidate of candidates) {
    if (!/^[0-9a-f]{40,64}$/.test(candidate) || isZeroOid(candidate)) continue;
    if ((await repo.revParseCommit(candidate)) === null) continue; // Not here: a remote tip we never fetched.
    if (!(await repo.isAncestor(candidate, tip))) continue;
    if (best === null || (await repo.isAncestor(best, candidate))) best = candidate;
  }
  return best;
}

/** Where pre-push remembers, per protected branch, the last tip whose certificates it found valid. */
function verifiedTipsPath(commonDir: string): string {
  return join(commonDir, 'acu', 'pre-push-verified.json');
}

async function readVerifiedTips(commonDir: string): Promise<Record<string, string>> {
  const raw = await readFile(verifiedTipsPath(commonDir), 'utf8').catch(() => '{}');
  try {
    const value = JSON.parse(raw) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    return {};
  }
}

async function writeVerifiedTip(commonDir: string, branch: string, commit: string): Promise<void> {
  const path = verifiedTipsPath(commonDir);
  const tips = { ...(await readVerifiedTips(commonDir)), [branch]: commit };
  await mkdir(join(commonDir, 'acu'), { recursive: true });
  // Written whole and renamed into place, so a reader never sees half a file.
  await writeFile(`${path}.${process.pid}.tmp`, `${JSON.stringify(tips)}\n`);
  await rename(`${path}.${process.pid}.tmp`, path);
}

/**
 * The server's gate has a budget too, but fails closed: past it nothing is accepted (the pusher
 * can push fewer commits at once), because an unchecked push here would land uncertified work.
 */
export const preReceiveBudgetMs = 120_000;

/**
 * pre-receive (`acu hooks install --server`): check every ref update of a push with the gate
 * (gate.ts) and print each refusal as `error:`/`hint:` lines, which git shows the pusher. Returns
 * 1 when any update is refused (git then refuses the whole push), else 0. git runs it with the
 * pushed objects in quarantine; the git processes acu starts inherit the quarantine's object
 * directories (exec.ts), so the new commits and a pushed notes commit are readable.
 */
export async function runPreReceive(cwd: string, stdin: string, io: HookIo): Promise<0 | 1> {
  const [{ GitRepo }, { checkRefUpdates, parseRefUpdates }] = await Promise.all([import('../git/index.js'), import('./gate.js')]);
  const updates = parseRefUpdates(stdin);
  const repo = await GitRepo.open(cwd);
  const budget = deadline(preReceiveBudgetMs);
  try {
    const verdicts = await Promise.race([checkRefUpdates(repo, updates), budget.promise]);
    if (verdicts === 'late') {
      io.stderr(`error: acu: the certificate check did not finish within ${preReceiveBudgetMs / 1000} s; nothing was accepted\nhint: push fewer commits at once\n`);
      return 1;
    }
    let refused = 0;
    for (const verdict of verdicts) {
      if (verdict.ok) {
        if (verdict.message !== '') io.stderr(`acu: ${verdict.message}\n`);
        continue;
      }
      refused += 1;
      io.stderr(`error: ${verdict.message}\n`);
      if (verdict.hint !== '') io.stderr(`hint: ${verdict.hint}\n`);
    }
    return refused === 0 ? 0 : 1;
  } finally {
    budget.cancel();
    await repo.close();
  }
}
