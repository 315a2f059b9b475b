/**
 * One long-lived `git cat-file --batch` process, pipelined: many requests are written before their
 * answers come back, answers arrive in request order, and requests are written while answers are
 * read, so neither pipe can fill up and stall the other.
 */
import type { ChildProcess } from 'node:child_process';
import { AcuError, assert } from '../core/errors.js';
import { spawnFailure, spawnGit } from './exec.js';

/** The answer to one request. */
export type BatchAnswer =
  | { readonly kind: 'found'; readonly oid: string; readonly type: string; readonly content: Buffer }
  | { readonly kind: 'missing'; readonly name: string; readonly reason: 'missing' | 'ambiguous' };

interface Request {
  readonly name: string;
  readonly resolve: (answer: BatchAnswer) => void;
  readonly reject: (error: unknown) => void;
}

/** Requests written to git but not yet answered; more wait in our own queue. */
const inFlightRequestsMax = 1024;
/** A header line (`<oid> <type> <size>` or `<name> missing`) longer than this is a protocol error. */
const headerBytesMax = 64 * 1024;
/** The most bytes of stderr kept per process, for error messages. */
const stderrKeptBytesMax = 16 * 1024;
/** How long close() waits for git to exit after its stdin is closed, before killing it. */
const closeGraceMs = 2000;

/** What git says on stderr when it finds an object it cannot decode. */
export const corruptionPattern = /corrupt|inflate|unable to unpack|unable to read|unable to stream|bad object|mismatch|packfile|bad packed object/i;

type ParseState =
  | { readonly stage: 'header'; readonly chunks: Buffer[]; readonly bytes: number }
  | { readonly stage: 'content'; readonly oid: string; readonly type: string; readonly content: Buffer; readonly filled: number }
  | { readonly stage: 'trailer'; readonly answer: BatchAnswer };

/** A `git cat-file --batch` process shared by all object reads of one repository. */
export class CatFileBatch {
  private readonly cwd: string;
  private readonly gitDir: string;
  private child: ChildProcess | null = null;
  private readonly waiting: Request[] = [];
  private readonly inFlight: Request[] = [];
  private parse: ParseState = { stage: 'header', chunks: [], bytes: 0 };
  private stderr = '';
  private blockedOnDrain = false;
  private closed = false;
  // The child and state last passed to setRef, so that it runs only when either changes.
  private refChild: ChildProcess | null = null;
  private refBusy = false;
  private exited: Promise<void> = Promise.resolve();

  constructor(options: { cwd: string; gitDir: string }) {
    this.cwd = options.cwd;
    this.gitDir = options.gitDir;
  }

  /** Ask for one object by name (an id or any expression cat-file accepts, without a newline). */
  request(name: string): Promise<BatchAnswer> {
    assert(!name.includes('\n') && !name.includes('\0'), 'cat-file request has no newline or NUL');
    assert(name.length > 0, 'cat-file request is not empty');
    if (this.closed) {
      return Promise.reject(new AcuError('ERR_IO', `cannot read ${name}: the repository was closed`, {
        hint: 'open the repository again with GitRepo.open',
      }));
    }
    return new Promise<BatchAnswer>((resolve, reject) => {
      this.waiting.push({ name, resolve, reject });
      this.pump();
    });
  }

  /** End the process: close its stdin, wait for it to exit, kill it if it lingers. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    for (const request of this.waiting.splice(0)) {
      request.reject(new AcuError('ERR_IO', `cannot read ${request.name}: the repository was closed`));
    }
    if (child !== null) {
      // Waiting for the exit is work in progress: keep the loop alive until it is done.
      this.updateRef(child);
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), closeGraceMs);
      timer.unref();
      await this.exited;
      clearTimeout(timer);
    }
  }

  private start(): ChildProcess {
    const child = spawnGit(['cat-file', '--batch'], { cwd: this.cwd, gitDir: this.gitDir });
    this.child = child;
    this.stderr = '';
    this.parse = { stage: 'header', chunks: [], bytes: 0 };
    this.blockedOnDrain = false;
    // A child that failed to spawn may emit 'error' and never 'close': either one ends it.
    this.exited = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    child.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderr.length < stderrKeptBytesMax) this.stderr += chunk.toString('utf8');
    });
    child.stdin?.on('error', () => undefined); // reported through 'close' below
    child.stdin?.on('drain', () => {
      this.blockedOnDrain = false;
      this.pump();
    });
    child.once('error', (cause) => this.onExit(child, spawnFailure(['cat-file', '--batch'], cause)));
    child.once('close', () => this.onExit(child, null));
    return child;
  }

  /** Write waiting requests while the pipe takes them and the in-flight limit allows. */
  private pump(): void {
    if (this.closed && this.child === null) return;
    const child = this.child ?? this.start();
    if (!this.blockedOnDrain && this.waiting.length > 0 && this.inFlight.length < inFlightRequestsMax) {
      // One write for every request that fits: a write per request costs a syscall each.
      const batch = this.waiting.splice(0, inFlightRequestsMax - this.inFlight.length);
      this.inFlight.push(...batch);
      const accepted = child.stdin?.write(batch.map((request) => `${request.name}\n`).join('')) ?? false;
      if (!accepted) this.blockedOnDrain = true;
    }
    this.updateRef(child);
  }

  /**
   * Keep the Node process alive only while an answer is awaited: an idle cat-file must not stop a
   * CLI from exiting, a pending one must not let it exit with a promise unsettled.
   */
  private updateRef(child: ChildProcess): void {
    const busy = this.closed || this.inFlight.length + this.waiting.length > 0;
    if (this.refChild === child && this.refBusy === busy) return;
    this.refChild = child;
    this.refBusy = busy;
    this.setRef(child, busy);
  }

  private setRef(child: ChildProcess, busy: boolean): void {
    if (busy) child.ref();
    else child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      // A destroyed socket has no handle; ref() on it would only queue a 'connect' listener.
      if (stream === null || stream.destroyed) continue;
      const socket = stream as unknown as { ref?: () => void; unref?: () => void };
      if (busy) socket.ref?.();
      else socket.unref?.();
    }
  }

  private onData(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) offset = this.consume(chunk, offset);
  }

  /** Advance the parser over part of `chunk`; returns the offset up to which it was consumed. */
  private consume(chunk: Buffer, offset: number): number {
    const state = this.parse;
    if (state.stage === 'header') {
      const newline = chunk.indexOf(0x0a, offset);
      const end = newline < 0 ? chunk.length : newline;
      const piece = chunk.subarray(offset, end);
      if (newline < 0) {
        assert(state.bytes + piece.length <= headerBytesMax, 'cat-file header line is bounded');
        this.parse = { stage: 'header', chunks: [...state.chunks, piece], bytes: state.bytes + piece.length };
        return end;
      }
      this.onHeader(Buffer.concat([...state.chunks, piece]).toString('utf8'));
      return newline + 1;
    }
    if (state.stage === 'content') {
      const take = Math.min(state.content.length - state.filled, chunk.length - offset);
      chunk.copy(state.content, state.filled, offset, offset + take);
      const filled = state.filled + take;
      this.parse = filled === state.content.length
        ? { stage: 'trailer', answer: { kind: 'found', oid: state.oid, type: state.type, content: state.content } }
        : { ...state, filled };
      return offset + take;
    }
    assert(chunk[offset] === 0x0a, 'cat-file content is followed by a newline');
    this.parse = { stage: 'header', chunks: [], bytes: 0 };
    this.answer(state.answer);
    return offset + 1;
  }

  private onHeader(line: string): void {
    const head = this.inFlight[0];
    assert(head !== undefined, `cat-file answered with no request pending: ${JSON.stringify(line)}`);
    for (const reason of ['missing', 'ambiguous'] as const) {
      if (line === `${head.name} ${reason}`) {
        this.parse = { stage: 'header', chunks: [], bytes: 0 };
        this.answer({ kind: 'missing', name: head.name, reason });
        return;
      }
    }
    const [oid, type, size] = line.split(' ');
    assert(oid !== undefined && type !== undefined && size !== undefined, `cat-file header is well formed: ${JSON.stringify(line)}`);
    assert(/^\d+$/.test(size), `cat-file size is a number: ${JSON.stringify(line)}`);
    // allocUnsafeSlow: small objects must not be slices of Node's shared pool, whose other bytes
    // a caller could reach through `.buffer`. Every byte is overwritten before it is handed out.
    this.parse = { stage: 'content', oid, type, content: Buffer.allocUnsafeSlow(Number(size)), filled: 0 };
    if (Number(size) === 0) this.parse = { stage: 'trailer', answer: { kind: 'found', oid, type, content: Buffer.alloc(0) } };
  }

  private answer(answer: BatchAnswer): void {
    const request = this.inFlight.shift();
    assert(request !== undefined, 'an answer matches a pending request');
    request.resolve(answer);
    if (this.child !== null) this.pump();
  }

  /**
   * The process ended. If it died while answering, the request at the head is the one git could
   * not read (a corrupt object makes cat-file die); it fails, and the others are asked again of a
   * fresh process. Every death consumes one request, so this cannot loop.
   */
  private onExit(child: ChildProcess, spawnError: AcuError | null): void {
    if (this.child !== child) return;
    this.child = null;
    const stderr = this.stderr.trim();
    const head = this.inFlight.shift();
    this.waiting.unshift(...this.inFlight.splice(0));
    if (head !== undefined) head.reject(spawnError ?? this.deathError(head.name, stderr));
    if (spawnError !== null) {
      for (const request of this.waiting.splice(0)) request.reject(spawnError);
    }
    if (this.closed) {
      for (const request of this.waiting.splice(0)) request.reject(new AcuError('ERR_IO', `cannot read ${request.name}: the repository was closed`));
      return;
    }
    if (this.waiting.length > 0) this.pump();
  }

  private deathError(name: string, stderr: string): AcuError {
    const message = stderr === '' ? '(no message)' : stderr;
    if (corruptionPattern.test(stderr)) {
      return new AcuError('ERR_CORRUPT_OBJECT', `object ${name} is corrupt: ${message}`, {
        hint: "run 'git fsck' in the repository; restore the object from another clone (git fetch) or a backup",
        data: { object: name, stderr },
      });
    }
    return new AcuError('ERR_GIT_FAILED', `'git cat-file --batch' ended while reading ${name}: ${message}`, {
      hint: 'run the command above by hand in the repository to see what git needs',
      data: { object: name, stderr },
    });
  }
}
