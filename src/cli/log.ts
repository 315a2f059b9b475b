/**
 * `acu log [<ref>] [-n N] [--json]` — the cluster's agreed commits, newest first: for each decision
 * its height and round, the ACUs it applied, the ones it deferred or rejected and why, per
 * conflict who chose what, and the members whose FINAL signatures certify it. It reads local refs only (refs/acu/<branch> and the
 * notes on refs/notes/acu); `acu verify` is what checks those signatures.
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import type { ClusterDoc } from '../store/cluster.js';
import { clusterSizes, readCluster } from '../store/cluster.js';
import { agreedTip, readAgreedChain } from '../sync/agreed.js';
import type { AgreedEntry, AgreedNote, NoteAcu, NoteVote } from '../sync/agreed.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';
import { paint } from './io.js';

/** Parsed options of `acu log`. */
export interface LogOptions {
  /** The revision to start from; null: the cluster's agreed ref. */
  readonly ref: string | null;
  /** The newest this many decisions; null: all of them. */
  readonly maxCount: number | null;
  readonly json: boolean;
}

/** One ACU of a decision, as `acu log --json` prints it. */
export interface LogAcu {
  readonly id: string;
  readonly where: string;
  readonly op: string;
  readonly commit: string;
  readonly site: string;
  /** Why it was deferred or rejected; absent for an applied ACU. */
  readonly reason?: string;
}

/** One member that signed a decision. */
export interface LogSigner {
  readonly id: string;
  /** The member's site in the cluster document; null when the document does not list the node. */
  readonly site: string | null;
}

/** One agreed commit, as `acu log --json` prints it. */
export interface LogEntry {
  readonly commit: string;
  /** Null (with `problem`) when the commit has no readable note. */
  readonly height: number | null;
  readonly round: number | null;
  readonly valueId: string | null;
  readonly applied: readonly LogAcu[];
  readonly deferred: readonly LogAcu[];
  readonly rejected: readonly LogAcu[];
  readonly signers: readonly LogSigner[];
  readonly problem: string | null;
  /** The scoring backend the cluster document named for this decision (null: an older note). */
  readonly scoring: string | null;
  /** Per conflict, the tally the resolution came from (empty: no conflicts, or an older note). */
  readonly votes: readonly LogVote[];
}

/** How one conflict was resolved, and who chose what. */
export interface LogVote {
  readonly conflict: string;
  /** Where each side changes (`file#symbol`), and its record id. */
  readonly a: string;
  readonly b: string;
  readonly resolution: string;
  /** Each choice made, with the members that made it (choices nobody made are left out). */
  readonly tally: readonly { readonly choice: string; readonly members: readonly LogSigner[] }[];
}

const usageHint = "run 'acu log --help' for its usage";

function parse(argv: readonly string[]): LogOptions {
  const { values, positionals } = parseCommandArgs('log', argv, {
    'max-count': { type: 'string', short: 'n' },
    json: { type: 'boolean' },
  });
  if (positionals.length > 1) throw new AcuError('ERR_USAGE', `log: unexpected argument '${positionals[1] ?? ''}'`, { hint: usageHint });
  return { ref: positionals[0] ?? null, maxCount: parseCount('log', 'max-count', values['max-count']) ?? null, json: values.json === true };
}

/** The cluster document of the repository's work tree (a bare repository has none to read). */
export async function clusterOfRepo(repo: GitRepo, command: string): Promise<ClusterDoc> {
  if (repo.workTree === null) {
    throw new AcuError('ERR_CONFIG', `${command}: the cluster document (.acu/cluster.json) lives in a work tree, and this repository is bare`, {
      hint: `run 'acu ${command}' in a clone with a work tree`,
    });
  }
  return await readCluster(repo.workTree);
}

/** The commit to start from: the named revision, or the tip of the cluster's agreed ref. */
export async function startCommit(repo: GitRepo, cluster: ClusterDoc, ref: string | null): Promise<string> {
  return ref === null ? await agreedTip(repo, cluster.branch) : await repo.resolveCommit(ref);
}

async function run(options: LogOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const cluster = await clusterOfRepo(repo, 'log');
    const tip = await startCommit(repo, cluster, options.ref);
    const chain = await readAgreedChain(repo, tip, options.maxCount ?? undefined);
    const entries = chain.map((entry) => logEntryOf(entry, cluster));
    if (options.json) {
      io.stdout(`${JSON.stringify(entries, null, 2)}\n`);
      return ExitCode.ok;
    }
    const { n } = clusterSizes(cluster);
    io.stdout(entries.map((entry) => renderEntry(io, entry, n)).join('\n'));
    return ExitCode.ok;
  } finally {
    await repo.close();
  }
}

/** The log's view of one agreed commit: records resolved by id, signers with their sites. */
export function logEntryOf({ commit, note, noteProblem }: AgreedEntry, cluster: ClusterDoc): LogEntry {
  if (note === null) {
    return { commit, height: null, round: null, valueId: null, applied: [], deferred: [], rejected: [], signers: [], problem: noteProblem, scoring: null, votes: [] };
  }
  const sites = new Map(cluster.members.map((member) => [member.id, member.site]));
  return {
    commit, height: note.height, round: note.round, valueId: note.valueId,
    applied: note.applied.map((id) => logAcu(note, id, null)),
    deferred: note.deferred.map(({ id, reason }) => logAcu(note, id, reason)),
    rejected: note.rejected.map(({ id, reason }) => logAcu(note, id, reason)),
    signers: note.signers.map((id) => ({ id, site: sites.get(id) ?? null })),
    problem: null,
    scoring: note.scoring ?? null,
    votes: (note.votes ?? []).map((vote) => logVote(note, vote, sites)),
  };
}

/** Choices in the order the tally breaks ties (docs/protocol.md L18), then any other. */
const choiceOrder = ['defer_both', 'keep_a', 'keep_b', 'keep_both'];

function logVote(note: AgreedNote, vote: NoteVote, sites: ReadonlyMap<string, string>): LogVote {
  const whereOf = (id: string): string => note.acus.find((acu) => acu.id === id)?.where ?? `(unknown record ${id.slice(0, 12)})`;
  const made = [...new Set(vote.choices.map((one) => one.choice))];
  made.sort((x, y) => (choiceOrder.indexOf(x) + 1 || choiceOrder.length + 1) - (choiceOrder.indexOf(y) + 1 || choiceOrder.length + 1));
  const tally = made.map((choice) => ({
    choice, members: vote.choices.filter((one) => one.choice === choice).map((one) => ({ id: one.node, site: sites.get(one.node) ?? null })),
  }));
  return { conflict: vote.conflict, a: whereOf(vote.a), b: whereOf(vote.b), resolution: vote.resolution, tally };
}

function logAcu(note: AgreedNote, id: string, reason: string | null): LogAcu {
  const known: NoteAcu | undefined = note.acus.find((acu) => acu.id === id);
  // A record id the note does not describe: show the id, so nothing disappears from the log.
  const base = known ?? { id, where: `(unknown record ${id.slice(0, 12)})`, op: '?', commit: '', site: '' };
  return reason === null ? { ...base } : { ...base, reason };
}

type Colors = ReturnType<typeof paint>;

const opMarks: Readonly<Record<string, string>> = { add: '+', modify: '~', remove: '-', move: '>' };

/** Human output for one agreed commit, git-log style. */
function renderEntry(io: Io, entry: LogEntry, members: number): string {
  const c = paint(io);
  const head = c.yellow(`agreed ${entry.commit}`);
  if (entry.height === null) return `${head}\n  ${c.red(entry.problem ?? 'no note')}\n`;
  const lines = [`${head}  ${c.bold(`height ${entry.height}`)}, round ${entry.round ?? 0}`];
  if (entry.applied.length === 0) lines.push(c.dim('  applied   (nothing)'));
  for (const acu of entry.applied) lines.push(`  applied   ${describeAcu(c, acu)}`);
  for (const acu of entry.deferred) lines.push(`  ${c.yellow('deferred')}  ${describeAcu(c, acu)}`);
  for (const acu of entry.rejected) lines.push(`  ${c.red('rejected')}  ${describeAcu(c, acu)}`);
  for (const vote of entry.votes) {
    const tally = vote.tally.map((t) => `${t.choice} ${t.members.length} (${t.members.map((m) => m.site ?? m.id).join(', ')})`).join(', ');
    lines.push(`  ${c.yellow(`conflict ${vote.conflict}`)}  ${vote.a} vs ${vote.b}: ${c.bold(vote.resolution)} by ${tally}`);
  }
  const signers = entry.signers.map((s) => `${s.id} (${s.site ?? 'not a member'})`).join(', ');
  lines.push(`  signed by ${entry.signers.length} of ${members}: ${signers === '' ? '(nobody)' : signers}`);
  return `${lines.join('\n')}\n`;
}

function describeAcu(c: Colors, acu: LogAcu): string {
  const op = `${opMarks[acu.op] ?? '?'} ${acu.op.padEnd(6)}`;
  const origin = acu.commit === '' ? '' : c.dim(`  from ${acu.commit.slice(0, 12)} (${acu.site})`);
  const reason = acu.reason === undefined ? '' : `: ${acu.reason}`;
  return `${op} ${acu.where}${origin}${reason}`;
}

/** The `acu log` command. */
export const logCommand: Command<LogOptions> = {
  name: 'log',
  usage: 'log [<ref>] [-n <count>] [--json]',
  summary: "show the cluster's agreed commits: what each decision applied, deferred or rejected, and who signed",
  help: `Lists the agreed commits on refs/acu/<branch> (the branch of .acu/cluster.json), newest first:
height and round, the ACUs applied (where, op, origin commit and site), those deferred or
rejected with the reason, per conflict the resolution and which member chose what (the leader's
quorum of votes, as the certificate carries it), and the members whose FINAL signatures certify
the decision.
It reads local refs only; 'acu verify' checks the signatures.

  <ref>              start from this revision instead of refs/acu/<branch>
  -n, --max-count N  the newest N decisions only
  --json             print a JSON array: [{commit, height, round, valueId, applied, deferred,
                     rejected, signers: [{id, site}], problem, scoring, votes: [{conflict, a, b,
                     resolution, tally: [{choice, members: [{id, site}]}]}]}]`,
  parse,
  run,
};
