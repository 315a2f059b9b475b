/**
 * What acu's hooks do when git runs them. Both are bounded in time and never make git unusable:
 * post-commit always succeeds; pre-push blocks only on a definite, explained policy failure.
 */
import { createConnection } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { runGitRaw } from '../git/exec.js';
import { readCluster } from '../store/cluster.js';
import { enqueueCommit, readOutbox } from '../store/outbox.js';

/** Where a hook writes its messages (git shows a hook's stderr to the user). */
export interface HookIo {
  readonly stderr: (text: string) => void;
}

/** The post-commit hook's time budget: it must return well inside the 200 ms a commit may wait. */
export const postCommitBudgetMs = 150;

/** How long the post-commit hook waits for the local node to take a poke. */
const pokeTimeoutMs = 50;

/** The pre-push hook's budget for its local checks; past it the push goes ahead, with a warning. */
export const prePushBudgetMs = 10_000;

/** The socket the local sync node listens on for the CLI and hooks. */
export function nodeSocketPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'acu', 'node.sock');
}

interface HeadInfo {
  readonly commonDir: string;
  readonly workTree: string | null;
  readonly commit: string;
  readonly branch: string | null;
}

/** One git call for everything the hooks need about HEAD. */
async function headInfo(cwd: string): Promise<HeadInfo | null> {
  const result = await runGitRaw(['rev-parse', '--git-common-dir', '--show-toplevel', 'HEAD', '--symbolic-full-name', 'HEAD'], { cwd, gitDir: null });
  const lines = result.stdout.toString('utf8').split('\n');
  if (result.exitCode !== 0 || lines.length < 4) return null;
  const [commonDir, workTree, commit, ref] = lines as [string, string, string, string];
  return {
    commonDir: isAbsolute(commonDir) ? commonDir : resolve(cwd, commonDir),
    workTree: workTree === '' ? null : workTree,
    commit,
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null,
  };
}

/** Tell the local node there is work; false when no node listens. */
function poke(socketPath: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection(socketPath);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), pokeTimeoutMs);
    socket.once('connect', () => socket.end('{"type":"poke"}\n', () => finish(true)));
    socket.once('error', () => finish(false));
  });
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
  const budget = deadline(postCommitBudgetMs);
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
  // A node that misses this poke still takes the record on its next start or poke.
  const told = await Promise.race([Promise.all([poke(nodeSocketPath(queued.commonDir)), readOutbox(queued.commonDir)]), budget.promise]).catch(() => 'late' as const);
  budget.cancel();
  if (told === 'late') {
    io.stderr(`acu: queued ${short} for the sync node\n`);
    return;
  }
  const [running, outbox] = told;
  if (running) io.stderr(`acu: proposed ${short} to the sync node\n`);
  else io.stderr(`acu: queued ${short} for the sync node (${outbox.records.length} in the outbox); no node is running, so it waits there\n`);
}

/** One line of pre-push's stdin: `<local ref> <local sha> <remote ref> <remote sha>`. */
interface PushedRef {
  readonly localSha: string;
  readonly remoteRef: string;
}

function parsePushed(stdin: string): PushedRef[] {
  return stdin
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 4)
    .map(([, localSha, remoteRef]) => ({ localSha: localSha!, remoteRef: remoteRef! }));
}

/**
 * pre-push: refuse to push the protected branch to a commit the cluster has not certified (one not
 * contained in `refs/acu/<branch>`). Returns the exit code. Local checks only.
 */
export async function runPrePush(cwd: string, stdin: string, io: HookIo): Promise<0 | 1> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<'late'>((done) => {
    timer = setTimeout(() => done('late'), prePushBudgetMs);
  });
  const outcome = await Promise.race([checkPush(cwd, stdin), budget]);
  clearTimeout(timer);
  if (outcome === 'late') {
    io.stderr('acu: the certification check took too long; the push goes ahead unchecked\n');
    return 0;
  }
  if (outcome !== null) io.stderr(outcome);
  return outcome === null ? 0 : 1;
}

/** Null when the push may go ahead; else the message that explains why not. */
async function checkPush(cwd: string, stdin: string): Promise<string | null> {
  const head = await headInfo(cwd);
  if (head?.workTree == null) return null;
  const cluster = await readCluster(head.workTree).catch(() => null);
  if (cluster === null) return null;
  const protectedRef = `refs/heads/${cluster.branch}`;
  const certifiedRef = `refs/acu/${cluster.branch}`;
  for (const pushed of parsePushed(stdin)) {
    if (pushed.remoteRef !== protectedRef) continue;
    if (/^0+$/.test(pushed.localSha)) {
      return `error: refusing to delete ${cluster.branch}: the acu cluster protects it\nhint: the cluster document .acu/cluster.json names the protected branch\n`;
    }
    const certified = await runGitRaw(['rev-parse', '--verify', '--quiet', `${certifiedRef}^{commit}`], { cwd, gitDir: null });
    if (certified.exitCode !== 0) {
      return `error: refusing to push ${cluster.branch}: the acu cluster has certified nothing yet (${certifiedRef} does not exist)\nhint: agreed commits appear on ${certifiedRef} once the sync nodes agree; push that ref then\n`;
    }
    const tip = certified.stdout.toString('utf8').trim();
    const contained = await runGitRaw(['merge-base', '--is-ancestor', pushed.localSha, tip], { cwd, gitDir: null });
    if (contained.exitCode === 0) continue;
    const count = await runGitRaw(['rev-list', '--count', `${tip}..${pushed.localSha}`], { cwd, gitDir: null });
    const n = count.stdout.toString('utf8').trim();
    return `error: refusing to push ${cluster.branch}: ${n} commit${n === '1' ? ' is' : 's are'} not certified by the acu cluster\nhint: push what the cluster agreed on ('git push <remote> ${certifiedRef}:${protectedRef}'), or wait for the cluster to agree\n`;
  }
  return null;
}
