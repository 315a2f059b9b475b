/**
 * Validation of a proposed batch over its base tree (docs/validate.md): compose; parse-check;
 * within a deterministic budget, type-check the touched files and their dependents with a warm
 * language service in a worker thread; attribute every new diagnostic to the ACU that introduced
 * it and to the ACUs of other proposals that caused it; flag names an ACU uses that no longer
 * resolve; score the batch. The result is deterministic and its digest is what replicas vote on.
 */
import { performance } from 'node:perf_hooks';
import type { ts } from 'ts-morph';
import type { IdentifiedAcu } from '../core/acu/model.js';
import { qualifiedSymbol } from '../core/acu/model.js';
import { assert, assertNever } from '../core/errors.js';
import { isSourcePath } from '../extract/segment.js';
import type { BatchAcu } from './attribute.js';
import { composeBatch } from './compose-batch.js';
import { isRegularMode } from './tree-model.js';
import type { BaseTree, BatchComposition } from './compose-batch.js';
import type { AcuReason, AcuVerdict, ConflictRecord, UnattributedDiagnostic, ValidationResult } from './result.js';
import { invalidatingCodes, resultDigest } from './result.js';
import { scoreAcus } from './score.js';
import type { BatchScores } from './score.js';
import type { ScoringBackend } from './scoring/backend.js';
import { compilerOptionsFrom, isProgramPath, OutlineCache, overBudget, typecheckLimits, typecheckMeasures } from './typecheck.js';
import type { TypeCheckFinding, TypecheckLimits } from './typecheck.js';
import { InProcessTypeChecker, typecheckSafetyNetMs, WorkerTypeChecker } from './typecheck-worker.js';
import type { TypeChecker } from './typecheck-worker.js';

export type { BaseTree } from './compose-batch.js';
export { isEnvironmentDiagnostic } from './typecheck.js';

/** One proposal of the batch: a site's ACUs, extracted against the base. */
export interface Proposal {
  readonly site: string;
  readonly acus: readonly IdentifiedAcu[];
}

/** Collects reasons and conflicts while validating. */
class Findings {
  readonly reasons = new Map<number, AcuReason[]>();
  readonly conflicts = new Map<string, ConflictRecord>();
  readonly unattributed: UnattributedDiagnostic[] = [];

  constructor(private readonly acus: readonly BatchAcu[]) {}

  add(index: number, reason: Omit<AcuReason, 'related'>, related: readonly number[]): void {
    const ids = [...new Set(related.map((i) => this.acus[i]!.item.id))].sort();
    const list = this.reasons.get(index) ?? [];
    list.push({ ...reason, related: ids });
    this.reasons.set(index, list);
  }

  /** Record what the type-check found, in the order it found it. */
  record(finding: TypeCheckFinding): void {
    switch (finding.kind) {
      case 'reason':
        this.add(finding.index, finding.reason, finding.related);
        return;
      case 'conflict':
        this.conflict('semantic', finding.a, finding.b, finding.file, finding.message);
        return;
      case 'unattributed':
        this.unattributed.push(finding.diagnostic);
        return;
      default:
        assertNever(finding);
    }
  }

  conflict(kind: ConflictRecord['kind'], a: number, b: number, file: string, message: string): void {
    const pair = [this.acus[a]!.item.id, this.acus[b]!.item.id].sort() as [string, string];
    const key = `${kind}\u0000${pair[0]}\u0000${pair[1]}`;
    if (!this.conflicts.has(key)) this.conflicts.set(key, { kind, acus: pair, file, message });
  }
}

/** Base blob texts kept between bases, at most (beyond, the cache starts over). */
const blobTextsMax = 50_000;

/** How far the type-check went: all the way, or not at all because the batch is over budget. */
export type TypeCheckStatus = { readonly kind: 'checked' } | { readonly kind: 'over-budget'; readonly reason: string };

/**
 * The validation result with how far its type-check went. `typeCheck` is part of the digest: an
 * over-budget batch gets the same verdict, and the same digest, on every replica.
 */
export type CheckedValidationResult = ValidationResult & { readonly typeCheck: TypeCheckStatus };

/** A validation: the result, its digest, and local measurements (not part of the digest). */
export interface ValidationRun {
  readonly kind: 'verdict';
  readonly result: CheckedValidationResult;
  readonly digest: string;
  readonly timings: { readonly loadMs: number; readonly composeMs: number; readonly scoreMs: number; readonly checkMs: number };
}

/**
 * No verdict: the type-check worker crashed or ran past the wall-clock safety net. Nothing about
 * the batch follows from it; a replica that gets it signs nothing for the round (it abstains).
 */
export interface NoVerdict {
  readonly kind: 'no-verdict';
  readonly reason: string;
}

/** Thrown by {@link Validator.validate} where {@link Validator.validateOrAbstain} returns {@link NoVerdict}. */
export class NoVerdictError extends Error {
  constructor(readonly reason: string) {
    super(`no verdict: ${reason}`);
    this.name = 'NoVerdictError';
  }
}

/** Options of a {@link Validator}. */
export interface ValidatorOptions {
  /**
   * A directory whose `node_modules` provides packages and their types (a work tree installed
   * from the lock file). Without it, what needs the environment is not validated.
   */
  readonly environmentRoot?: string | null;
  /** Where the type-check runs: a worker thread (the default) or this thread (tools, tests). */
  readonly typecheckIn?: 'worker' | 'process';
  /** The wall-clock safety net of the worker (default {@link typecheckSafetyNetMs}). */
  readonly typecheckSafetyNetMs?: number;
  /** The budget. Tests only: replicas that use different limits sign different digests. */
  readonly typecheckLimits?: TypecheckLimits;
}

/** A validator: holds the warm type-checker (in a worker thread) and a scoring backend across batches. */
export class Validator {
  private readonly checker: TypeChecker;
  private readonly environment: boolean;
  private readonly limits: TypecheckLimits;
  private readonly blobTexts = new Map<string, string>();
  private readonly outlines = new OutlineCache();
  /** The loaded base: its id, files (path -> text) and compiler options. */
  private base: { readonly id: string; readonly files: ReadonlyMap<string, string>; readonly options: ts.CompilerOptions } | null = null;

  constructor(private readonly backend: ScoringBackend, options: ValidatorOptions = {}) {
    const root = options.environmentRoot ?? null;
    this.environment = root !== null;
    this.limits = options.typecheckLimits ?? typecheckLimits;
    this.checker =
      options.typecheckIn === 'process'
        ? new InProcessTypeChecker(root)
        : new WorkerTypeChecker({ environmentRoot: root, safetyNetMs: options.typecheckSafetyNetMs ?? typecheckSafetyNetMs });
  }

  /**
   * Validate `proposals` (in proposal order) over `base`. Throws {@link NoVerdictError} where
   * {@link validateOrAbstain} abstains; a sync node, which must not sign then, uses that instead.
   */
  async validate(base: BaseTree, proposals: readonly Proposal[]): Promise<ValidationRun> {
    const outcome = await this.validateOrAbstain(base, proposals);
    if (outcome.kind === 'no-verdict') throw new NoVerdictError(outcome.reason);
    return outcome;
  }

  /**
   * Validate `proposals` (in proposal order) over `base`, or abstain: `no-verdict` when the
   * type-check worker crashed or ran past the safety net (the next call gets a fresh worker).
   */
  async validateOrAbstain(base: BaseTree, proposals: readonly Proposal[]): Promise<ValidationRun | NoVerdict> {
    const t0 = performance.now();
    const loaded = await this.loadBase(base);
    const t1 = performance.now();
    const acus: BatchAcu[] = [];
    proposals.forEach((proposal, p) => {
      for (const item of proposal.acus) acus.push({ index: acus.length, proposal: p, site: proposal.site, item });
    });
    const findings = new Findings(acus);
    const composition = await composeBatch(base, acus, proposals.length);
    recordComposeProblems(composition, acus, findings);
    const t2 = performance.now();
    const scores = await scoreAcus(acus.map((entry) => entry.item.acu), acus.map((entry) => entry.proposal), this.backend);
    const t3 = performance.now();
    const checked = await this.typeCheck(loaded, composition, acus, findings, scores.fastPath === null);
    if (checked.kind === 'no-verdict') return checked;
    const t4 = performance.now();
    const result = { ...buildResult(base.id, acus, findings, scores, checked.checked, checked.environment), typeCheck: checked.status };
    return { kind: 'verdict', result, digest: resultDigest(result), timings: { loadMs: t1 - t0, composeMs: t2 - t1, scoreMs: t3 - t2, checkMs: t4 - t3 } };
  }

  /** Release the type-checker (and its worker thread). */
  dispose(): void {
    this.checker.dispose();
  }

  private async loadBase(base: BaseTree): Promise<NonNullable<Validator['base']>> {
    if (this.base?.id === base.id) return this.base;
    // package.json files decide how modules resolve and whether a file is ESM (`type: module`).
    const wanted = [...base.entries].filter(([path, entry]) => isRegularMode(entry.mode) && (isProgramPath(path) || path === 'tsconfig.json' || isPackageJson(path)));
    if (this.blobTexts.size > blobTextsMax) this.blobTexts.clear();
    const missing = [...new Set(wanted.map(([, entry]) => entry.oid).filter((oid) => !this.blobTexts.has(oid)))];
    const blobs = await base.readBlobs(missing);
    missing.forEach((oid, k) => this.blobTexts.set(oid, new TextDecoder().decode(blobs[k])));
    const files = new Map(wanted.map(([path, entry]) => [path, this.blobTexts.get(entry.oid)!] as const));
    this.base = { id: base.id, files, options: compilerOptionsFrom(files.get('tsconfig.json') ?? null, this.environment) };
    this.outlines.clear();
    return this.base;
  }

  /**
   * Parse-check, then type-check within the budget (docs/validate.md): over budget, every changed
   * source file is only parse-checked and the result says why.
   */
  private async typeCheck(
    base: NonNullable<Validator['base']>,
    composition: BatchComposition,
    acus: readonly BatchAcu[],
    findings: Findings,
    fastPath: boolean,
  ): Promise<{ kind: 'checked'; checked: string[]; environment: string | null; status: TypeCheckStatus } | NoVerdict> {
    const changed = [...composition.changes.keys()].filter((path) => isProgramPath(path) || isSourcePath(path));
    const changes = new Map([...composition.changes].filter(([path]) => isProgramPath(path) || isPackageJson(path)));
    const reason = overBudget(typecheckMeasures(base.files, changes, acus.length), this.limits);
    if (reason !== null) {
      this.parseCheck(composition, changed, acus, findings);
      return { kind: 'checked', checked: [], environment: null, status: { kind: 'over-budget', reason } };
    }
    this.parseCheck(composition, changed.filter((path) => !isProgramPath(path)), acus, findings);
    const outcome = await this.checker.check({ baseId: base.id, baseFiles: base.files, options: base.options, acus, changes, fastPath });
    if (outcome.kind === 'no-verdict') return outcome;
    for (const finding of outcome.output.findings) findings.record(finding);
    return { kind: 'checked', checked: outcome.output.checked, environment: outcome.output.environment, status: { kind: 'checked' } };
  }

  /** JavaScript sources are not in the program: they only have to parse (nor are any sources over budget). */
  private parseCheck(composition: BatchComposition, paths: readonly string[], acus: readonly BatchAcu[], findings: Findings): void {
    for (const path of paths) {
      const text = composition.changes.get(path) ?? null;
      if (text === null || this.outlines.of(path, text) !== null) continue;
      for (const entry of acus.filter((a) => a.item.acu.file === path)) {
        findings.add(entry.index, { code: 'parse-error', file: path, line: 0, message: `${path} does not parse after composition` }, []);
      }
    }
  }
}

function isPackageJson(path: string): boolean {
  return path === 'package.json' || path.endsWith('/package.json');
}

function recordComposeProblems(composition: BatchComposition, acus: readonly BatchAcu[], findings: Findings): void {
  for (const problem of composition.problems) {
    if (problem.kind === 'apply') {
      for (const index of problem.later) findings.add(index, { code: 'apply-failed', file: problem.file, line: 0, message: problem.message }, []);
      continue;
    }
    for (const later of problem.later) {
      findings.add(later, { code: 'compose-conflict', file: problem.file, line: 0, message: problem.message }, problem.earlier);
      for (const earlier of problem.earlier) {
        findings.add(earlier, { code: 'compose-conflict', file: problem.file, line: 0, message: problem.message }, [later]);
        findings.conflict('compose', earlier, later, problem.file, problem.message);
      }
    }
  }
  assert(acus.length >= 0, 'recordComposeProblems: a batch');
}

function compareReasons(a: AcuReason, b: AcuReason): number {
  const ka = `${a.code}\u0000${a.file}\u0000${String(a.line).padStart(9, '0')}\u0000${a.message}\u0000${a.related.join(',')}`;
  const kb = `${b.code}\u0000${b.file}\u0000${String(b.line).padStart(9, '0')}\u0000${b.message}\u0000${b.related.join(',')}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function verdictOf(reasons: readonly AcuReason[]): AcuVerdict['verdict'] {
  if (reasons.length === 0) return 'ok';
  const invalid = reasons.some((r) => invalidatingCodes.has(r.code) || ((r.code === 'missing-name' || r.code === 'semantic-conflict') && r.related.length === 0));
  return invalid ? 'invalid' : 'conflict';
}

function blockedBy(scores: BatchScores): string | null {
  const block = scores.fastPath;
  if (block === null) return null;
  return block.kind === 'risk' ? `risk ${block.i}` : `${block.kind} ${block.i} ${block.j}`;
}

function buildResult(baseId: string, acus: readonly BatchAcu[], findings: Findings, scores: BatchScores, checked: string[], environment: string | null): ValidationResult {
  const verdicts: AcuVerdict[] = acus.map((entry) => {
    const acu = entry.item.acu;
    const reasons = dedupe(findings.reasons.get(entry.index) ?? []).sort(compareReasons);
    return {
      id: entry.item.id,
      proposal: entry.proposal,
      site: entry.site,
      where: acu.level === 'decl' ? qualifiedSymbol(acu.file, acu.symbol) : acu.file,
      verdict: verdictOf(reasons),
      risk: scores.risk[entry.index] ?? 0,
      reasons,
    };
  });
  const conflicts = [...findings.conflicts.values()].sort((a, b) => (`${a.acus[0]}${a.acus[1]}${a.kind}` < `${b.acus[0]}${b.acus[1]}${b.kind}` ? -1 : 1));
  const unattributed = findings.unattributed.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line - b.line || a.code - b.code));
  const invalid = verdicts.some((v) => v.verdict === 'invalid') || unattributed.length > 0;
  return {
    v: 1,
    base: baseId,
    environment,
    verdict: invalid ? 'reject' : conflicts.length > 0 || verdicts.some((v) => v.verdict === 'conflict') ? 'conflicts' : 'accept',
    acus: verdicts,
    conflicts,
    unattributed,
    scores: {
      fastPath: scores.fastPath === null,
      blockedBy: blockedBy(scores),
      pairs: scores.pairs.map((p) => [p.i, p.j, p.interferenceIj, p.interferenceJi, p.similarity]),
    },
    checked,
  };
}

function dedupe(reasons: readonly AcuReason[]): AcuReason[] {
  const seen = new Set<string>();
  return reasons.filter((r) => {
    const key = JSON.stringify(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
