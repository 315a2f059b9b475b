/**
 * Object writes in-process (no process per object), and, through isomorphic-git, a second,
 * independent blob reader used by the conformance suite and the benchmark.
 *
 * Objects are written as loose objects by this module itself: the id is hashed and the object
 * deflated synchronously (node:crypto, node:zlib), then the file is written under a temporary name
 * and renamed into place. isomorphic-git's own writes took 2-6 ms of wall time per object (a web
 * CompressionStream and its stream hops, then the file) — on the sync node's path from a
 * validation quorum to its PREPARE, which writes each decision's blob, trees and commit (the
 * outcome step), that was most of a decision's latency. The bytes hashed are the same, so the ids
 * are too (test/git/write.test.ts holds them to git's own plumbing).
 */
import fs from 'node:fs';
import { deflateSync } from 'node:zlib';
import git from 'isomorphic-git';
import { AcuError, assert } from '../core/errors.js';
import { gitObjectOid, isHexOid } from './objects.js';
import type { NewCommit, NewTreeEntry, Signature } from './types.js';

let tempSeq = 0;

/** A loose object whose id is known and whose file is on its way (or already there). */
export interface StagedObject {
  readonly oid: string;
  /** Resolves once the object's file is in place; rejects when it could not be written. */
  readonly written: Promise<void>;
}

/**
 * Start writing a loose object of `type` with `content` (SHA-1 repositories only), or once
 * `after` resolves (the caller decides when the files are needed); its id is returned at once. The file goes to a temporary name in the same directory and is renamed into
 * place, so a process killed mid-write leaves no empty or torn object under its final name; an
 * object that exists already is never rewritten.
 */
export function stageLooseObject(gitdir: string, type: 'blob' | 'tree' | 'commit', content: Uint8Array, after?: Promise<void>): StagedObject {
  const oid = gitObjectOid(type, content, 'sha1');
  const write = after === undefined ? writeLoose(gitdir, oid, type, content) : after.then(() => writeLoose(gitdir, oid, type, content));
  // Observed from the start: whoever needs the file awaits `written`, maybe long after it failed.
  return { oid, written: observed(write) };
}

/** Write a loose object; returns its id once the file is in place. */
export async function writeLooseObject(gitdir: string, type: 'blob' | 'tree' | 'commit', content: Uint8Array): Promise<string> {
  const staged = stageLooseObject(gitdir, type, content);
  await staged.written;
  return staged.oid;
}

/**
 * Test-only faults of the loose-object writes, after the check that the object is missing (so
 * only real writes are hit): `failNext` fails that many writes with ENOSPC; `hold` keeps every
 * write waiting until it resolves (`ACU_TEST_OBJECT_WRITES=hold` in a process's environment: for
 * ever, as if the process were killed before its files reached the disk).
 */
export const objectWriteFaults: { failNext: number; hold: Promise<void> | null } = {
  failNext: 0,
  hold: process.env.ACU_TEST_OBJECT_WRITES === 'hold' ? new Promise<void>(() => undefined) : null,
};

async function writeLoose(gitdir: string, oid: string, type: string, content: Uint8Array): Promise<void> {
  const directory = `${gitdir}/objects/${oid.slice(0, 2)}`;
  const path = `${directory}/${oid.slice(2)}`;
  if (await exists(path)) return;
  if (objectWriteFaults.hold !== null) await objectWriteFaults.hold;
  if (objectWriteFaults.failNext > 0) {
    objectWriteFaults.failNext -= 1;
    throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  }
  const deflated = deflateSync(Buffer.concat([Buffer.from(`${type} ${content.byteLength}\0`, 'latin1'), content]));
  const temporary = `${directory}/tmp_obj_acu_${process.pid}_${tempSeq++}`;
  try {
    await fs.promises.writeFile(temporary, deflated);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    // The fan-out directory does not exist yet.
    await fs.promises.mkdir(directory, { recursive: true });
    await fs.promises.writeFile(temporary, deflated);
  }
  await fs.promises.rename(temporary, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.promises.access(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Wait for every staged object's file; the first failure is thrown once all have settled (so no
 * write is left running, and none rejects unobserved).
 */
export async function allWritten(staged: readonly StagedObject[]): Promise<void> {
  const results = await Promise.allSettled(staged.map((object) => object.written));
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

/**
 * The same promise, marked as observed: a write whose failure is awaited only later (when its
 * files are needed) must not count as an unhandled rejection meanwhile. Awaiting it still throws.
 */
export function observed<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

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
  return await writeLooseObject(gitdir, 'blob', bytes);
}

const typeOfMode: Readonly<Record<string, NewTreeEntry['type']>> = {
  '100644': 'blob', '100755': 'blob', '120000': 'blob', '40000': 'tree', '040000': 'tree', '160000': 'commit',
};

/** The object type a tree entry of this mode points at, or null for a mode git does not write. */
export function typeForMode(mode: string): NewTreeEntry['type'] | null {
  return typeOfMode[mode] ?? null;
}

/** Write one tree object from its entries (in any order); returns its id. */
export async function isoWriteTree(gitdir: string, entries: ReadonlyArray<NewTreeEntry>): Promise<string> {
  const staged = stageTree(gitdir, entries);
  await staged.written;
  return staged.oid;
}

/** Start writing one tree object from its entries (in any order); its id at once, see {@link stageLooseObject}. */
export function stageTree(gitdir: string, entries: ReadonlyArray<NewTreeEntry>, after?: Promise<void>): StagedObject {
  return stageLooseObject(gitdir, 'tree', renderTree(entries), after);
}

/**
 * The bytes of a tree object: `<mode> <name>\0<binary id>` per entry, in git's order (names
 * compared as UTF-8 bytes, a directory's as if it ended in '/'), a directory's mode as `40000`.
 */
export function renderTree(entries: ReadonlyArray<NewTreeEntry>): Buffer {
  const names = new Set<string>();
  for (const entry of entries) {
    assert(entry.path !== '' && !entry.path.includes('/') && !entry.path.includes('\0'), `tree entry name is one path component: ${JSON.stringify(entry.path)}`);
    assert(entry.path !== '.' && entry.path !== '..', `tree entry name is not . or ..: ${entry.path}`);
    assert(typeForMode(entry.mode) === entry.type, `mode ${entry.mode} fits type ${entry.type} (${entry.path})`);
    assert(isHexOid(entry.oid), `tree entry id is a full object id: ${entry.oid}`);
    assert(!names.has(entry.path), `tree entry names are unique: ${entry.path}`);
    names.add(entry.path);
  }
  const keyed = entries.map((entry) => ({ entry, key: Buffer.from(entry.type === 'tree' ? `${entry.path}/` : entry.path, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return Buffer.concat(keyed.flatMap(({ entry }) => {
    assert(entry.oid.length === 40, `a SHA-1 id in a tree entry: ${entry.oid}`);
    const mode = entry.type === 'tree' ? '40000' : entry.mode;
    return [Buffer.from(`${mode} ${entry.path}\0`, 'utf8'), Buffer.from(entry.oid, 'hex')];
  }));
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

/** Start writing a commit object in-process; its id at once, see {@link stageLooseObject}. */
export function stageCommit(gitdir: string, commit: NewCommit, after?: Promise<void>): StagedObject {
  return stageLooseObject(gitdir, 'commit', renderCommit(commit), after);
}

/** Write a commit object in-process; returns its id. */
export async function isoWriteCommit(gitdir: string, commit: NewCommit): Promise<string> {
  return await writeLooseObject(gitdir, 'commit', renderCommit(commit));
}
