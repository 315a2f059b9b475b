/**
 * A model of the chain port (src/sync/chain.ts) for the host simulator: the git work of a sync
 * node, deterministic and in memory.
 *
 * - A tree is a map path -> content digest; its id is a digest of its sorted entries. Composing
 *   records onto a commit's tree sets each applied record's file to its content digest.
 * - A commit id is a digest of (parent, tree, message), and the message names the height and the
 *   applied record ids, never anything node-specific: honest nodes write the same id, which is the
 *   outcome the cluster certifies. The notes (certificate, record bodies) are kept per commit.
 * - Validation: two records of one batch on the same file with different content conflict (in
 *   batch order); a record whose data starts with `invalid` is invalid on its own. The verdict is a
 *   function of the base and the records, so every honest node signs the same one.
 * - Faults: a held lock or a full disk makes the next `writeNote` or `setAgreed` throw an
 *   `AcuError` (a local failure the writer retries); a full disk also fails the write of a commit
 *   `stageCommit` staged before the decision (the outcome the replica asks for): its id is given at
 *   once and its object lands once its write gate is opened (the writer needs it), or fails then (the writer's
 *   retry computes the outcome again, which stages it again). A process killed meanwhile never
 *   writes it. A note or ref naming a commit the repository lacks is a bug, and throws as one.
 *
 * {@link ModelRepo} is the repository (it outlives crashes); {@link ModelChain} is one process's
 * view of it (a crashed process's view hangs forever, as its git children died with it).
 */
import { createHash } from 'node:crypto';
import { AcuError } from '../../src/core/errors.js';
import type { Conflict } from '../../src/core/consensus/index.js';
import type { AgreedCommitInput, AgreedNoteInput } from '../../src/sync/agreed.js';
import { agreedRef } from '../../src/sync/agreed.js';
import type { AgreedTree, BatchVerdict, Rejection } from '../../src/sync/batch.js';
import type { AgreedCheck, AgreedPack, Chain, FastForwardResult, StagedCommit, WriteGate } from '../../src/sync/chain.js';
import type { IndexPackResult } from '../../src/git/pack.js';
import type { OutboxRecord } from '../../src/store/outbox.js';
import type { ClusterDoc } from '../../src/store/cluster.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';

function digest(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** Faults the repository has in store; each count is used up one failure at a time. */
export interface ChainFaults {
  /** Failures of `writeNote` or `setAgreed` left to happen. */
  lockHeld: number;
  diskFull: number;
}

/** The commit every model repository starts from. */
export const modelGenesis = digest('genesis');

/** One site's repository: its objects and refs survive the node's crashes. */
export class ModelRepo {
  readonly trees = new Map<string, ReadonlyMap<string, string>>([[digest(''), new Map()]]);
  readonly commits = new Map<string, { readonly parent: string | null; readonly tree: string }>([[modelGenesis, { parent: null, tree: digest('') }]]);
  readonly refs = new Map<string, string>();
  /** Notes by commit: the height and signers of its certificate, and its record ids. */
  readonly notes = new Map<string, { readonly height: number; readonly records: readonly string[] }>();
  readonly faults: ChainFaults = { lockHeld: 0, diskFull: 0 };
  /** The outbox (the model has no hook; entries come only from the node's own scan). */
  readonly outbox: OutboxRecord[] = [];
  /** Writes refused by a fault so far. */
  failedWrites = 0;

  constructor(readonly branch: string) {
    this.refs.set(`refs/heads/${branch}`, modelGenesis);
  }

  /** Throw the next fault in store, if any (`objectsOnly`: writing objects takes no lock, only disk). */
  maybeFail(what: string, objectsOnly = false): void {
    if (this.faults.lockHeld > 0 && !objectsOnly) {
      this.faults.lockHeld -= 1;
      this.failedWrites += 1;
      throw new AcuError('ERR_GIT_FAILED', `${what}: Unable to create '.git/index.lock': File exists`, { hint: 'another git process holds the lock' });
    }
    if (this.faults.diskFull > 0) {
      this.faults.diskFull -= 1;
      this.failedWrites += 1;
      throw new AcuError('ERR_IO', `${what}: No space left on device`, { hint: 'free some disk space' });
    }
  }
}

function treeId(tree: ReadonlyMap<string, string>): string {
  return digest([...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, c]) => `${p}\0${c}`).join('\n'));
}

function contentOf(item: IdentifiedRecord): string {
  const acu = item.record.acu;
  return acu.level === 'file' ? acu.afterOid ?? 'deleted' : item.id;
}

/** A batch's verdict in the model: conflicts and invalid records, as every honest node finds them. */
export function modelVerdict(base: string, items: readonly IdentifiedRecord[]): BatchVerdict {
  const invalid: Rejection[] = [];
  const conflicts: (Conflict & { kind: string; file: string; message: string; earlier: 'a' | 'b' })[] = [];
  const firstOn = new Map<string, IdentifiedRecord>();
  for (const item of items) {
    const acu = item.record.acu;
    if (acu.level === 'file' && acu.data !== null && acu.data.startsWith('invalid')) {
      invalid.push({ id: item.id, reason: 'does not parse' });
      continue;
    }
    const first = firstOn.get(acu.file);
    if (first === undefined) firstOn.set(acu.file, item);
    else if (contentOf(first) !== contentOf(item)) {
      // Sides in canonical order, as batch.ts gives them; `earlier` is the one the batch lists first.
      const [a, b] = first.id < item.id ? [first.id, item.id] : [item.id, first.id];
      conflicts.push({ a, b, kind: 'same-file', file: acu.file, message: `both change ${acu.file}`, earlier: a === first.id ? 'a' : 'b' });
    }
  }
  const detailDigest = digest(`${base}|${items.map((i) => i.id).join(',')}|${invalid.map((r) => r.id).join(',')}`);
  return { consensus: { ok: true, conflicts: conflicts.map(({ a, b }) => ({ a, b })), detailDigest }, invalid, conflicts };
}

/** One process's chain on a {@link ModelRepo}. */
export class ModelChain implements Chain {
  private dead = false;
  /** Commits staged by this process: their cluster document is known before they land (as GitChain reads it from the composed tree). */
  private readonly staged = new Set<string>();

  /**
   * `cluster`: the membership, which never changes in the model; given, the chain answers
   * `clusterAt` as a repository does — the document for a commit it holds, null for one it has not
   * got (a decision it learned from others' signatures) — so the node's membership hold is run.
   */
  constructor(
    private readonly repo: ModelRepo,
    private readonly cluster: ClusterDoc | null = null,
  ) {
    if (cluster !== null) this.clusterAt = (commit: string): Promise<ClusterDoc | null> => this.run(() => (this.repo.commits.has(commit) || this.staged.has(commit) ? cluster : null));
  }

  clusterAt?: (commit: string) => Promise<ClusterDoc | null>;

  /** The process died: every call from now on hangs, as its git children are gone with it. */
  kill(): void {
    this.dead = true;
  }

  private run<T>(work: () => T): Promise<T> {
    if (this.dead) return new Promise<T>(() => undefined);
    // A throw of `work` becomes a rejection, as a failed git call would be.
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  revParse(rev: string): Promise<string | null> {
    return this.run(() => this.repo.refs.get(rev) ?? (this.repo.commits.has(rev) ? rev : null));
  }

  validate(base: string, items: readonly IdentifiedRecord[]): Promise<BatchVerdict> {
    return this.run(() => modelVerdict(base, items));
  }

  compose(parent: string, candidates: readonly IdentifiedRecord[]): Promise<AgreedTree> {
    return this.run(() => {
      const base = this.repo.trees.get(this.repo.commits.get(parent)!.tree)!;
      const tree = new Map(base);
      for (const item of candidates) tree.set(item.record.acu.file, contentOf(item));
      const id = treeId(tree);
      this.repo.trees.set(id, tree);
      return { tree: id, applied: candidates.map((item) => item.id), rejected: [], written: Promise.resolve() };
    });
  }

  stageCommit(input: AgreedCommitInput, treeWritten: Promise<void>, gate?: WriteGate): Promise<StagedCommit> {
    return this.run(() => {
      const message = `height ${input.height}\napplied ${input.applied.join(',')}`;
      const commit = digest(`${input.parentCommit}\n${input.tree}\n${message}`);
      this.staged.add(commit);
      const written = Promise.all([treeWritten, gate?.opened]).then(() => {
        if (this.dead) return new Promise<void>(() => undefined);
        this.repo.maybeFail('write the agreed commit object', true);
        this.repo.commits.set(commit, { parent: input.parentCommit, tree: input.tree });
      });
      written.catch(() => undefined);
      return { commit, written };
    });
  }

  /** A note or ref may name only a commit the repository holds (a staged one once it landed). */
  private mustHold(commit: string, what: string): void {
    if (!this.repo.commits.has(commit)) throw new Error(`${what} would name commit ${commit.slice(0, 12)}, which the repository lacks`);
  }

  writeNote(input: AgreedNoteInput): Promise<void> {
    return this.run(() => {
      this.mustHold(input.commit, 'the note');
      this.repo.maybeFail('write the agreed commit\'s notes');
      this.repo.notes.set(input.commit, { height: input.cert.height, records: input.records.map((item) => item.id) });
    });
  }

  setAgreed(branch: string, commit: string): Promise<void> {
    return this.run(() => {
      this.mustHold(commit, 'the agreed ref');
      this.repo.maybeFail('update the agreed ref');
      this.repo.refs.set(agreedRef(branch), commit);
    });
  }

  fastForward(branch: string, commit: string): Promise<FastForwardResult> {
    return this.run(() => {
      this.repo.refs.set(`refs/heads/${branch}`, commit);
      return 'moved' as const;
    });
  }

  readOutbox(): Promise<readonly OutboxRecord[]> {
    return this.run(() => [...this.repo.outbox]);
  }

  appendOutbox(record: OutboxRecord): Promise<void> {
    return this.run(() => {
      this.repo.maybeFail('append to the outbox', true);
      this.repo.outbox.push(record);
    });
  }

  /** The model's branch holds only agreed commits (no site commits on it), so nothing is missed. */
  localCommits(): Promise<readonly string[]> {
    return this.run(() => []);
  }

  // State transfer needs git packs, which the model has none of: a peer asked for one answers that
  // it has none, and a node far behind catches up by fetching decisions (the simulator keeps every
  // run within the decisions peers retain). test/sync/state-transfer.test.ts covers transfer on
  // real repositories.
  packAgreed(): Promise<AgreedPack | null> {
    return this.run(() => null);
  }

  agreedHaves(): Promise<readonly string[]> {
    return this.run(() => []);
  }

  unpack(): Promise<IndexPackResult> {
    return this.run(() => ({ ok: false as const, reason: 'the model chain holds no packs' }));
  }

  discardPack(): Promise<void> {
    return this.run(() => undefined);
  }

  checkAgreed(): Promise<AgreedCheck> {
    return this.run(() => ({ ok: false as const, problem: 'the model chain holds no packs' }));
  }

  adoptAgreed(): Promise<void> {
    return this.run(() => undefined);
  }

  recordsOfCommit(): Promise<IdentifiedRecord[]> {
    return this.run(() => []);
  }

  close(): Promise<void> {
    return this.run(() => undefined);
  }
}
