/**
 * `acu replay-merges [<repo>] [--limit N] [--seed S] [--json]`
 *
 * Would acu have saved this team its merge conflicts? Replays the two-parent merges of a history,
 * file by file, with acu and with `git merge-file`, and compares both with what was committed.
 */
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { listMergeCommits } from '../git/history.js';
import { MergeFileRunner, equalVerdicts, replayScenario, sampleMerges, scenariosOrSkip, summarize } from '../compose/replay.js';
import type { Group, ReplaySummary, ScenarioOutcome, VerdictCounts } from '../compose/replay.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu replay-merges`. */
export interface ReplayOptions {
  readonly repo: string | null;
  readonly limit: number | undefined;
  readonly seed: number;
  readonly json: boolean;
}

const help = `Replay the two-parent merges of a history: for each file changed on both sides since the merge
base, merge it with acu and with 'git merge-file', and compare each result with the committed one.

Verdicts: exact (equal ignoring blank lines), format (same tokens), reorder (same tokens in another
order), conflict, differ (clean, but not what the human committed), crash. Scenarios where the
human kept one side verbatim are counted apart. Under each table: how many of acu's conflicts its
safeguard made of clean merges (guarded), and how many clean results still have a compiler
diagnostic that no input had (should be 0), and the scenarios whose human merge uses only the
sides' lines (every non-blank line of the human's file, trailing whitespace removed, is a line of
base, ours or theirs) with each tool's clean share and =human share restricted to them.

  <repo>        the repository (default: the current one); bare repositories are fine
  --limit N     replay N merges, sampled with the seed (default: all)
  --seed S      the sampling seed (default 1)
  --json        one JSON document: the summary and every scenario's outcome`;

function parse(argv: readonly string[]): ReplayOptions {
  const { values, positionals } = parseCommandArgs('replay-merges', argv, {
    limit: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    repo: positionals[0] ?? null,
    limit: parseCount('replay-merges', 'limit', values.limit),
    seed: parseCount('replay-merges', 'seed', values.seed) ?? 1,
    json: values.json === true,
  };
}

/** Replay the sampled merges of the repository; the CLI and the benchmark share it. */
export async function replayRepository(
  repoPath: string,
  options: { limit: number | undefined; seed: number; onProgress?: (done: number, total: number) => void },
): Promise<{ summary: ReplaySummary; outcomes: ScenarioOutcome[] }> {
  const repo = await GitRepo.open(repoPath);
  const runner = await MergeFileRunner.create();
  try {
    const merges = sampleMerges(await listMergeCommits(repo), options.limit, options.seed);
    const outcomes: ScenarioOutcome[] = [];
    let skipped = 0;
    for (let i = 0; i < merges.length; i += 1) {
      const scenarios = await scenariosOrSkip(repo, merges[i]!);
      if (scenarios === null) skipped += 1;
      for (const scenario of scenarios ?? []) outcomes.push(await replayScenario(runner, scenario));
      options.onProgress?.(i + 1, merges.length);
    }
    return { summary: { ...summarize(merges.length - skipped, outcomes), skippedMerges: skipped }, outcomes };
  } finally {
    await runner.close();
    await repo.close();
  }
}

async function run(options: ReplayOptions, io: Io): Promise<ExitCodeValue> {
  const path = resolve(io.cwd, options.repo ?? '.');
  const bar = io.stderrIsTty ? new SingleBar({ format: 'replay [{bar}] {value}/{total} merges {eta_formatted}', stream: process.stderr, hideCursor: true }) : null;
  let started = false;
  try {
    const { summary, outcomes } = await replayRepository(path, {
      limit: options.limit,
      seed: options.seed,
      onProgress: (done, total) => {
        if (bar === null) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    });
    bar?.stop();
    if (options.json) io.stdout(`${JSON.stringify({ version: 1, repo: path, seed: options.seed, limit: options.limit ?? null, summary, outcomes })}\n`);
    else io.stdout(renderSummary(summary));
    const crashes = Object.values(summary.groups).reduce((n, g) => n + g.acu.crash, 0);
    return crashes > 0 ? ExitCode.negative : ExitCode.ok;
  } finally {
    if (started) bar?.stop();
  }
}

function pct(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

function equalCount(counts: VerdictCounts): number {
  return equalVerdicts.reduce((n, v) => n + counts[v], 0);
}

function row(tool: string, counts: VerdictCounts, total: number): string {
  const clean = total - counts.conflict - counts.crash;
  const cells = [tool, String(counts.exact), String(counts.format), String(counts.reorder), String(counts.differ), String(counts.conflict), String(counts.crash), pct(clean, total), pct(equalCount(counts), clean)];
  return `  ${cells.map((c, i) => (i === 0 ? c.padEnd(5) : c.padStart(9))).join('')}`;
}

/** The human-readable table. */
export function renderSummary(summary: ReplaySummary): string {
  const titles: Record<Group, string> = {
    'git-conflict': 'git conflicts (human merged both sides)',
    'git-clean': 'git merges cleanly',
    'one-side': 'human kept one side verbatim (apart)',
  };
  const skipped = summary.skippedMerges > 0 ? ` (${summary.skippedMerges} skipped: objects missing from the repository)` : '';
  const lines = [`replayed ${summary.merges} merges, ${summary.scenarios} file scenarios${skipped}`];
  const header = `  ${'tool'.padEnd(5)}${['exact', 'format', 'reorder', 'differ', 'conflict', 'crash', 'clean', '=human'].map((h) => h.padStart(9)).join('')}`;
  for (const group of ['git-conflict', 'git-clean', 'one-side'] as const) {
    const g = summary.groups[group];
    lines.push('', `${titles[group]}: ${g.scenarios} scenarios`, header, row('acu', g.acu, g.scenarios), row('git', g.git, g.scenarios));
    lines.push(`  acu guarded ${g.guarded} (clean merges the safeguard made conflicts, in 'conflict'); clean with a new diagnostic ${g.broken}`);
    const s = g.sidesLines;
    lines.push(
      `  human uses only the sides' lines: ${s.scenarios} scenarios; acu clean ${s.acuClean} (${pct(s.acuClean, s.scenarios)}), =human ${s.acuEqual} (${pct(s.acuEqual, s.acuClean)} of clean); git clean ${s.gitClean}, =human ${s.gitEqual} (${pct(s.gitEqual, s.gitClean)} of clean)`,
    );
  }
  const ms = (s: { p50: number; p95: number; max: number }): string => `p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`;
  lines.push('', `per-file time: acu ${ms(summary.acuMs)}; git merge-file ${ms(summary.gitMs)}`, '');
  lines.push('clean = merged without conflict; =human = share of the clean results equal to the human merge (exact, format or reorder)', '');
  return lines.join('\n');
}

/** The `acu replay-merges` command. */
export const replayMergesCommand: Command<ReplayOptions> = {
  name: 'replay-merges',
  usage: 'replay-merges [<repo>] [--limit N] [--seed S] [--json]',
  summary: "replay a history's merges with acu and git; compare both with the human merges",
  help,
  parse,
  run,
};
