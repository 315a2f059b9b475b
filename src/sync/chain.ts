/**
 * The chain port: every piece of git work the sync node does — resolving revisions, validating a
 * batch, composing and writing agreed commits, moving refs, reading the outbox, extracting a
 * commit's records — behind one interface. {@link GitChain} does it in a real repository; the host
 * simulator supplies a model of it, so whole sync nodes run seeded and fast.
 */
import { AcuError } from '../core/errors.js';
import type { GitRepo } from '../git/index.js';
import { readOutbox } from '../store/outbox.js';
import type { OutboxRecord } from '../store/outbox.js';
import type { Validator } from '../validate/validate.js';
import { agreedRef, writeAgreedCommit, writeAgreedNote } from './agreed.js';
import type { AgreedCommitInput, AgreedNoteInput } from './agreed.js';
import { composeAgreed, validateRecords } from './batch.js';
import type { AgreedTree, BatchVerdict, ValidationMode } from './batch.js';
import { recordsOfCommit } from './records.js';
import type { IdentifiedRecord, RecordSigner } from './records.js';

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
  /** The records of a commit, extracted against its first parent and signed by this node. */
  recordsOfCommit(commit: string): Promise<IdentifiedRecord[]>;
  close(): Promise<void>;
}

/** The chain of a real repository. */
export class GitChain implements Chain {
  constructor(
    private readonly repo: GitRepo,
    private readonly mode: ValidationMode,
    private readonly validator: Validator | null,
    private readonly signer: RecordSigner,
  ) {}

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
