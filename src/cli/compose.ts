/**
 * `acu compose <base> <ours> <theirs> [--write-ref <ref>] [--json]`
 *
 * Composes the changes of two commits onto their base and prints a summary: ACUs per side, how
 * many commuted, how many were the same on both sides, and the conflicts by symbol path. With
 * `--write-ref`, writes the composed tree as a merge commit (parents ours, theirs) to the ref.
 */
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { AcuError } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import type { Signature } from '../git/index.js';
import { composeTrees } from '../compose/tree.js';
import type { TreeComposition } from '../compose/tree.js';
import type { Command } from './command.js';
import { parseCommandArgs } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu compose`. */
export interface ComposeOptions {
  readonly base: string;
  readonly ours: string;
  readonly theirs: string;
  readonly writeRef: string | null;
  readonly json: boolean;
}

const help = `Compose the changes of <ours> and <theirs> (commits) onto <base>: changes to different
declarations commute, identical changes count once, a declaration changed differently on both
sides is merged by lines, then inside the declaration, and otherwise reported as a conflict.

  --write-ref <ref>   write the result as a commit with parents <ours> <theirs> to <ref>
                      (also when it holds conflicts: the files then carry conflict markers)
  --json              one JSON document instead of the summary

Exit status: 0 clean, 1 when there are conflicts.`;

function parse(argv: readonly string[]): ComposeOptions {
  const { values, positionals } = parseCommandArgs('compose', argv, {
    'write-ref': { type: 'string' },
    json: { type: 'boolean' },
  });
  const [base, ours, theirs] = positionals;
  if (base === undefined || ours === undefined || theirs === undefined || positionals.length !== 3) {
    throw new AcuError('ERR_USAGE', 'compose: expected <base> <ours> <theirs>', { hint: "run 'acu compose --help' for its usage" });
  }
  return { base, ours, theirs, writeRef: values['write-ref'] ?? null, json: values.json === true };
}

function signatureOf(name: string, email: string, isoDate: string): Signature {
  const match = /([+-])(\d\d):(\d\d)$/.exec(isoDate);
  const offsetMinutes = match === null ? 0 : (match[1] === '-' ? 1 : -1) * (Number(match[2]) * 60 + Number(match[3]));
  return { name, email, timestamp: Math.floor(Date.parse(isoDate) / 1000), timezoneOffset: offsetMinutes };
}

async function run(options: ComposeOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const [base, ours, theirs] = await Promise.all([repo.resolveCommit(options.base), repo.resolveCommit(options.ours), repo.resolveCommit(options.theirs)]);
    const result = await composeTrees(repo, { base, ours, theirs });
    let written: string | null = null;
    if (options.writeRef !== null) {
      const [baseInfo, oursInfo, theirsInfo] = await Promise.all([repo.commitInfo(base), repo.commitInfo(ours), repo.commitInfo(theirs)]);
      const tree = await repo.writeTreeFromPaths(baseInfo.tree, result.changes);
      // Ours' author and committer: the same inputs give the same commit id.
      const author = signatureOf(oursInfo.authorName, oursInfo.authorEmail, oursInfo.authorDate);
      const committer = signatureOf(oursInfo.committerName, oursInfo.committerEmail, oursInfo.committerDate);
      const message = `Compose ${theirsInfo.oid.slice(0, 12)} onto ${oursInfo.oid.slice(0, 12)}\n`;
      written = await repo.writeCommit({ tree, parents: [ours, theirs], message, author, committer });
      await repo.updateRef(options.writeRef, written);
    }
    io.stdout(options.json ? `${JSON.stringify(toJson(result, written))}\n` : render(result, written, options.writeRef));
    return result.conflicts.length > 0 ? ExitCode.negative : ExitCode.ok;
  } finally {
    await repo.close();
  }
}

function toJson(result: TreeComposition, commit: string | null): unknown {
  return {
    version: 1,
    acus: result.counts,
    mergedFiles: result.mergedFiles,
    conflicts: result.conflicts.map(({ file, conflict }) => ({ file, symbol: conflict.path, kind: conflict.kind })),
    commit,
  };
}

function render(result: TreeComposition, commit: string | null, ref: string | null): string {
  const { ours, theirs, deduplicated, commuted } = result.counts;
  const lines = [
    `ACUs: ours ${ours}, theirs ${theirs}; commuted ${commuted}, deduplicated ${deduplicated}`,
    `files changed on both sides: ${result.mergedFiles}`,
    `conflicts: ${result.conflicts.length}`,
  ];
  for (const { file, conflict } of result.conflicts) lines.push(`  ${conflict.kind.padEnd(14)} ${file}${conflict.path === '' ? '' : `#${conflict.path}`}`);
  if (commit !== null && ref !== null) lines.push(`wrote ${commit} to ${ref}`);
  return `${lines.join('\n')}\n`;
}

/** The `acu compose` command. */
export const composeCommand: Command<ComposeOptions> = {
  name: 'compose',
  usage: 'compose <base> <ours> <theirs> [--write-ref <ref>] [--json]',
  summary: 'compose two commits onto their merge base, declaration by declaration',
  help,
  parse,
  run,
};
