/**
 * Type-checking off the event loop (docs/validate.md, "Off the event loop"). One long-lived worker
 * thread holds the warm {@link TypeCheckSession} (ts-morph's compiler, lib files and the base
 * program are loaded once) and answers one job at a time with exactly what the in-process run
 * returns, so the sync node keeps serving ticks, pings and its API while a batch is checked.
 *
 * This module is both sides: imported, it exports the client ({@link WorkerTypeChecker}) and the
 * in-process reference ({@link InProcessTypeChecker}); started as the worker (with the marker in
 * `workerData`), it serves jobs.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { assert } from '../core/errors.js';
import { Environment, OutlineCache, runTypeCheckJob, TypeCheckSession } from './typecheck.js';
import type { TypeCheckJob, TypeCheckOutput } from './typecheck.js';

/** The answer of a type-checker: the output, or no verdict (the worker was killed or crashed). */
export type CheckOutcome =
  | { readonly kind: 'checked'; readonly output: TypeCheckOutput }
  | { readonly kind: 'no-verdict'; readonly reason: string };

/** Runs type-check jobs, one at a time, in order. */
export interface TypeChecker {
  check(job: TypeCheckJob): Promise<CheckOutcome>;
  /** Release the compiler state (and the thread, if any). */
  dispose(): void;
}

/**
 * The wall-clock safety net: a job that has not answered after this long is killed and the
 * validator abstains. Far above any legitimate check within the budget; it exists for checker
 * bugs and pathological inputs the deterministic budget does not foresee (docs/validate.md).
 */
export const typecheckSafetyNetMs = 300_000;

/** Marks a worker started by {@link WorkerTypeChecker} (so importing this module in another worker does nothing). */
const workerRole = 'acu-typecheck-worker';

interface WorkerInit {
  readonly role: typeof workerRole;
  readonly environmentRoot: string | null;
}

interface JobMessage {
  readonly id: number;
  readonly job: TypeCheckJob;
}

interface AnswerMessage {
  readonly id: number;
  readonly output: TypeCheckOutput;
}

/** The reference: the same job run on this thread (it blocks the event loop while it runs). */
export class InProcessTypeChecker implements TypeChecker {
  private readonly session: TypeCheckSession;
  private readonly outlines = new OutlineCache();

  constructor(environmentRoot: string | null) {
    this.session = new TypeCheckSession(undefined, environmentRoot === null ? null : new Environment(environmentRoot));
  }

  check(job: TypeCheckJob): Promise<CheckOutcome> {
    return Promise.resolve({ kind: 'checked', output: runTypeCheckJob(this.session, job, this.outlines) });
  }

  dispose(): void {
    this.session.dispose();
  }
}

/** The job in flight. */
interface Pending {
  readonly id: number;
  readonly worker: Worker;
  readonly baseId: string;
  readonly resolve: (outcome: CheckOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The client of one long-lived type-check worker. The worker starts on the first job. A worker that
 * crashes, or runs past the safety net (then it is terminated), makes that job's outcome
 * `no-verdict`, and the next job starts a fresh worker (sent the base's files again).
 */
export class WorkerTypeChecker implements TypeChecker {
  private worker: Worker | null = null;
  /** The base the current worker holds, or null (none yet, or unknown after a failure). */
  private workerBase: string | null = null;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private disposed = false;
  /** Workers started so far (a recycled worker is a new one). */
  workersStarted = 0;

  constructor(private readonly options: { readonly environmentRoot: string | null; readonly safetyNetMs?: number }) {}

  /** Run `job` after the jobs before it; `safetyNetMs` overrides the client's safety net for this job. */
  check(job: TypeCheckJob, safetyNetMs: number = this.options.safetyNetMs ?? typecheckSafetyNetMs): Promise<CheckOutcome> {
    const run = this.queue.then(() => this.run(job, safetyNetMs));
    this.queue = run;
    return run;
  }

  private run(job: TypeCheckJob, safetyNetMs: number): Promise<CheckOutcome> {
    assert(this.pending === null, 'one type-check job at a time');
    assert(safetyNetMs >= 0, 'the safety net is a duration');
    if (this.disposed) return Promise.resolve({ kind: 'no-verdict', reason: 'the type-checker was disposed' });
    const worker = this.worker ?? this.start();
    // The base's files cross only when the worker does not hold that base (a fresh worker holds none).
    const message: JobMessage = { id: this.nextId, job: this.workerBase === job.baseId ? { ...job, baseFiles: null } : job };
    assert(message.job.baseFiles !== null || this.workerBase === job.baseId, 'a new base travels with its files');
    this.nextId += 1;
    return new Promise<CheckOutcome>((resolve) => {
      const timer = setTimeout(() => this.fail(worker, `type-check safety net: no answer after ${safetyNetMs} ms; the worker was terminated`), safetyNetMs);
      this.pending = { id: message.id, worker, baseId: job.baseId, resolve, timer };
      // While a job runs the worker keeps the process alive; idle, it does not.
      worker.ref();
      worker.postMessage(message);
    });
  }

  private start(): Worker {
    const init: WorkerInit = { role: workerRole, environmentRoot: this.options.environmentRoot };
    const worker = new Worker(new URL(import.meta.url), { workerData: init });
    this.workersStarted += 1;
    this.worker = worker;
    this.workerBase = null;
    worker.on('message', (answer: AnswerMessage) => this.answered(worker, answer));
    worker.on('error', (error: Error) => this.fail(worker, `type-check worker crashed: ${error.message}`));
    worker.on('exit', (code: number) => this.fail(worker, `type-check worker exited (code ${code})`));
    worker.unref();
    return worker;
  }

  private answered(worker: Worker, answer: AnswerMessage): void {
    const pending = this.pending;
    if (pending === null || pending.worker !== worker) return; // A late answer from a worker already given up.
    assert(answer.id === pending.id, 'the worker answers the job in flight');
    this.workerBase = pending.baseId;
    this.settle({ kind: 'checked', output: answer.output });
  }

  /** The worker crashed, exited or ran past the safety net: abstain on its job and recycle it. */
  private fail(worker: Worker, reason: string): void {
    if (this.worker === worker) {
      this.worker = null;
      this.workerBase = null;
      void worker.terminate();
    }
    if (this.pending?.worker === worker) this.settle({ kind: 'no-verdict', reason });
  }

  private settle(outcome: CheckOutcome): void {
    const pending = this.pending;
    assert(pending !== null, 'settle: a job in flight');
    clearTimeout(pending.timer);
    this.pending = null;
    if (this.worker === pending.worker) pending.worker.unref();
    pending.resolve(outcome);
  }

  /** Terminate the worker; a job in flight gets no verdict. */
  dispose(): void {
    this.disposed = true;
    const worker = this.worker;
    if (worker !== null) this.fail(worker, 'the type-checker was disposed');
  }
}

/** The worker's side: a warm session answering jobs in order, for as long as the thread lives. */
function serve(init: WorkerInit): void {
  const port = parentPort;
  assert(port !== null, 'the type-check worker runs in a worker thread');
  const session = new TypeCheckSession(undefined, init.environmentRoot === null ? null : new Environment(init.environmentRoot));
  const outlines = new OutlineCache();
  // No try/catch: a job that throws is a bug, and the session may be half-updated. The thread dies,
  // the client abstains on that job and starts a fresh worker.
  port.on('message', (message: JobMessage) => {
    const answer: AnswerMessage = { id: message.id, output: runTypeCheckJob(session, message.job, outlines) };
    port.postMessage(answer);
  });
}

if (!isMainThread && (workerData as Partial<WorkerInit> | null)?.role === workerRole) serve(workerData as WorkerInit);
