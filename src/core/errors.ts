/**
 * The three kinds of failure in acu, and the first two of their mechanisms (the third, a peer's
 * fault, is a returned value and never reaches this module):
 *
 * - our own bug: {@link assert} fails and the process reports `BUG:` (exit 70);
 * - the user's situation (not a repository, unknown revision, bad config): an {@link AcuError}
 *   with a stable `code`, a message that names what went wrong and a hint that says what to do.
 */

/** Stable error codes. Scripts may match on them; never reuse a code for another meaning. */
export type AcuErrorCode =
  | 'ERR_USAGE'
  | 'ERR_NOT_A_GIT_REPO'
  | 'ERR_UNKNOWN_REVISION'
  | 'ERR_SHALLOW_BOUNDARY'
  | 'ERR_CORRUPT_OBJECT'
  | 'ERR_MISSING_OBJECT'
  | 'ERR_GIT_FAILED'
  | 'ERR_BAD_ACU'
  | 'ERR_APPLY_FAILED'
  | 'ERR_IO'
  | 'ERR_CONFIG'
  | 'ERR_MERGE_INPUT'
  | 'ERR_NO_IDENTITY'
  | 'ERR_CORRUPT_LOG'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_INTERRUPTED'
  | 'ERR_NO_NODE'
  | 'ERR_NODE';

/** Optional context carried by an {@link AcuError}. */
export interface AcuErrorOptions {
  /** What the user can do about it; printed as `hint: ...`. */
  readonly hint?: string;
  /** The lower-level error, kept for `--debug` output. */
  readonly cause?: unknown;
  /** Structured data for `--json` consumers. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An error caused by the user's situation rather than by a bug in acu. */
export class AcuError extends Error {
  readonly code: AcuErrorCode;
  readonly hint: string | undefined;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: AcuErrorCode, message: string, options: AcuErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AcuError';
    this.code = code;
    this.hint = options.hint;
    this.data = options.data ?? {};
  }
}

/** Thrown by {@link assert}: an invariant of acu's own code does not hold. */
export class AssertionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionFailure';
  }
}

/** Check one of acu's own invariants. Split compound conditions into several calls. */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** Marks a switch as exhaustive: the compiler rejects a missing case, the runtime reports a bug. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionFailure(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** Exit codes, as git uses them. */
export const ExitCode = {
  ok: 0,
  negative: 1,
  internalBug: 70,
  fatal: 128,
  usage: 129,
  interrupted: 130,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
