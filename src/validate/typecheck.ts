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
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';

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
export function compilerOptionsFrom(tsconfigText: string | null): ts.CompilerOptions {
  if (tsconfigText === null) return defaultCompilerOptions;
  const parsed = ts.parseConfigFileTextToJson('tsconfig.json', tsconfigText);
  const raw = (parsed.config as { compilerOptions?: unknown } | undefined)?.compilerOptions;
  if (parsed.error !== undefined || raw === undefined) return defaultCompilerOptions;
  const converted = ts.convertCompilerOptionsFromJson(raw, repoRoot);
  const options: ts.CompilerOptions = { ...converted.options, noEmit: true, types: [], skipLibCheck: true, incremental: false, composite: false };
  delete options.tsBuildInfoFile;
  delete options.outDir;
  delete options.rootDir;
  delete options.declarationDir;
  return options;
}

const libTexts = new Map<string, string | null>();

function readLib(fileName: string): string | null {
  if (!libTexts.has(fileName)) {
    let text: string | null = null;
    try {
      text = readFileSync(fileName, 'utf8');
    } catch {
      text = null;
    }
    libTexts.set(fileName, text);
  }
  return libTexts.get(fileName) ?? null;
}

/** One document registry for every session in the process: lib files are parsed once. */
const registry = ts.createDocumentRegistry(true, '/');

interface FileState {
  text: string;
  version: number;
  snapshot: ts.IScriptSnapshot;
}

/** A warm type-checking session. Not thread-safe; one batch at a time. */
export class TypeCheckSession {
  private readonly files = new Map<string, FileState>();
  private readonly baseTexts = new Map<string, string>();
  private readonly baseDiagnostics = new Map<string, DiagnosticRecord[]>();
  private rootNames: string[] = [];
  private projectVersion = 0;
  private options: ts.CompilerOptions;
  private readonly service: ts.LanguageService;
  private readonly libDir: string;
  private overlaid = new Set<string>();
  /** The base tree's id, or null before the first. */
  baseId: string | null = null;

  constructor(options: ts.CompilerOptions = defaultCompilerOptions) {
    this.options = options;
    this.libDir = `${dirname(ts.getDefaultLibFilePath(options))}/`;
    const host: ts.LanguageServiceHost = {
      getCompilationSettings: () => this.options,
      getProjectVersion: () => String(this.projectVersion),
      getScriptFileNames: () => this.rootNames,
      getScriptVersion: (fileName) => String(this.files.get(fileName)?.version ?? 0),
      getScriptSnapshot: (fileName) => {
        const state = this.files.get(fileName);
        if (state !== undefined) return state.snapshot;
        const lib = fileName.startsWith(this.libDir) ? readLib(fileName) : null;
        return lib === null ? undefined : ts.ScriptSnapshot.fromString(lib);
      },
      getCurrentDirectory: () => repoRoot,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: (fileName) => this.files.has(fileName) || (fileName.startsWith(this.libDir) && readLib(fileName) !== null),
      readFile: (fileName) => this.files.get(fileName)?.text ?? (fileName.startsWith(this.libDir) ? (readLib(fileName) ?? undefined) : undefined),
      directoryExists: (dir) => dir.startsWith(this.libDir) || this.hasDirectory(dir),
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

  private put(path: string, text: string | null): void {
    const fileName = repoRoot + path;
    const current = this.files.get(fileName);
    if (text === null) {
      if (current !== undefined) {
        this.files.delete(fileName);
        this.projectVersion += 1;
      }
      return;
    }
    if (current?.text === text) return;
    this.files.set(fileName, { text, version: (current?.version ?? 0) + 1, snapshot: ts.ScriptSnapshot.fromString(text) });
    this.projectVersion += 1;
  }

  private refreshRoots(): void {
    this.rootNames = [...this.files.keys()].filter((name) => isProgramPath(name.slice(repoRoot.length))).sort();
  }

  /**
   * Make `files` (path -> text, every file the program may read) the base. Unchanged texts keep
   * their versions, so a new base costs only the files that differ.
   */
  setBase(id: string, files: ReadonlyMap<string, string>, options: ts.CompilerOptions = this.options): void {
    this.clearOverlay();
    if (options !== this.options) {
      this.options = options;
      this.projectVersion += 1;
    }
    for (const path of [...this.baseTexts.keys()]) {
      if (!files.has(path)) {
        this.put(path, null);
        this.baseTexts.delete(path);
      }
    }
    for (const [path, text] of files) {
      this.put(path, text);
      this.baseTexts.set(path, text);
    }
    if (this.baseId !== id) this.baseDiagnostics.clear();
    this.baseId = id;
    this.refreshRoots();
  }

  /** The base text of a path, or null. */
  baseText(path: string): string | null {
    return this.baseTexts.get(path) ?? null;
  }

  /** All base paths, sorted. */
  basePaths(): string[] {
    return [...this.baseTexts.keys()].sort();
  }

  /** Put composed texts over the base (null deletes a path). */
  overlay(changes: ReadonlyMap<string, string | null>): void {
    this.clearOverlay();
    for (const [path, text] of changes) {
      this.put(path, text);
      this.overlaid.add(path);
    }
    this.refreshRoots();
  }

  /** Back to the base texts. */
  clearOverlay(): void {
    if (this.overlaid.size === 0) return;
    for (const path of this.overlaid) this.put(path, this.baseTexts.get(path) ?? null);
    this.overlaid = new Set();
    this.refreshRoots();
  }

  /** Diagnostics of the base state for `paths` (cached until the base changes). */
  baseDiagnosticsOf(paths: readonly string[]): Map<string, DiagnosticRecord[]> {
    const out = new Map<string, DiagnosticRecord[]>();
    const missing = paths.filter((path) => !this.baseDiagnostics.has(path));
    if (missing.length > 0) {
      const saved = new Map([...this.overlaid].map((path) => [path, this.files.get(repoRoot + path)?.text ?? null] as const));
      this.clearOverlay();
      for (const path of missing) this.baseDiagnostics.set(path, this.diagnosticsOf(path));
      if (saved.size > 0) this.overlay(saved);
    }
    for (const path of paths) out.set(path, this.baseDiagnostics.get(path) ?? []);
    return out;
  }

  /** Syntactic and semantic diagnostics of one file in the current state (empty for a file not in the program). */
  diagnosticsOf(path: string): DiagnosticRecord[] {
    const fileName = repoRoot + path;
    if (!this.files.has(fileName) || !isProgramPath(path)) return [];
    const raw = [...this.service.getSyntacticDiagnostics(fileName), ...this.service.getSemanticDiagnostics(fileName)];
    const text = this.files.get(fileName)!.text;
    return raw.map((d) => record(path, text, d)).sort(compareDiagnostics);
  }

  /** The current program (composed state after {@link overlay}). */
  program(): ts.Program {
    const program = this.service.getProgram();
    assert(program !== undefined, 'the language service has a program');
    return program;
  }

  /** The source file of a path in the current program, or undefined. */
  sourceFile(path: string): ts.SourceFile | undefined {
    return this.program().getSourceFile(repoRoot + path);
  }

  /**
   * Paths whose imports resolve to one of `paths` (direct dependents), in the current state,
   * sorted. Resolution is the compiler's own, with the session's options.
   */
  dependentsOf(paths: ReadonlySet<string>): string[] {
    const program = this.program();
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

  /** Drop the service (and its program). */
  dispose(): void {
    this.service.dispose();
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
