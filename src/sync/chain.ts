/**
 * The chain port: every piece of git work the sync node does — resolving revisions, validating a
 * batch, composing and writing agreed commits, moving refs, reading the outbox, extracting a
 * commit's records — behind one interface. {@link GitChain} does it in a real repository; the host
 * simulator supplies a model of it, so whole sync nodes run seeded and fast.
 */
import type { DecisionCert } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import { listNonMergeCommits } from '../git/history.js';
import { allWritten, observed } from '../git/index.js';
import type { GitRepo } from '../git/index.js';
import { indexPack, packObjects, removePack } from '../git/pack.js';
import type { IndexPackResult } from '../git/pack.js';
import { enqueueCommit, readOutbox } from '../store/outbox.js';
import type { OutboxRecord } from '../store/outbox.js';
import type { Validator } from '../validate/validate.js';
import { clusterDocPath } from '../store/cluster.js';
import type { ClusterDoc } from '../store/cluster.js';
import { agreedRef, notesRef, readNoteChecked, recordsNotesRef, stageAgreedCommit, writeAgreedNote } from './agreed.js';
import type { AgreedCommitInput, AgreedNoteInput } from './agreed.js';
import { composeAgreed, knownEntryOf, validateRecords } from './batch.js';
import type { AgreedTree, BatchVerdict, ValidationMode } from './batch.js';
import { recordsOfCommit } from './records.js';
import type { IdentifiedRecord, RecordSigner } from './records.js';
import { clusterAtCommit, clusterOfBlob, membershipBefore, notesFromCommit, notesFromRef, verifyChain } from './verify-chain.js';
import type { NoteSource } from './verify-chain.js';

/** What moving the protected branch to an agreed commit did. */
export type FastForwardResult = 'moved' | 'checked-out' | 'not-fast-forward';

/** The tips of an agreed chain, as a peer offers them in a state transfer. */
export interface AgreedTips {
  /** The agreed commit (`refs/acu/<branch>`). */
  readonly commit: string;
  /** The certificate notes commit (`refs/notes/acu`). */
  readonly notes: string;
  /** The record bodies notes commit (`refs/notes/acu-records`); null: the peer has none. */
  readonly records: string | null;
}

/** A peer's agreed chain, packed: the tips, and a git pack of what the asker lacks. */
export interface AgreedPack {
  readonly tips: AgreedTips;
  readonly bytes: Uint8Array;
}

/** Where this node's agreed chain stands (its last written agreed commit, or the genesis at height -1). */
export interface AgreedPoint {
  readonly commit: string;
  readonly height: number;
}

/** One agreed height of a received chain, checked. */
export interface CheckedHeight {
  readonly height: number;
  readonly commit: string;
  readonly cert: DecisionCert;
}

/** What checking a received agreed chain found: its new heights, oldest first, or why it is refused. */
export type AgreedCheck = { readonly ok: true; readonly heights: readonly CheckedHeight[] } | { readonly ok: false; readonly problem: string };

/**
 * When the files of a staged agreed commit are written: once it is opened. The node opens it when
 * it needs them (to write the decided commit's notes and ref), so the writes stay out of the
 * PREPARE and FINAL exchange; a reader of the commit (see {@link Chain.stageCommit}) opens it too.
 */
export interface WriteGate {
  readonly opened: Promise<void>;
  open(): void;
}

/** A closed {@link WriteGate}. */
export function writeGate(): WriteGate {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open: () => open() };
}

/** An agreed commit whose id is known and whose objects are on their way into the store. */
export interface StagedCommit {
  readonly commit: string;
  /**
   * Resolves once the commit and every object it adds (trees, blobs) are stored; rejects when one
   * could not be. Nothing may name the commit (a note, a ref) before it resolves.
   */
  readonly written: Promise<void>;
}

/** The sync node's git work. */
export interface Chain {
  /** The commit `rev` names, or null when it names none. */
  revParse(rev: string): Promise<string | null>;
  /** Validate records composed onto `base` (a commit id): the verdict every honest node signs; null: none (abstain). */
  validate(base: string, items: readonly IdentifiedRecord[]): Promise<BatchVerdict | null>;
  /**
   * The tree of an agreed commit: `candidates` composed onto `parent`, failures rejected. Its new
   * files are written once `gate` is opened (at once without one).
   */
  compose(parent: string, candidates: readonly IdentifiedRecord[], gate?: WriteGate): Promise<AgreedTree>;
  /**
   * Start writing an agreed commit object (no ref, no note) on a tree {@link compose} gave, whose
   * files land with `treeWritten`: returns once the commit's id is known (hashed), its files and
   * the tree's still on their way (see {@link StagedCommit}), written once `gate` is opened (at
   * once without one). The chain's own readers of a staged commit ({@link writeNote},
   * {@link setAgreed}, {@link fastForward}, and {@link clusterAt} where it needs the files) open
   * the gate and wait for the files first.
   */
  stageCommit(input: AgreedCommitInput, treeWritten: Promise<void>, gate?: WriteGate): Promise<StagedCommit>;
  /**
   * Write the certificate note and the record bodies note of a written agreed commit. A commit
   * this chain staged is waited for first; one whose files could not be written is refused (the
   * rejection), never noted.
   */
  writeNote(input: AgreedNoteInput): Promise<void>;
  /** Point the agreed ref of `branch` at `commit` (a staged commit: as {@link writeNote}). */
  setAgreed(branch: string, commit: string): Promise<void>;
  /** Move `refs/heads/<branch>` to `commit` when that is a fast-forward and no work tree has it checked out. */
  fastForward(branch: string, commit: string): Promise<FastForwardResult>;
  /** Every entry of the post-commit outbox, oldest first. */
  readOutbox(): Promise<readonly OutboxRecord[]>;
  /** Append an entry to the outbox; resolves once it is durable (the node queues a commit the hook missed). */
  appendOutbox(record: OutboxRecord): Promise<void>;
  /**
   * This site's commits on `refs/heads/<branch>` that no agreed commit could contain: the non-merge
   * commits reachable from the branch and from none of `exclude` (commit ids), `refs/acu/<branch>`
   * and the remote-tracking refs (`refs/remotes/*`). At most `countMax` of them, the newest in
   * topological order, returned oldest first (parents before children). Empty when the branch
   * does not exist.
   */
  localCommits(branch: string, exclude: readonly string[], countMax: number): Promise<readonly string[]>;
  /** The records of a commit, extracted against its first parent and signed by this node. */
  recordsOfCommit(commit: string): Promise<IdentifiedRecord[]>;
  /**
   * State transfer, serving side: the tips (`tip`, this node's last written agreed commit, and the
   * two notes refs as they are now) and a thin git pack of everything reachable from them and
   * from none of `haves` (commit ids the asker has; those this repository lacks are ignored).
   * Null when there is no certificate notes ref, or the pack would exceed `bytesMax`.
   */
  packAgreed(tip: string, haves: readonly string[], bytesMax: number): Promise<AgreedPack | null>;
  /** The commits of `refs/acu/<branch>` and the two notes refs that exist: what to name as haves. */
  agreedHaves(branch: string): Promise<readonly string[]>;
  /** Add a received pack's objects to the store (no ref moves); a pack git refuses is a returned reason. */
  unpack(bytes: Uint8Array): Promise<IndexPackResult>;
  /** Remove a pack {@link unpack} added (it did not verify). */
  discardPack(pack: string): Promise<void>;
  /**
   * Check a received chain against the membership history: every agreed commit from
   * `tips.commit` down to `from` (exclusive) has a valid certificate in the note of `tips.notes`
   * (a quorum of the membership in force at its parent), heights count up by one from
   * `from.height + 1`, and the lowest builds on `from.commit`. When this repository's certificate
   * notes are not an ancestor of `tips.notes`, the whole chain down to height 0 is checked
   * instead, since adopting the peer's notes then replaces ours. At most `heightsMax` new heights.
   * Never throws for what the peer sent: missing or malformed objects are a refusal.
   */
  checkAgreed(tips: AgreedTips, from: AgreedPoint, heightsMax: number): Promise<AgreedCheck>;
  /** Point `refs/acu/<branch>` and the two notes refs at checked tips (the records ref only when `tips.records` is set). */
  adoptAgreed(branch: string, tips: AgreedTips): Promise<void>;
  /**
   * The cluster document in `commit`'s tree (null: none, or not a valid one). Chains without it
   * (the simulator's model) never see the membership change.
   */
  clusterAt?(commit: string): Promise<ClusterDoc | null>;
  /**
   * Where an agreed chain ends at `commit`: its height and value id, when `commit` is an agreed
   * commit whose chain, down to height 0, verifies against the membership history (acu verify's
   * check); null otherwise. A node that starts without a log starts after it.
   */
  agreedTip?(commit: string): Promise<{ readonly height: number; readonly valueId: string } | null>;
  /**
   * The membership before the one in force at agreed commit `commit` (the cluster document at the
   * parent of the last agreed commit that changed it), or null: none changed it, or none is known.
   * A restarted node takes it up as the membership it would have kept through the change.
   */
  membershipBefore?(commit: string): Promise<ClusterDoc | null>;
  /** Sign the records of this site's commits as `signer` from now on (a membership change moved its key or entry). */
  setRecordSigner?(signer: RecordSigner): void;
  close(): Promise<void>;
}

/** The chain of a real repository. */
export class GitChain implements Chain {
  /**
   * The writes of staged agreed commits not known to have landed, by commit id. A successful one
   * leaves; a failed one stays (so what would name the commit is refused) until it is staged again.
   */
  private readonly pending = new Map<string, { readonly written: Promise<void>; readonly tree: string; readonly gate: WriteGate | null }>();

  constructor(
    private readonly repo: GitRepo,
    private readonly mode: ValidationMode,
    private readonly validator: Validator | null,
    private signer: RecordSigner,
  ) {}

  async clusterAt(commit: string): Promise<ClusterDoc | null> {
    const staged = this.pending.get(commit);
    if (staged !== undefined) {
      // A commit staged here whose files may be on their way (a decision's membership check comes
      // right after it): its document is found from its tree's file list, which this node knows
      // without the files, and read when that blob is stored already (it is the parent's unless
      // the commit changes it). Otherwise the files are waited for; a commit whose files failed
      // reads as one not got.
      const early = await this.clusterOfStagedTree(staged.tree);
      if (early !== undefined) return early;
      staged.gate?.open();
      await staged.written.catch(() => undefined);
    }
    const found = await clusterAtCommit(this.repo, commit);
    return 'cluster' in found ? found.cluster : null;
  }

  /** The cluster document of a staged tree, read without its new files; undefined: it needs them. */
  private async clusterOfStagedTree(tree: string): Promise<ClusterDoc | null | undefined> {
    const entry = knownEntryOf(this.repo, tree, clusterDocPath);
    if (entry === undefined) return undefined;
    // No file there, or not a blob (a gitlink): no document, as clusterAtCommit finds.
    if (entry === null || entry.mode === '160000') return null;
    // Through the long-lived cat-file process. Missing (a new document, its file on its way: a
    // membership change, rare) or unreadable: wait for the files and read the commit as usual.
    const content = await this.repo.readBlob(entry.oid).catch(() => null);
    if (content === null) return undefined;
    const found = clusterOfBlob({ oid: entry.oid, content }, `${tree.slice(0, 12)}:${clusterDocPath}`);
    return 'cluster' in found ? found.cluster : null;
  }

  membershipBefore(commit: string): Promise<ClusterDoc | null> {
    return membershipBefore(this.repo, commit);
  }

  async agreedTip(commit: string): Promise<{ readonly height: number; readonly valueId: string } | null> {
    const read = await readNoteChecked(this.repo, commit);
    if (read.status !== 'ok') return null;
    const findings = await verifyChain(this.repo, commit, { notes: notesFromRef(this.repo) });
    if (findings.length === 0 || findings.some((finding) => !finding.ok)) return null;
    return { height: read.note.height, valueId: read.note.valueId };
  }

  setRecordSigner(signer: RecordSigner): void {
    assert(signer.member.id === signer.identity.id, 'setRecordSigner: the member entry is the signing node');
    this.signer = signer;
  }

  revParse(rev: string): Promise<string | null> {
    return this.repo.revParseCommit(rev);
  }

  validate(base: string, items: readonly IdentifiedRecord[]): Promise<BatchVerdict | null> {
    return validateRecords(this.repo, base, items, { mode: this.mode, validator: this.validator });
  }

  compose(parent: string, candidates: readonly IdentifiedRecord[], gate?: WriteGate): Promise<AgreedTree> {
    return composeAgreed(this.repo, parent, candidates, gate?.opened);
  }

  async stageCommit(input: AgreedCommitInput, treeWritten: Promise<void>, gate?: WriteGate): Promise<StagedCommit> {
    // Observed at once: the tree's files may fail while the parent is read below.
    void observed(treeWritten);
    const staged = await stageAgreedCommit(this.repo, input, gate?.opened);
    const written = observed(allWritten([{ oid: input.tree, written: treeWritten }, staged]));
    const entry = { written, tree: input.tree, gate: gate ?? null };
    this.pending.set(staged.oid, entry);
    written.then(() => {
      if (this.pending.get(staged.oid) === entry) this.pending.delete(staged.oid);
    }, () => undefined);
    return { commit: staged.oid, written };
  }

  /** Wait for the files of `commit` where this chain staged it; throws when they could not be written. */
  private async landed(commit: string): Promise<void> {
    const entry = this.pending.get(commit);
    if (entry === undefined) return;
    entry.gate?.open();
    await entry.written;
  }

  async writeNote(input: AgreedNoteInput): Promise<void> {
    await this.landed(input.commit);
    await writeAgreedNote(this.repo, input);
  }

  async setAgreed(branch: string, commit: string): Promise<void> {
    await this.landed(commit);
    await this.repo.updateRef(agreedRef(branch), commit);
  }

  async fastForward(branch: string, commit: string): Promise<FastForwardResult> {
    await this.landed(commit);
    const branchRef = `refs/heads/${branch}`;
    // A branch checked out in any work tree of the repository (linked ones too) is left alone:
    // moving it would change what that work tree's index and files are compared against.
    if ((await this.repo.checkedOutBranches()).has(branchRef)) return 'checked-out';
    const current = await this.repo.revParseCommit(branchRef);
    if (current !== null && !(await this.repo.isAncestor(current, commit))) return 'not-fast-forward';
    await this.repo.updateRef(branchRef, commit, { oldOid: current });
    return 'moved';
  }

  async readOutbox(): Promise<readonly OutboxRecord[]> {
    return (await readOutbox(this.repo.commonDir)).records;
  }

  appendOutbox(record: OutboxRecord): Promise<void> {
    return enqueueCommit(this.repo.commonDir, record);
  }

  async localCommits(branch: string, exclude: readonly string[], countMax: number): Promise<readonly string[]> {
    assert(Number.isSafeInteger(countMax) && countMax > 0, 'localCommits: a positive count');
    for (const commit of exclude) assert(/^[0-9a-f]{40,64}$/.test(commit), 'localCommits: commit ids to exclude');
    const tip = await this.repo.revParseCommit(`refs/heads/${branch}`);
    if (tip === null) return [];
    const agreed = await this.repo.revParseCommit(agreedRef(branch));
    // The walk stops at what is agreed already or fetched from a peer: only the rest is this site's own work.
    const commits = await listNonMergeCommits(this.repo, { tip, exclude: [...exclude, ...(agreed === null ? [] : [agreed])], excludeRemotes: true, countMax });
    assert(commits.length <= countMax, 'rev-list honours --max-count');
    return commits.reverse();
  }

  recordsOfCommit(commit: string): Promise<IdentifiedRecord[]> {
    return recordsOfCommit(this.repo, commit, this.signer);
  }

  async packAgreed(tip: string, haves: readonly string[], bytesMax: number): Promise<AgreedPack | null> {
    const notes = await this.repo.revParseCommit(notesRef);
    if (notes === null) return null;
    const records = await this.repo.revParseCommit(recordsNotesRef);
    const tips = [tip, notes, ...(records === null ? [] : [records])];
    const bytes = await packObjects(this.repo, { tips, haves, bytesMax });
    return bytes === null ? null : { tips: { commit: tip, notes, records }, bytes };
  }

  async agreedHaves(branch: string): Promise<readonly string[]> {
    const out: string[] = [];
    for (const ref of [agreedRef(branch), notesRef, recordsNotesRef]) {
      const commit = await this.repo.revParseCommit(ref);
      if (commit !== null) out.push(commit);
    }
    return out;
  }

  unpack(bytes: Uint8Array): Promise<IndexPackResult> {
    return indexPack(this.repo, bytes);
  }

  discardPack(pack: string): Promise<void> {
    return removePack(this.repo, pack);
  }

  async checkAgreed(tips: AgreedTips, from: AgreedPoint, heightsMax: number): Promise<AgreedCheck> {
    assert(Number.isSafeInteger(heightsMax) && heightsMax > 0, 'checkAgreed: a positive bound');
    assert(from.height >= -1, 'checkAgreed: height -1 is the genesis');
    try {
      return await checkReceived(this.repo, tips, from, heightsMax);
    } catch (error) {
      // A missing or unreadable object the peer should have sent: its fault, not ours.
      return { ok: false, problem: `cannot read what the peer sent: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  async adoptAgreed(branch: string, tips: AgreedTips): Promise<void> {
    // Bodies first, then certificates, then the agreed ref: the order the writer uses, so a crash
    // in between never leaves an agreed commit without its notes.
    if (tips.records !== null) await this.repo.updateRef(recordsNotesRef, tips.records);
    await this.repo.updateRef(notesRef, tips.notes);
    await this.repo.updateRef(agreedRef(branch), tips.commit);
  }

  async close(): Promise<void> {
    this.validator?.dispose();
    // A clean stop leaves the files of every staged commit in place (a failed one is recomputed later).
    for (const entry of this.pending.values()) entry.gate?.open();
    await Promise.allSettled([...this.pending.values()].map((entry) => entry.written));
    await this.repo.close();
  }
}

/** {@link Chain.checkAgreed} on a real repository. */
async function checkReceived(repo: GitRepo, tips: AgreedTips, from: AgreedPoint, heightsMax: number): Promise<AgreedCheck> {
  for (const commit of [tips.commit, tips.notes, ...(tips.records === null ? [] : [tips.records])]) {
    if ((await repo.revParseCommit(commit)) === null) return { ok: false, problem: `the pack lacks commit ${commit.slice(0, 12)}` };
  }
  const ours = await repo.revParseCommit(notesRef);
  const whole = ours !== null && !(await repo.isAncestor(ours, tips.notes));
  // Each note is read twice (the check, then its certificate for the caller): read it once.
  const read = notesFromCommit(repo, tips.notes);
  const cache = new Map<string, ReturnType<NoteSource>>();
  const notes: NoteSource = (commit) => {
    let found = cache.get(commit);
    if (found === undefined) {
      found = read(commit);
      cache.set(commit, found);
    }
    return found;
  };
  const stopAt = whole ? null : from.commit;
  const findings = await verifyChain(repo, tips.commit, { notes, stopAt, commitsMax: heightsMax + (whole ? from.height + 2 : 1) });
  const bad = findings.find((finding) => !finding.ok);
  if (bad !== undefined) return { ok: false, problem: `agreed commit ${bad.commit.slice(0, 12)} (height ${bad.height ?? '?'}): ${bad.problems.join('; ')}` };
  const heights: CheckedHeight[] = [];
  for (const finding of [...findings].reverse()) {
    if (finding.height === null || finding.height <= from.height) continue;
    const note = await notes(finding.commit);
    assert(note.status === 'ok', 'a commit that verified has a readable note');
    heights.push({ height: finding.height, commit: finding.commit, cert: note.note.cert });
    if (heights.length === 1 && note.note.parent !== from.commit) {
      return { ok: false, problem: `height ${finding.height} builds on ${note.note.parent.slice(0, 12)}, not on this node's ${from.commit.slice(0, 12)}` };
    }
  }
  if (heights.length === 0) return { ok: false, problem: 'nothing beyond what this node has' };
  if (heights.length > heightsMax) return { ok: false, problem: `more than ${heightsMax} heights` };
  if (heights[0]!.height !== from.height + 1) return { ok: false, problem: `the chain starts at height ${heights[0]!.height}, not ${from.height + 1}` };
  for (let i = 1; i < heights.length; i += 1) assert(heights[i]!.height === heights[i - 1]!.height + 1, 'verifyChain checks heights count by one');
  return { ok: true, heights };
}

/** A revision that names no commit, for the local API. */
export function unknownRevision(rev: string): AcuError {
  return new AcuError('ERR_UNKNOWN_REVISION', `'${rev}' does not name a commit`, { hint: 'pass a commit id, a branch name or HEAD' });
}
