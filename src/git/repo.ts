/**
 * {@link GitRepo}: acu's one handle on a git repository. History-wide reads go through long-lived
 * or batched git processes (one `cat-file --batch` per repository, one `diff-tree --stdin` per
 * batch of diffs), object writes through isomorphic-git in-process. docs/git.md says why, with
 * measurements.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { AcuError, assert } from '../core/errors.js';
import { CatFileBatch, corruptionPattern } from './catfile.js';
import { gitFailure, runGit, runGitRaw } from './exec.js';
import type { GitResult } from './exec.js';
import type { IsoCache } from './iso.js';
import { allWritten, isoReadBlob, isoWriteBlob, isoWriteCommit, isoWriteTree, observed, stageCommit, stageLooseObject, stageTree, typeForMode } from './iso.js';
import type { StagedObject } from './iso.js';
import { emptyTreeOidFor, isHexOid, oidHexLength, zeroOidFor } from './objects.js';
import type { ObjectFormat } from './objects.js';
import { parseCommit, parseDiffTreeBatch, parseLsTree, parseTreeObject } from './parse.js';
import type { CommitInfo, NewCommit, NewTreeEntry, RangeOptions, TreeChange, TreeEntry } from './types.js';

export type { ChangeStatus, CommitInfo, NewCommit, NewTreeEntry, RangeOptions, Signature, TreeChange, TreeEntry } from './types.js';
export { gitBlobOid } from './objects.js';

/** git's rename-detection limit, pinned so that every site detects the same renames. */
const renameLimitFiles = 1000;

/** A pair of tree-ish names to diff; `from: null` is the empty tree. */
export interface TreePair {
  readonly from: string | null;
  readonly to: string;
}

/** Options for {@link GitRepo.diffTrees}. */
export interface DiffTreesOptions {
  /** Detect renames (`-M`); default true. Copies are never detected. */
  readonly renames?: boolean;
  /** Only these paths (pathspecs, after `--`). */
  readonly paths?: string[];
}

/** A replacement for one path in {@link GitRepo.writeTreeFromPaths}; null deletes the path. */
export type PathChange = { readonly mode: string; readonly oid: string } | null;

function checkName(name: string, what: string): void {
  if (name === '' || name.includes('\n') || name.includes('\0')) {
    throw new AcuError('ERR_UNKNOWN_REVISION', `${JSON.stringify(name)} is not a valid ${what}`, {
      hint: 'pass a revision such as HEAD, a branch name or a full commit id',
      data: { revision: name },
    });
  }
}

/** A handle on one repository; {@link GitRepo.close} ends its git processes. */
export class GitRepo {
  /** The absolute git directory (for a linked worktree, its own directory under `worktrees/`). */
  readonly gitDir: string;
  /** The absolute directory that holds objects, refs and `shallow` (the same as gitDir except in a linked worktree). */
  readonly commonDir: string;
  /** The top of the work tree; null for a bare repository or when opened from inside the git directory. */
  readonly workTree: string | null;
  /** Whether the repository is a shallow clone (has a `shallow` file). */
  readonly isShallow: boolean;
  /** The id of the empty tree in this repository's object format. */
  readonly emptyTreeOid: string;
  /** SHA-1 or SHA-256. */
  readonly objectFormat: ObjectFormat;
  private readonly batch: CatFileBatch;
  // One shared cache for every isomorphic-git read: without it each read re-parses pack indexes.
  private readonly isoCache: IsoCache = {};

  private constructor(fields: { gitDir: string; commonDir: string; workTree: string | null; isShallow: boolean; objectFormat: ObjectFormat }) {
    this.gitDir = fields.gitDir;
    this.commonDir = fields.commonDir;
    this.workTree = fields.workTree;
    this.isShallow = fields.isShallow;
    this.objectFormat = fields.objectFormat;
    this.emptyTreeOid = emptyTreeOidFor(fields.objectFormat);
    this.batch = new CatFileBatch({ cwd: this.gitDir, gitDir: this.gitDir });
  }

  /** Open the repository that contains `cwd`. Throws ERR_NOT_A_GIT_REPO when there is none. */
  static async open(cwd: string): Promise<GitRepo> {
    const directory = resolvePath(cwd);
    const info = await stat(directory).catch(() => null);
    if (info === null || !info.isDirectory()) {
      throw new AcuError('ERR_NOT_A_GIT_REPO', `${directory} is not a directory`, {
        hint: 'run acu inside a git repository, or pass its path',
        data: { path: directory },
      });
    }
    const args = ['rev-parse', '--absolute-git-dir', '--git-common-dir', '--is-inside-work-tree', '--is-shallow-repository', '--show-object-format'];
    const result = await runGitRaw(args, { cwd: directory, gitDir: null });
    if (result.exitCode !== 0) throw notARepository(directory, result.stderr);
    const [gitDir, commonDir, insideWorkTree, shallow, format] = result.stdout.toString('utf8').split('\n');
    assert(gitDir !== undefined && commonDir !== undefined && format !== undefined, 'rev-parse printed one line per question');
    assert(format === 'sha1' || format === 'sha256', `object format is known: ${format}`);
    let workTree: string | null = null;
    if (insideWorkTree === 'true') {
      const top = await runGit(['rev-parse', '--show-toplevel'], { cwd: directory, gitDir: null });
      workTree = top.stdout.toString('utf8').replace(/\n$/, '');
    }
    return new GitRepo({
      gitDir,
      commonDir: resolvePath(directory, commonDir),
      workTree,
      isShallow: shallow === 'true',
      objectFormat: format,
    });
  }

  /** End the long-lived git processes. Idempotent; reads after close fail with ERR_IO. */
  async close(): Promise<void> {
    await this.batch.close();
  }

  /** The commit `rev` names. ERR_UNKNOWN_REVISION if it names nothing or something else than a commit. */
  async resolveCommit(rev: string): Promise<string> {
    checkName(rev, 'revision');
    return await this.peel(rev, 'commit');
  }

  /** The tree `treeish` (a commit, a tree, a tag or any revision) names. */
  async resolveTree(treeish: string): Promise<string> {
    checkName(treeish, 'tree-ish');
    return await this.peel(treeish, 'tree');
  }

  /** What `rev` names, peeled to a `wanted` (`rev^{wanted}`); ERR_UNKNOWN_REVISION when there is none. */
  private async peel(rev: string, wanted: 'commit' | 'tree'): Promise<string> {
    const answer = await this.batch.request(`${rev}^{${wanted}}`);
    if (answer.kind === 'found') {
      assert(answer.type === wanted, `peeling to a ${wanted} gives a ${wanted}`);
      return answer.oid;
    }
    throw await this.unresolvable(rev, wanted, 'revision');
  }

  /** One commit's metadata, read from the commit object. See docs/git.md for shallow clones. */
  async commitInfo(oid: string): Promise<CommitInfo> {
    checkName(oid, 'commit id');
    const answer = await this.batch.request(oid);
    if (answer.kind === 'missing') throw await this.unresolvable(oid, 'commit', 'object');
    if (answer.type !== 'commit') throw notA(oid, answer.type, 'commit');
    return parseCommit(answer.oid, answer.content);
  }

  /**
   * The commits of a range, oldest first (parents before children: `git rev-list --topo-order
   * --reverse`). Revisions without a range (`['HEAD']`, `['A', 'B']`) list those commits only, as
   * `git show` would; `walk` makes them walk their ancestry; `all` walks from every ref too. With maxCount, the newest maxCount commits of the
   * walk, still oldest first. In a shallow repository a walk that reaches the boundary raises
   * ERR_SHALLOW_BOUNDARY instead of returning a history that silently stops there.
   */
  async listCommits(range: RangeOptions): Promise<CommitInfo[]> {
    const all = range.all ?? false;
    const walk = all || (range.walk ?? false);
    assert(range.revs.length > 0 || all, 'listCommits needs revisions or all');
    assert(range.maxCount === undefined || (Number.isInteger(range.maxCount) && range.maxCount >= 0), 'maxCount is a count');
    await Promise.all(range.revs.map((rev) => this.checkRevArgument(rev)));
    const revArgs = [...(all ? ['--all'] : []), ...(walk ? [] : ['--no-walk']), '--end-of-options', ...range.revs];
    const countArgs = range.maxCount === undefined ? [] : [`--max-count=${range.maxCount}`];
    const args = ['rev-list', '--topo-order', '--reverse', ...countArgs, ...revArgs, '--', ...(range.paths ?? [])];
    const output = await runGit(args, { cwd: this.gitDir, gitDir: this.gitDir });
    const oids = output.stdout.toString('utf8').split('\n').filter((line) => line !== '');
    if (this.isShallow && (walk || range.revs.some(isRangeRevision))) {
      await this.assertWalkWithinShallow([...revArgs]);
    }
    return await Promise.all(oids.map((oid) => this.commitInfo(oid)));
  }

  /**
   * Diff pairs of trees, recursively, with one `git diff-tree --stdin` process for the whole
   * batch. Results come in input order; each holds blobs, symlinks and gitlinks, never trees.
   */
  async diffTrees(pairs: ReadonlyArray<TreePair>, options: DiffTreesOptions = {}): Promise<TreeChange[][]> {
    if (pairs.length === 0) return [];
    const names = new Set<string>();
    for (const pair of pairs) {
      if (pair.from !== null) names.add(pair.from);
      names.add(pair.to);
    }
    const trees = new Map<string, string>();
    await Promise.all([...names].map(async (name) => trees.set(name, await this.resolveTree(name))));
    const treeOf = (name: string | null): string => {
      if (name === null) return this.emptyTreeOid;
      const tree = trees.get(name);
      assert(tree !== undefined, `every side was resolved: ${name}`);
      return tree;
    };
    const input = pairs.map((pair) => `${treeOf(pair.from)} ${treeOf(pair.to)}\n`).join('');
    const renames = options.renames ?? true;
    const args = [
      'diff-tree', '--stdin', '-z', '-r', '--raw', '--no-abbrev', '--ignore-submodules=none',
      ...(renames ? ['-M', `-l${renameLimitFiles}`] : ['--no-renames']),
      '--', ...(options.paths ?? []),
    ];
    const output = await runGitRaw(args, { cwd: this.gitDir, gitDir: this.gitDir, input });
    if (output.exitCode !== 0) throw await this.objectFailure(args, output);
    return parseDiffTreeBatch(output.stdout, pairs.length);
  }

  /** A blob's bytes, through the shared cat-file process. ERR_MISSING_OBJECT, ERR_CORRUPT_OBJECT. */
  async readBlob(oid: string): Promise<Uint8Array> {
    this.checkOid(oid);
    const answer = await this.batch.request(oid);
    if (answer.kind === 'missing') throw await this.unresolvable(oid, 'blob', 'object');
    if (answer.type !== 'blob') throw notA(oid, answer.type, 'blob');
    return answer.content;
  }

  /**
   * The sizes in bytes of objects, through one `git cat-file --batch-check` (no content is read);
   * null for an id git does not have. Results in input order. For planning work, not for reading.
   */
  async objectSizes(oids: readonly string[]): Promise<(number | null)[]> {
    if (oids.length === 0) return [];
    for (const oid of oids) this.checkOid(oid);
    const args = ['cat-file', '--batch-check=%(objectname) %(objectsize)'];
    const output = await runGit(args, { cwd: this.gitDir, gitDir: this.gitDir, input: oids.map((oid) => `${oid}\n`).join('') });
    const lines = output.stdout.toString('utf8').split('\n');
    return oids.map((oid, i) => {
      const [name, size] = (lines[i] ?? '').split(' ');
      return name === oid && size !== undefined && /^\d+$/.test(size) ? Number(size) : null;
    });
  }

  /** Many blobs at once, pipelined; results in input order. */
  async readBlobs(oids: readonly string[]): Promise<Uint8Array[]> {
    return await Promise.all(oids.map((oid) => this.readBlob(oid)));
  }

  /**
   * A blob's bytes, read in-process by isomorphic-git with the repository's shared cache. The
   * second implementation of blob reading: the conformance suite checks it against readBlob.
   */
  async readBlobIsomorphic(oid: string): Promise<Uint8Array> {
    this.checkOid(oid);
    try {
      return await isoReadBlob(this.commonDir, oid, this.isoCache);
    } catch (error) {
      if (error instanceof AcuError && error.code === 'ERR_MISSING_OBJECT' && this.isShallow && (await this.isBeyondShallowBoundary(oid))) {
        throw shallowError(oid);
      }
      throw error;
    }
  }

  /** The entries of a tree, as `git ls-tree -z` (with `-r`: files only, paths from the root). */
  async readTree(treeish: string, options: { recursive?: boolean } = {}): Promise<TreeEntry[]> {
    const tree = await this.resolveTree(treeish);
    const args = ['ls-tree', '-z', '--full-tree', ...(options.recursive === true ? ['-r'] : []), tree];
    const output = await runGit(args, { cwd: this.gitDir, gitDir: this.gitDir });
    return parseLsTree(output.stdout);
  }

  /** The commits listed in `<commonDir>/shallow`: present, but their parents are not. */
  async shallowBoundary(): Promise<Set<string>> {
    const text = await readFile(resolvePath(this.commonDir, 'shallow'), 'utf8').catch((error: unknown) => {
      if ((error as { code?: unknown }).code === 'ENOENT') return '';
      throw new AcuError('ERR_IO', `cannot read ${this.commonDir}/shallow: ${String(error)}`, { cause: error });
    });
    return new Set(text.split('\n').filter((line) => line !== ''));
  }

  /** Write a blob (in-process, isomorphic-git); returns its id. */
  async writeBlob(bytes: Uint8Array): Promise<string> {
    this.checkWritable();
    return await isoWriteBlob(this.commonDir, bytes);
  }

  /** Write one tree object; entries may come in any order (they are sorted the way git sorts). */
  async writeTree(entries: ReadonlyArray<NewTreeEntry>): Promise<string> {
    this.checkWritable();
    return await isoWriteTree(this.commonDir, entries);
  }

  /**
   * Write the tree that results from `baseTree` (null: the empty tree) with per-path changes: a
   * path maps to its new mode and id, or to null to delete it. Directories left empty disappear;
   * untouched subtrees keep their ids. A directory turns into a file when the changes name it and
   * delete every file below it. A path under a name that stays a file, or a directory named as a
   * file that still holds files, is ERR_APPLY_FAILED.
   */
  async writeTreeFromPaths(baseTree: string | null, changes: ReadonlyMap<string, PathChange>): Promise<string> {
    const staged = await this.stageTreeFromPaths(baseTree, changes);
    await staged.written;
    return staged.oid;
  }

  /**
   * {@link writeTreeFromPaths}, but returning as soon as the root tree's id is known (the base
   * trees read, every new tree hashed): `written` resolves once every new tree is stored, and
   * rejects, after all of them have settled, when one could not be. The files are written once
   * `after` resolves, if given.
   */
  async stageTreeFromPaths(baseTree: string | null, changes: ReadonlyMap<string, PathChange>, after?: Promise<void>): Promise<StagedObject> {
    const list: Array<[string[], PathChange]> = [];
    for (const [path, change] of changes) {
      const parts = path.split('/');
      assert(parts.every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('\0')), `path is a clean relative path: ${JSON.stringify(path)}`);
      list.push([parts, change]);
    }
    this.checkWritable();
    const root = baseTree === null ? null : await this.resolveTree(baseTree);
    // Each tree's id is known as soon as its entries are, so its file is written while the walk
    // goes on: the trees of one call are written side by side, not one after the other.
    const staged: StagedObject[] = [];
    let written: string | null;
    try {
      written = await this.writeDirectory(root, list, '', staged, after);
    } catch (error) {
      // What was started still finishes (a file left half-way is a temporary one, never an object).
      await Promise.allSettled(staged.map((object) => object.written));
      throw error;
    }
    if (written === null) staged.push(stageTree(this.commonDir, [], after));
    return { oid: written ?? staged.at(-1)!.oid, written: observed(allWritten(staged)) };
  }

  /** Start writing a blob (in-process; once `after` resolves, if given); its id at once, see {@link StagedObject}. */
  stageBlob(bytes: Uint8Array, after?: Promise<void>): StagedObject {
    this.checkWritable();
    return stageLooseObject(this.commonDir, 'blob', bytes, after);
  }

  /** Start writing a commit object (in-process; once `after` resolves, if given); its id at once, see {@link StagedObject}. */
  stageCommit(commit: NewCommit, after?: Promise<void>): StagedObject {
    this.checkWritable();
    return stageCommit(this.commonDir, commit, after);
  }

  /** Write a commit object (in-process); the message is stored byte for byte. Returns its id. */
  async writeCommit(commit: NewCommit): Promise<string> {
    this.checkWritable();
    return await isoWriteCommit(this.commonDir, commit);
  }

  /** The commit `rev` names, or null when it names none (`rev-parse --verify --quiet`). */
  async revParseCommit(rev: string): Promise<string | null> {
    assert(!rev.startsWith('-'), `a revision is not an option: ${JSON.stringify(rev)}`);
    const result = await runGitRaw(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { cwd: this.gitDir, gitDir: this.gitDir });
    return result.exitCode === 0 ? result.stdout.toString('utf8').trim() : null;
  }

  /** The blob at `path` in `commit`'s tree, or null when there is none (or it is not a blob). */
  async blobAtPath(commit: string, path: string): Promise<Uint8Array | null> {
    this.checkOid(commit);
    assert(!path.startsWith('/') && !path.includes('\0'), `a relative path: ${JSON.stringify(path)}`);
    const result = await runGitRaw(['rev-parse', '--verify', '--quiet', `${commit}:${path}`], { cwd: this.gitDir, gitDir: this.gitDir });
    if (result.exitCode !== 0) return null;
    const answer = await this.batch.request(result.stdout.toString('utf8').trim());
    return answer.kind === 'missing' || answer.type !== 'blob' ? null : answer.content;
  }

  /**
   * The blob at `path` in `commit`'s tree with its id, or null when there is none (or it is not a
   * blob): {@link blobAtPath} through the shared cat-file process alone, so that a walk reading
   * one file at every commit of a long history starts no git process per commit. The id lets a
   * caller keep what it derived from a blob it has seen before.
   */
  async blobEntryAtPath(commit: string, path: string): Promise<{ readonly oid: string; readonly content: Uint8Array } | null> {
    this.checkOid(commit);
    assert(!path.startsWith('/') && !path.includes('\0') && !path.includes('\n') && path !== '', `a relative path: ${JSON.stringify(path)}`);
    // cat-file resolves `<commit>:<path>` as rev-parse does, and names a missing path "missing".
    const answer = await this.batch.request(`${commit}:${path}`);
    return answer.kind === 'missing' || answer.type !== 'blob' ? null : { oid: answer.oid, content: answer.content };
  }

  /** The entries of one tree, not recursive (`name` is the entry's own name). */
  async treeEntries(tree: string): Promise<{ readonly mode: string; readonly name: string; readonly oid: string }[]> {
    this.checkOid(tree);
    return (await this.readRawTree(tree)).map((entry) => ({ mode: entry.mode, name: entry.name, oid: entry.oid }));
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    this.checkOid(ancestor);
    this.checkOid(descendant);
    const result = await runGitRaw(['merge-base', '--is-ancestor', ancestor, descendant], { cwd: this.gitDir, gitDir: this.gitDir });
    return result.exitCode === 0;
  }

  /** The branch refs checked out in any work tree of this repository (the main one and linked ones). */
  async checkedOutBranches(): Promise<Set<string>> {
    const result = await runGit(['worktree', 'list', '--porcelain', '-z'], { cwd: this.gitDir, gitDir: this.gitDir });
    const out = new Set<string>();
    for (const field of result.stdout.toString('utf8').split('\0')) {
      if (field.startsWith('branch ')) out.add(field.slice('branch '.length));
    }
    return out;
  }

  /**
   * Point `ref` at `oid` (`git update-ref`, which writes the reflog and takes the ref lock).
   * `oldOid`: the value the ref must have now (null: must not exist); omitted: no check.
   */
  async updateRef(ref: string, oid: string, options: { oldOid?: string | null } = {}): Promise<void> {
    assert(!ref.startsWith('-') && !/[\s\0]/.test(ref), `ref name is not an option and has no whitespace: ${JSON.stringify(ref)}`);
    this.checkOid(oid);
    const old = options.oldOid === undefined ? [] : [options.oldOid === null ? zeroOidFor(this.objectFormat) : options.oldOid];
    for (const value of old) this.checkOid(value);
    await runGit(['update-ref', '-m', 'acu', ref, oid, ...old], { cwd: this.gitDir, gitDir: this.gitDir });
  }

  /** Every path below one directory; returns the new tree id, or null when it ends up empty. */
  private async writeDirectory(tree: string | null, changes: ReadonlyArray<[string[], PathChange]>, prefix: string, staged: StagedObject[], gate?: Promise<void>): Promise<string | null> {
    const entries = new Map<string, { mode: string; oid: string }>();
    if (tree !== null) {
      for (const entry of await this.readRawTree(tree)) entries.set(entry.name, { mode: entry.mode, oid: entry.oid });
    }
    const original = new Map(entries);
    const nested = new Map<string, Array<[string[], PathChange]>>();
    for (const [parts, change] of changes) {
      const [name, ...rest] = parts;
      assert(name !== undefined, 'a path has a first component');
      if (rest.length === 0) {
        if (change === null) entries.delete(name);
        else entries.set(name, { mode: change.mode, oid: change.oid });
      } else {
        nested.set(name, [...(nested.get(name) ?? []), [rest, change]]);
      }
    }
    for (const [name, subChanges] of nested) {
      const before = original.get(name);
      const after = entries.get(name);
      if (before !== undefined && typeForMode(before.mode) === 'tree' && after !== undefined && typeForMode(after.mode) !== 'tree') {
        // A directory becomes a file: the changes below it must empty it, or the two would collide.
        if ((await this.writeDirectory(before.oid, subChanges, `${prefix}${name}/`, staged, gate)) === null) continue;
        throw new AcuError('ERR_APPLY_FAILED', `cannot write ${prefix}${name} as a file: the directory still holds files`, {
          hint: `delete every file below ${prefix}${name} in the same change set`,
          data: { path: `${prefix}${name}` },
        });
      }
      const current = entries.get(name);
      if (current !== undefined && typeForMode(current.mode) !== 'tree') {
        throw new AcuError('ERR_APPLY_FAILED', `cannot write below ${prefix}${name}: it is a file, not a directory`, {
          hint: `delete ${prefix}${name} in the same change set to turn it into a directory`,
          data: { path: `${prefix}${name}` },
        });
      }
      const written = await this.writeDirectory(current?.oid ?? null, subChanges, `${prefix}${name}/`, staged, gate);
      if (written === null) entries.delete(name);
      else entries.set(name, { mode: '40000', oid: written });
    }
    if (entries.size === 0) return null;
    const object = stageTree(this.commonDir, [...entries].map(([name, entry]) => {
      const type = typeForMode(entry.mode);
      assert(type !== null, `mode ${entry.mode} of ${prefix}${name} is one git writes`);
      return { mode: entry.mode, path: name, oid: entry.oid, type };
    }), gate);
    staged.push(object);
    return object.oid;
  }

  private async readRawTree(tree: string): Promise<ReturnType<typeof parseTreeObject>> {
    const answer = await this.batch.request(tree);
    if (answer.kind === 'missing') throw await this.unresolvable(tree, 'tree', 'object');
    if (answer.type !== 'tree') throw notA(tree, answer.type, 'tree');
    return parseTreeObject(tree, answer.content, oidHexLength[this.objectFormat] / 2);
  }

  /** isomorphic-git writes SHA-1 objects only; in a SHA-256 repository they would be garbage. */
  private checkWritable(): void {
    if (this.objectFormat === 'sha1') return;
    throw new AcuError('ERR_CONFIG', `acu cannot write objects into ${this.commonDir}: it uses ${this.objectFormat} object ids`, {
      hint: 'use acu with a SHA-1 repository (the default object format)',
      data: { objectFormat: this.objectFormat },
    });
  }

  private checkOid(oid: string): void {
    if (!isHexOid(oid) || oid.length !== oidHexLength[this.objectFormat]) {
      throw new AcuError('ERR_MISSING_OBJECT', `${JSON.stringify(oid)} is not a full ${this.objectFormat} object id`, {
        hint: `pass the full ${oidHexLength[this.objectFormat]}-digit hexadecimal id`,
        data: { object: oid },
      });
    }
  }

  /** Check each endpoint of a revision argument (`A..B`, `^A`, `A^!`) names a commit. */
  private async checkRevArgument(rev: string): Promise<void> {
    checkName(rev, 'revision');
    if (rev.startsWith('-')) {
      throw new AcuError('ERR_UNKNOWN_REVISION', `${JSON.stringify(rev)} is not a revision`, {
        hint: 'revisions cannot start with -',
        data: { revision: rev },
      });
    }
    const body = rev.replace(/^\^/, '').replace(/\^(?:!|@|-\d*)$/, '');
    const sides = body.includes('...') ? body.split('...') : body.split('..');
    await Promise.all(sides.map((side) => this.resolveCommit(side === '' ? 'HEAD' : side)));
  }

  /** Whether `oid` is a parent of a shallow-boundary commit: an object the clone never had. */
  private async isBeyondShallowBoundary(oid: string): Promise<boolean> {
    for (const commit of await this.shallowBoundary()) {
      const answer = await this.batch.request(commit);
      if (answer.kind === 'found' && answer.type === 'commit' && parseCommit(commit, answer.content).parents.includes(oid)) return true;
    }
    return false;
  }

  /**
   * In a shallow repository, git walks as if boundary commits were roots. Re-walk without paths
   * and limits: if any boundary commit with an absent parent is reachable, the history asked for
   * is cut short, so the walk is refused rather than answered wrongly.
   */
  private async assertWalkWithinShallow(revArgs: string[]): Promise<void> {
    const boundary = await this.shallowBoundary();
    if (boundary.size === 0) return;
    const output = await runGit(['rev-list', ...revArgs, '--'], { cwd: this.gitDir, gitDir: this.gitDir });
    for (const oid of output.stdout.toString('utf8').split('\n')) {
      if (!boundary.has(oid)) continue;
      const info = await this.commitInfo(oid);
      const present = await Promise.all(info.parents.map(async (parent) => (await this.batch.request(parent)).kind === 'found'));
      if (present.every(Boolean)) continue;
      throw new AcuError('ERR_SHALLOW_BOUNDARY', `the history asked for goes past the shallow boundary at commit ${oid}, whose parents are not in this clone`, {
        hint: "deepen the clone (git fetch --deepen=<n> or git fetch --unshallow), or ask for a range that stops above the boundary (A..B)",
        data: { commit: oid, parents: info.parents },
      });
    }
  }

  /**
   * The error for a git command that stopped at an object it could not read (rename detection
   * reads blobs; a partial or damaged clone may lack them): the object's own error when git names
   * one, else ERR_GIT_FAILED.
   */
  private async objectFailure(args: readonly string[], result: GitResult): Promise<AcuError> {
    const named = /unable to read ([0-9a-f]{40,64})/.exec(result.stderr)?.[1];
    const diagnosis = named === undefined ? null : await this.diagnoseObject(named);
    return diagnosis ?? gitFailure(args, result);
  }

  /**
   * Why an object id cannot be read: past the shallow boundary, corrupt, or absent; null when git
   * reads it fine. cat-file --batch answers "missing" even for a loose object it cannot inflate,
   * so the object is asked for once more, alone, and git's stderr tells the two apart.
   */
  private async diagnoseObject(oid: string): Promise<AcuError | null> {
    assert(isHexOid(oid), 'diagnoseObject takes a full object id');
    if (this.isShallow && (await this.isBeyondShallowBoundary(oid))) return shallowError(oid);
    const probe = await runGitRaw(['cat-file', '-t', oid], { cwd: this.gitDir, gitDir: this.gitDir });
    if (probe.exitCode === 0) return null;
    if (corruptionPattern.test(probe.stderr)) return corruptError(oid, probe.stderr);
    return new AcuError('ERR_MISSING_OBJECT', `object ${oid} is not in the repository`, {
      hint: "fetch the missing history (git fetch; a partial clone may need its promisor remote), or run 'git fsck'",
      data: { object: oid },
    });
  }

  /**
   * The error for a name cat-file could not resolve: past the shallow boundary, an absent object
   * (when an object id was asked for) or an unknown revision (when a revision was).
   */
  private async unresolvable(name: string, wanted: 'commit' | 'tree' | 'blob', as: 'revision' | 'object'): Promise<AcuError> {
    if (isHexOid(name)) {
      const diagnosis = await this.diagnoseObject(name);
      if (diagnosis !== null && (diagnosis.code !== 'ERR_MISSING_OBJECT' || as === 'object')) return diagnosis;
      const plain = diagnosis === null ? await this.batch.request(name) : null;
      if (plain !== null && plain.kind === 'found') return notA(name, plain.type, wanted);
    }
    const shallowHint = this.isShallow ? '; the repository is shallow, so it may lie beyond the boundary (git fetch --unshallow)' : '';
    return new AcuError('ERR_UNKNOWN_REVISION', `unknown revision ${JSON.stringify(name)}: no ${wanted} by that name`, {
      hint: `check the name with 'git rev-parse --verify ${name}^{${wanted === 'blob' ? 'object' : wanted}}'${shallowHint}`,
      data: { revision: name },
    });
  }
}

/** Whether a revision argument makes rev-list walk (a range, a negation, `^!`, `^-`). */
function isRangeRevision(rev: string): boolean {
  return rev.startsWith('^') || rev.includes('..') || /\^(?:!|-\d*)$/.test(rev);
}

function notA(name: string, actual: string, wanted: 'commit' | 'tree' | 'blob'): AcuError {
  const code = wanted === 'blob' ? 'ERR_MISSING_OBJECT' : 'ERR_UNKNOWN_REVISION';
  return new AcuError(code, `${name} is a ${actual}, not a ${wanted}`, {
    hint: wanted === 'blob' ? 'pass the id of a file (blob)' : `pass a revision that names a ${wanted}`,
    data: { object: name, type: actual },
  });
}

function corruptError(oid: string, stderr: string): AcuError {
  return new AcuError('ERR_CORRUPT_OBJECT', `object ${oid} is corrupt: ${stderr.trim()}`, {
    hint: "run 'git fsck' in the repository; restore the object from another clone (git fetch) or a backup",
    data: { object: oid, stderr: stderr.trim() },
  });
}

function shallowError(oid: string): AcuError {
  return new AcuError('ERR_SHALLOW_BOUNDARY', `commit ${oid} lies beyond the shallow boundary of this clone`, {
    hint: 'deepen the clone (git fetch --deepen=<n> or git fetch --unshallow)',
    data: { object: oid },
  });
}

function notARepository(directory: string, stderr: string): AcuError {
  if (/dubious ownership/.test(stderr)) {
    return new AcuError('ERR_NOT_A_GIT_REPO', `git refuses the repository at ${directory}: it is owned by another user`, {
      hint: `if you trust it: git config --global --add safe.directory ${directory}`,
      data: { path: directory, stderr: stderr.trim() },
    });
  }
  return new AcuError('ERR_NOT_A_GIT_REPO', `${directory} is not in a git repository`, {
    hint: "run acu inside a git repository, or create one with 'git init'",
    data: { path: directory, stderr: stderr.trim() },
  });
}
