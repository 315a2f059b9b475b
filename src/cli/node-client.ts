/**
 * Commands that talk to the running sync node over its local API: `acu status`, `acu propose`
 * and `acu vote`. They load nothing heavy, so they answer quickly.
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { askNode } from '../sync/api.js';
import type { ApiRequest } from '../sync/api.js';
import { nodeSocketPath } from '../sync/hook-run.js';
import type { NodeStatus } from '../sync/node.js';
import type { Command } from './command.js';
import { parseCommandArgs, refusePositionals } from './command.js';
import type { Io } from './io.js';
import { paint } from './io.js';

async function ask(io: Io, request: ApiRequest): Promise<unknown> {
  const repo = await GitRepo.open(io.cwd);
  const socket = nodeSocketPath(repo.commonDir);
  await repo.close();
  return await askNode(socket, request);
}

/** `acu status` options. */
export interface StatusOptions {
  readonly json: boolean;
}

function ago(ms: number | null): string {
  if (ms === null) return 'never heard from';
  return ms < 1_000 ? `heard ${ms} ms ago` : `heard ${(ms / 1000).toFixed(1)} s ago`;
}

function linksText(links: NonNullable<NodeStatus['links']>): string {
  const how = links.verify === 'pinned' ? 'wss:// TLS 1.3, certificates pinned by the cluster document' : links.verify === 'ca' ? "wss:// TLS 1.3, certificates from the operator's CA" : 'plain ws://';
  return `${how}${links.insecure ? ' (INSECURE: --insecure; nothing on these links is encrypted)' : links.verify === 'none' ? ' (every member on loopback)' : ''}; listening on ${links.listen}`;
}

function printStatus(status: NodeStatus, io: Io): void {
  const c = paint(io);
  const { n, f, quorum, branch } = status.cluster;
  if (status.member === false) {
    io.stdout(`node ${status.id} (${status.site}): ${c.red('removed')} from the cluster at height ${status.membershipHeight}; it no longer proposes or votes (${n} members remain)\n`);
  } else {
    io.stdout(`node ${status.id} (${status.site}), replica ${status.replica} of ${n}; tolerates ${f} faulty, decisions need ${quorum} signatures${status.membershipHeight > 0 ? `; membership in force from height ${status.membershipHeight}` : ''}\n`);
  }
  io.stdout(`branch ${branch}: agreed height ${status.agreed.height}${status.agreed.commit === null ? ' (no agreed commit yet)' : `, refs/acu/${branch} at ${status.agreed.commit.slice(0, 12)}`}\n`);
  io.stdout(`consensus: height ${status.height}, round ${status.round}, phase ${status.phase}, leader ${status.leader}${status.leader === status.id ? ' (this node)' : ''}\n`);
  io.stdout(`validation: ${status.validation}; pending ACUs: ${status.pendingAcus}\n`);
  const scoring = status.scoring ?? null;
  if (scoring !== null) {
    const detail = scoring.detail === '' || scoring.detail === scoring.backend ? '' : ` (${scoring.detail})`;
    io.stdout(`scoring: ${scoring.backend}${detail}; cluster asks for ${scoring.choice}: ${scoring.reason}\n`);
  }
  const failed = status.writeFailure;
  if (failed !== null) {
    io.stdout(`${c.red('write-failed')}: height ${failed.height} (attempt ${failed.attempts}, retrying in ${failed.retryInMs} ms): ${failed.message}\n${failed.hint === null ? '' : `  hint: ${failed.hint}\n`}`);
  }
  const catchUp = status.catchUp ?? null;
  if (catchUp !== null) io.stdout(`catch-up: state transfer from ${catchUp.peer}, height ${catchUp.from} to ${catchUp.to}, ${catchUp.phase}, ${catchUp.bytesReceived}${catchUp.bytesTotal === null ? '' : ` of ${catchUp.bytesTotal}`} bytes\n`);
  if (status.links !== null) io.stdout(`links: ${linksText(status.links)}\n`);
  io.stdout('peers:\n');
  for (const peer of status.peers) {
    const state = peer.connected ? c.green('connected') : c.red('unreachable');
    io.stdout(`  ${peer.id} ${peer.site.padEnd(12)} ${state}, ${ago(peer.lastHeardMsAgo)}\n`);
  }
  if (status.conflicts.length > 0) {
    io.stdout('open conflicts:\n');
    for (const conflict of status.conflicts) {
      io.stdout(`  ${c.yellow(conflict.id)}  a: ${conflict.a} (${conflict.aSite})\n        b: ${conflict.b} (${conflict.bSite})\n        ${conflict.message}\n`);
      io.stdout(`        this node votes: ${conflict.vote ?? "waiting for 'acu vote'"}\n`);
    }
  }
  const concurrent = status.concurrentEdits ?? [];
  if (concurrent.length > 0) {
    io.stdout('concurrent edits (pending on more than one site; expect a conflict):\n');
    for (const overlap of concurrent) {
      io.stdout(`  ${c.yellow(overlap.declaration)}\n`);
      for (const edit of overlap.edits) io.stdout(`        ${edit.site.padEnd(12)} ${edit.author}, commit ${edit.commit.slice(0, 12)}\n`);
    }
  }
  const k = status.counters;
  io.stdout(`counters: ${k.decisions} decisions, ${k.framesIn} frames in, ${k.framesOut} out, ${k.framesRefused} refused, ${k.framesDropped} dropped, ${k.duplicateMessages} duplicates, ${k.evidence} peer faults, ${k.recordsRefused ?? 0} records refused, ${k.transfersRefused ?? 0} transfers refused, ${k.fsyncs} log syncs\n`);
}

/** The `acu status` command. */
export const statusCommand: Command<StatusOptions> = {
  name: 'status',
  usage: 'status [--json]',
  summary: "the sync node's height, round, phase, leader, peers, pending ACUs and open conflicts",
  help: `Asks this repository's running sync node where it stands: the agreed height and commit, the
consensus height, round, phase and leader, the scoring backend its validations use, each peer and
whether it is reachable, the ACUs waiting to be agreed, the declarations that pending ACUs of two
sites change (concurrent edits), and the conflicts open for a vote.

  --json    print the node's status object`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('status', argv, { json: { type: 'boolean' } });
    refusePositionals('status', positionals);
    return { json: values.json === true };
  },
  run: async (options, io) => {
    const status = (await ask(io, { type: 'status' })) as NodeStatus;
    if (options.json) io.stdout(`${JSON.stringify(status)}\n`);
    else printStatus(status, io);
    return ExitCode.ok;
  },
};

/** `acu propose` options. */
export interface ProposeOptions {
  readonly rev: string;
  readonly json: boolean;
}

/** The `acu propose` command. */
export const proposeCommand: Command<ProposeOptions> = {
  name: 'propose',
  usage: 'propose [<rev>] [--json]',
  summary: "hand a commit's ACUs to the sync node (the post-commit hook does this for every commit)",
  help: `Extracts the ACUs of <rev> (default HEAD) against its first parent and hands them to the
running sync node, which sends them to its peers for agreement.

  --json    print {commit, acus}`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('propose', argv, { json: { type: 'boolean' } });
    if (positionals.length > 1) refusePositionals('propose', positionals.slice(1));
    return { rev: positionals[0] ?? 'HEAD', json: values.json === true };
  },
  run: async (options, io) => {
    const result = (await ask(io, { type: 'propose', rev: options.rev })) as { commit: string; acus: number };
    if (options.json) io.stdout(`${JSON.stringify(result)}\n`);
    else if (result.acus === 0) io.stdout(`commit ${result.commit.slice(0, 12)}: nothing new to propose (its ACUs are already known or settled)\n`);
    else io.stdout(`commit ${result.commit.slice(0, 12)}: proposed ${result.acus} ACU${result.acus === 1 ? '' : 's'}\n`);
    return ExitCode.ok;
  },
};

/** `acu vote` options. */
export interface VoteOptions {
  readonly conflict: string;
  readonly choice: string;
  readonly json: boolean;
}

const choices = ['keep-a', 'keep-b', 'keep-both', 'defer'];

/** The `acu vote` command. */
export const voteCommand: Command<VoteOptions> = {
  name: 'vote',
  usage: 'vote <conflict> keep-a|keep-b|keep-both|defer [--json]',
  summary: "a person's vote on an open conflict (the node's policy votes after a timeout)",
  help: `Records your choice for a conflict the cluster is voting on ('acu status' lists open
conflicts and their ids, such as 3.0). The choice is kept in the node's log; with the vote policy
(git config acu.policy vote) the node waits for it, up to acu.voteTimeoutTicks, before its
fallback decides. Choices: keep-a, keep-b, keep-both, defer.

  --json    print {conflict, choice, open}`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('vote', argv, { json: { type: 'boolean' } });
    const [conflict, choice, ...extra] = positionals;
    if (conflict === undefined || choice === undefined) {
      throw new AcuError('ERR_USAGE', 'vote: name a conflict and a choice', { hint: `e.g. 'acu vote 3.0 keep-b'; choices: ${choices.join(', ')}` });
    }
    refusePositionals('vote', extra);
    if (!choices.includes(choice)) throw new AcuError('ERR_USAGE', `vote: '${choice}' is not a choice`, { hint: `choose one of ${choices.join(', ')}` });
    return { conflict, choice, json: values.json === true };
  },
  run: async (options, io): Promise<ExitCodeValue> => {
    const result = (await ask(io, { type: 'vote', conflict: options.conflict, choice: options.choice })) as { open: boolean };
    if (options.json) io.stdout(`${JSON.stringify({ conflict: options.conflict, choice: options.choice, open: result.open })}\n`);
    else if (result.open) io.stdout(`voted ${options.choice} on conflict ${options.conflict}\n`);
    else io.stdout(`recorded ${options.choice} for conflict ${options.conflict}; it is not open on this node now, so the vote counts if it opens\n`);
    return ExitCode.ok;
  },
};
