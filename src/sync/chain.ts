/**
 * The chain port: every piece of git work the sync node does — resolving revisions, validating a
 * batch, composing and writing agreed commits, moving refs, reading the outbox, extracting a
 * commit's records — behind one interface. {@link GitChain} does it in a real repository; the host
 * simulator supplies a model of it, so whole sync nodes run seeded and fast.
 */
import { AcuError, assert } from '../core/errors.js';
import { runGit } from '../git/exec.js';
import type { GitRepo } from '../git/index.js';
import { enqueueCommit, readOutbox } from '../store/outbox.js';
import type { OutboxRecord } from '../store/outbox.js';
import type { Validator } from '../validate/validate.js';
import type { ClusterDoc } from '../store/cluster.js';
import { agreedRef, readNoteChecked, writeAgreedCommit, writeAgreedNote } from './agreed.js';
import type { AgreedCommitInput, AgreedNoteInput } from './agreed.js';
import { composeAgreed, validateRecords } from './batch.js';
import type { AgreedTree, BatchVerdict, ValidationMode } from './batch.js';
import { recordsOfCommit } from './records.js';
import type { IdentifiedRecord, RecordSigner } from './records.js';
import { clusterAtCommit, notesFromRef, verifyChain } from './verify-chain.js';

/** What moving the protected branch to an agreed commit did. */
export type FastForwardResult = 'moved' | 'checked-out' | 'not-fast-forward';

/** The sync node's git work. */
export interface Chain {
  /** The commit `rev` names, or null when it names none. */
  revParse(rev: string): Promise<string | null>;
  /** Validate records composed onto `base` (a commit id): the verdict every honest node signs; null: none (abstain). */
  validate(base: string, items: readonly IdentifiedRecord[]): Promise<BatchVerdict | null>;
  /** The tree of an agreed commit: `candidates` composed onto `parent`, failures rejected. */
  compose(parent: string, candidates: readonly IdentifiedRecord[]): Promise<AgreedTree>;
  /** Write an agreed commit object (no ref, no note); returns its id. */
  writeCommit(input: AgreedCommitInput): Promise<string>;
  /** Write the certificate note and the record bodies note of a written agreed commit. */
  writeNote(input: AgreedNoteInput): Promise<void>;
  /** Point the agreed ref of `branch` at `commit`. */
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
  /** Sign the records of this site's commits as `signer` from now on (a membership change moved its key or entry). */
  setRecordSigner?(signer: RecordSigner): void;
  close(): Promise<void>;
}

/** The chain of a real repository. */
export class GitChain implements Chain {
  constructor(
    private readonly repo: GitRepo,
    private readonly mode: ValidationMode,
    private readonly validator: Validator | null,
    private signer: RecordSigner,
  ) {}

  async clusterAt(commit: string): Promise<ClusterDoc | null> {
    const found = await clusterAtCommit(this.repo, commit);
    return 'cluster' in found ? found.cluster : null;
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

  compose(parent: string, candidates: readonly IdentifiedRecord[]): Promise<AgreedTree> {
    return composeAgreed(this.repo, parent, candidates);
  }

  writeCommit(input: AgreedCommitInput): Promise<string> {
    return writeAgreedCommit(this.repo, input);
  }

  async writeNote(input: AgreedNoteInput): Promise<void> {
    await writeAgreedNote(this.repo, input);
  }

  setAgreed(branch: string, commit: string): Promise<void> {
    return this.repo.updateRef(agreedRef(branch), commit);
  }

  async fastForward(branch: string, commit: string): Promise<FastForwardResult> {
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
    // --topo-order: the same answer whatever the commit dates say; --max-count bounds the output,
    // and the negative side bounds the walk to what is not yet agreed or fetched.
    const not = ['--remotes', ...exclude, ...(agreed === null ? [] : [agreed])];
    const args = ['rev-list', '--no-merges', '--topo-order', `--max-count=${countMax}`, tip, '--not', ...not, '--'];
    const output = await runGit(args, { cwd: this.repo.gitDir, gitDir: this.repo.gitDir });
    const commits = output.stdout.toString('utf8').split('\n').filter((line) => line !== '');
    assert(commits.length <= countMax, 'rev-list honours --max-count');
    return commits.reverse();
  }

  recordsOfCommit(commit: string): Promise<IdentifiedRecord[]> {
    return recordsOfCommit(this.repo, commit, this.signer);
  }

  async close(): Promise<void> {
    this.validator?.dispose();
    await this.repo.close();
  }
}

/** A revision that names no commit, for the local API. */
export function unknownRevision(rev: string): AcuError {
  return new AcuError('ERR_UNKNOWN_REVISION', `'${rev}' does not name a commit`, { hint: 'pass a commit id, a branch name or HEAD' });
}
