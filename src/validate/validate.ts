/**
 * Validation of a proposed batch over its base tree (docs/validate.md): compose; parse-check;
 * type-check the touched files and their dependents with a warm language service; attribute every
 * new diagnostic to the ACU that introduced it and to the ACUs of other proposals that caused it;
 * flag names an ACU uses that no longer resolve; score the batch. The result is deterministic and
 * its digest is what replicas vote on.
 */
import { performance } from 'node:perf_hooks';
import { ts } from 'ts-morph';
import type { IdentifiedAcu } from '../core/acu/model.js';
import { qualifiedSymbol } from '../core/acu/model.js';
import { assert } from '../core/errors.js';
import { isSourcePath } from '../extract/segment.js';
import type { BatchAcu, Outline } from './attribute.js';
import { causesOf, diagnosticModules, diagnosticNames, fileCausesOf, outline, ownerOf, statementNames, usedIdentifiers } from './attribute.js';
import { composeBatch } from './compose-batch.js';
import { isRegularMode } from './tree-model.js';
import type { BaseTree, BatchComposition } from './compose-batch.js';
import type { AcuReason, AcuVerdict, ConflictRecord, UnattributedDiagnostic, ValidationResult } from './result.js';
import { invalidatingCodes, resultDigest } from './result.js';
import { scoreAcus } from './score.js';
import type { BatchScores } from './score.js';
import type { ScoringBackend } from './scoring/backend.js';
import { compilerOptionsFrom, Environment, isProgramPath, TypeCheckSession } from './typecheck.js';
import type { DiagnosticRecord } from './typecheck.js';

export type { BaseTree } from './compose-batch.js';

/** One proposal of the batch: a site's ACUs, extracted against the base. */
export interface Proposal {
  readonly site: string;
  readonly acus: readonly IdentifiedAcu[];
}

/** A validation: the result, its digest, and local measurements (not part of the digest). */
export interface ValidationRun {
  readonly result: ValidationResult;
  readonly digest: string;
  readonly timings: { readonly loadMs: number; readonly composeMs: number; readonly scoreMs: number; readonly checkMs: number };
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

  conflict(kind: ConflictRecord['kind'], a: number, b: number, file: string, message: string): void {
    const pair = [this.acus[a]!.item.id, this.acus[b]!.item.id].sort() as [string, string];
    const key = `${kind}\u0000${pair[0]}\u0000${pair[1]}`;
    if (!this.conflicts.has(key)) this.conflicts.set(key, { kind, acus: pair, file, message });
  }
}

/** Outlines (segmented texts) kept between batches, at most. */
const outlinesMax = 512;
/** Base blob texts kept between bases, at most (beyond, the cache starts over). */
const blobTextsMax = 50_000;

/** A validator: holds the warm type-checking session and a scoring backend across batches. */
export class Validator {
  private readonly session: TypeCheckSession;
  private readonly blobTexts = new Map<string, string>();
  private readonly outlines = new Map<string, Outline | null>();

  /**
   * `environmentRoot`: a directory whose `node_modules` provides packages and their types (a work
   * tree installed from the lock file). Without it, what needs the environment is not validated.
   */
  constructor(private readonly backend: ScoringBackend, options: { readonly environmentRoot?: string | null } = {}) {
    const root = options.environmentRoot ?? null;
    this.session = new TypeCheckSession(undefined, root === null ? null : new Environment(root));
  }

  /** Validate `proposals` (in proposal order) over `base`. */
  async validate(base: BaseTree, proposals: readonly Proposal[]): Promise<ValidationRun> {
    const t0 = performance.now();
    await this.loadBase(base);
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
    const checked = this.typeCheck(composition, acus, findings, scores.fastPath === null);
    const t4 = performance.now();
    const result = buildResult(base.id, acus, findings, scores, checked, this.session.environmentDigest());
    return { result, digest: resultDigest(result), timings: { loadMs: t1 - t0, composeMs: t2 - t1, scoreMs: t3 - t2, checkMs: t4 - t3 } };
  }

  /** Release the language service. */
  dispose(): void {
    this.session.dispose();
  }

  private async loadBase(base: BaseTree): Promise<void> {
    if (this.session.baseId === base.id) return;
    // package.json files decide how modules resolve and whether a file is ESM (`type: module`).
    const wanted = [...base.entries].filter(([path, entry]) => isRegularMode(entry.mode) && (isProgramPath(path) || path === 'tsconfig.json' || isPackageJson(path)));
    if (this.blobTexts.size > blobTextsMax) this.blobTexts.clear();
    const missing = [...new Set(wanted.map(([, entry]) => entry.oid).filter((oid) => !this.blobTexts.has(oid)))];
    const blobs = await base.readBlobs(missing);
    missing.forEach((oid, k) => this.blobTexts.set(oid, new TextDecoder().decode(blobs[k])));
    const files = new Map(wanted.map(([path, entry]) => [path, this.blobTexts.get(entry.oid)!] as const));
    this.session.setBase(base.id, files, compilerOptionsFrom(files.get('tsconfig.json') ?? null, this.session.environment !== null));
    this.outlines.clear();
  }

  private outlineOf(path: string, text: string): Outline | null {
    const key = `${path}\u0000${text}`;
    if (!this.outlines.has(key)) {
      // A long-lived validator on one base must not keep every batch's syntax trees.
      if (this.outlines.size >= outlinesMax) this.outlines.clear();
      this.outlines.set(key, outline(path, text));
    }
    return this.outlines.get(key) ?? null;
  }

  /** Type-check; returns the checked paths. */
  private typeCheck(composition: BatchComposition, acus: readonly BatchAcu[], findings: Findings, fastPath: boolean): string[] {
    const changed = [...composition.changes.keys()].filter((path) => isProgramPath(path) || isSourcePath(path));
    const touched = new Set(changed.filter(isProgramPath));
    this.parseCheck(composition, changed.filter((path) => !isProgramPath(path)), acus, findings);
    const dependents = fastPath ? [] : this.session.dependentsOf(touched);
    const checked = [...new Set([...touched, ...dependents])].sort();
    const before = this.session.baseDiagnosticsOf(checked.filter((path) => this.session.baseText(path) !== null));
    this.session.overlay(new Map([...composition.changes].filter(([path]) => isProgramPath(path) || isPackageJson(path))));
    for (const path of checked) {
      const text = composition.changes.has(path) ? composition.changes.get(path) ?? null : this.session.baseText(path);
      if (text === null) continue;
      const fresh = this.newDiagnostics(path, before.get(path) ?? [], this.session.diagnosticsOf(path), text);
      for (const diagnostic of fresh) this.attribute(diagnostic, text, acus, findings);
    }
    this.checkNames(composition, acus, findings);
    return checked;
  }

  /** JavaScript sources are not in the program: they only have to parse. */
  private parseCheck(composition: BatchComposition, paths: readonly string[], acus: readonly BatchAcu[], findings: Findings): void {
    for (const path of paths) {
      const text = composition.changes.get(path) ?? null;
      if (text === null || this.outlineOf(path, text) !== null) continue;
      for (const entry of acus.filter((a) => a.item.acu.file === path)) {
        findings.add(entry.index, { code: 'parse-error', file: path, line: 0, message: `${path} does not parse after composition` }, []);
      }
    }
  }

  /**
   * Diagnostics after composition that were not there before, matched by file, code and enclosing
   * declaration, and counted. Messages are left out of the match: the base view's long-lived
   * checker may word a type differently (union member order) depending on what it checked before.
   */
  private newDiagnostics(path: string, before: readonly DiagnosticRecord[], afterAll: readonly DiagnosticRecord[], text: string): DiagnosticRecord[] {
    const after = this.session.environment === null ? afterAll.filter((d) => !isEnvironmentDiagnostic(d)) : afterAll;
    if (after.length === 0) return [];
    const baseText = this.session.baseText(path);
    const baseOutline = baseText === null || before.length === 0 ? null : this.outlineOf(path, baseText);
    const afterOutline = this.outlineOf(path, text);
    const key = (d: DiagnosticRecord, o: Outline | null): string => `${d.code}\u0000${o?.symbolAt(d.start) ?? ''}`;
    const counts = new Map<string, number>();
    for (const d of before) counts.set(key(d, baseOutline), (counts.get(key(d, baseOutline)) ?? 0) + 1);
    const fresh: DiagnosticRecord[] = [];
    for (const d of after) {
      const k = key(d, afterOutline);
      const left = counts.get(k) ?? 0;
      if (left > 0) counts.set(k, left - 1);
      else fresh.push(d);
    }
    return fresh;
  }

  private attribute(d: DiagnosticRecord, text: string, acus: readonly BatchAcu[], findings: Findings): void {
    const symbol = this.outlineOf(d.file, text)?.symbolAt(d.start) ?? null;
    const owner = ownerOf(acus, d.file, symbol);
    const names = diagnosticNames(this.session.sourceFile(d.file), d.start, d.length, d.message);
    const excluded = owner?.proposal ?? null;
    let causes = [...causesOf(acus, names, excluded), ...fileCausesOf(acus, diagnosticModules(d.file, d.message), excluded)];
    if (causes.length === 0) causes = causesOf(acus, statementNames(this.session.sourceFile(d.file), d.start), excluded);
    const message = `TS${d.code}: ${d.message}`;
    const base = { file: d.file, line: d.line, message };
    if (owner !== null && causes.length > 0) {
      findings.add(owner.index, { code: 'semantic-conflict', ...base }, causes.map((c) => c.index));
      for (const cause of causes) {
        findings.add(cause.index, { code: 'semantic-conflict', ...base }, [owner.index]);
        findings.conflict('semantic', owner.index, cause.index, d.file, message);
      }
    } else if (owner !== null) {
      // TypeScript numbers syntax errors 1000-1999.
      findings.add(owner.index, { code: d.code < 2000 ? 'parse-error' : 'type-error', ...base }, []);
    } else if (causes.length > 0) {
      for (const cause of causes) findings.add(cause.index, { code: 'breaks-dependent', ...base }, []);
    } else {
      findings.unattributed.push({ file: d.file, line: d.line, code: d.code, message: d.message });
    }
  }

  /** Names an ACU uses that no longer resolve in its composed declaration. */
  private checkNames(composition: BatchComposition, acus: readonly BatchAcu[], findings: Findings): void {
    const checker = this.session.program().getTypeChecker();
    for (const entry of acus) {
      const acu = entry.item.acu;
      if (acu.level !== 'decl' || acu.op === 'remove' || acu.uses.length === 0 || !isProgramPath(acu.file)) continue;
      const text = composition.changes.get(acu.file) ?? null;
      const sf = this.session.sourceFile(acu.file);
      const segment = text === null ? undefined : this.outlineOf(acu.file, text)?.bySymbol.get(acu.symbol);
      if (sf === undefined || segment === undefined) continue;
      for (const [name, ids] of usedIdentifiers(sf, segment, acu)) {
        if (ids.some((id) => resolves(checker, id))) continue;
        const causes = causesOf(acus, new Set([name]), entry.proposal);
        const line = ts.getLineAndCharacterOfPosition(sf, ids[0]!.getStart(sf)).line + 1;
        const message = `'${name}' does not resolve after composition`;
        findings.add(entry.index, { code: 'missing-name', file: acu.file, line, message }, causes.map((c) => c.index));
        for (const cause of causes) {
          findings.add(cause.index, { code: 'semantic-conflict', file: acu.file, line, message: `removes or changes '${name}', used by ${qualifiedSymbol(acu.file, acu.symbol)}` }, [entry.index]);
          findings.conflict('semantic', entry.index, cause.index, acu.file, message);
        }
      }
    }
  }
}

function isPackageJson(path: string): boolean {
  return path === 'package.json' || path.endsWith('/package.json');
}

/** Codes of "install type definitions for ..." (Node, jQuery, test runners) and a missing declaration file. */
const environmentCodes: ReadonlySet<number> = new Set([2580, 2581, 2582, 2583, 2584, 2591, 2592, 2593, 7016, 2688]);

/**
 * Diagnostics that only say the environment is missing: a package (bare module specifier), its
 * types, Node's globals. The tree holds no node_modules, and replicas' node_modules may differ,
 * so these are never validated (docs/validate.md).
 */
export function isEnvironmentDiagnostic(d: DiagnosticRecord): boolean {
  if (environmentCodes.has(d.code)) return true;
  if (d.code === 2307 || d.code === 2792) return /^Cannot find module '(?!\.{0,2}\/)/.test(d.message);
  if (d.code === 2503) return d.message.includes("'NodeJS'");
  return false;
}

function resolves(checker: ts.TypeChecker, id: ts.Identifier): boolean {
  const symbol = checker.getSymbolAtLocation(id);
  if (symbol !== undefined) return true;
  // A shorthand property `{ a }` resolves through its value symbol.
  const parent = id.parent as ts.Node | undefined;
  return parent !== undefined && ts.isShorthandPropertyAssignment(parent) && checker.getShorthandAssignmentValueSymbol(parent) !== undefined;
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
