/**
 * What a sync node computes for a batch of ACU records, deterministically, so that honest nodes
 * agree on it byte for byte:
 *
 * - {@link validateRecords}: the batch's verdict over the agreed parent — compose and parse-check
 *   (`parse` mode), or the full validation with type-checking and scoring (`typecheck` mode). Its
 *   digest is what the node signs in the consensus VALIDATE phase; its conflicts are what the
 *   conflict-resolution vote is about.
 * - {@link composeAgreed}: the tree of the agreed commit — the applied records composed onto the
 *   parent, with every record that could not be applied named with its reason.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { canonicalString } from '../core/acu/canonical.js';
import type { Conflict, ValidationResult as ConsensusResult } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import { allWritten, observed } from '../git/index.js';
import type { GitRepo, PathChange, StagedObject } from '../git/index.js';
import { indexOwnPack } from '../git/pack.js';
import { isSourcePath } from '../extract/segment.js';
import { encodeText } from '../extract/text.js';
import { outline } from '../validate/attribute.js';
import type { BatchAcu } from '../validate/attribute.js';
import { composeBatch } from '../validate/compose-batch.js';
import { composeFile } from '../compose/file.js';
import { isShell } from '../core/acu/model.js';
import type { BaseTree, BatchComposition } from '../validate/compose-batch.js';
import { gitBaseTree } from '../validate/git.js';
import type { AcuVerdict, ConflictRecord, ValidationResult as DetailedResult } from '../validate/result.js';
import type { Proposal, Validator } from '../validate/validate.js';
import { clusterDocPath, membershipChangeIssues, parseCluster } from '../store/cluster.js';
import type { ClusterDoc } from '../store/cluster.js';
import { sha256Hex } from './crypto.js';
import type { IdentifiedRecord } from './records.js';

/** How much a node checks: compose and parse, or also type-check and score. */
export type ValidationMode = 'parse' | 'typecheck';

/** A record that does not land, and why. */
export interface Rejection {
  readonly id: string;
  readonly reason: string;
}

/** A node's verdict on a batch: what it signs (`consensus`), and the detail behind it. */
export interface BatchVerdict {
  readonly consensus: ConsensusResult;
  /** Records that are invalid on their own (they will be rejected whatever the vote). */
  readonly invalid: readonly Rejection[];
  /**
   * The conflicts with a readable description, same order as `consensus.conflicts`. `earlier` is
   * the side that comes first in this batch (what `prefer-earlier` keeps).
   */
  readonly conflicts: readonly (Conflict & { readonly kind: string; readonly file: string; readonly message: string; readonly earlier: 'a' | 'b' })[];
}

/** The records grouped into proposals, one per origin commit, in order of first appearance. */
function proposalsOf(records: readonly IdentifiedRecord[]): { proposals: Proposal[]; acus: BatchAcu[] } {
  const byCommit = new Map<string, { site: string; items: { id: string; acu: IdentifiedRecord['record']['acu'] }[] }>();
  for (const { id, record } of records) {
    const group = byCommit.get(record.origin.commit) ?? { site: record.origin.site, items: [] };
    group.items.push({ id, acu: record.acu });
    byCommit.set(record.origin.commit, group);
  }
  const proposals = [...byCommit.values()].map((group) => ({ site: group.site, acus: group.items }));
  const acus: BatchAcu[] = [];
  proposals.forEach((proposal, p) => {
    for (const item of proposal.acus) acus.push({ index: acus.length, proposal: p, site: proposal.site, item });
  });
  return { proposals, acus };
}

/**
 * A conflict's two sides in canonical order: a is the smaller ACU id. Not the batch order: each
 * round's leader orders its batch as the records reached it, and a person who read `a` in
 * `acu status` during one round and votes `keep-a` during the next must still mean the same ACU.
 */
function canonicalPair(order: ReadonlyMap<string, number>, pair: readonly [string, string]): Conflict & { earlier: 'a' | 'b' } {
  const [a, b] = pair[0] <= pair[1] ? pair : [pair[1], pair[0]];
  return { a, b, earlier: (order.get(a) ?? 0) <= (order.get(b) ?? 0) ? 'a' : 'b' };
}

/**
 * Validate a batch of records over the base commit. Null: no verdict — the type-check could not
 * finish (its worker crashed or ran past the safety net); the node then signs nothing for the
 * batch rather than a digest other nodes would not compute.
 */
export async function validateRecords(
  repo: GitRepo,
  baseCommit: string,
  records: readonly IdentifiedRecord[],
  options: { readonly mode: ValidationMode; readonly validator: Validator | null },
): Promise<BatchVerdict | null> {
  const base = await baseTreeOf(repo, baseCommit);
  const rebased = await rebaseRecords(base, records);
  const { proposals, acus } = proposalsOf(rebased);
  const order = new Map(records.map((item, i) => [item.id, i]));
  const membership = await membershipRejections(base, rebased);
  if (options.mode === 'typecheck') {
    assert(options.validator !== null, 'typecheck mode has a validator');
    const run = await options.validator.validateOrAbstain(base, proposals);
    if (run.kind === 'no-verdict') return null;
    return withMembership(verdictOf(run.result, run.digest, order), membership);
  }
  const composition = await composeBatch(base, acus, proposals.length);
  lastCompositions.set(repo, { key: compositionKey(base, records), rebased, composition });
  const detail = parseVerdict(base.id, acus, composition);
  return withMembership(verdictOf(detail, sha256Hex(encodeText(canonicalString(detail))), order), membership);
}

/** Most records of one batch that change the cluster document and are checked one by one. */
const membershipRecordsMax = 64;

/**
 * Records that change the cluster document in a way the membership rules refuse
 * (membershipChangeIssues): the document the batch's membership records compose to together, and
 * the one each composes to alone (a vote may keep only one side of a conflict), are checked
 * against the document in the base tree. A bad result makes every record that leads to it
 * invalid, on every node alike: it reads only the base tree and the records.
 */
async function membershipRejections(base: BaseTree, records: readonly IdentifiedRecord[]): Promise<Rejection[]> {
  const touching = records.filter((item) => item.record.acu.file === clusterDocPath).slice(0, membershipRecordsMax);
  if (touching.length === 0) return [];
  const before = await clusterOfBase(base);
  // A base without a valid document is not a cluster's agreed commit; there is nothing to compare against.
  if (before === null) return [];
  const reasons = new Map<string, string>();
  const check = async (subset: readonly IdentifiedRecord[]): Promise<void> => {
    const { proposals, acus } = proposalsOf(subset);
    const composition = await composeBatch(base, acus, proposals.length);
    // One that does not compose is refused by composition itself (a conflict or a failed apply).
    if (composition.problems.length > 0) return;
    const after = composition.changes.has(clusterDocPath) ? composition.changes.get(clusterDocPath)! : await textOfBase(base, clusterDocPath);
    const issues = membershipChangeIssues(before, after);
    if (issues.length === 0) return;
    for (const item of subset) if (!reasons.has(item.id)) reasons.set(item.id, `membership-change: ${issues.join('; ')}`);
  };
  if (touching.length > 1) await check(touching);
  for (const item of touching) await check([item]);
  return [...reasons].map(([id, reason]) => ({ id, reason }));
}

async function textOfBase(base: BaseTree, path: string): Promise<string | null> {
  const entry = base.entries.get(path);
  if (entry === undefined) return null;
  const bytes = (await base.readBlobs([entry.oid]))[0];
  return bytes === undefined || bytes === null ? null : Buffer.from(bytes).toString('utf8');
}

async function clusterOfBase(base: BaseTree): Promise<ClusterDoc | null> {
  const text = await textOfBase(base, clusterDocPath);
  if (text === null) return null;
  try {
    return parseCluster(text, clusterDocPath);
  } catch {
    return null;
  }
}

/**
 * Fold the membership rejections into a verdict: they join the invalid records, leave the
 * conflicts, and change the digest (so a node that would let such a change through signs
 * another digest than the honest quorum). A batch without them keeps its verdict as it was.
 */
function withMembership(verdict: BatchVerdict, rejections: readonly Rejection[]): BatchVerdict {
  if (rejections.length === 0) return verdict;
  const invalidIds = new Set(rejections.map((r) => r.id));
  const invalid = [...verdict.invalid.filter((r) => !invalidIds.has(r.id)), ...verdict.invalid.filter((r) => invalidIds.has(r.id)).map((r) => ({ id: r.id, reason: `${r.reason}; ${rejections.find((x) => x.id === r.id)!.reason}` }))];
  for (const rejection of rejections) if (!verdict.invalid.some((r) => r.id === rejection.id)) invalid.push(rejection);
  invalid.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const conflicts = verdict.conflicts.filter((c) => !invalidIds.has(c.a) && !invalidIds.has(c.b));
  const detailDigest = sha256Hex(encodeText(canonicalString({ v: 1, detail: verdict.consensus.detailDigest, membership: [...rejections].sort((a, b) => (a.id < b.id ? -1 : 1)) })));
  return { consensus: { ...verdict.consensus, conflicts: conflicts.map(({ a, b }) => ({ a, b })), detailDigest }, invalid, conflicts };
}

function verdictOf(detail: Pick<DetailedResult, 'acus' | 'conflicts'>, digest: string, order: ReadonlyMap<string, number>): BatchVerdict {
  const invalid = detail.acus
    .filter((verdict) => verdict.verdict === 'invalid')
    .map((verdict) => ({ id: verdict.id, reason: verdict.reasons.map((r) => `${r.code}: ${r.message}`).join('; ') }));
  const conflicts = detail.conflicts
    .filter((c) => !invalid.some((i) => i.id === c.acus[0] || i.id === c.acus[1]))
    .map((c: ConflictRecord) => ({ ...canonicalPair(order, c.acus), kind: c.kind, file: c.file, message: c.message }));
  return { consensus: { ok: true, conflicts: conflicts.map(({ a, b }) => ({ a, b })), detailDigest: digest }, invalid, conflicts };
}

/** The parse-mode result: compose problems become conflicts or invalid ACUs; changed sources must parse. */
function parseVerdict(baseId: string, acus: readonly BatchAcu[], composition: BatchComposition): Pick<DetailedResult, 'acus' | 'conflicts'> & { v: 1; mode: 'parse'; base: string } {
  const reasons = new Map<number, { code: 'apply-failed' | 'parse-error' | 'compose-conflict'; message: string }[]>();
  const add = (index: number, code: 'apply-failed' | 'parse-error' | 'compose-conflict', message: string): void => {
    reasons.set(index, [...(reasons.get(index) ?? []), { code, message }]);
  };
  const conflicts = new Map<string, ConflictRecord>();
  for (const problem of composition.problems) {
    if (problem.kind === 'apply' || problem.earlier.length === 0) {
      for (const index of problem.later) add(index, 'apply-failed', problem.message);
      continue;
    }
    for (const a of problem.earlier) {
      for (const b of problem.later) {
        const pair = [acus[a]!.item.id, acus[b]!.item.id].sort() as [string, string];
        const key = pair.join('\u0000');
        if (!conflicts.has(key)) conflicts.set(key, { kind: 'compose', acus: pair, file: problem.file, message: problem.message });
        add(a, 'compose-conflict', problem.message);
        add(b, 'compose-conflict', problem.message);
      }
    }
  }
  for (const [path, text] of composition.changes) {
    if (text === null || !isSourcePath(path) || outline(path, text) !== null) continue;
    for (const entry of acus) if (entry.item.acu.file === path) add(entry.index, 'parse-error', `${path} does not parse after composition`);
  }
  const verdicts = acus.map((entry): AcuVerdict => {
    const list = reasons.get(entry.index) ?? [];
    const invalid = list.some((r) => r.code !== 'compose-conflict');
    return {
      id: entry.item.id, proposal: entry.proposal, site: entry.site, where: `${entry.item.acu.file}`,
      verdict: (invalid ? 'invalid' : list.length > 0 ? 'conflict' : 'ok'), risk: 0,
      reasons: list.map((r) => ({ code: r.code, file: entry.item.acu.file, line: 0, message: r.message, related: [] })),
    };
  });
  return { v: 1, mode: 'parse', base: baseId, acus: verdicts, conflicts: [...conflicts.values()].sort((x, y) => (x.acus.join() < y.acus.join() ? -1 : 1)) };
}

/** The tree of an agreed commit, and the records left out of it. */
export interface AgreedTree {
  readonly tree: string;
  readonly applied: readonly string[];
  readonly rejected: readonly Rejection[];
  /**
   * Resolves once the tree, its subtrees and its new blobs are stored; rejects when one could not
   * be (after every write has settled). The id is known before: it is a hash of the content.
   */
  readonly written: Promise<void>;
}

/**
 * The last parse-mode validation's composition, per repository: a function of the base tree and
 * the records (ids name their content), so composing the same records onto the same tree for the
 * agreed commit can take it rather than compose again.
 */
interface ValidatedComposition {
  readonly key: string;
  readonly rebased: readonly IdentifiedRecord[];
  readonly composition: BatchComposition;
}

const lastCompositions = new WeakMap<GitRepo, ValidatedComposition>();

function compositionKey(base: BaseTree, records: readonly IdentifiedRecord[]): string {
  return `${base.id}:${records.map((item) => item.id).join(',')}`;
}

/** Most composition passes: each pass removes at least one record, or ends. */
const composePassesMax = 64;

/**
 * Compose `records` (in batch order) onto `parentCommit`. A record whose composition fails is
 * rejected, with the failure as its reason, and the rest is composed again without it; the result
 * is a function of the inputs alone, so every node writes the same tree.
 */
export async function composeAgreed(repo: GitRepo, parentCommit: string, records: readonly IdentifiedRecord[], filesAfter?: Promise<void>): Promise<AgreedTree> {
  const base: BaseTree = await baseTreeOf(repo, parentCommit);
  // Validation composed these very records onto this very tree: the first pass is its composition.
  const validated = lastCompositions.get(repo);
  const reused = validated?.key === compositionKey(base, records) ? validated : null;
  let remaining = reused?.rebased ?? (await rebaseRecords(base, records));
  const rejected: Rejection[] = [];
  for (let pass = 0; pass < composePassesMax; pass += 1) {
    const { proposals, acus } = proposalsOf(remaining);
    const composition = pass === 0 && reused !== null ? reused.composition : await composeBatch(base, acus, proposals.length);
    const failed = new Map<string, string>();
    for (const problem of composition.problems) {
      for (const index of problem.later) failed.set(acus[index]!.item.id, problem.message);
    }
    if (failed.size === 0) {
      const { tree, written } = await stageComposedTree(repo, base, composition, filesAfter);
      return { tree, applied: remaining.map((item) => item.id), rejected, written };
    }
    for (const [id, reason] of failed) rejected.push({ id, reason: `did not compose onto the agreed parent: ${reason}` });
    remaining = remaining.filter((item) => !failed.has(item.id));
  }
  assert(false, 'composeAgreed: composition settles');
}

/**
 * Start storing the composed tree; returns once its id is known (the base trees read, the new
 * trees and blobs hashed), with the files still on their way (see {@link AgreedTree.written}).
 */
async function stageComposedTree(repo: GitRepo, base: BaseTree, composition: BatchComposition, filesAfter?: Promise<void>): Promise<{ readonly tree: string; readonly written: Promise<void> }> {
  // The composition is the tree (validate/tree-model.ts): every changed path's entry, every new
  // blob. Git is only asked to store it, never to decide what it is. The blobs are written while
  // the trees are: a tree names its blobs by id and never reads them.
  const blobsWritten = observed(writeBlobs(repo, composition.blobs, filesAfter));
  const changes: ReadonlyMap<string, PathChange> = composition.entries;
  let staged: StagedObject;
  try {
    const baseTree = await repo.resolveTree(base.id);
    staged = await repo.stageTreeFromPaths(baseTree, changes, filesAfter);
  } catch (error) {
    await blobsWritten.catch(() => undefined);
    // Validation composed the same records with the same model: a tree it accepted that git will
    // not write is our bug, never the records' fault.
    assert(!(error instanceof AcuError && error.code === 'ERR_APPLY_FAILED'), `the agreed tree is writable (${String(error)})`);
    throw error;
  }
  // The derived file list is the tree's content, whether or not its files have landed yet.
  rememberDerived(repo, base, changes, staged.oid);
  return { tree: staged.oid, written: observed(allWritten([{ oid: staged.oid, written: staged.written }, { oid: '', written: blobsWritten }])) };
}

/** From this many new blobs on, an agreed commit's blobs go to git as one pack instead of one loose object each. */
const packBlobsMin = 16;

/**
 * Store blobs (keyed by their git id). A few are written as loose objects; many at once as one
 * pack, built here and indexed by `git index-pack`, which checks every object: one file and one
 * process per agreed commit rather than a file (and a zlib stream) per blob. The objects, and so
 * every id, are the same either way.
 */
async function writeBlobs(repo: GitRepo, blobs: ReadonlyMap<string, Uint8Array>, filesAfter?: Promise<void>): Promise<void> {
  if (blobs.size < packBlobsMin || repo.objectFormat !== 'sha1') {
    // Side by side: each is a file of its own.
    const staged = [...blobs].map(([oid, bytes]) => {
      const object = repo.stageBlob(bytes, filesAfter);
      assert(object.oid === oid, 'a blob is stored under its id');
      return object;
    });
    await allWritten(staged);
    return;
  }
  const parts: Uint8Array[] = [];
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(blobs.size, 8);
  parts.push(header);
  for (const bytes of blobs.values()) {
    parts.push(packObjectHeader(3 /* blob */, bytes.length), bytes.length < deflateBytesMin ? zlibStored(bytes) : deflateSync(bytes));
  }
  const body = Buffer.concat(parts);
  const pack = Buffer.concat([body, createHash('sha1').update(body).digest()]);
  await filesAfter;
  await indexOwnPack(repo, pack);
}

/**
 * Below this size a blob is stored in the pack without compression: starting a zlib stream costs
 * more than the few bytes it would save (git compresses it when it next repacks).
 */
const deflateBytesMin = 4096;

/** `bytes` as a zlib stream of stored (uncompressed) deflate blocks (RFC 1950, RFC 1951 §3.2.4). */
function zlibStored(bytes: Uint8Array): Buffer {
  const blockBytesMax = 0xffff;
  const blocks = Math.max(1, Math.ceil(bytes.length / blockBytesMax));
  const out = Buffer.alloc(2 + blocks * 5 + bytes.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0
  let at = 2;
  for (let block = 0; block < blocks; block += 1) {
    const from = block * blockBytesMax;
    const length = Math.min(blockBytesMax, bytes.length - from);
    out[at] = block === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out.writeUInt16LE(length, at + 1);
    out.writeUInt16LE(~length & 0xffff, at + 3);
    out.set(bytes.subarray(from, from + length), at + 5);
    at += 5 + length;
  }
  out.writeUInt32BE(adler32(bytes), at);
  return out;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 bytes is the most that can be summed before the 32-bit sums must be reduced (zlib's NMAX).
  for (let from = 0; from < bytes.length; from += 5552) {
    const to = Math.min(bytes.length, from + 5552);
    for (let i = from; i < to; i += 1) {
      a += bytes[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A pack entry's header: the type and the inflated size, as git's variable-length integer. */
function packObjectHeader(type: number, size: number): Buffer {
  const out: number[] = [];
  let byte = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    out.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  out.push(byte);
  return Buffer.from(out);
}

// ---- base trees ---------------------------------------------------------------------------------

/**
 * The files of recent trees, per repository, by tree id. Every height validates and composes onto
 * the previous agreed commit's tree, which the same node has just written: rather than list it
 * again with `git ls-tree -r` (a process, and every path of the project), its files are derived
 * from its parent's and the changes written. A tree id names its content, so an entry is never
 * stale; a tree that is not here is listed by git.
 */
interface KnownTree {
  readonly base: BaseTree;
  /** Every directory of the tree, and possibly some that no longer hold files (a superset). */
  readonly dirs: Set<string>;
}

const knownTrees = new WeakMap<GitRepo, Map<string, KnownTree>>();
/** Trees kept per repository: the newest agreed commit's, and the one before. */
const knownTreesMax = 2;

function remember(repo: GitRepo, known: KnownTree): void {
  let trees = knownTrees.get(repo);
  if (trees === undefined) {
    trees = new Map();
    knownTrees.set(repo, trees);
  }
  trees.delete(known.base.id);
  trees.set(known.base.id, known);
  while (trees.size > knownTreesMax) trees.delete(trees.keys().next().value!);
}

function directoriesOf(paths: Iterable<string>, into: Set<string>): Set<string> {
  for (const path of paths) {
    for (let cut = path.lastIndexOf('/'); cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
      const dir = path.slice(0, cut);
      if (into.has(dir)) break;
      into.add(dir);
    }
  }
  return into;
}

/**
 * The entry at file path `path` of tree `tree`, from the trees this node wrote or read last,
 * without reading git: null when the tree holds no file there, undefined when the tree is not
 * one of them. (A tree just composed is known before its files are written.)
 */
export function knownEntryOf(repo: GitRepo, tree: string, path: string): { readonly mode: string; readonly oid: string } | null | undefined {
  const known = knownTrees.get(repo)?.get(tree);
  if (known === undefined) return undefined;
  return known.base.entries.get(path) ?? null;
}

/** The files of `treeish`'s tree: from the trees this node wrote or read last, else from git. */
export async function baseTreeOf(repo: GitRepo, treeish: string): Promise<BaseTree> {
  const id = await repo.resolveTree(treeish);
  const known = knownTrees.get(repo)?.get(id);
  if (known !== undefined) return known.base;
  const base = await gitBaseTree(repo, id);
  remember(repo, { base, dirs: directoriesOf(base.entries.keys(), new Set()) });
  return base;
}

/**
 * Remember the files of `tree`, written as `base` with `changes`. writeTreeFromPaths replaces a
 * directory wholesale when a change names it as a path; the files below it would then be gone
 * from the tree but not from the derived list, so such a change leaves the tree to git to list.
 */
function rememberDerived(repo: GitRepo, base: BaseTree, changes: ReadonlyMap<string, PathChange>, tree: string): void {
  const known = knownTrees.get(repo)?.get(base.id);
  if (known === undefined || known.base !== base) return;
  for (const path of changes.keys()) if (known.dirs.has(path)) return;
  const entries = new Map(base.entries);
  for (const [path, change] of changes) {
    if (change === null) entries.delete(path);
    else entries.set(path, { mode: change.mode, oid: change.oid });
  }
  // Directories only ever join the set: one emptied by a deletion stays (a superset is safe).
  const dirs = directoriesOf([...changes].filter(([, change]) => change !== null).map(([path]) => path), known.dirs);
  remember(repo, { base: { id: tree, entries, readBlobs: (oids) => base.readBlobs(oids) }, dirs });
}

/**
 * Bring records extracted against an older base up to `base`: a declaration an ACU modifies that
 * an agreed commit has changed since is merged three ways (the ACU's `before` as the base, the
 * agreed text as ours, the ACU's `after` as theirs) with the composition engine. A clean merge
 * becomes the ACU's new before/after; a conflicting one leaves the ACU as it was, so it fails to
 * apply and is rejected with its reason. Deterministic: it reads only `base` and the records.
 */
export async function rebaseRecords(base: BaseTree, records: readonly IdentifiedRecord[]): Promise<IdentifiedRecord[]> {
  const texts = new Map<string, string | null>();
  const textOf = async (path: string): Promise<string | null> => {
    if (!texts.has(path)) {
      const entry = base.entries.get(path);
      const bytes = entry === undefined ? null : (await base.readBlobs([entry.oid]))[0] ?? null;
      texts.set(path, bytes === null ? null : new TextDecoder('utf-8', { fatal: false }).decode(bytes));
    }
    return texts.get(path) ?? null;
  };
  const outlines = new Map<string, ReturnType<typeof outline>>();
  const out: IdentifiedRecord[] = [];
  for (const item of records) {
    const acu = item.record.acu;
    if (acu.level !== 'decl' || acu.op !== 'modify' || acu.symbol === '' || isShell(acu) || acu.before === null || acu.after === null) {
      out.push(item);
      continue;
    }
    const text = await textOf(acu.file);
    if (text === null) {
      out.push(item);
      continue;
    }
    if (!outlines.has(acu.file)) outlines.set(acu.file, outline(acu.file, text));
    const segment = outlines.get(acu.file)?.bySymbol.get(acu.symbol);
    const current = segment === undefined || segment.layout !== null ? null : text.slice(segment.start, segment.end);
    if (current === null || current === acu.before) {
      out.push(item);
      continue;
    }
    const merged = composeFile({ path: acu.file, base: acu.before, ours: current, theirs: acu.after });
    if (merged.conflicts.length > 0) {
      out.push(item);
      continue;
    }
    out.push({ id: item.id, record: { ...item.record, acu: { ...acu, before: current, after: merged.text } } });
  }
  return out;
}
