/**
 * The warm merge service: one per user and build, listening on a unix socket in the user's runtime
 * directory, with the parser already loaded. git starts a driver process per conflicting file; the
 * driver hands the file to this service instead of loading the parser itself (about 0.9 s of CPU).
 * It runs {@link mergeForDriver}, the function the driver would run in process, on the bytes the
 * driver read, and answers with the result's bytes. It exits after an idle timeout, after a bounded
 * number of requests, or on SIGTERM, removing its socket when it is still its own.
 */
import { chmodSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { assert } from '../core/errors.js';
import { mergeForDriver } from './service-merge.js';
import type { DriverMergeInput, DriverMergeResult } from './service-merge.js';
import { FrameReader, encodeFrame, protocolVersion, servicePidPath } from './service-protocol.js';
import type { MergeReplyHeader } from './service-protocol.js';

/** How a service is run. */
export interface ServiceOptions {
  readonly socketPath: string;
  /** The build id it answers for; requests of another build are refused. */
  readonly build: string;
  readonly idleMs: number;
  /** Called once the service has stopped (idle, request bound, or `stop`). */
  readonly onStop?: () => void;
}

/** A running service. */
export interface RunningService {
  /** Requests merged so far (refusals are not counted). */
  readonly merges: () => number;
  readonly stop: () => Promise<void>;
}

/**
 * Requests one service merges before it exits (the next driver starts a fresh one): a bound on
 * whatever memory the parser keeps between files, and on how long one process lives.
 */
const requestsPerServiceMax = 5_000;

/** A connection that has not sent its whole request within this long is dropped. */
const requestReadMsMax = 30_000;

type Decoded = { readonly ok: true; readonly input: DriverMergeInput; readonly build: string; readonly v: number } | { readonly ok: false; readonly reason: string };

/** The one decoder of requests: untrusted bytes in, a typed input or the reason it is not one. */
function decodeRequest(header: Record<string, unknown>, payload: Buffer): Decoded {
  const { type, v, build, path, markerSize, sizes } = header;
  if (type !== 'merge') return { ok: false, reason: 'not a merge request' };
  if (typeof v !== 'number' || typeof build !== 'string') return { ok: false, reason: 'no version or build' };
  if (typeof path !== 'string' || typeof markerSize !== 'number' || !Number.isInteger(markerSize) || markerSize < 1 || markerSize > 100) {
    return { ok: false, reason: 'bad path or marker size' };
  }
  if (!Array.isArray(sizes) || sizes.length !== 3 || !sizes.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return { ok: false, reason: 'bad sizes' };
  const [b, o] = sizes as [number, number, number];
  const input = { path, markerSize, base: payload.subarray(0, b), ours: payload.subarray(b, b + o), theirs: payload.subarray(b + o) };
  return { ok: true, input, build, v };
}

function reply(result: DriverMergeResult, build: string): Buffer {
  if (result.type === 'binary') return encodeFrame({ type: 'binary', v: protocolVersion, build } satisfies MergeReplyHeader);
  const header: MergeReplyHeader = { type: 'merged', v: protocolVersion, build, conflicts: result.conflicts, bug: result.bug, size: result.text.length };
  return encodeFrame(header, [result.text]);
}

function refusal(build: string, reason: string): Buffer {
  return encodeFrame({ type: 'refused', v: protocolVersion, build, reason } satisfies MergeReplyHeader);
}

/** Listen, replacing a dead socket left at the path; resolves false when a live service holds it. */
function listen(server: Server, socketPath: string): Promise<boolean> {
  return new Promise((done, fail) => {
    const attempt = (retried: boolean): void => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EADDRINUSE' || retried) {
          fail(error);
          return;
        }
        const probe = createConnection(socketPath);
        probe.once('connect', () => {
          probe.destroy();
          done(false);
        });
        probe.once('error', () => {
          // Nobody listens: a service that was killed left its socket behind.
          try {
            unlinkSync(socketPath);
          } catch {
            // Gone already.
          }
          attempt(true);
        });
      });
      server.listen(socketPath, () => done(true));
    };
    attempt(false);
  });
}

/**
 * Start a service on `socketPath`. Resolves null when another live service already listens there
 * (the caller exits: that one serves the drivers).
 */
export async function startService(options: ServiceOptions): Promise<RunningService | null> {
  assert(options.idleMs > 0, 'idle timeout is positive');
  assert(options.build !== '', 'a build id');
  let merges = 0;
  let idle: NodeJS.Timeout | undefined;
  let stopped: Promise<void> | null = null;
  let ino: number | null = null;
  const server = createServer((socket) => serve(socket));
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => void stop(), options.idleMs);
  };
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((done) => {
      clearTimeout(idle);
      // Remove the socket only while it is still ours: a driver that took us for dead may have
      // started another service at the same path.
      if (ino !== null && inodeAt(options.socketPath) === ino) unlinkQuietly(options.socketPath);
      if (readQuietly(servicePidPath(options.socketPath)) === `${process.pid}\n`) unlinkQuietly(servicePidPath(options.socketPath));
      server.close(() => {
        options.onStop?.();
        done();
      });
    });
    return stopped;
  };
  const serve = (socket: Socket): void => {
    armIdle();
    const reader = new FrameReader();
    const timer = setTimeout(() => socket.destroy(), requestReadMsMax);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(timer));
    socket.on('data', (chunk: Buffer) => {
      const frame = reader.push(chunk);
      if (frame === null) return;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (typeof frame === 'string') {
        socket.destroy(); // A peer's fault: dropped, never fatal to the service.
        return;
      }
      const decoded = decodeRequest(frame.header, frame.payload);
      if (!decoded.ok) {
        socket.end(refusal(options.build, decoded.reason));
        return;
      }
      if (decoded.v !== protocolVersion || decoded.build !== options.build) {
        socket.end(refusal(options.build, `this service runs build ${options.build}, protocol ${protocolVersion}`));
        return;
      }
      merges += 1;
      let answer: Buffer;
      try {
        answer = reply(mergeForDriver(decoded.input), options.build);
      } catch {
        // A bug outside composeFile's own guard: drop the connection, and the driver merges in
        // its own process, where the same bug is reported to the user.
        socket.destroy();
        return;
      }
      socket.end(answer);
      armIdle();
      if (merges >= requestsPerServiceMax) void stop();
    });
  };
  if (!(await listen(server, options.socketPath))) return null;
  ino = inodeAt(options.socketPath);
  try {
    chmodSync(options.socketPath, 0o600);
  } catch {
    // The folder is 0700 already; the socket's own mode is a second fence.
  }
  try {
    // For people and tests: which process to stop. Never read by the driver.
    writeFileSync(servicePidPath(options.socketPath), `${process.pid}\n`, { mode: 0o600 });
  } catch {
    // Only informative.
  }
  armIdle();
  return { merges: () => merges, stop };
}

function inodeAt(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

function readQuietly(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
