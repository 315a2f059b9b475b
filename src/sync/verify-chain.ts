/**
 * Offline verification of agreed commits, for `acu verify`, pre-push and the server-side gate.
 *
 * Each agreed commit is checked on its own facts: its note's certificate holds a quorum of valid
 * FINAL signatures from the membership in force at the commit's parent (the cluster document in
 * the parent's tree — never the verifier's work tree, so a later commit cannot rewrite who signed
 * an earlier one); the certified value's outcome is the commit itself, which binds its tree,
 * parent, message, author and dates (a certificate copied onto a commit with other content, or
 * replayed from another repository, names another commit); heights count down by one along first
 * parents to height 0, each value extending the one before.
 */
import type { DecisionCert } from '../core/consensus/index.js';
import { genesisParent, isDecisionCert, quorumSize, valueIdOf, verifyMessage } from '../core/consensus/index.js';
import { AssertionFailure } from '../core/errors.js';
import type { GitRepo } from '../git/index.js';
import type { ClusterDoc } from '../store/cluster.js';
import { membershipChangeIssues, parseCluster, sameCluster } from '../store/cluster.js';
import { noteIssue, notesRef } from './agreed.js';
import type { AgreedNote, NoteRead } from './agreed.js';
import { clusterVerifier, sha256Hex } from './crypto.js';

/** Where the cluster document lives in a tree. */
export const clusterDocPath = '.acu/cluster.json';

/** What an offline check of one agreed commit found. */
export interface VerifyFinding {
  readonly commit: string;
  readonly height: number | null;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/** Reads the note of a commit: from the notes ref, or from a notes commit not on a ref yet. */
export type NoteSource = (commit: string) => Promise<NoteRead>;

/**
 * Notes from `refs/notes/acu`, as the ref stands at the first read (one check sees one notes
 * commit), read through the repository's cat-file process: a check of a long chain starts no git
 * process per commit. A note git could not read (a missing or corrupt object) is missing, as
 * `git notes show` would have it.
 */
export function notesFromRef(repo: GitRepo): NoteSource {
  let source: Promise<NoteSource | null> | null = null;
  return async (commit) => {
    source ??= repo.revParseCommit(notesRef).then((tip) => (tip === null ? null : notesFromCommit(repo, tip)));
    const from = await source;
    if (from === null) return { status: 'missing' };
    try {
      return await from(commit);
    } catch (error) {
      if (error instanceof AssertionFailure) throw error;
      return { status: 'missing' };
    }
  };
}

/** Deepest note fan-out git writes (two hex digits per level). */
const noteFanoutLevelsMax = 19;
/**
 * Most note trees one source keeps parsed: the root and, for up to about 65,000 notes (one level
 * of fan-out), every fan-out tree, so a check of a long chain parses each tree once.
 */
const noteTreesKeptMax = 512;

/** A tree's entries by name. */
type TreeByName = ReadonlyMap<string, { readonly mode: string; readonly oid: string }>;

/**
 * Notes from a notes commit that is not on a ref (a push that the server-side gate is checking
 * brings its notes in the same push; they reach the ref only if the gate says yes). Follows git's
 * fan-out: a note for `abcdef…` is at `abcdef…`, `ab/cdef…`, `ab/cd/ef…`, and so on. Trees are
 * named by their content, so those read are kept for the next note.
 */
export function notesFromCommit(repo: GitRepo, notesCommit: string): NoteSource {
  let root: Promise<string> | null = null;
  const trees = new Map<string, Promise<TreeByName>>();
  const entriesOf = (tree: string): Promise<TreeByName> => {
    let found = trees.get(tree);
    if (found === undefined) {
      found = repo.treeEntries(tree).then((entries) => new Map(entries.map((entry) => [entry.name, { mode: entry.mode, oid: entry.oid }])));
      if (trees.size >= noteTreesKeptMax) trees.delete(trees.keys().next().value!);
      trees.set(tree, found);
    }
    return found;
  };
  return async (commit) => {
    root ??= repo.commitInfo(notesCommit).then((info) => info.tree);
    let tree = await root;
    let rest = commit;
    for (let level = 0; level <= noteFanoutLevelsMax; level += 1) {
      const entries = await entriesOf(tree);
      const leaf = entries.get(rest);
      if (leaf !== undefined) return parseNote(await repo.readBlob(leaf.oid));
      const fan = rest.length > 2 ? entries.get(rest.slice(0, 2)) : undefined;
      if (fan === undefined || (fan.mode !== '40000' && fan.mode !== '040000')) break;
      tree = fan.oid;
      rest = rest.slice(2);
    }
    return { status: 'missing' };
  };
}

function parseNote(bytes: Uint8Array): NoteRead {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { status: 'malformed', reason: 'not JSON' };
  }
  const reason = noteIssue(value);
  return reason === null ? { status: 'ok', note: value as AgreedNote } : { status: 'malformed', reason };
}

/**
 * Cluster documents parsed, by the id of their blob: a blob id names its bytes, so a document
 * unchanged across thousands of agreed commits is parsed once, whichever repository it is read
 * from. Only valid documents are kept (a problem names the commit it was found at).
 */
const parsedClusters = new Map<string, ClusterDoc>();
/** Most parsed cluster documents kept (a membership changes rarely; the oldest go first). */
const parsedClustersMax = 256;

/**
 * The cluster document in `commit`'s tree, or why there is none usable. Read through the
 * repository's long-lived cat-file process: a chain check reads it at every agreed commit.
 */
export async function clusterAtCommit(repo: GitRepo, commit: string): Promise<{ cluster: ClusterDoc } | { problem: string }> {
  const blob = await repo.blobEntryAtPath(commit, clusterDocPath);
  if (blob === null) return { problem: `no cluster document (${clusterDocPath}) at ${commit.slice(0, 12)}` };
  return clusterOfBlob(blob, `${commit.slice(0, 12)}:${clusterDocPath}`);
}

/** The cluster document a blob holds (parsed once per blob id), or why it is not a usable one; `label` names it in the problem. */
export function clusterOfBlob(blob: { readonly oid: string; readonly content: Uint8Array }, label: string): { cluster: ClusterDoc } | { problem: string } {
  const known = parsedClusters.get(blob.oid);
  if (known !== undefined) return { cluster: known };
  let cluster: ClusterDoc;
  try {
    cluster = parseCluster(Buffer.from(blob.content).toString('utf8'), label);
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
  // Shared by every reader from now on: frozen, so none can change another's copy.
  for (const member of cluster.members) Object.freeze(member);
  Object.freeze(cluster.members);
  Object.freeze(cluster);
  if (parsedClusters.size >= parsedClustersMax) parsedClusters.delete(parsedClusters.keys().next().value!);
  parsedClusters.set(blob.oid, cluster);
  return { cluster };
}

/** Most agreed commits {@link membershipBefore} walks down (one cat-file request each). */
export const membershipWalkCommitsMax = 65_536;

/**
 * The membership before the one in force at agreed commit `commit`: the cluster document at the
 * parent of the newest agreed commit, at or below `commit`, that changed it (a different document
 * by {@link sameCluster}). A node that restarts knows only the membership in force; this is the one
 * it would have kept when it took up the change, so that records signed under it (a rotated key's,
 * proposed before the rotation) still verify. Walks first parents through agreed commits (those
 * acu wrote) at most {@link membershipWalkCommitsMax}; null when none of them changed it, or the
 * document at either side cannot be read.
 */
export async function membershipBefore(repo: GitRepo, commit: string): Promise<ClusterDoc | null> {
  let at = commit;
  let atDoc = await repo.blobEntryAtPath(at, clusterDocPath);
  for (let walked = 0; walked < membershipWalkCommitsMax && atDoc !== null; walked += 1) {
    const info = await repo.commitInfo(at);
    const parent = info.parents[0];
    if (parent === undefined || info.authorName !== 'acu' || info.authorEmail !== 'acu@cluster') return null;
    const parentDoc = await repo.blobEntryAtPath(parent, clusterDocPath);
    if (parentDoc === null) return null;
    if (parentDoc.oid !== atDoc.oid) {
      const [after, before] = await Promise.all([clusterAtCommit(repo, at), clusterAtCommit(repo, parent)]);
      if (!('cluster' in after) || !('cluster' in before)) return null;
      if (!sameCluster(after.cluster, before.cluster)) return before.cluster;
    }
    at = parent;
    atDoc = parentDoc;
  }
  return null;
}

/** How far and from where a chain is checked. */
export interface ChainCheckOptions {
  readonly notes: NoteSource;
  /**
   * Stop below this commit (exclusive): the commits from `tip` down to it must all be agreed
   * commits, and the first of them must build on it. Null: walk down to height 0.
   */
  readonly stopAt?: string | null;
  /** Most commits walked (a guard against a history that never reaches height 0). */
  readonly commitsMax?: number;
}

/** One agreed commit as the walk met it. */
interface Walked {
  readonly commit: string;
  readonly parents: readonly string[];
  readonly read: NoteRead;
}

/**
 * Check the agreed commits from `tip` down (newest first in the result). With `stopAt`, every
 * commit above it must be an agreed commit; without it, the walk ends at height 0.
 */
export async function verifyChain(repo: GitRepo, tip: string, options: ChainCheckOptions): Promise<VerifyFinding[]> {
  const walked = await walk(repo, tip, options);
  const findings: VerifyFinding[] = [];
  const clusters = new Map<string, Promise<{ cluster: ClusterDoc } | { problem: string }>>();
  const clusterOf = (commit: string): Promise<{ cluster: ClusterDoc } | { problem: string }> => {
    let found = clusters.get(commit);
    if (found === undefined) {
      found = clusterAtCommit(repo, commit);
      clusters.set(commit, found);
    }
    return found;
  };
  // The commit the caller already trusts anchors the walk: the first new commit must extend it.
  const stopAt = options.stopAt ?? null;
  const anchor: Walked | undefined = stopAt === null ? undefined : { commit: stopAt, parents: [], read: await options.notes(stopAt) };
  for (let i = 0; i < walked.length; i += 1) {
    const entry = walked[i]!;
    // An anchor without a note is the genesis: the chain above it starts at height 0.
    findings.push(await checkOne(entry, walked[i + 1] ?? (anchor?.read.status === 'ok' ? anchor : undefined), clusterOf));
  }
  return findings;
}

async function walk(repo: GitRepo, tip: string, options: ChainCheckOptions): Promise<Walked[]> {
  const out: Walked[] = [];
  const commitsMax = options.commitsMax ?? Number.MAX_SAFE_INTEGER;
  let at: string | null = tip;
  while (at !== null && at !== (options.stopAt ?? null) && out.length < commitsMax) {
    const info = await repo.commitInfo(at);
    const read = await options.notes(at);
    out.push({ commit: at, parents: info.parents, read });
    if (options.stopAt == null && read.status === 'ok' && read.note.height === 0) break;
    // Without a readable note, an agreed commit is still told by its author; anything else is
    // where the chain started (the genesis and the history before it).
    if (options.stopAt == null && read.status !== 'ok' && !(info.authorName === 'acu' && info.authorEmail === 'acu@cluster')) {
      if (out.length > 1) out.pop();
      break;
    }
    at = info.parents[0] ?? null;
  }
  return out;
}

async function checkOne(
  entry: Walked,
  older: Walked | undefined,
  clusterOf: (commit: string) => Promise<{ cluster: ClusterDoc } | { problem: string }>,
): Promise<VerifyFinding> {
  const { commit, read } = entry;
  if (read.status !== 'ok') {
    const problem = read.status === 'missing' ? `no certificate note (${notesRef})` : `the certificate note (${notesRef}) is malformed: ${read.reason}`;
    return { commit, height: null, ok: false, problems: [problem] };
  }
  const note = read.note;
  const problems: string[] = [];
  const parent = entry.parents[0];
  if (entry.parents.length !== 1 || parent === undefined) {
    problems.push(`an agreed commit has exactly one parent; this one has ${entry.parents.length}`);
  } else {
    const found = await clusterOf(parent);
    if ('problem' in found) problems.push(`no membership to check it against: ${found.problem}`);
    else {
      problems.push(...certificateProblems(note, found.cluster));
      problems.push(...membershipProblems(found.cluster, await clusterOf(commit)));
    }
    if (note.parent !== parent) problems.push(`the note names parent ${note.parent.slice(0, 12)}, the commit has ${parent.slice(0, 12)}`);
  }
  problems.push(...contentProblems(commit, note));
  problems.push(...linkProblems(note, older, parent));
  return { commit, height: note.height, ok: problems.length === 0, problems };
}

/**
 * An agreed commit that changes the cluster document must change it the way every node's
 * validation allows (docs/sync.md, "Membership"): a valid document, the same branch, a proof of
 * possession for every key it brings in. The certificate alone would not show that the nodes kept
 * the rules: this check does, for whoever verifies the chain later.
 */
function membershipProblems(before: ClusterDoc, after: { cluster: ClusterDoc } | { problem: string }): string[] {
  if ('problem' in after) return [`it leaves no valid cluster document: ${after.problem}`];
  if (sameCluster(before, after.cluster)) return [];
  return membershipChangeIssues(before, JSON.stringify(after.cluster)).map((issue) => `its membership change breaks the rules: ${issue}`);
}

/** The certificate proves the note's value: a quorum of valid FINALs from distinct members. */
function certificateProblems(note: AgreedNote, cluster: ClusterDoc): string[] {
  const problems: string[] = [];
  const cert: DecisionCert = note.cert;
  const digest = { digestHex: sha256Hex };
  const quorum = quorumSize(cluster.members.length);
  if (cert.height !== note.height) problems.push(`the certificate is for height ${cert.height}, the note says ${note.height}`);
  if (valueIdOf(digest, cert.value) !== note.valueId) problems.push('the note names another value than its certificate');
  const verifier = clusterVerifier(cluster);
  const badSignatures = cert.finals.filter((f) => !verifyMessage(verifier, f)).map((f) => f.from);
  if (badSignatures.length > 0) problems.push(`invalid signatures from replicas ${badSignatures.join(', ')}`);
  else if (!isDecisionCert(cert, quorum, digest)) problems.push(`fewer than ${quorum} matching FINAL signatures from distinct members`);
  return problems;
}

/** The certified outcome is this very commit: same tree, parent, message, author and dates. */
function contentProblems(commit: string, note: AgreedNote): string[] {
  const problems: string[] = [];
  const certified = note.cert.value.outcome;
  if (certified !== commit) {
    problems.push(`its tree, parent or message is not what the certificate certifies (the certificate is for commit ${certified.slice(0, 12)})`);
  }
  const batchIds = new Set(note.cert.value.batch.acuIds);
  if (note.applied.some((id) => !batchIds.has(id))) problems.push('applies a record outside the certified batch');
  return problems;
}

/**
 * Heights count down by one to a height 0 that starts from genesis; each value extends the one
 * before. `older` is the agreed commit below, or the trusted anchor; none: the chain starts here.
 */
function linkProblems(note: AgreedNote, older: Walked | undefined, parent: string | undefined): string[] {
  const valueParent = note.cert.value.batch.parent;
  if (older !== undefined && older.read.status === 'ok') {
    const problems: string[] = [];
    if (older.commit !== parent) problems.push(`does not build on the agreed commit below it (${older.commit.slice(0, 12)})`);
    if (older.read.note.height !== note.height - 1) problems.push(`follows height ${older.read.note.height}, not ${note.height - 1}`);
    if (valueParent !== older.read.note.valueId) problems.push('its value does not extend the previous decision');
    return problems;
  }
  // An older commit without a readable note reports that itself.
  if (older !== undefined) return [];
  if (note.height !== 0) return [`the chain stops at height ${note.height}; heights below it are missing`];
  return valueParent === genesisParent ? [] : ['height 0 does not start from genesis'];
}
