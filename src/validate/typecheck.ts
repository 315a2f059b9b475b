/**
 * A long-lived, in-memory TypeScript language service over a virtual file system: the files of a
 * base tree, and on top of them, for one batch at a time, the composed files. The service keeps
 * its program between batches and across base trees; only files whose text changed get a new
 * version, so each new program reuses the old one's structure and every unchanged source file
 * (lib files included, through the shared document registry). Diagnostics of the base state are
 * cached per file until the base changes.
 *
 * Paths are repository paths, mounted under `/repo/`. The compiler is the one ts-morph bundles.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Project, ts } from 'ts-morph';
import { qualifiedSymbol } from '../core/acu/model.js';
import { assert } from '../core/errors.js';
import type { BatchAcu, Outline } from './attribute.js';
import { causesOf, diagnosticModules, diagnosticNames, fileCausesOf, outline, ownerOf, statementNames, usedIdentifiers } from './attribute.js';
import type { AcuReason, UnattributedDiagnostic } from './result.js';

/** The virtual root the repository is mounted at. */
export const repoRoot = '/repo/';

/** Files the program is built from: TypeScript sources and declarations. */
export function isProgramPath(path: string): boolean {
  return /\.(ts|tsx|mts|cts)$/.test(path) && !path.split('/').includes('node_modules');
}

/** One diagnostic, in repository terms. Plain data: it goes into the validation result. */
export interface DiagnosticRecord {
  readonly file: string;
  /** 0-based character offset and length in the file's text. */
  readonly start: number;
  readonly length: number;
  /** 1-based line. */
  readonly line: number;
  readonly code: number;
  readonly message: string;
}

/** Compiler options used when the tree has no root tsconfig.json. */
export const defaultCompilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2023.d.ts'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: [],
  allowImportingTsExtensions: true,
};

/**
 * Options from a root tsconfig.json text: its compilerOptions, without `extends` (the base tree
 * holds no node_modules to extend from), forced to check only (noEmit, no automatic @types).
 */
export function compilerOptionsFrom(tsconfigText: string | null, keepTypes = false): ts.CompilerOptions {
  if (tsconfigText === null) return defaultCompilerOptions;
  const parsed = ts.parseConfigFileTextToJson('tsconfig.json', tsconfigText);
  const raw = (parsed.config as { compilerOptions?: unknown } | undefined)?.compilerOptions;
  if (parsed.error !== undefined || raw === undefined) return defaultCompilerOptions;
  const converted = ts.convertCompilerOptionsFromJson(raw, repoRoot);
  const options: ts.CompilerOptions = { ...converted.options, noEmit: true, skipLibCheck: true, incremental: false, composite: false };
  // Without an environment there are no @types to include; with one, the tsconfig's list stands.
  if (!keepTypes || options.types === undefined) options.types = [];
  delete options.tsBuildInfoFile;
  delete options.outDir;
  delete options.rootDir;
  delete options.declarationDir;
  return options;
}

/**
 * Where lib files live in the virtual file system. The compiler ts-morph bundles has no lib files
 * on disk: ts-morph carries them and serves them to its own in-memory projects under this folder.
 */
const libDir = '/node_modules/typescript/lib/';
const libTexts = new Map<string, string>();
const libSetsLoaded = new Set<string>();

/**
 * Load the lib files `options` need, once per process and lib set, through a throwaway in-memory
 * ts-morph project (its program reads them from ts-morph's own copy: public API only).
 */
function loadLibs(options: ts.CompilerOptions): void {
  const key = JSON.stringify([options.target ?? null, options.lib ?? null, options.noLib ?? false]);
  if (libSetsLoaded.has(key)) return;
  const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { target: options.target, lib: options.lib, noLib: options.noLib, types: [] } });
  project.createSourceFile('/acu-lib-probe.ts', 'export {};\n');
  for (const sf of project.getProgram().compilerObject.getSourceFiles()) {
    if (sf.fileName.startsWith(libDir)) libTexts.set(sf.fileName, sf.text);
  }
  libSetsLoaded.add(key);
}

function readLib(fileName: string): string | null {
  return libTexts.get(fileName) ?? null;
}

/** One document registry for every session in the process: lib files are parsed once. */
const registry = ts.createDocumentRegistry(true, '/');

interface FileState {
  readonly text: string;
  /** Unique per text in the process, so two views share a parsed file exactly when they share its text. */
  readonly version: string;
  readonly snapshot: ts.IScriptSnapshot;
}

let versionCounter = 0;

function fileState(text: string): FileState {
  versionCounter += 1;
  return { text, version: String(versionCounter), snapshot: ts.ScriptSnapshot.fromString(text) };
}

/**
 * One language service over one set of files. Its program is rebuilt only when its project version
 * moves, and then from the previous program (unchanged files keep their parsed and bound trees).
 */
/**
 * The environment: a `node_modules` folder on disk, mounted read-only at `/repo/node_modules`, read
 * lazily (only what module and type resolution ask for) and cached. Every file read is remembered
 * with its hash, so the result can carry a digest of the environment it was checked against.
 */
export class Environment {
  private readonly texts = new Map<string, string | null>();
  private readonly dirs = new Map<string, boolean>();
  private readonly hashes = new Map<string, string>();

  /** `root` holds `node_modules` (a work tree, say). */
  constructor(readonly root: string) {}

  private diskPath(fileName: string): string | null {
    return fileName.startsWith(environmentMount) ? `${this.root}/node_modules/${fileName.slice(environmentMount.length)}` : null;
  }

  read(fileName: string): string | null {
    const disk = this.diskPath(fileName);
    if (disk === null) return null;
    if (!this.texts.has(fileName)) {
      let text: string | null = null;
      try {
        text = statSync(disk).isFile() ? readFileSync(disk, 'utf8') : null;
      } catch {
        text = null;
      }
      this.texts.set(fileName, text);
      if (text !== null) this.hashes.set(fileName, createHash('sha256').update(text, 'utf8').digest('hex'));
    }
    return this.texts.get(fileName) ?? null;
  }

  directoryExists(dir: string): boolean {
    const disk = this.diskPath(dir.endsWith('/') ? dir : `${dir}/`);
    if (disk === null) return false;
    if (!this.dirs.has(dir)) {
      let exists = false;
      try {
        exists = statSync(disk).isDirectory();
      } catch {
        exists = false;
      }
      this.dirs.set(dir, exists);
    }
    return this.dirs.get(dir) ?? false;
  }

  /** SHA-256 over the sorted paths and hashes of the files a program read from the environment. */
  digestOf(fileNames: readonly string[]): string {
    const lines = fileNames.filter((name) => this.hashes.has(name)).sort().map((name) => `${name.slice(environmentMount.length)} ${this.hashes.get(name)!}`);
    return createHash('sha256').update(lines.join('\n'), 'utf8').digest('hex');
  }
}

/** Where the environment is mounted. */
const environmentMount = `${repoRoot}node_modules/`;

class View {
  files = new Map<string, FileState>();
  private rootNames: string[] = [];
  private projectVersion = 0;
  readonly service: ts.LanguageService;

  constructor(private readonly options: () => ts.CompilerOptions, private readonly environment: Environment | null) {
    const host: ts.LanguageServiceHost = {
      getCompilationSettings: () => this.options(),
      getProjectVersion: () => String(this.projectVersion),
      getScriptFileNames: () => this.rootNames,
      getScriptVersion: (fileName) => this.files.get(fileName)?.version ?? '0',
      getScriptSnapshot: (fileName) => {
        const state = this.files.get(fileName);
        if (state !== undefined) return state.snapshot;
        const other = fileName.startsWith(libDir) ? readLib(fileName) : (this.environment?.read(fileName) ?? null);
        return other === null ? undefined : ts.ScriptSnapshot.fromString(other);
      },
      getCurrentDirectory: () => repoRoot,
      getDefaultLibFileName: (o) => libDir + ts.getDefaultLibFileName(o),
      fileExists: (fileName) => this.files.has(fileName) || readLib(fileName) !== null || (this.environment?.read(fileName) ?? null) !== null,
      readFile: (fileName) => this.files.get(fileName)?.text ?? readLib(fileName) ?? this.environment?.read(fileName) ?? undefined,
      directoryExists: (dir) =>
        libDir.startsWith(dir.endsWith('/') ? dir : `${dir}/`) || dir.startsWith(libDir) || this.hasDirectory(dir) || (this.environment?.directoryExists(dir) ?? false),
      getDirectories: () => [],
      useCaseSensitiveFileNames: () => true,
    };
    this.service = ts.createLanguageService(host, registry);
  }

  private hasDirectory(dir: string): boolean {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const name of this.files.keys()) if (name.startsWith(prefix)) return true;
    return false;
  }

  /** Replace the file set; the program follows on the next query. */
  replace(files: Map<string, FileState>): void {
    this.files = files;
    this.rootNames = [...files.keys()].filter((name) => isProgramPath(name.slice(repoRoot.length))).sort();
    this.projectVersion += 1;
  }

  /** Force the next query to build a program (the options changed). */
  invalidate(): void {
    this.projectVersion += 1;
  }

  program(): ts.Program {
    const program = this.service.getProgram();
    assert(program !== undefined, 'the language service has a program');
    return program;
  }

  diagnosticsOf(path: string): DiagnosticRecord[] {
    const fileName = repoRoot + path;
    const state = this.files.get(fileName);
    if (state === undefined || !isProgramPath(path)) return [];
    const raw = [...this.service.getSyntacticDiagnostics(fileName), ...this.service.getSemanticDiagnostics(fileName)];
    return raw.map((d) => record(path, state.text, d)).sort(compareDiagnostics);
  }
}

/**
 * A warm type-checking session. Two views share one document registry: the base view holds the
 * base tree and keeps its program (and its type checker, with everything it has resolved) for as
 * long as the base stays; the composed view is the base with a batch's files laid over it, and
 * gets a new program per batch, built from its previous one. Not thread-safe; one batch at a time.
 */
export class TypeCheckSession {
  private options: ts.CompilerOptions;
  private readonly base: View;
  private readonly composed: View;
  private readonly baseDiagnostics = new Map<string, DiagnosticRecord[]>();
  private overlaid = new Map<string, string | null>();
  private lastComposed: ts.Program | null = null;
  /** The base tree's id, or null before the first. */
  baseId: string | null = null;

  /** The environment (node_modules) the session reads packages and their types from, or null. */
  readonly environment: Environment | null;

  constructor(options: ts.CompilerOptions = defaultCompilerOptions, environment: Environment | null = null) {
    this.options = options;
    this.environment = environment;
    loadLibs(options);
    this.base = new View(() => this.options, environment);
    this.composed = new View(() => this.options, environment);
  }

  /** The digest of the environment files the composed program read, or null without an environment. */
  environmentDigest(): string | null {
    if (this.environment === null) return null;
    return this.environment.digestOf(this.program().getSourceFiles().map((sf) => sf.fileName));
  }

  /**
   * Make `files` (path -> text, every file the program may read) the base. Unchanged texts keep
   * their versions, so a new base costs only the files that differ.
   */
  setBase(id: string, files: ReadonlyMap<string, string>, options: ts.CompilerOptions = this.options): void {
    if (JSON.stringify(options) !== JSON.stringify(this.options)) {
      loadLibs(options);
      this.options = options;
      this.base.invalidate();
      this.composed.invalidate();
    }
    const next = new Map<string, FileState>();
    for (const [path, text] of files) {
      const current = this.base.files.get(repoRoot + path);
      next.set(repoRoot + path, current?.text === text ? current : fileState(text));
    }
    if (this.baseId !== id) this.baseDiagnostics.clear();
    this.baseId = id;
    this.base.replace(next);
    this.overlaid = new Map();
    this.composed.replace(new Map(next));
  }

  /** The base text of a path, or null. */
  baseText(path: string): string | null {
    return this.base.files.get(repoRoot + path)?.text ?? null;
  }

  /** Lay composed texts over the base (null deletes a path); replaces the previous overlay. */
  overlay(changes: ReadonlyMap<string, string | null>): void {
    const files = new Map(this.base.files);
    for (const [path, text] of changes) {
      if (text === null) files.delete(repoRoot + path);
      else files.set(repoRoot + path, this.base.files.get(repoRoot + path)?.text === text ? this.base.files.get(repoRoot + path)! : fileState(text));
    }
    this.overlaid = new Map(changes);
    const previous = this.lastComposed;
    this.composed.replace(files);
    // Every batch gets a fresh type checker: a checker's messages (union member order, say) can
    // depend on what it resolved before, and a replica that validated other batches first must
    // print the same messages as one that did not. Unchanged files make the service keep the old
    // program, checker included, so drop it then (cleanupSemanticCache forgets the program; only
    // a new project version makes the service build another, else it answers none).
    if (this.composed.program() === previous) {
      this.composed.service.cleanupSemanticCache();
      this.composed.replace(files);
    }
    this.lastComposed = this.composed.program();
  }

  /** Diagnostics of the base state for `paths` (cached until the base changes). */
  baseDiagnosticsOf(paths: readonly string[]): Map<string, DiagnosticRecord[]> {
    const out = new Map<string, DiagnosticRecord[]>();
    for (const path of paths) {
      if (!this.baseDiagnostics.has(path)) this.baseDiagnostics.set(path, this.base.diagnosticsOf(path));
      out.set(path, this.baseDiagnostics.get(path) ?? []);
    }
    return out;
  }

  /** Syntactic and semantic diagnostics of one file after composition (empty for a file not in the program). */
  diagnosticsOf(path: string): DiagnosticRecord[] {
    return this.composed.diagnosticsOf(path);
  }

  /** The composed program. */
  program(): ts.Program {
    return this.composed.program();
  }

  /** The base program. */
  baseProgram(): ts.Program {
    return this.base.program();
  }

  /** The source file of a path in the composed program, or undefined. */
  sourceFile(path: string): ts.SourceFile | undefined {
    return this.program().getSourceFile(repoRoot + path);
  }

  /**
   * Paths whose imports resolve to one of `paths` (direct dependents) in the base program,
   * sorted. Resolution is the compiler's own, with the session's options.
   */
  dependentsOf(paths: ReadonlySet<string>): string[] {
    const program = this.base.program();
    const out = new Set<string>();
    for (const sf of program.getSourceFiles()) {
      if (!sf.fileName.startsWith(repoRoot)) continue;
      const path = sf.fileName.slice(repoRoot.length);
      if (paths.has(path)) continue;
      for (const target of importedPaths(program, sf)) {
        if (paths.has(target)) {
          out.add(path);
          break;
        }
      }
    }
    return [...out].sort();
  }

  /** Drop the services (and their programs). */
  dispose(): void {
    this.base.service.dispose();
    this.composed.service.dispose();
  }
}

function importedPaths(program: ts.Program, sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const options = program.getCompilerOptions();
  for (const specifier of moduleSpecifiers(sf)) {
    const resolved = ts.resolveModuleName(specifier, sf.fileName, options, {
      fileExists: (name) => program.getSourceFile(name) !== undefined,
      readFile: () => undefined,
    }).resolvedModule;
    if (resolved?.resolvedFileName.startsWith(repoRoot) === true) out.push(resolved.resolvedFileName.slice(repoRoot.length));
  }
  return out;
}

function moduleSpecifiers(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const statement of sf.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier)) {
      out.push(statement.moduleSpecifier.text);
    }
  }
  return out;
}

function record(path: string, text: string, d: ts.Diagnostic): DiagnosticRecord {
  const start = d.start ?? 0;
  let line = 1;
  for (let at = text.indexOf('\n'); at !== -1 && at < start; at = text.indexOf('\n', at + 1)) line += 1;
  return { file: path, start, length: d.length ?? 0, line, code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, '\n') };
}

/** Order diagnostics by position, then code, then message. */
export function compareDiagnostics(a: DiagnosticRecord, b: DiagnosticRecord): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.start !== b.start) return a.start - b.start;
  if (a.code !== b.code) return a.code - b.code;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

// ---- the budget ---------------------------------------------------------------------------------

/**
 * Limits on one batch's type-check. Every measure is a function of the batch and its base tree
 * alone (string lengths in UTF-16 code units, counts of paths and ACUs), so every honest replica
 * computes the same measures, compares them with the same constants and reaches the same
 * "over budget" verdict; wall time never enters (docs/validate.md, "The type-check budget").
 */
export interface TypecheckLimits {
  /** ACUs in the batch: attribution and the names check walk every ACU per diagnostic. */
  readonly typecheckBatchAcusMax: number;
  /** Characters of the batch's changed program files (composed texts): parsed and bound afresh. */
  readonly typecheckChangedCharsMax: number;
  /** Repository files in the composed program. */
  readonly typecheckProgramFilesMax: number;
  /** Characters of the repository files in the composed program (lib files and node_modules not counted). */
  readonly typecheckProgramCharsMax: number;
}

/** The limits every replica uses. Changing one changes verdicts: it is a protocol change. */
export const typecheckLimits: TypecheckLimits = {
  typecheckBatchAcusMax: 4_096,
  typecheckChangedCharsMax: 4_000_000,
  typecheckProgramFilesMax: 20_000,
  typecheckProgramCharsMax: 40_000_000,
};

/** The measures of a batch the budget compares with its limits. */
export interface TypecheckMeasures {
  readonly acus: number;
  readonly changedChars: number;
  readonly programFiles: number;
  readonly programChars: number;
}

/**
 * Measure the program the checker would build: the base's program files with the batch's changes
 * laid over them (`changes`: path -> composed text, null for a deleted path).
 */
export function typecheckMeasures(baseFiles: ReadonlyMap<string, string>, changes: ReadonlyMap<string, string | null>, acus: number): TypecheckMeasures {
  let programFiles = 0;
  let programChars = 0;
  for (const [path, text] of baseFiles) {
    if (!isProgramPath(path) || changes.has(path)) continue;
    programFiles += 1;
    programChars += text.length;
  }
  let changedChars = 0;
  for (const [path, text] of changes) {
    if (!isProgramPath(path) || text === null) continue;
    programFiles += 1;
    programChars += text.length;
    changedChars += text.length;
  }
  assert(programChars >= changedChars, 'typecheckMeasures: changed files are part of the program');
  return { acus, changedChars, programFiles, programChars };
}

/**
 * Why the batch is over budget (the first limit exceeded, in a fixed order, so every replica
 * words it the same), or null when it is within every limit.
 */
export function overBudget(measures: TypecheckMeasures, limits: TypecheckLimits = typecheckLimits): string | null {
  const checks: readonly [number, number, string][] = [
    [measures.acus, limits.typecheckBatchAcusMax, 'ACUs'],
    [measures.changedChars, limits.typecheckChangedCharsMax, 'changed chars'],
    [measures.programFiles, limits.typecheckProgramFilesMax, 'program files'],
    [measures.programChars, limits.typecheckProgramCharsMax, 'program chars'],
  ];
  for (const [value, max, unit] of checks) {
    if (value > max) return `not type-checked: over budget (${value} ${unit} > ${max})`;
  }
  return null;
}

// ---- one type-check job -----------------------------------------------------------------------

/**
 * One batch's type-check, as plain data (it crosses to the worker thread by structured clone).
 * `changes` holds the composed texts of the changed program files and package.json files.
 */
export interface TypeCheckJob {
  readonly baseId: string;
  /** The base's files (path -> text); null when the checker is known to hold this base already. */
  readonly baseFiles: ReadonlyMap<string, string> | null;
  readonly options: ts.CompilerOptions;
  readonly acus: readonly BatchAcu[];
  readonly changes: ReadonlyMap<string, string | null>;
  readonly fastPath: boolean;
}

/** What the check found, in the order it found it (the validator records them in that order). */
export type TypeCheckFinding =
  | { readonly kind: 'reason'; readonly index: number; readonly reason: Omit<AcuReason, 'related'>; readonly related: readonly number[] }
  | { readonly kind: 'conflict'; readonly a: number; readonly b: number; readonly file: string; readonly message: string }
  | { readonly kind: 'unattributed'; readonly diagnostic: UnattributedDiagnostic };

/** The answer to a job: plain data. */
export interface TypeCheckOutput {
  /** Files type-checked (touched and dependents), sorted. */
  readonly checked: string[];
  readonly findings: TypeCheckFinding[];
  /** The environment digest of the composed program, or null without an environment. */
  readonly environment: string | null;
}

/** Outlines (segmented texts) kept between batches, at most. */
const outlinesMax = 512;

/** Outlines of texts, cached by path and text; bounded, cleared when the base changes. */
export class OutlineCache {
  private readonly outlines = new Map<string, Outline | null>();

  of(path: string, text: string): Outline | null {
    const key = `${path}\u0000${text}`;
    if (!this.outlines.has(key)) {
      // A long-lived validator on one base must not keep every batch's syntax trees.
      if (this.outlines.size >= outlinesMax) this.outlines.clear();
      this.outlines.set(key, outline(path, text));
    }
    return this.outlines.get(key) ?? null;
  }

  clear(): void {
    this.outlines.clear();
  }
}

function isPackageJsonPath(path: string): boolean {
  return path === 'package.json' || path.endsWith('/package.json');
}

/**
 * Run one job on a session: type-check the touched program files and (off the fast path) their
 * direct dependents, find the new diagnostics, attribute each, and check the names ACUs use.
 * The same function runs in the worker thread and in process: the answer depends only on the job
 * and the session's base (docs/validate.md).
 */
export function runTypeCheckJob(session: TypeCheckSession, job: TypeCheckJob, outlines: OutlineCache): TypeCheckOutput {
  if (session.baseId !== job.baseId) {
    assert(job.baseFiles !== null, 'a job for a base the checker does not hold carries its files');
    session.setBase(job.baseId, job.baseFiles, job.options);
    outlines.clear();
  }
  const run = new JobRun(session, job, outlines);
  const touched = new Set([...job.changes.keys()].filter(isProgramPath));
  const dependents = job.fastPath ? [] : session.dependentsOf(touched);
  const checked = [...new Set([...touched, ...dependents])].sort();
  const before = session.baseDiagnosticsOf(checked.filter((path) => session.baseText(path) !== null));
  session.overlay(new Map([...job.changes].filter(([path]) => isProgramPath(path) || isPackageJsonPath(path))));
  for (const path of checked) {
    const text = job.changes.has(path) ? job.changes.get(path) ?? null : session.baseText(path);
    if (text === null) continue;
    for (const diagnostic of run.newDiagnostics(path, before.get(path) ?? [], session.diagnosticsOf(path), text)) run.attribute(diagnostic, text);
  }
  run.checkNames();
  assert(run.findings.every((f) => f.kind !== 'reason' || f.index < job.acus.length), 'findings name ACUs of the batch');
  return { checked, findings: run.findings, environment: session.environmentDigest() };
}

/** The state of one job while it runs. */
class JobRun {
  readonly findings: TypeCheckFinding[] = [];

  constructor(private readonly session: TypeCheckSession, private readonly job: TypeCheckJob, private readonly outlines: OutlineCache) {}

  private add(index: number, reason: Omit<AcuReason, 'related'>, related: readonly number[]): void {
    this.findings.push({ kind: 'reason', index, reason, related });
  }

  /**
   * Diagnostics after composition that were not there before, matched by file, code and enclosing
   * declaration, and counted. Messages are left out of the match: the base view's long-lived
   * checker may word a type differently (union member order) depending on what it checked before.
   */
  newDiagnostics(path: string, before: readonly DiagnosticRecord[], afterAll: readonly DiagnosticRecord[], text: string): DiagnosticRecord[] {
    const after = this.session.environment === null ? afterAll.filter((d) => !isEnvironmentDiagnostic(d)) : afterAll;
    if (after.length === 0) return [];
    const baseText = this.session.baseText(path);
    const baseOutline = baseText === null || before.length === 0 ? null : this.outlines.of(path, baseText);
    const afterOutline = this.outlines.of(path, text);
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

  attribute(d: DiagnosticRecord, text: string): void {
    const acus = this.job.acus;
    const symbol = this.outlines.of(d.file, text)?.symbolAt(d.start) ?? null;
    const owner = ownerOf(acus, d.file, symbol);
    const names = diagnosticNames(this.session.sourceFile(d.file), d.start, d.length, d.message);
    const excluded = owner?.proposal ?? null;
    let causes = [...causesOf(acus, names, excluded), ...fileCausesOf(acus, diagnosticModules(d.file, d.message), excluded)];
    if (causes.length === 0) causes = causesOf(acus, statementNames(this.session.sourceFile(d.file), d.start), excluded);
    const message = `TS${d.code}: ${d.message}`;
    const base = { file: d.file, line: d.line, message };
    if (owner !== null && causes.length > 0) {
      this.add(owner.index, { code: 'semantic-conflict', ...base }, causes.map((c) => c.index));
      for (const cause of causes) {
        this.add(cause.index, { code: 'semantic-conflict', ...base }, [owner.index]);
        this.findings.push({ kind: 'conflict', a: owner.index, b: cause.index, file: d.file, message });
      }
    } else if (owner !== null) {
      // TypeScript numbers syntax errors 1000-1999.
      this.add(owner.index, { code: d.code < 2000 ? 'parse-error' : 'type-error', ...base }, []);
    } else if (causes.length > 0) {
      for (const cause of causes) this.add(cause.index, { code: 'breaks-dependent', ...base }, []);
    } else {
      this.findings.push({ kind: 'unattributed', diagnostic: { file: d.file, line: d.line, code: d.code, message: d.message } });
    }
  }

  /** Names an ACU uses that no longer resolve in its composed declaration. */
  checkNames(): void {
    const acus = this.job.acus;
    const checker = this.session.program().getTypeChecker();
    for (const entry of acus) {
      const acu = entry.item.acu;
      if (acu.level !== 'decl' || acu.op === 'remove' || acu.uses.length === 0 || !isProgramPath(acu.file)) continue;
      const text = this.job.changes.get(acu.file) ?? null;
      const sf = this.session.sourceFile(acu.file);
      const segment = text === null ? undefined : this.outlines.of(acu.file, text)?.bySymbol.get(acu.symbol);
      if (sf === undefined || segment === undefined) continue;
      for (const [name, ids] of usedIdentifiers(sf, segment, acu)) {
        if (ids.some((id) => resolves(checker, id))) continue;
        const causes = causesOf(acus, new Set([name]), entry.proposal);
        const line = ts.getLineAndCharacterOfPosition(sf, ids[0]!.getStart(sf)).line + 1;
        const message = `'${name}' does not resolve after composition`;
        this.add(entry.index, { code: 'missing-name', file: acu.file, line, message }, causes.map((c) => c.index));
        for (const cause of causes) {
          this.add(cause.index, { code: 'semantic-conflict', file: acu.file, line, message: `removes or changes '${name}', used by ${qualifiedSymbol(acu.file, acu.symbol)}` }, [entry.index]);
          this.findings.push({ kind: 'conflict', a: entry.index, b: cause.index, file: acu.file, message });
        }
      }
    }
  }
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
