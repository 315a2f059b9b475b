/**
 * The isomorphic-git side of the layer: in-process object writes (no process per object) and a
 * second, independent blob reader used by the conformance suite and the benchmark.
 */
import fs from 'node:fs';
import git from 'isomorphic-git';
import { AcuError, assert } from '../core/errors.js';
import { isHexOid } from './objects.js';
import type { NewCommit, NewTreeEntry, Signature } from './types.js';

let tempSeq = 0;

/**
 * The file system isomorphic-git writes objects through: each write goes to a temporary file in
 * the same directory and is renamed into place, so a process killed mid-write leaves no empty or
 * torn object under its final name (isomorphic-git never rewrites an object that exists).
 */
const atomicFs = {
  promises: {
    ...fs.promises,
    writeFile: async (path: string, data: Uint8Array | string, options?: fs.WriteFileOptions): Promise<void> => {
      const temporary = `${path.slice(0, path.lastIndexOf('/') + 1)}tmp_obj_acu_${process.pid}_${tempSeq++}`;
      await fs.promises.writeFile(temporary, data, options);
      await fs.promises.rename(temporary, path);
    },
  },
};

/** isomorphic-git's memo of parsed pack indexes; one per repository, passed to every read. */
export type IsoCache = Record<string, unknown>;

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Read a blob with isomorphic-git; `cache` must be the repository's one shared cache object. */
export async function isoReadBlob(gitdir: string, oid: string, cache: IsoCache): Promise<Uint8Array> {
  assert(isHexOid(oid), 'isoReadBlob takes a full object id');
  try {
    const { blob } = await git.readBlob({ fs, gitdir, oid, cache });
    return blob;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'NotFoundError') {
      throw new AcuError('ERR_MISSING_OBJECT', `object ${oid} is not in the repository`, {
        hint: "fetch the missing history (git fetch), or run 'git fsck' to find what else is missing",
        cause: error,
        data: { object: oid },
      });
    }
    if (code === 'ObjectTypeError') {
      throw new AcuError('ERR_MISSING_OBJECT', `object ${oid} is not a blob`, { cause: error, data: { object: oid } });
    }
    throw new AcuError('ERR_CORRUPT_OBJECT', `object ${oid} could not be read: ${String(error)}`, {
      hint: "run 'git fsck' in the repository",
      cause: error,
      data: { object: oid },
    });
  }
}

/** Write a blob as a loose object; returns its id. */
export async function isoWriteBlob(gitdir: string, bytes: Uint8Array): Promise<string> {
  return await git.writeBlob({ fs: atomicFs, gitdir, blob: bytes });
}

const typeOfMode: Readonly<Record<string, NewTreeEntry['type']>> = {
  '100644': 'blob', '100755': 'blob', '120000': 'blob', '40000': 'tree', '040000': 'tree', '160000': 'commit',
};

/** The object type a tree entry of this mode points at, or null for a mode git does not write. */
export function typeForMode(mode: string): NewTreeEntry['type'] | null {
  return typeOfMode[mode] ?? null;
}

/** Write one tree object from its entries; isomorphic-git puts them in git's order. */
export async function isoWriteTree(gitdir: string, entries: ReadonlyArray<NewTreeEntry>): Promise<string> {
  const names = new Set<string>();
  for (const entry of entries) {
    assert(entry.path !== '' && !entry.path.includes('/') && !entry.path.includes('\0'), `tree entry name is one path component: ${JSON.stringify(entry.path)}`);
    assert(entry.path !== '.' && entry.path !== '..', `tree entry name is not . or ..: ${entry.path}`);
    assert(typeForMode(entry.mode) === entry.type, `mode ${entry.mode} fits type ${entry.type} (${entry.path})`);
    assert(isHexOid(entry.oid), `tree entry id is a full object id: ${entry.oid}`);
    assert(!names.has(entry.path), `tree entry names are unique: ${entry.path}`);
    names.add(entry.path);
  }
  const tree = entries.map((entry) => ({ mode: entry.mode, path: entry.path, oid: entry.oid, type: entry.type }));
  return await git.writeTree({ fs: atomicFs, gitdir, tree });
}

/** `+hhmm`/`-hhmm` from isomorphic-git's minutes-to-UTC convention (`-120` is `+0200`). */
export function formatOffset(timezoneOffset: number): string {
  assert(Number.isInteger(timezoneOffset), 'timezone offset is whole minutes');
  assert(Math.abs(timezoneOffset) < 100 * 60, 'timezone offset fits in +hhmm');
  const west = timezoneOffset > 0 || Object.is(timezoneOffset, -0);
  const abs = Math.abs(timezoneOffset);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${west ? '-' : '+'}${hhmm}`;
}

function identLine(role: string, who: Signature): string {
  for (const value of [who.name, who.email]) {
    if (/[<>\n\0]/.test(value)) {
      throw new AcuError('ERR_CONFIG', `the ${role} ${JSON.stringify(value)} contains <, > or a newline`, {
        hint: 'set user.name and user.email to plain values',
      });
    }
  }
  assert(Number.isInteger(who.timestamp), `${role} timestamp is whole seconds`);
  return `${role} ${who.name} <${who.email}> ${who.timestamp} ${formatOffset(who.timezoneOffset)}\n`;
}

/**
 * The raw bytes of a commit object, exactly as `git commit-tree` writes them for the same input
 * (message verbatim: isomorphic-git's own writeCommit would strip and re-terminate it).
 */
export function renderCommit(commit: NewCommit): Buffer {
  assert(isHexOid(commit.tree), `commit tree is a full object id: ${commit.tree}`);
  for (const parent of commit.parents) assert(isHexOid(parent), `commit parent is a full object id: ${parent}`);
  const header = [
    `tree ${commit.tree}\n`,
    ...commit.parents.map((parent) => `parent ${parent}\n`),
    identLine('author', commit.author),
    identLine('committer', commit.committer),
  ].join('');
  return Buffer.from(`${header}\n${commit.message}`, 'utf8');
}

/** Write a commit object in-process; returns its id. */
export async function isoWriteCommit(gitdir: string, commit: NewCommit): Promise<string> {
  const object = renderCommit(commit);
  return await git.writeObject({ fs: atomicFs, gitdir, type: 'commit', object, format: 'content' });
}
