/**
 * The cluster document, `.acu/cluster.json`, committed to the repository: which sync nodes take part
 * (id, public key, address, site, priority) and which branch they protect. Replica indices are the
 * members' positions sorted by node id, so every node derives the same numbering from the same
 * document.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AcuError } from '../core/errors.js';
import { faultsTolerated, quorumSize } from '../core/consensus/quorum.js';
import { nodeIdOf } from './identity.js';

/** One member of the cluster. */
export interface ClusterMember {
  /** Node id: `n` + 16 hex digits, derived from the public key. */
  readonly id: string;
  /** Raw Ed25519 public key, 64 hex digits. */
  readonly publicKey: string;
  /** Where peers reach its WebSocket endpoint: `ws://host:port`. */
  readonly address: string;
  /** A human name for its site (`paris`, `ci-east`). */
  readonly site: string;
  /** Site priority for the site-priority conflict policy: lower wins. */
  readonly priority: number;
}

/** The cluster document. */
export interface ClusterDoc {
  readonly version: 1;
  /** The branch the cluster agrees on (agreed commits go to `refs/acu/<branch>`). */
  readonly branch: string;
  /** Members, sorted by id. */
  readonly members: readonly ClusterMember[];
}

/** Where the document lives in a work tree. */
export function clusterPath(workTree: string): string {
  return join(workTree, '.acu', 'cluster.json');
}

/** Most members a cluster document may list. */
export const clusterMembersMax = 256;

/** n, f and the quorum of a cluster, for people and for the consensus. */
export function clusterSizes(doc: ClusterDoc): { n: number; f: number; quorum: number } {
  const n = doc.members.length;
  return { n, f: faultsTolerated(n), quorum: quorumSize(n) };
}

/** Issues with a cluster document, each with the path of the offending field. */
export function clusterIssues(value: unknown): string[] {
  const issues: string[] = [];
  if (typeof value !== 'object' || value === null) return ['the document must be a JSON object'];
  const doc = value as Record<string, unknown>;
  if (doc.version !== 1) issues.push(`version: expected 1, got ${JSON.stringify(doc.version)}`);
  if (typeof doc.branch !== 'string' || !/^[A-Za-z0-9._/-]+$/.test(doc.branch) || doc.branch.includes('..')) issues.push('branch: a branch name');
  if (!Array.isArray(doc.members) || doc.members.length === 0 || doc.members.length > clusterMembersMax) {
    issues.push(`members: a list of 1 to ${clusterMembersMax} members`);
    return issues;
  }
  const seen = new Set<string>();
  doc.members.forEach((m: unknown, i) => issues.push(...memberIssues(m, `members[${i}]`, seen)));
  const ids = (doc.members as { id?: unknown }[]).map((m) => String(m.id));
  if (ids.some((id, i) => i > 0 && ids[i - 1]! >= id)) issues.push('members: sorted by id, without repeats');
  return issues;
}

function memberIssues(value: unknown, at: string, seen: Set<string>): string[] {
  if (typeof value !== 'object' || value === null) return [`${at}: an object`];
  const m = value as Record<string, unknown>;
  const issues: string[] = [];
  if (typeof m.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(m.publicKey)) issues.push(`${at}.publicKey: 64 lowercase hex digits`);
  else if (m.id !== nodeIdOf(m.publicKey)) issues.push(`${at}.id: does not match its public key (expected ${nodeIdOf(m.publicKey)})`);
  if (typeof m.address !== 'string' || !/^wss?:\/\/[^\s/]+(:\d+)?\/?$/.test(m.address)) issues.push(`${at}.address: ws://host:port`);
  if (typeof m.site !== 'string' || m.site.length === 0 || m.site.length > 64) issues.push(`${at}.site: a name of 1 to 64 characters`);
  if (!Number.isSafeInteger(m.priority)) issues.push(`${at}.priority: a whole number`);
  if (typeof m.address === 'string') {
    if (seen.has(m.address)) issues.push(`${at}.address: used by another member`);
    seen.add(m.address);
  }
  return issues;
}

/** Read and check the document; ERR_CONFIG names every problem. */
export async function readCluster(workTree: string): Promise<ClusterDoc> {
  const path = clusterPath(workTree);
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch {
    throw new AcuError('ERR_CONFIG', `there is no cluster document at ${path}`, { hint: "create one with 'acu cluster create'" });
  }
  return parseCluster(raw, path);
}

/** Parse and check a cluster document's text; `where` names it in errors (ERR_CONFIG). */
export function parseCluster(raw: string, where: string): ClusterDoc {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new AcuError('ERR_CONFIG', `${where} is not valid JSON`, { hint: 'fix the file, or restore it with git checkout', cause });
  }
  const issues = clusterIssues(value);
  if (issues.length > 0) {
    throw new AcuError('ERR_CONFIG', `${where} is not a valid cluster document: ${issues.join('; ')}`, { hint: "see 'acu cluster --help'", data: { issues } });
  }
  return value as ClusterDoc;
}

/** Write the document (members sorted by id), atomically. */
export async function writeCluster(workTree: string, doc: ClusterDoc): Promise<void> {
  const sorted: ClusterDoc = { ...doc, members: [...doc.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
  const issues = clusterIssues(sorted);
  if (issues.length > 0) throw new AcuError('ERR_CONFIG', `refusing to write an invalid cluster document: ${issues.join('; ')}`);
  const path = clusterPath(workTree);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, `${JSON.stringify(sorted, null, 2)}\n`);
  await rename(temporary, path);
}

/** The document's members in plain words: "4 nodes, tolerates 1 ...". */
export function describeCluster(doc: ClusterDoc): string {
  const { n, f, quorum } = clusterSizes(doc);
  const nodes = n === 1 ? '1 node' : `${n} nodes`;
  const faults = f === 0 ? 'tolerates no faulty node' : `tolerates ${f} faulty node${f === 1 ? '' : 's'} (crashed, cut off, or lying)`;
  const spare = n - (3 * f + 1);
  const advice = f === 0 ? `; ${4 - n} more would tolerate 1` : spare > 0 ? `; ${3 * (f + 1) + 1 - n} more would tolerate ${f + 1}` : '';
  return `${nodes}, protecting branch '${doc.branch}': ${faults}; each decision needs ${quorum} signatures${advice}`;
}
