/**
 * The sync node's local API: a unix socket in the git directory (`acu/node.sock`, reachable only by
 * users who can read the repository's git directory), one JSON request per line, one JSON answer
 * per line. The CLI (`acu status`, `acu propose`, `acu vote`, `acu node stop`) and the post-commit
 * hook's poke use it. A malformed line gets an error answer; it never stops the node.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { AcuError } from '../core/errors.js';
import type { AcuErrorCode } from '../core/errors.js';

/** A request to the node. */
export type ApiRequest =
  | { readonly type: 'poke'; readonly commit?: string }
  | { readonly type: 'status' }
  | { readonly type: 'propose'; readonly rev: string }
  | { readonly type: 'vote'; readonly conflict: string; readonly choice: string }
  | { readonly type: 'stop' };

/** An answer: the result, or an error with its code, message and hint. */
export type ApiAnswer = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly code: string; readonly message: string; readonly hint?: string };

/** Longest request line accepted. */
const requestCharsMax = 64 * 1024;

function parseRequest(line: string): ApiRequest | null {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value !== 'object' || value === null) return null;
    switch (value.type) {
      case 'poke':
        // With the commit it queued (the post-commit hook), the poke is answered with its concurrent edits.
        if (value.commit === undefined) return { type: 'poke' };
        return typeof value.commit === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(value.commit) ? { type: 'poke', commit: value.commit } : null;
      case 'status':
      case 'stop':
        return { type: value.type };
      case 'propose':
        return typeof value.rev === 'string' && value.rev.length <= 256 ? { type: 'propose', rev: value.rev } : null;
      case 'vote':
        return typeof value.conflict === 'string' && typeof value.choice === 'string' && value.conflict.length <= 256 && value.choice.length <= 32
          ? { type: 'vote', conflict: value.conflict, choice: value.choice }
          : null;
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/** Serve the API on `socketPath` (a stale socket file left by a crashed node is replaced). */
export async function serveApi(socketPath: string, handle: (request: ApiRequest) => Promise<unknown>): Promise<Server> {
  const server = createServer((socket: Socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > requestCharsMax) {
        socket.end(`${JSON.stringify({ ok: false, code: 'ERR_USAGE', message: 'request too long' })}\n`);
        return;
      }
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        const request = parseRequest(line);
        if (request === null) {
          socket.write(`${JSON.stringify({ ok: false, code: 'ERR_USAGE', message: 'not a request the node understands' })}\n`);
          continue;
        }
        handle(request).then(
          (result) => socket.write(`${JSON.stringify({ ok: true, result })}\n`),
          (error: unknown) => {
            const answer = error instanceof AcuError
              ? { ok: false, code: error.code, message: error.message, hint: error.hint }
              : { ok: false, code: 'ERR_NODE', message: error instanceof Error ? error.message : String(error) };
            socket.write(`${JSON.stringify(answer)}\n`);
          },
        );
      }
    });
  });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Send one request to the node; null when no node answers on the socket. */
export function callNode(socketPath: string, request: ApiRequest, timeoutMs = 10_000): Promise<ApiAnswer | null> {
  return new Promise((done) => {
    const socket = createConnection(socketPath);
    let buffered = '';
    let finished = false;
    const finish = (answer: ApiAnswer | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      done(answer);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      try {
        finish(JSON.parse(buffered.slice(0, newline)) as ApiAnswer);
      } catch {
        finish(null);
      }
    });
    socket.once('error', () => finish(null));
    socket.once('close', () => finish(null));
  });
}

/** The result of a request, or the node's error as an AcuError; ERR_NO_NODE when none answers. */
export async function askNode(socketPath: string, request: ApiRequest, timeoutMs?: number): Promise<unknown> {
  const answer = await callNode(socketPath, request, timeoutMs);
  if (answer === null) {
    throw new AcuError('ERR_NO_NODE', 'no sync node is running for this repository', { hint: "start one with 'acu node start' (add --detach to run it in the background)" });
  }
  if (!answer.ok) throw new AcuError(isErrorCode(answer.code) ? answer.code : 'ERR_NODE', answer.message, answer.hint === undefined ? {} : { hint: answer.hint });
  return answer.result;
}

const knownCodes: ReadonlySet<string> = new Set<AcuErrorCode>([
  'ERR_USAGE', 'ERR_UNKNOWN_REVISION', 'ERR_CONFIG', 'ERR_IO', 'ERR_GIT_FAILED', 'ERR_NO_NODE', 'ERR_NODE', 'ERR_NOT_A_GIT_REPO',
]);

function isErrorCode(code: string): code is AcuErrorCode {
  return knownCodes.has(code);
}
