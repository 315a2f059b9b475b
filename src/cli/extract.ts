/**
 * `acu extract [<rev> | <range>] [--all] [-n <count>] [--json] [--check] [-- <path>...]`
 *
 * Prints each commit's ACUs grouped by file and symbol, or as stable JSON; `--check` applies them
 * back to the parent and compares with the commit, ending with
 * `checked N commits, M ACUs, F round-trip failures` (exit 1 when F > 0).
 */
import { SingleBar } from 'cli-progress';
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import type { Acu, DeclAcu, FileAcu, IdentifiedAcu } from '../core/acu/model.js';
import { GitRepo } from '../git/index.js';
import { ParseCache } from '../extract/cache.js';
import { extractCommits, listRange } from '../extract/range.js';
import { defaultJobs, extractWorkersMax } from '../extract/pool.js';
import type { ExtractedCommit } from '../extract/range.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';
import { paint } from './io.js';

/** Parsed options of `acu extract`. */
export interface ExtractOptions {
  readonly revs: string[];
  readonly all: boolean;
  readonly maxCount: number | undefined;
  readonly json: boolean;
  readonly check: boolean;
  readonly paths: string[];
  /** Worker threads; undefined: one per core for long ranges, none for a few commits. */
  readonly jobs: number | undefined;
}

/** Below this many commits, starting workers (each loads the TypeScript parser) costs more than it saves. */
const poolMinCommits = 64;

const help = `Split commits into atomic change units (ACUs): one import, function, class header, method,
property, interface member, type alias, enum member or statement per unit; other files as whole
files with line hunks.

  <rev>            one commit (default HEAD)
  <range>          A..B, or several revisions as git takes them (B ^A)
  --all            walk every ref
  -n, --max-count  at most this many commits, the newest
  --json           stable machine-readable output (one JSON document)
  --check          apply the ACUs back to each parent and compare with the commit; prints
                   'checked N commits, M ACUs, F round-trip failures' and exits 1 if F > 0
  -j, --jobs       worker threads (default: one per core for 64 commits or more)
  -- <path>...     only these paths`;

function parse(argv: readonly string[]): ExtractOptions {
  const { values, positionals, afterDashDash } = parseCommandArgs('extract', argv, {
    all: { type: 'boolean' },
    'max-count': { type: 'string', short: 'n' },
    json: { type: 'boolean' },
    check: { type: 'boolean' },
    jobs: { type: 'string', short: 'j' },
  });
  const jobs = parseCount('extract', 'jobs', values.jobs);
  if (jobs !== undefined && (jobs < 1 || jobs > extractWorkersMax)) {
    throw new AcuError('ERR_USAGE', `extract: --jobs must be between 1 and ${extractWorkersMax}`, { hint: "run 'acu extract --help' for its usage" });
  }
  return {
    revs: positionals,
    all: values.all === true,
    maxCount: parseCount('extract', 'max-count', values['max-count']),
    json: values.json === true,
    check: values.check === true,
    paths: afterDashDash,
    jobs,
  };
}

async function run(options: ExtractOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const commits = await listRange(repo, { revs: options.revs, all: options.all, maxCount: options.maxCount, paths: options.paths });
    const bar = commits.length > 1 && io.stderrIsTty ? new SingleBar({ format: 'extract [{bar}] {value}/{total} commits {eta_formatted}', stream: process.stderr, hideCursor: true }) : null;
    bar?.start(commits.length, 0);
    const totals = { commits: 0, acus: 0, failures: 0 };
    const json = options.json ? new JsonWriter(io) : null;
    try {
      const cache = new ParseCache();
      const jobs = options.jobs ?? (commits.length >= poolMinCommits ? defaultJobs() : 1);
      for await (const commit of extractCommits(repo, commits, { revs: [], check: options.check, cache, paths: options.paths, jobs })) {
        totals.commits += 1;
        totals.acus += commit.acus.length;
        if (commit.failures.length > 0) totals.failures += 1;
        if (json !== null) json.commit(commit, options.check);
        else if (options.check) reportFailures(io, commit);
        else io.stdout(renderCommit(io, commit));
        bar?.increment();
      }
    } finally {
      bar?.stop();
    }
    json?.end(totals, options.check);
    if (options.check) {
      const line = `checked ${totals.commits} commits, ${totals.acus} ACUs, ${totals.failures} round-trip failures\n`;
      if (json === null) io.stdout(line);
      else io.stderr(line);
      return totals.failures > 0 ? ExitCode.negative : ExitCode.ok;
    }
    return ExitCode.ok;
  } finally {
    await repo.close();
  }
}

function reportFailures(io: Io, commit: ExtractedCommit): void {
  if (commit.failures.length === 0) return;
  io.stdout(`round-trip failure in ${commit.commit}:\n`);
  for (const failure of commit.failures) io.stdout(`  ${failure}\n`);
}

/** Streams one JSON document: `{"version":1,"commits":[...],"summary":{...}}`. */
class JsonWriter {
  private first = true;

  constructor(private readonly io: Io) {
    io.stdout('{"version":1,"commits":[');
  }

  commit(commit: ExtractedCommit, check: boolean): void {
    const value = {
      commit: commit.commit,
      parent: commit.parent,
      merge: commit.merge,
      subject: commit.info.subject,
      acus: commit.acus.map(({ id, acu }) => ({ id, ...acu })),
      ...(check ? { failures: commit.failures } : {}),
    };
    this.io.stdout(`${this.first ? '' : ','}\n${JSON.stringify(value)}`);
    this.first = false;
  }

  end(totals: { commits: number; acus: number; failures: number }, check: boolean): void {
    const summary = check ? totals : { commits: totals.commits, acus: totals.acus };
    this.io.stdout(`\n],"summary":${JSON.stringify(summary)}}\n`);
  }
}

const opMarks: Record<Acu['op'], string> = { add: '+', modify: '~', remove: '-', move: '>' };

/** Human output for one commit, grouped by file then symbol. */
export function renderCommit(io: Io, commit: ExtractedCommit): string {
  const c = paint(io);
  const lines: string[] = [];
  const merge = commit.merge ? c.dim(' (merge: against its first parent)') : '';
  lines.push(`${c.yellow(`commit ${commit.commit}`)}${merge}`, `    ${commit.info.subject}`);
  if (commit.acus.length === 0) lines.push(c.dim('  (no changes)'));
  const byFile = new Map<string, IdentifiedAcu[]>();
  for (const item of commit.acus) byFile.set(item.acu.file, [...(byFile.get(item.acu.file) ?? []), item]);
  for (const [file, items] of byFile) {
    lines.push(`  ${c.bold(file)}`);
    for (const { acu } of items) lines.push(`    ${describeAcu(c, acu)}`);
  }
  return `${lines.join('\n')}\n\n`;
}

type Colors = ReturnType<typeof paint>;

function colorOp(c: Colors, op: Acu['op']): string {
  const text = `${opMarks[op]} ${op.padEnd(6)}`;
  if (op === 'add') return c.green(text);
  if (op === 'remove') return c.red(text);
  if (op === 'move') return c.cyan(text);
  return c.yellow(text);
}

function describeAcu(c: Colors, acu: Acu): string {
  return acu.level === 'decl' ? describeDecl(c, acu) : describeFile(c, acu);
}

function describeDecl(c: Colors, acu: DeclAcu): string {
  const symbol = acu.symbol === '' ? '(module head/tail)' : acu.symbol;
  const notes: string[] = [];
  if (acu.op === 'add' || acu.op === 'move') notes.push(acu.anchor === null ? 'first' : `after ${acu.anchor}`);
  if (acu.flags.includes('format-only')) notes.push('format only');
  const note = notes.length === 0 ? '' : c.dim(`  (${notes.join(', ')})`);
  return `${colorOp(c, acu.op)} ${symbol}${note}`;
}

function describeFile(c: Colors, acu: FileAcu): string {
  const notes: string[] = [acu.content];
  if (acu.op === 'move' && acu.fromFile !== null) notes.push(`from ${acu.fromFile}`);
  if (acu.modeBefore !== null && acu.modeAfter !== null && acu.modeBefore !== acu.modeAfter) notes.push(`mode ${acu.modeBefore} -> ${acu.modeAfter}`);
  if (acu.hunks !== null) {
    const added = acu.hunks.reduce((n, h) => n + h.afterLines.length, 0);
    const removed = acu.hunks.reduce((n, h) => n + h.beforeLines.length, 0);
    notes.push(`${acu.hunks.length} hunks (+${added} -${removed})`);
  }
  if (acu.reason !== null) notes.push(`whole file: ${acu.reason}`);
  return `${colorOp(c, acu.op)} ${c.dim('file')}  ${c.dim(notes.join(', '))}`;
}

/** The `acu extract` command. */
export const extractCommand: Command<ExtractOptions> = {
  name: 'extract',
  usage: 'extract [<rev> | <range>] [--all] [-n <count>] [--json] [--check] [-j <jobs>] [-- <path>...]',
  summary: 'split commits into atomic change units (ACUs); --check verifies the round trip',
  help,
  parse,
  run,
};
