/**
 * `npm run bench:hooks -- [--commits N]`
 *
 * What acu's client hooks cost a commit and a push, as git runs them. A scratch repository makes N
 * commits and N pushes (each to a new branch of a local bare remote) three times: without hooks,
 * with shims that run a bare `node -e 0` (the floor for any node hook; the same shim text as
 * acu's), and with acu's hooks (`acu hooks install`; no sync node runs, and the repository has no
 * cluster document: post-commit queues the commit, pre-push finds nothing to protect). Per hook:
 * wall from start to exit as git sees it (trace2), CPU per commit or push (git and its hooks);
 * per commit and push: the whole command's wall time. Ends with
 * `bench:hooks commits=N bare_post_commit_p50_ms=... acu_post_commit_p50_ms=... post_commit_ratio=... pre_push_ratio=...`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixtureRepo } from '../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { launcherCommand, shellQuote } from '../src/git/launcher.js';
import { installHooks, shimText } from '../src/sync/hooks.js';
import { costRow, quantile, runGitTraced } from './git-children.js';

type Mode = 'none' | 'bare' | 'acu';

interface ModeResult {
  readonly commitHookMs: number[];
  readonly pushHookMs: number[];
  readonly commitWallMs: number[];
  readonly pushWallMs: number[];
  commitCpuMs: number;
  pushCpuMs: number;
}

async function setUp(mode: Mode): Promise<{ dir: string; remote: string }> {
  const dir = await makeTempDir(`bench-hooks-${mode}`);
  await buildFixtureRepo(dir, { commits: [{ id: 'base', files: { 'a.txt': 'a\n' } }] });
  const remote = `${dir}.remote.git`;
  execFileSync('git', ['init', '-q', '--bare', remote]);
  if (mode === 'acu') await installHooks(dir);
  if (mode === 'bare') {
    // acu's own shims, with acu's command line replaced by a bare node start.
    for (const name of ['post-commit', 'pre-push'] as const) {
      const path = join(dir, '.git', 'hooks', name);
      writeFileSync(path, shimText(name).replace(`${launcherCommand()} hook ${name} "$@"`, `${shellQuote(process.execPath)} -e 0`));
      chmodSync(path, 0o755);
    }
  }
  return { dir, remote };
}

/** One commit and one push in `dir`, added to `into`. */
function measureOnce(dir: string, remote: string, i: number, count: number, into: ModeResult): void {
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' };
  writeFileSync(join(dir, 'a.txt'), `a ${i}\n`);
  execFileSync('git', ['add', 'a.txt'], { cwd: dir, env });
  const commit = runGitTraced(dir, ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', `c${i}`], env, 'hooks/post-commit');
  into.commitHookMs.push(...commit.childMs);
  into.commitWallMs.push(commit.wallMs);
  into.commitCpuMs += commit.cpuMs / count;
  const push = runGitTraced(dir, ['push', '-q', remote, `HEAD:refs/heads/b${i}`], env, 'hooks/pre-push');
  if (push.status !== 0) throw new Error(`push failed: ${push.output}`);
  into.pushHookMs.push(...push.childMs);
  into.pushWallMs.push(push.wallMs);
  into.pushCpuMs += push.cpuMs / count;
}

/** All three configurations, taking turns per commit so that the shared machine's load falls on each alike. */
async function measureAll(count: number): Promise<Record<Mode, ModeResult>> {
  const modes: Mode[] = ['none', 'bare', 'acu'];
  const repos = await Promise.all(modes.map((mode) => setUp(mode)));
  const results = Object.fromEntries(modes.map((mode) => [mode, { commitHookMs: [], pushHookMs: [], commitWallMs: [], pushWallMs: [], commitCpuMs: 0, pushCpuMs: 0 }])) as unknown as Record<Mode, ModeResult>;
  try {
    for (let i = 0; i < count; i += 1) modes.forEach((mode, m) => measureOnce(repos[m]!.dir, repos[m]!.remote, i, count, results[mode]));
  } finally {
    for (const { dir, remote } of repos) {
      await removeTempDir(dir);
      rmSync(remote, { recursive: true, force: true });
    }
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { commits: { type: 'string' } } });
  const count = Number(values.commits ?? 15);
  const { none, bare, acu } = await measureAll(count);
  const bareCommitP50 = quantile(bare.commitHookMs, 0.5);
  const barePushP50 = quantile(bare.pushHookMs, 0.5);
  console.log(`hooks, per run as git runs them (${count} commits and ${count} pushes per configuration; wall: trace2 start-to-exit of the hook; cpu: git and hooks, per command):`);
  console.log(costRow('post-commit: node -e 0 shim', bare.commitHookMs, bare.commitCpuMs, bareCommitP50));
  console.log(costRow('post-commit: acu', acu.commitHookMs, acu.commitCpuMs, bareCommitP50));
  console.log(costRow('pre-push: node -e 0 shim', bare.pushHookMs, bare.pushCpuMs, barePushP50));
  console.log(costRow('pre-push: acu', acu.pushHookMs, acu.pushCpuMs, barePushP50));
  const f = (ms: readonly number[]): string => quantile(ms, 0.5).toFixed(0);
  console.log(`whole commands, p50 wall (cpu): git commit ${f(none.commitWallMs)} ms (${none.commitCpuMs.toFixed(0)}) without hooks, ${f(bare.commitWallMs)} ms (${bare.commitCpuMs.toFixed(0)}) with node -e 0, ${f(acu.commitWallMs)} ms (${acu.commitCpuMs.toFixed(0)}) with acu;`
    + ` git push ${f(none.pushWallMs)} ms (${none.pushCpuMs.toFixed(0)}), ${f(bare.pushWallMs)} ms (${bare.pushCpuMs.toFixed(0)}), ${f(acu.pushWallMs)} ms (${acu.pushCpuMs.toFixed(0)})`);
  const ratio = (a: readonly number[], b: number): string => (quantile(a, 0.5) / b).toFixed(2);
  console.log(`bench:hooks commits=${count} bare_post_commit_p50_ms=${bareCommitP50.toFixed(0)} acu_post_commit_p50_ms=${f(acu.commitHookMs)} post_commit_ratio=${ratio(acu.commitHookMs, bareCommitP50)}`
    + ` bare_pre_push_p50_ms=${barePushP50.toFixed(0)} acu_pre_push_p50_ms=${f(acu.pushHookMs)} pre_push_ratio=${ratio(acu.pushHookMs, barePushP50)}`
    + ` commit_cpu_ms_none=${none.commitCpuMs.toFixed(0)} commit_cpu_ms_acu=${acu.commitCpuMs.toFixed(0)}`);
}

await main();
