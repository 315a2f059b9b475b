/**
 * What the merge driver and the warm merge service share: where the service's socket is, the build
 * id both sides must agree on, and the frames they exchange. This module is on the driver's path,
 * which git starts once per conflicting file: it imports only node's own modules, never the parser.
 *
 * A frame is a 4-byte big-endian header length, a JSON header, then the payload bytes the header
 * announces. A request carries the three versions as raw bytes and the service decodes them, so the
 * driver and the service run the very same function on the very same input (service-merge.ts).
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert } from '../core/errors.js';

/** Bumped whenever the frames change meaning; part of the build id too. */
export const protocolVersion = 1;

/** The largest frame either side accepts; larger inputs are merged in the driver's own process. */
export const frameSizeBytesMax = 64 * 1024 * 1024;

/** The header of one frame, as JSON, is never larger than this. */
export const headerSizeBytesMax = 64 * 1024;

/** A unix socket path longer than this does not fit `sockaddr_un` on every platform (108 on Linux, 104 on macOS). */
const socketPathBytesMax = 100;

/** The request the driver sends: the three versions, in the order base, ours, theirs, follow as bytes. */
export interface MergeRequestHeader {
  readonly type: 'merge';
  readonly v: number;
  readonly build: string;
  readonly path: string;
  readonly markerSize: number;
  /** Byte lengths of base, ours and theirs in the payload. */
  readonly sizes: readonly [number, number, number];
}

/** One conflict as the driver reports it. */
export interface DriverConflict {
  readonly kind: string;
  readonly path: string;
}

/** The service's answer; for `merged`, the result's bytes follow as the payload. */
export type MergeReplyHeader =
  | { readonly type: 'merged'; readonly v: number; readonly build: string; readonly conflicts: readonly DriverConflict[]; readonly bug: string | null; readonly size: number }
  | { readonly type: 'binary'; readonly v: number; readonly build: string }
  | { readonly type: 'refused'; readonly v: number; readonly build: string; readonly reason: string };

/** Frame a header and its payload. */
export function encodeFrame(header: object, payload: readonly Uint8Array[] = []): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([length, json, ...payload]);
}

/**
 * Collects one frame from a stream's chunks. `push` returns the frame once complete, `null` while
 * more bytes are needed, or an issue string when the bytes cannot be a frame (a peer's fault: the
 * caller drops the connection).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private received = 0;
  /** The whole frame's length once its header has been read (then chunks are only collected). */
  private frameBytes: number | null = null;
  private header: Record<string, unknown> | null = null;

  push(chunk: Buffer): { header: Record<string, unknown>; payload: Buffer } | null | string {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.received > frameSizeBytesMax + headerSizeBytesMax + 4) return 'frame too large';
    if (this.frameBytes === null) {
      const issue = this.readHeader();
      if (issue !== null) return issue;
      if (this.frameBytes === null) return null;
    }
    // Joined once, when complete: joining on every chunk would copy a large file many times over.
    if (this.received < this.frameBytes) return null;
    if (this.received > this.frameBytes) return 'bytes after the frame';
    const all = Buffer.concat(this.chunks);
    const headerLength = all.readUInt32BE(0);
    assert(this.header !== null, 'the header was read');
    return { header: this.header, payload: all.subarray(4 + headerLength) };
  }

  /** Reads the header once enough bytes are in: sets frameBytes, or returns the issue. */
  private readHeader(): string | null {
    if (this.received < 4) return null;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [all];
    const headerLength = all.readUInt32BE(0);
    if (headerLength > headerSizeBytesMax) return 'header too large';
    if (all.length < 4 + headerLength) return null;
    let header: unknown;
    try {
      header = JSON.parse(all.subarray(4, 4 + headerLength).toString('utf8'));
    } catch {
      return 'header is not JSON';
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return 'header is not an object';
    const record = header as Record<string, unknown>;
    const { sizes, size } = record;
    const want = Array.isArray(sizes) ? sizes.reduce((a: number, b: unknown) => a + (typeof b === 'number' ? b : NaN), 0) : typeof size === 'number' ? size : 0;
    if (!Number.isSafeInteger(want) || want < 0 || want > frameSizeBytesMax) return 'bad payload size';
    this.header = record;
    this.frameBytes = 4 + headerLength + want;
    return null;
  }
}

/** The environment the paths and ids depend on (injected so tests can point them elsewhere). */
export type ServiceEnv = Readonly<Record<string, string | undefined>>;

/**
 * The per-user directory for the service's socket and the compile cache, created 0700 when
 * missing: `$XDG_RUNTIME_DIR/acu`, else `<tmpdir>/acu-<uid>`. Null when there is no safe one: no
 * uid (Windows), a directory we cannot create, or one that is not ours alone (another user could
 * have made it to listen in our place). Null means: merge in the driver's own process.
 */
export function runtimeDirectory(env: ServiceEnv): string | null {
  const uid = process.getuid?.();
  if (uid === undefined) return null;
  const xdg = env.XDG_RUNTIME_DIR;
  const dir = xdg !== undefined && xdg !== '' ? join(xdg, 'acu') : join(env.TMPDIR !== undefined && env.TMPDIR !== '' ? env.TMPDIR : tmpdir(), `acu-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = lstatSync(dir);
    // Ours alone: a directory (not a link to one), owned by us, closed to group and others.
    if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) return null;
  } catch {
    return null;
  }
  return dir;
}

/** The compiled code's root (the folder holding `src/`), from this module's own location. */
function distSourceRoot(): string {
  // dist/src/compose/service-protocol.js -> dist/src
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

/** The folders holding every module the merge function loads (compose, extract, core). */
const mergeCodeFolders: readonly string[] = ['compose', 'extract', 'core'];

/** The packages the merge function loads; their manifests change when they are upgraded. */
const mergePackages: readonly string[] = ['ts-morph', 'diff'];

function statKey(path: string): string {
  try {
    const stat = statSync(path);
    return `${path}:${stat.size}:${stat.mtimeMs}:${stat.ino}`;
  } catch {
    return `${path}:missing`;
  }
}

let cachedBuildId: string | null = null;

/**
 * The build id: a hash of the protocol version, the node binary, and the size, modification time
 * and inode of every compiled module of the merge code and of its packages' entry files. A rebuild
 * or an upgrade of acu changes it, so a driver never takes a result from a service running other
 * code. Stat calls only (about 30 files, a millisecond or two): the driver pays it on every file.
 */
export function buildId(): string {
  if (cachedBuildId !== null) return cachedBuildId;
  const root = distSourceRoot();
  const keys: string[] = [`v${protocolVersion}`, process.execPath, process.version, statKey(join(root, '..', '..', 'package.json'))];
  for (const folder of mergeCodeFolders) {
    const dir = join(root, folder);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((name) => name.endsWith('.js')).sort();
    } catch {
      names = [];
    }
    for (const name of names) keys.push(statKey(join(dir, name)));
  }
  for (const name of mergePackages) {
    try {
      keys.push(statKey(fileURLToPath(import.meta.resolve(name))));
    } catch {
      keys.push(`${name}:unresolved`);
    }
  }
  cachedBuildId = createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 16);
  return cachedBuildId;
}

/**
 * The service's socket for this build in `dir`. Keyed by build id: two installations of acu used
 * by one user each get their own service, and an upgraded acu starts a fresh one while the old one
 * idles out. Null when the path would not fit a socket address.
 */
export function serviceSocketPath(dir: string, build: string): string | null {
  const path = join(dir, `merge-${build}.sock`);
  return Buffer.byteLength(path) > socketPathBytesMax ? null : path;
}

/** The file beside the socket holding the service's process id (to stop it by hand). */
export function servicePidPath(socketPath: string): string {
  return socketPath.replace(/\.sock$/, '.pid');
}

/** The environment variable that turns the service off (`0`): every file is merged in the driver. */
export const serviceSwitchEnv = 'ACU_MERGE_SERVICE';

/** The environment variable with the service's idle timeout in milliseconds (tests shorten it). */
export const serviceIdleEnv = 'ACU_MERGE_SERVICE_IDLE_MS';

/** The default idle timeout: the service exits after this long without a request. */
export const serviceIdleMsDefault = 10 * 60 * 1000;

/** The idle timeout under the test runner (`ACU_TEST=1`) when none is set. */
const serviceIdleMsUnderTest = 5_000;

/** The longest idle timeout accepted from the environment (a day). */
const serviceIdleMsMax = 24 * 60 * 60 * 1000;

/** The idle timeout from the environment, bounded; the default when unset or not a number. */
export function serviceIdleMs(env: ServiceEnv): number {
  const raw = env[serviceIdleEnv];
  // Under the test runner, services that tests start through git (the demo, the driver tests) must
  // not outlive the run by ten minutes.
  if (raw === undefined && env.ACU_TEST === '1') return serviceIdleMsUnderTest;
  if (raw === undefined || !/^\d+$/.test(raw)) return serviceIdleMsDefault;
  return Math.min(Math.max(Number(raw), 1), serviceIdleMsMax);
}

/**
 * Turn on node's on-disk module compile cache (node 22.1 and later; absent on node 20, where this
 * does nothing) in a per-user folder: the next process that loads the parser reads compiled code
 * instead of compiling it again. Never in the shared tmpdir: cached code is code we would run.
 */
export async function enableCompileCache(dir: string): Promise<void> {
  const module = (await import('node:module')) as { enableCompileCache?: (directory: string) => unknown };
  if (typeof module.enableCompileCache !== 'function') return;
  try {
    module.enableCompileCache(join(dir, 'compile-cache'));
  } catch {
    // Only a speed-up: without it the modules compile as usual.
  }
}
