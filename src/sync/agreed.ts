/**
 * Agreed commits: each decision of the cluster becomes one git commit on `refs/acu/<branch>`, and
 * its certificate a git note on `refs/notes/acu` (docs/sync.md).
 *
 * The commit is a function of the decision alone — the tree is the applied records composed onto
 * the previous agreed commit, and author, committer, date and message come from the records — so
 * every honest node writes the same commit id. The note carries the certificate (the FINAL quorum),
 * which records were applied, deferred or rejected and why, so nothing proposed disappears silently,
 * and per conflict which member chose what (from the certified value's tally).
 */
import { canonicalString } from '../core/acu/canonical.js';
import type { DecisionCert } from '../core/consensus/index.js';
import { valueIdOf } from '../core/consensus/index.js';
import { AcuError } from '../core/errors.js';
import { clusterDocPath } from '../store/cluster.js';
import { readCommitText } from '../git/history.js';
import { addNote, readNoteText } from '../git/notes.js';
import type { GitRepo, StagedObject } from '../git/index.js';
import { sha256Hex } from './crypto.js';
import type { Rejection } from './batch.js';
import type { IdentifiedRecord } from './records.js';

/** The ref agreed commits go to. */
export function agreedRef(branch: string): string {
  return `refs/acu/${branch}`;
}

/** The notes ref certificates go to (`git log --notes=acu`). */
export const notesRef = 'refs/notes/acu';

/** One record as the note lists it. */
export interface NoteAcu {
  readonly id: string;
  /** `file#symbol`, or the file for a file-level ACU. */
  readonly where: string;
  readonly op: string;
  /** The commit it was extracted from, and the site of the member that signed the record. */
  readonly commit: string;
  readonly site: string;
}

/** The note attached to an agreed commit. */
export interface AgreedNote {
  readonly v: 1;
  readonly branch: string;
  readonly height: number;
  readonly round: number;
  readonly valueId: string;
  readonly parent: string;
  readonly acus: readonly NoteAcu[];
  readonly applied: readonly string[];
  readonly deferred: readonly Rejection[];
  readonly rejected: readonly Rejection[];
  /** Node ids of the replicas whose FINAL signatures the certificate holds. */
  readonly signers: readonly string[];
  /**
   * The scoring backend the cluster document in force names (`"scoring"`, default `auto`): what
   * the nodes that type-check scored this batch with. Every backend scores bit for bit the same,
   * so it is the same for every node; each node's own backend is in its `acu status`. Absent in
   * notes of an older acu.
   */
  readonly scoring?: string;
  /**
   * Per conflict, which member chose what: the leader's RESOLVE quorum, as the certified value
   * carries it (its `tally`). Absent when the batch had no conflicts, or an older acu decided it.
   */
  readonly votes?: readonly NoteVote[];
  readonly cert: DecisionCert;
}

/** How one conflict of a decision was resolved, and by whose votes. */
export interface NoteVote {
  /** `<height>.<index>`, as `acu status` and `acu vote` named it. */
  readonly conflict: string;
  /** The record ids of its two sides. */
  readonly a: string;
  readonly b: string;
  /** What the tally chose (keep_a, keep_b, keep_both, defer_both). */
  readonly resolution: string;
  /** Each member of the quorum and its choice, in replica order. */
  readonly choices: readonly { readonly node: string; readonly choice: string }[];
}

/**
 * The votes of a decision, from its certified value alone: every node writes the same, whatever
 * RESOLVE it saw or whether it saw one (a node that caught up saw none). Empty without a tally.
 */
export function noteVotesOf(cert: DecisionCert, memberIds: readonly string[]): NoteVote[] {
  const { tally, resolution, validation } = cert.value;
  if (tally === undefined) return [];
  return validation.conflicts.map((conflict, i) => ({
    conflict: `${cert.height}.${i}`, a: conflict.a, b: conflict.b, resolution: resolution[i] ?? 'defer_both',
    choices: tally.map((vote) => ({ node: memberIds[vote.from] ?? `replica ${vote.from}`, choice: vote.choices[i] ?? 'defer_both' })),
  }));
}

/** Identity of the agreed commits' author and committer. */
const acuSignature = { name: 'acu', email: 'acu@cluster' };

function noteAcu({ id, record }: IdentifiedRecord): NoteAcu {
  const acu = record.acu;
  const where = acu.level === 'decl' && acu.symbol !== '' ? `${acu.file}#${acu.symbol}` : acu.file;
  return { id, where, op: acu.op, commit: record.origin.commit, site: record.origin.site };
}

/**
 * The message of an agreed commit: a summary, the origin commits, and Co-authored-by trailers.
 * Records come from `decodeRecord` or this node's own extraction, so each origin's site is its
 * signer's site and each author line one a cluster member signed for (docs/sync.md, step 2).
 *
 * It names no value id: the certified value names this commit (its outcome), so the commit cannot
 * name the value back. The note carries the value and its certificate.
 */
export function agreedMessage(height: number, applied: readonly IdentifiedRecord[]): string {
  const commits = new Map<string, IdentifiedRecord['record']['origin']>();
  for (const { record } of applied) if (!commits.has(record.origin.commit)) commits.set(record.origin.commit, record.origin);
  const acuWord = applied.length === 1 ? 'ACU' : 'ACUs';
  const commitWord = commits.size === 1 ? 'commit' : 'commits';
  const lines = [`acu: height ${height}, ${applied.length} ${acuWord} from ${commits.size} ${commitWord}`, ''];
  for (const origin of commits.values()) lines.push(`${origin.commit.slice(0, 12)} ${origin.subject} (${origin.site})`);
  if (commits.size > 0) lines.push('');
  lines.push(`Acu-Height: ${height}`);
  const authors = [...new Set([...commits.values()].map((o) => `${o.authorName} <${o.authorEmail}>`))].sort();
  for (const author of authors) lines.push(`Co-authored-by: ${author}`);
  return `${lines.join('\n')}\n`;
}

/** What an agreed commit is made of: all of it known before the decision, so its id can be certified. */
export interface AgreedCommitInput {
  readonly height: number;
  readonly parentCommit: string;
  /** Every record of the batch, in batch order. */
  readonly records: readonly IdentifiedRecord[];
  readonly tree: string;
  /** Ids of the records the tree applies. */
  readonly applied: readonly string[];
}

/**
 * Write the agreed commit object (no ref, no note); returns its id. Author and committer are acu,
 * at the latest of the parent's commit time and the applied records' author times, in UTC: a
 * function of the inputs alone, so every honest node writes the same id.
 */
export async function writeAgreedCommit(repo: GitRepo, input: AgreedCommitInput): Promise<string> {
  const staged = await stageAgreedCommit(repo, input);
  await staged.written;
  return staged.oid;
}

/**
 * {@link writeAgreedCommit}, returning once the id is known: the commit object's file is on its
 * way (`written`), or starts once `filesAfter` resolves. Only the parent is read.
 */
export async function stageAgreedCommit(repo: GitRepo, input: AgreedCommitInput, filesAfter?: Promise<void>): Promise<StagedObject> {
  const appliedSet = new Set(input.applied);
  const applied = input.records.filter((item) => appliedSet.has(item.id));
  const parent = await repo.commitInfo(input.parentCommit);
  const parentTime = Math.floor(Date.parse(parent.committerDate) / 1000);
  const timestamp = Math.max(parentTime, ...applied.map((item) => item.record.origin.authorTime));
  const signature = { ...acuSignature, timestamp, timezoneOffset: 0 };
  return repo.stageCommit({
    tree: input.tree, parents: [input.parentCommit], message: agreedMessage(input.height, applied),
    author: signature, committer: signature,
  }, filesAfter);
}

/** What the note of an agreed commit says, beside the commit itself. */
export interface AgreedNoteInput {
  readonly branch: string;
  readonly commit: string;
  readonly parentCommit: string;
  readonly cert: DecisionCert;
  /** Every record of the batch, in batch order. */
  readonly records: readonly IdentifiedRecord[];
  readonly applied: readonly string[];
  readonly deferred: readonly Rejection[];
  readonly rejected: readonly Rejection[];
  /** Node ids by replica index. */
  readonly memberIds: readonly string[];
}

/** The notes ref that keeps each agreed commit's record bodies (for `acu verify --rebuild` and catching up). */
export const recordsNotesRef = 'refs/notes/acu-records';

/** The record bodies of one agreed commit, as its records note holds them. */
export interface RecordsNote {
  readonly v: 1;
  readonly height: number;
  /** Every record of the batch, in batch order (signed bodies; their ids are their hashes). */
  readonly records: readonly IdentifiedRecord['record'][];
}

/**
 * The scoring choice of the cluster document at `commit` (the membership in force after it); `auto`
 * when it names none. Read through the shared cat-file process: no git process per agreed commit.
 */
async function scoringAt(repo: GitRepo, commit: string): Promise<string> {
  const blob = await repo.blobEntryAtPath(commit, clusterDocPath);
  if (blob === null) return 'auto';
  try {
    const doc = JSON.parse(Buffer.from(blob.content).toString('utf8')) as { scoring?: unknown };
    return typeof doc.scoring === 'string' ? doc.scoring : 'auto';
  } catch {
    return 'auto';
  }
}

/**
 * Write the certificate note (`refs/notes/acu`) and the record bodies note
 * (`refs/notes/acu-records`) of an agreed commit; returns the certificate note.
 */
export async function writeAgreedNote(repo: GitRepo, input: AgreedNoteInput): Promise<AgreedNote> {
  const valueId = valueIdOf({ digestHex: sha256Hex }, input.cert.value);
  const note: AgreedNote = {
    v: 1, branch: input.branch, height: input.cert.height, round: input.cert.round, valueId, parent: input.parentCommit,
    acus: input.records.map(noteAcu), applied: input.applied, deferred: input.deferred, rejected: input.rejected,
    signers: input.cert.finals.map((f) => input.memberIds[f.from] ?? `replica ${f.from}`),
    scoring: await scoringAt(repo, input.parentCommit),
    ...(input.cert.value.tally === undefined ? {} : { votes: noteVotesOf(input.cert, input.memberIds) }), cert: input.cert,
  };
  const bodies: RecordsNote = { v: 1, height: input.cert.height, records: input.records.map((item) => item.record) };
  const info = await repo.commitInfo(input.commit);
  // `git notes` commits to the notes ref and needs an identity: pin it (and the date) so a node
  // needs no git configuration, and the notes commit does not depend on whose machine wrote it.
  const identity = { ...acuSignature, date: `${Math.floor(Date.parse(info.committerDate) / 1000)} +0000` };
  // Bodies first: a certificate note always has its bodies beside it.
  await addNote(repo, { ref: recordsNotesRef, commit: input.commit, text: `${JSON.stringify(bodies)}\n`, identity });
  await addNote(repo, { ref: notesRef, commit: input.commit, text: `${JSON.stringify(note, null, 1)}\n`, identity });
  return note;
}

/** The record bodies note of an agreed commit, or null when there is none or it is not one. */
export async function readRecordsNote(repo: GitRepo, commit: string): Promise<RecordsNote | null> {
  const text = await readNoteText(repo, { ref: recordsNotesRef, commit });
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<RecordsNote>;
    if (value.v !== 1 || !Number.isSafeInteger(value.height) || !Array.isArray(value.records)) return null;
    return value as RecordsNote;
  } catch {
    return null;
  }
}

/** What reading an agreed commit's note found. */
export type NoteRead =
  | { readonly status: 'ok'; readonly note: AgreedNote }
  | { readonly status: 'missing' }
  | { readonly status: 'malformed'; readonly reason: string };

/**
 * Read and check an agreed commit's note. The note is untrusted bytes (anyone who can push
 * refs/notes/acu can write one), so it is checked field by field here, at the edge: whatever
 * passes is plain data of the right shape that the canonical encoding and verification accept.
 */
export async function readNoteChecked(repo: GitRepo, commit: string): Promise<NoteRead> {
  const text = await readNoteText(repo, { ref: notesRef, commit });
  if (text === null) return { status: 'missing' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { status: 'malformed', reason: 'not JSON' };
  }
  const reason = noteIssue(value);
  return reason === null ? { status: 'ok', note: value as AgreedNote } : { status: 'malformed', reason };
}

/** The note of an agreed commit, or null when it has none or it is malformed. */
export async function readNote(repo: GitRepo, commit: string): Promise<AgreedNote | null> {
  const read = await readNoteChecked(repo, commit);
  return read.status === 'ok' ? read.note : null;
}

/** A shape check: null when `x` fits, else what is wrong and where. */
type Shape = (x: unknown, at: string) => string | null;

/** A field's path for a message: `cert.finals[0].sig`, or the note itself at the top. */
function label(at: string): string {
  return at === '' ? 'the note' : at;
}

function field(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
}

const text: Shape = (x, at) => (typeof x === 'string' ? null : `${label(at)}: expected a string`);
const count: Shape = (x, at) => (Number.isSafeInteger(x) && (x as number) >= 0 ? null : `${label(at)}: expected a whole number`);
const flag: Shape = (x, at) => (typeof x === 'boolean' ? null : `${label(at)}: expected true or false`);
const exactly = (want: string | number): Shape => (x, at) => (x === want ? null : `${label(at)}: expected ${JSON.stringify(want)}`);

function listOf(item: Shape): Shape {
  return (x, at) => {
    if (!Array.isArray(x)) return `${label(at)}: expected a list`;
    for (let i = 0; i < x.length; i += 1) {
      const issue = item(x[i], `${at}[${i}]`);
      if (issue !== null) return issue;
    }
    return null;
  };
}

function objectOf(fields: Readonly<Record<string, Shape>>): Shape {
  return (x, at) => {
    if (!isPlainObject(x)) return `${label(at)}: expected an object`;
    for (const [key, shape] of Object.entries(fields)) {
      const issue = shape(x[key], field(at, key));
      if (issue !== null) return issue;
    }
    return null;
  };
}

const rejectionShape = objectOf({ id: text, reason: text });
const finalShape = objectOf({ v: exactly(1), type: exactly('final'), from: count, height: count, round: count, body: objectOf({ valueId: text }), sig: text });
const valueShape = objectOf({
  batch: objectOf({ height: count, parent: text, acuIds: listOf(text), bodyDigest: text }),
  validation: objectOf({ ok: flag, conflicts: listOf(objectOf({ a: text, b: text })), detailDigest: text }),
  resolution: listOf(text),
  outcome: text,
});
/** An optional field: absent, or of `shape`. */
function optional(shape: Shape): Shape {
  return (x, at) => (x === undefined ? null : shape(x, at));
}

const voteShape = objectOf({ conflict: text, a: text, b: text, resolution: text, choices: listOf(objectOf({ node: text, choice: text })) });
const noteShape = objectOf({
  v: exactly(1), branch: text, height: count, round: count, valueId: text, parent: text,
  acus: listOf(objectOf({ id: text, where: text, op: text, commit: text, site: text })),
  applied: listOf(text), deferred: listOf(rejectionShape), rejected: listOf(rejectionShape), signers: listOf(text),
  scoring: optional(text), votes: optional(listOf(voteShape)),
  cert: objectOf({ height: count, round: count, value: valueShape, finals: listOf(finalShape) }),
});

/** Nesting a note never needs more than this; deeper is garbage. */
const noteDepthMax = 16;

/** Numbers other than safe integers would trip the canonical encoding's assertions. */
function plainDataIssue(x: unknown, at: string, depth: number): string | null {
  if (depth > noteDepthMax) return `${label(at)}: nested too deeply`;
  if (typeof x === 'number') return Number.isSafeInteger(x) ? null : `${label(at)}: not a whole number`;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i += 1) {
      const issue = plainDataIssue(x[i], `${at}[${i}]`, depth + 1);
      if (issue !== null) return issue;
    }
  } else if (isPlainObject(x)) {
    for (const [key, item] of Object.entries(x)) {
      const issue = plainDataIssue(item, field(at, key), depth + 1);
      if (issue !== null) return issue;
    }
  }
  return null;
}

/** Why a parsed note is not an {@link AgreedNote}, or null when it is one. */
export function noteIssue(value: unknown): string | null {
  return noteShape(value, '') ?? plainDataIssue(value, '', 0);
}

/** One agreed commit with its note. */
export interface AgreedEntry {
  readonly commit: string;
  readonly note: AgreedNote | null;
  /** Why `note` is null: no note, or a malformed one (null when there is a note). */
  readonly noteProblem: string | null;
}

/** The agreed commits from `tip` back to the first one (newest first), following first parents. */
export async function readAgreedChain(repo: GitRepo, tip: string, limit = Number.MAX_SAFE_INTEGER): Promise<AgreedEntry[]> {
  const entries: AgreedEntry[] = [];
  let at: string | null = tip;
  while (at !== null && entries.length < limit) {
    const read = await readNoteChecked(repo, at);
    const info = await repo.commitInfo(at);
    if (read.status !== 'ok' && entries.length > 0 && !/\nAcu-Height: /.test(await readCommitText(repo, at))) break;
    entries.push(entryOf(at, read));
    if (read.status === 'ok' && read.note.height === 0) break;
    at = info.parents[0] ?? null;
  }
  return entries;
}

function entryOf(commit: string, read: NoteRead): AgreedEntry {
  switch (read.status) {
    case 'ok':
      return { commit, note: read.note, noteProblem: null };
    case 'missing':
      return { commit, note: null, noteProblem: `no certificate note (${notesRef})` };
    case 'malformed':
      return { commit, note: null, noteProblem: `the certificate note (${notesRef}) is malformed: ${read.reason}` };
  }
}

/** The tip of the cluster's agreed commits; throws ERR_UNKNOWN_REVISION when there is none yet. */
export async function agreedTip(repo: GitRepo, branch: string): Promise<string> {
  const tip = await repo.revParseCommit(agreedRef(branch));
  if (tip === null) {
    throw new AcuError('ERR_UNKNOWN_REVISION', `the cluster has no agreed commit yet (${agreedRef(branch)} does not exist)`, {
      hint: "start the sync nodes with 'acu node start' and propose commits; agreed commits appear there",
    });
  }
  return tip;
}

/** Canonical text of a value, for tests and debugging. */
export function valueText(cert: DecisionCert): string {
  return canonicalString(cert.value);
}
