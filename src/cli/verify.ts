/**
 * `acu verify [<ref>] [--json]` — check, offline, every certificate from the agreed tip back to
 * height 0 against the public keys of the cluster document: a quorum of valid FINAL signatures
 * from distinct members for each note's value, heights that count down by one, and values that
 * extend each other back to genesis. Exit 0 when every certificate holds, 1 when any does not
 * (a negative answer, as `git verify-commit` gives).
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { notesFromRef, verifyChain } from '../sync/verify-chain.js';
import type { VerifyFinding } from '../sync/verify-chain.js';
import type { Command } from './command.js';
import { parseCommandArgs } from './command.js';
import type { Io } from './io.js';
import { paint } from './io.js';
import { clusterOfRepo, startCommit } from './log.js';

/** Parsed options of `acu verify`. */
export interface VerifyOptions {
  /** The revision to start from; null: the cluster's agreed ref. */
  readonly ref: string | null;
  readonly json: boolean;
  /** Check only the commits after this one (exclusive), which must all be agreed commits. */
  readonly since: string | null;
}

function parse(argv: readonly string[]): VerifyOptions {
  const { values, positionals } = parseCommandArgs('verify', argv, { json: { type: 'boolean' }, since: { type: 'string' } });
  if (positionals.length > 1) {
    throw new AcuError('ERR_USAGE', `verify: unexpected argument '${positionals[1] ?? ''}'`, { hint: "run 'acu verify --help' for its usage" });
  }
  return { ref: positionals[0] ?? null, json: values.json === true, since: typeof values.since === 'string' ? values.since : null };
}

async function run(options: VerifyOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const cluster = await clusterOfRepo(repo, 'verify');
    const tip = await startCommit(repo, cluster, options.ref);
    const since = options.since === null ? null : await repo.revParseCommit(options.since);
    if (options.since !== null && since === null) {
      throw new AcuError('ERR_UNKNOWN_REVISION', `verify: '${options.since}' does not name a commit`, { hint: 'pass the commit the protected branch was at before (CI: the previous tip)' });
    }
    const findings = await verifyChain(repo, tip, { notes: notesFromRef(repo), stopAt: since });
    const ok = findings.every((finding) => finding.ok);
    if (options.json) io.stdout(`${JSON.stringify({ ok, commits: findings }, null, 2)}\n`);
    else io.stdout(renderFindings(io, findings));
    return ok ? ExitCode.ok : ExitCode.negative;
  } finally {
    await repo.close();
  }
}

/** One line per agreed commit, then the summary line. */
export function renderFindings(io: Io, findings: readonly VerifyFinding[]): string {
  const c = paint(io);
  const lines = findings.map((finding) => {
    const height = finding.height === null ? 'height ?' : `height ${finding.height}`;
    const head = `${finding.commit.slice(0, 12)} ${height}`;
    return finding.ok ? `${c.green('ok')}   ${head}` : `${c.red('FAIL')} ${head}: ${finding.problems.join('; ')}`;
  });
  lines.push(summaryLine(findings));
  return `${lines.join('\n')}\n`;
}

/** `verified N agreed commits: all certificates valid`, or the number of problems found. */
export function summaryLine(findings: readonly VerifyFinding[]): string {
  const commits = `${findings.length} agreed commit${findings.length === 1 ? '' : 's'}`;
  const problems = findings.reduce((total, finding) => total + finding.problems.length, 0);
  if (problems === 0) return `verified ${commits}: all certificates valid`;
  return `verified ${commits}: ${problems} problem${problems === 1 ? '' : 's'}`;
}

/** The `acu verify` command. */
export const verifyCommand: Command<VerifyOptions> = {
  name: 'verify',
  usage: 'verify [<ref>] [--since <commit>] [--json]',
  summary: "check every agreed commit's certificate against the cluster's public keys (offline)",
  help: `Walks the agreed commits from refs/acu/<branch> (or <ref>) back to height 0 and checks each
certificate against the membership in force at the commit's parent (the .acu/cluster.json of the
parent's tree, never the work tree): a quorum of valid FINAL signatures from distinct members for
the note's value; the certified value names this very commit (so its tree, parent and message are
what the cluster agreed on); heights count down by one, each value extending the previous one.
Prints one line per commit and a summary; exits 0 when every certificate is valid, 1 otherwise.

  <ref>              start from this revision instead of refs/acu/<branch>
  --since <commit>   check only the commits after <commit>; every one must be an agreed commit
                     (a CI step: 'acu verify origin/main --since <previous tip>')
  --json             print {ok, commits: [{commit, height, ok, problems}]}`,
  parse,
  run,
};
