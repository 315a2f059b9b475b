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
import { canonicalBytes, canonicalString } from '../core/acu/canonical.js';
import { nodeIdOf, signBytes, verifyBytes } from './identity.js';
import type { NodeIdentity } from './identity.js';

/** One member of the cluster. */
export interface ClusterMember {
  /** Node id: `n` + 16 hex digits, derived from the public key. */
  readonly id: string;
  /** Raw Ed25519 public key, 64 hex digits. */
  readonly publicKey: string;
  /**
   * Where peers dial its WebSocket endpoint: `wss://host:port` (TLS, the default) or `ws://host:port`
   * (plain: only where every member is on loopback, or with `--insecure`). IPv6 hosts in brackets.
   * Every member of one document uses the same scheme. The node listens here unless told otherwise.
   */
  readonly address: string;
  /**
   * SHA-256 of the member's TLS certificate's SubjectPublicKeyInfo (64 hex digits, as `acu init`
   * prints it): peers accept its certificate by this pin, with no certificate authority. Needed
   * for `wss://` addresses unless the nodes use an operator's PKI (`--tls-ca`).
   */
  readonly tlsPin?: string;
  /** A human name for its site (`paris`, `ci-east`). */
  readonly site: string;
  /** Site priority for the site-priority conflict policy: lower wins. */
  readonly priority: number;
  /**
   * Proof of possession: the member's Ed25519 signature (128 hex digits) over
   * {@link memberProofBytes} for this branch, id, key and address. Required when a change agreed
   * by the cluster brings in a key (a new member, or a rotated key); the genesis document, which
   * is the trust root, needs none.
   */
  readonly proof?: string;
}

/** The cluster document. */
export interface ClusterDoc {
  readonly version: 1;
  /** The branch the cluster agrees on (agreed commits go to `refs/acu/<branch>`). */
  readonly branch: string;
  /** Members, sorted by id. */
  readonly members: readonly ClusterMember[];
  /**
   * The scoring backend every node of the cluster validates with: `auto` (the default), a backend
   * name (`js-bitset`, `wasm-popcount`, `gpujs`, `cpu-reference`) or `gpujs:<mode>`. Backends score
   * bit for bit the same, so this changes speed only. A node reads it when it starts.
   */
  readonly scoring?: string;
}

/**
 * The scoring backends a document may name in `"scoring"`. Checked here, with the rest of the
 * document, so that no agreed change can name one a node would refuse at its next start; the
 * backends themselves live above this layer (src/validate/scoring/select.ts), and a test keeps the
 * two lists equal.
 */
export const clusterScoringChoices: readonly string[] = [
  'auto', 'cpu-reference', 'js-bitset', 'wasm-popcount', 'gpujs',
  ...['gpu', 'headlessgl', 'webgl', 'webgl2', 'webgpu', 'webasm', 'cpu'].map((mode) => `gpujs:${mode}`),
];

/** Where the document lives in a tree (and so in every agreed commit). */
export const clusterDocPath = '.acu/cluster.json';

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
  if (doc.scoring !== undefined && !clusterScoringChoices.includes(doc.scoring as string)) {
    issues.push(`scoring: ${JSON.stringify(doc.scoring)} is not a scoring backend; choose one of auto, cpu-reference, js-bitset, wasm-popcount, gpujs or gpujs:<mode> (gpu, headlessgl, webgl, webgl2, webgpu, webasm, cpu)`);
  }
  if (!Array.isArray(doc.members) || doc.members.length === 0 || doc.members.length > clusterMembersMax) {
    issues.push(`members: a list of 1 to ${clusterMembersMax} members`);
    return issues;
  }
  const seen = new Set<string>();
  doc.members.forEach((m: unknown, i) => issues.push(...memberIssues(m, `members[${i}]`, seen)));
  const schemes = new Set((doc.members as { address?: unknown }[]).map((m) => (typeof m.address === 'string' ? m.address.split(':')[0] : '')));
  if (schemes.size > 1) issues.push('members: every address uses one scheme (all wss://, or all ws://)');
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
  if (typeof m.address !== 'string' || !/^wss?:\/\/[^\s/]+(:\d+)?\/?$/.test(m.address)) issues.push(`${at}.address: wss://host:port or ws://host:port`);
  if (m.tlsPin !== undefined && (typeof m.tlsPin !== 'string' || !/^[0-9a-f]{64}$/.test(m.tlsPin))) issues.push(`${at}.tlsPin: 64 lowercase hex digits (SHA-256 of the certificate's public key)`);
  if (typeof m.site !== 'string' || m.site.length === 0 || m.site.length > 64) issues.push(`${at}.site: a name of 1 to 64 characters`);
  if (!Number.isSafeInteger(m.priority)) issues.push(`${at}.priority: a whole number`);
  if (m.proof !== undefined && (typeof m.proof !== 'string' || !/^[0-9a-f]{128}$/.test(m.proof))) issues.push(`${at}.proof: 128 lowercase hex digits (an Ed25519 signature)`);
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

// ---- membership changes ---------------------------------------------------------------------------

/** Prefix of the statement a member's proof of possession signs; no other acu signature starts so. */
export const memberProofPrefix = 'acu/member-proof/v1\n';

/**
 * The statement a proof of possession signs: {@link memberProofPrefix} followed by the canonical
 * encoding of `{address, branch, id, publicKey}`. Binding the branch and the address keeps a proof
 * made for one cluster (or one place) from being replayed into another.
 */
export function memberProofBytes(branch: string, member: Pick<ClusterMember, 'id' | 'publicKey' | 'address'>): Uint8Array {
  const body = canonicalBytes({ address: member.address, branch, id: member.id, publicKey: member.publicKey });
  const prefix = new TextEncoder().encode(memberProofPrefix);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** Sign the proof of possession for `identity` as a member at `address` of the cluster protecting `branch`. */
export function memberProofOf(identity: NodeIdentity, branch: string, address: string): string {
  return signBytes(identity, memberProofBytes(branch, { id: identity.id, publicKey: identity.publicKey, address }));
}

/** Whether a member entry carries a valid proof of possession of its key. */
export function memberProofHolds(branch: string, member: ClusterMember): boolean {
  if (member.proof === undefined) return false;
  return verifyBytes(member.publicKey, memberProofBytes(branch, member), member.proof);
}

/**
 * Why `afterText`, the cluster document a batch would compose, may not follow `before`, the
 * document in force (empty: it may). The rules every node applies alike (docs/sync.md,
 * "Membership"): it parses as a cluster document (so it keeps at least one member); it protects
 * the same branch; and every key it brings in — a new member or a rotated key — carries a proof
 * of possession. Null `afterText`: the document was deleted.
 */
export function membershipChangeIssues(before: ClusterDoc, afterText: string | null): string[] {
  if (afterText === null) return ['the cluster document may not be deleted'];
  let after: ClusterDoc;
  try {
    after = parseCluster(afterText, '.acu/cluster.json');
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
  const issues: string[] = [];
  if (after.branch !== before.branch) issues.push(`the protected branch may not change (from '${before.branch}' to '${after.branch}')`);
  if (after.members.length < 1) issues.push('a cluster keeps at least one member');
  const keys = new Set(before.members.map((m) => m.publicKey));
  for (const member of after.members) {
    if (keys.has(member.publicKey)) continue;
    if (!memberProofHolds(after.branch, member)) {
      issues.push(`member ${member.id} (${member.site}) brings in a key without a valid proof of possession (see 'acu cluster proof')`);
    }
  }
  return issues;
}

/** Whether two documents name the same membership, field for field (their JSON text may differ). */
export function sameCluster(a: ClusterDoc, b: ClusterDoc): boolean {
  return canonicalString(a) === canonicalString(b);
}
