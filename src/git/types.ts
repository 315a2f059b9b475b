/**
 * The values the git access layer hands out. Plain data, no methods: they cross into the extractor,
 * the composer and the sync node, and may be serialised. (Output shapes are mutable, as first
 * sketched for the code built on them; input shapes are readonly, so they accept anything.)
 */

/** One commit, as `git log --format='%H %P %T %an %ae %aI %cn %ce %cI %s'` would show it. */
export interface CommitInfo {
  /** The commit's id. */
  oid: string;
  /**
   * The parents recorded in the commit object, in order; empty for a root commit. At a shallow
   * boundary these are the true parents even though they are absent (git shows none there).
   */
  parents: string[];
  /** The id of the commit's root tree. */
  tree: string;
  /** Author name, as recorded (no mailmap). */
  authorName: string;
  /** Author email, without the angle brackets. */
  authorEmail: string;
  /** Author date, ISO-8601 strict with the recorded offset (`%aI`): `2024-01-02T03:04:05+01:00`. */
  authorDate: string;
  /** Committer name, as recorded. */
  committerName: string;
  /** Committer email, without the angle brackets. */
  committerEmail: string;
  /** Committer date, ISO-8601 strict with the recorded offset (`%cI`). */
  committerDate: string;
  /** The subject (`%s`): the message's first paragraph, its lines joined with single spaces. */
  subject: string;
}

/** How a path changed between two trees: added, deleted, modified, renamed, type changed. */
export type ChangeStatus = 'A' | 'D' | 'M' | 'R' | 'T';

/** One changed path between two trees, as one record of `git diff-tree -r -M --raw -z`. */
export interface TreeChange {
  /** What happened to the path. */
  status: ChangeStatus;
  /** The path before; null for an addition. */
  oldPath: string | null;
  /** The path after; null for a deletion. */
  newPath: string | null;
  /** The mode before (`100644`, `100755`, `120000`, `160000`); null for an addition. */
  oldMode: string | null;
  /** The mode after; null for a deletion. */
  newMode: string | null;
  /** The blob (or gitlink commit) id before; null for an addition. */
  oldOid: string | null;
  /** The blob (or gitlink commit) id after; null for a deletion. */
  newOid: string | null;
  /** For a rename, git's similarity score in percent (0-100); null otherwise. */
  similarity: number | null;
}

/** One entry of a tree, as one record of `git ls-tree -z`. */
export interface TreeEntry {
  /** git's mode, as ls-tree prints it (`100644`, `100755`, `120000`, `040000`, `160000`). */
  mode: string;
  /** What the entry points at: a file or symlink (blob), a directory (tree), a submodule (commit). */
  type: 'blob' | 'tree' | 'commit';
  /** The id of the entry's object. */
  oid: string;
  /** The path from the root of the listed tree, `/`-separated. */
  path: string;
}

/** Which commits {@link GitRepo.listCommits} lists: git's revision arguments plus a few options. */
export interface RangeOptions {
  /** Revisions as git takes them: `['HEAD']`, `['A..B']`, `['A', '^B']`. */
  revs: string[];
  /** Also start from every ref (`--all`); makes single revisions walk. */
  all?: boolean;
  /** Walk the ancestry of single revisions (`['HEAD']` lists HEAD's whole history), without `all`. */
  walk?: boolean;
  /** List at most this many commits: the newest ones in topological order. */
  maxCount?: number;
  /** Only commits that touch these paths (pathspecs after `--`). */
  paths?: string[];
}

/** An author or committer to write into a commit. */
export interface Signature {
  /** Name; must not contain `<`, `>` or a newline. */
  readonly name: string;
  /** Email; must not contain `<`, `>` or a newline. */
  readonly email: string;
  /** Seconds since the epoch. */
  readonly timestamp: number;
  /**
   * Minutes to add to local time to get UTC, the sign convention of `Date#getTimezoneOffset` and of
   * isomorphic-git: UTC+02:00 is `-120`, UTC-05:00 is `300`. `-0` writes `-0000`.
   */
  readonly timezoneOffset: number;
}

/** A commit to write. */
export interface NewCommit {
  /** The root tree id. */
  readonly tree: string;
  /** Parent commit ids, in order. */
  readonly parents: string[];
  /** The message, stored byte for byte (end it with a newline, as git does). */
  readonly message: string;
  /** Who wrote the change. */
  readonly author: Signature;
  /** Who made the commit. */
  readonly committer: Signature;
}

/** An entry to write into one tree object. */
export interface NewTreeEntry {
  /** git's mode: `100644`, `100755`, `120000`, `40000` (or `040000`), `160000`. */
  readonly mode: string;
  /** One name, no `/`. */
  readonly path: string;
  /** The object id. */
  readonly oid: string;
  /** The object's type; must agree with the mode. */
  readonly type: 'blob' | 'tree' | 'commit';
}
