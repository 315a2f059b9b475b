/**
 * The validation result: what every replica computes for a proposed batch and votes on through its
 * digest. Plain, sorted data with no timings, paths of this machine or other local facts, so that
 * honest replicas produce the same bytes (docs/validate.md).
 */
import { createHash } from 'node:crypto';
import { canonicalString } from '../core/acu/canonical.js';

/** Why an ACU is not simply accepted. */
export type ReasonCode =
  | 'apply-failed'
  | 'compose-conflict'
  | 'parse-error'
  | 'type-error'
  | 'breaks-dependent'
  | 'semantic-conflict'
  | 'missing-name';

/** Codes that make an ACU invalid on its own (the others make it part of a conflict). */
export const invalidatingCodes: ReadonlySet<ReasonCode> = new Set(['apply-failed', 'parse-error', 'type-error', 'breaks-dependent']);

/** One reason. `related` names the other ACUs involved, by id, sorted. */
export interface AcuReason {
  readonly code: ReasonCode;
  readonly file: string;
  /** 1-based line in the composed file, or 0 when none applies. */
  readonly line: number;
  readonly message: string;
  readonly related: string[];
}

/** The verdict on one ACU. */
export type AcuVerdictKind = 'ok' | 'conflict' | 'invalid';

/** One ACU's verdict, in batch order. */
export interface AcuVerdict {
  readonly id: string;
  readonly proposal: number;
  readonly site: string;
  /** `file#symbol` (or the file for a file-level ACU). */
  readonly where: string;
  readonly verdict: AcuVerdictKind;
  readonly risk: number;
  readonly reasons: AcuReason[];
}

/** A conflict between two ACUs of different proposals, for the conflict-resolution vote. */
export interface ConflictRecord {
  readonly kind: 'compose' | 'semantic';
  /** The two ACU ids, sorted. */
  readonly acus: [string, string];
  readonly file: string;
  readonly message: string;
}

/** A new diagnostic no ACU could be found responsible for. */
export interface UnattributedDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly code: number;
  readonly message: string;
}

/** The whole result. */
export interface ValidationResult {
  readonly v: 1;
  /** The base tree id. */
  readonly base: string;
  /**
   * SHA-256 over the node_modules files (paths and contents) the type check read, or null when
   * validation ran without an environment. Replicas whose environments differ disagree here,
   * visibly, rather than somewhere in the diagnostics.
   */
  readonly environment: string | null;
  readonly verdict: 'accept' | 'conflicts' | 'reject';
  readonly acus: AcuVerdict[];
  readonly conflicts: ConflictRecord[];
  readonly unattributed: UnattributedDiagnostic[];
  readonly scores: {
    /** Whether the batch took the fast path (dependents not type-checked). */
    readonly fastPath: boolean;
    /** Why not, when not: `interference i j`, `near-duplicate i j`, `risk i`. */
    readonly blockedBy: string | null;
    /** Notable pairs by ACU index: [i, j, interference i->j, interference j->i, similarity]. */
    readonly pairs: number[][];
  };
  /** Files type-checked (touched and dependents), sorted. */
  readonly checked: string[];
}

/** SHA-256 (hex) of the result's canonical encoding: the value replicas sign and compare. */
export function resultDigest(result: ValidationResult): string {
  return createHash('sha256').update(canonicalString(result), 'utf8').digest('hex');
}
