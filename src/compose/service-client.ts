/**
 * The driver's side of the warm merge service: send one file's three versions to the service and
 * take its result, starting the service first when none is running. Every failure (no safe runtime
 * directory, a service of another build, a service killed mid-request, a reply that does not decode,
 * a start that takes too long) returns null, and the driver merges in its own process: the service
 * is a speed-up only, never a source of different results. Node's own modules only: this is on the
 * path git starts once per file.
 */
import { spawn } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { assert } from '../core/errors.js';
import type { DriverMergeInput, DriverMergeResult } from './service-merge.js';
import { FrameReader, buildId, encodeFrame, frameSizeBytesMax, protocolVersion, runtimeDirectory, serviceSocketPath, serviceSwitchEnv } from './service-protocol.js';
import type { DriverConflict, MergeRequestHeader, ServiceEnv } from './service-protocol.js';

/**
 * How long the driver waits for the service's answer. Far above any merge's time (structured merges
 * are bounded at 256 Ki characters a file); past it the driver merges in process.
 */
const replyMsMax = 60_000;

/** How long the driver waits for a service it started to load the parser and listen. */
const serviceStartMsMax = 20_000;

/** The service's entry, next to this module. */
const serviceEntry = fileURLToPath(new URL('./service-main.js', import.meta.url));

type Attempt = { readonly kind: 'result'; readonly result: DriverMergeResult } | { readonly kind: 'absent'; readonly stale: boolean } | { readonly kind: 'failed'; readonly reason: string };

/** What happened, for tests and the benchmark: which path served the file. */
export type ServiceRoute = 'warm' | 'started' | 'off' | 'unavailable';

/** Merge through the service; null when the driver must merge in its own process. */
export async function mergeViaService(input: DriverMergeInput, env: ServiceEnv): Promise<{ result: DriverMergeResult; route: ServiceRoute } | { result: null; route: ServiceRoute; reason: string }> {
  assert(input.markerSize >= 1, 'a marker size');
  assert(input.path !== '', 'a path');
  if (env[serviceSwitchEnv] === '0') return { result: null, route: 'off', reason: `${serviceSwitchEnv}=0` };
  if (input.base.length + input.ours.length + input.theirs.length > frameSizeBytesMax) return { result: null, route: 'unavailable', reason: 'too large for one frame' };
  const dir = runtimeDirectory(env);
  if (dir === null) return { result: null, route: 'unavailable', reason: 'no private runtime directory' };
  const build = buildId();
  assert(/^[0-9a-f]{16}$/.test(build), 'a build id of 16 hex digits');
  const socketPath = serviceSocketPath(dir, build);
  if (socketPath === null) return { result: null, route: 'unavailable', reason: 'socket path too long' };
  const first = await request(socketPath, input, build);
  if (first.kind === 'result') return { result: first.result, route: 'warm' };
  if (first.kind === 'failed') return { result: null, route: 'unavailable', reason: first.reason };
  // Nobody listens. A socket file left by a killed service is removed, or the new service could
  // not listen there.
  if (first.stale) unlinkQuietly(socketPath);
  const started = await startService(env, build);
  if (started !== null) return { result: null, route: 'unavailable', reason: started };
  const second = await request(socketPath, input, build);
  if (second.kind === 'result') return { result: second.result, route: 'started' };
  return { result: null, route: 'unavailable', reason: second.kind === 'failed' ? second.reason : 'the service started but does not listen' };
}

function request(socketPath: string, input: DriverMergeInput, build: string): Promise<Attempt> {
  return new Promise((done) => {
    const reader = new FrameReader();
    const socket = createConnection(socketPath);
    let settled = false;
    const finish = (attempt: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      done(attempt);
    };
    const timer = setTimeout(() => finish({ kind: 'failed', reason: `no answer within ${replyMsMax} ms` }), replyMsMax);
    socket.once('connect', () => {
      const header: MergeRequestHeader = { type: 'merge', v: protocolVersion, build, path: input.path, markerSize: input.markerSize, sizes: [input.base.length, input.ours.length, input.theirs.length] };
      socket.write(encodeFrame(header, [input.base, input.ours, input.theirs]));
    });
    socket.on('data', (chunk: Buffer) => {
      const frame = reader.push(chunk);
      if (frame === null) return;
      if (typeof frame === 'string') finish({ kind: 'failed', reason: frame });
      else finish(decodeReply(frame.header, frame.payload, build));
    });
    socket.once('end', () => finish({ kind: 'failed', reason: 'the service closed the connection without an answer' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') finish({ kind: 'absent', stale: false });
      else if (error.code === 'ECONNREFUSED') finish({ kind: 'absent', stale: true });
      else finish({ kind: 'failed', reason: error.message });
    });
  });
}

/** The one decoder of replies: a result only from a service of this very build and protocol. */
function decodeReply(header: Record<string, unknown>, payload: Buffer, build: string): Attempt {
  if (header.v !== protocolVersion || header.build !== build) return { kind: 'failed', reason: `a service of another build (${String(header.build)})` };
  if (header.type === 'binary') return { kind: 'result', result: { type: 'binary' } };
  if (header.type === 'refused') return { kind: 'failed', reason: `refused: ${String(header.reason)}` };
  if (header.type !== 'merged') return { kind: 'failed', reason: 'an unknown reply' };
  const { conflicts, bug } = header;
  if (!Array.isArray(conflicts) || !conflicts.every(isConflict)) return { kind: 'failed', reason: 'bad conflicts' };
  if (bug !== null && typeof bug !== 'string') return { kind: 'failed', reason: 'bad bug report' };
  return { kind: 'result', result: { type: 'merged', text: payload, conflicts, bug } };
}

function isConflict(value: unknown): value is DriverConflict {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, path } = value as Record<string, unknown>;
  return typeof kind === 'string' && typeof path === 'string';
}

/**
 * Start a service, detached (its own session: a Ctrl-C in the terminal that runs git does not reach
 * it, and it outlives this driver), and wait until it says it listens. Null once it is ready; else
 * why not. Its standard input and error go nowhere: it never holds git's pipes open.
 */
function startService(env: ServiceEnv, build: string): Promise<string | null> {
  return new Promise((done) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(process.execPath, [serviceEntry], { detached: true, stdio: ['ignore', 'pipe', 'ignore'], cwd: '/', env: { ...env } });
    } catch (error) {
      done(`cannot start the service: ${String(error)}`);
      return;
    }
    let out = '';
    let settled = false;
    const finish = (outcome: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      child.unref();
      done(outcome);
    };
    const timer = setTimeout(() => finish(`the service did not start within ${serviceStartMsMax} ms`), serviceStartMsMax);
    child.once('error', (error) => finish(`cannot start the service: ${error.message}`));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (!out.includes('\n') || line === undefined) return;
      finish(line === `ready ${build}` ? null : `the service said '${line.slice(0, 80)}'`);
    });
    child.stdout?.once('close', () => finish('the service exited before it was ready'));
  });
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or another driver removed it first.
  }
}
