/**
 * The safeguard of a clean merge: the merged file is parsed, bound and checked on its own, imports
 * unresolved, and its diagnostics are compared with those of base, ours and theirs checked the same
 * way. A diagnostic that no input had means the merge broke the file (two declarations of one name,
 * a name that no longer resolves, a class with two base classes): such a result is not clean.
 *
 * Only diagnostics that a file shows the same way whatever its imports resolve to are compared
 * ({@link guardedCodes}): the checker cannot see other files, so type errors (whose messages print
 * types, and whose types come from imports, here `any`) would differ between versions for reasons
 * that are not the merge's. Diagnostics are compared by code and the text they point at, never by
 * position: the merge moves code.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import { isSourcePath, scriptKindFor } from '../extract/segment.js';
import { parseVersion } from './syntax.js';
import type { Version } from './syntax.js';

/**
 * The problems looked for, by TypeScript's code for each (kept so that a finding reads like the
 * compiler's message). Each is found from the file alone, from its syntax and the binder's scopes,
 * so it reads the same with imports unresolved and without the standard library:
 * - declarations: 2300 duplicate identifier, 2451 a block-scoped variable declared twice, 2323 an
 *   exported variable declared twice, 2528 several default exports (the binder's diagnostics),
 *   2393 two implementations of one function or method, 1117 one property twice in an object
 *   literal;
 * - base types: 1172 `extends` twice, 1173 `extends` after `implements`, 1174 a class with two base
 *   classes, 1175 `implements` twice;
 * - names: 2304 a name that resolves to no declaration in scope, 18004 the same for a shorthand
 *   property. Well-known globals (`console`, `describe`, `Promise`, `require`: knownGlobals) are
 *   taken as resolved, unless an input imports or declares the name at its top level (mobx's own
 *   `fail`: a merge that drops its import breaks its uses); other globals without lib or types
 *   never resolve here, so they are in the inputs too and never count;
 * - calls of the file's own functions (one declaration, with a body, in a TypeScript file) with
 *   fewer arguments than they require or more than they take (2554): one side added a parameter,
 *   the other a call.
 *
 * Why not the checker's own diagnostics: a full check of one file costs 50 ms to a second (it
 * infers every type; generic overloads are the slow part), most of the checker's diagnostics are
 * type errors whose messages print types that a merge legitimately changes, and anything imported
 * is `any` here. Name resolution uses the checker's `resolveName`, which walks the scopes the
 * binder built and infers nothing.
 */
export const guardedCodes: ReadonlySet<number> = new Set([2300, 2451, 2323, 2528, 2393, 1117, 1172, 1173, 1174, 1175, 2304, 18004, 2554]);

/** Codes that say a name does not resolve: where a rename may be carried (see carryRenames). */
export const unresolvedNameCodes: ReadonlySet<number> = new Set([2304, 18004]);

/** The longest span text kept in a finding's identity. */
const findingTextCharsMax = 200;

/** One problem in one version: its identity (code and text) and where it is in that version. */
export interface Finding {
  readonly code: number;
  /** The text the finding points at (a name, mostly), layout collapsed. */
  readonly name: string;
  /** What two versions compare: code and name, and for 2554 the arity. */
  readonly id: string;
  readonly start: number;
  readonly length: number;
}

/** True when `path` is checked by the safeguard: TypeScript and JavaScript, not JSON. */
export function isCheckedPath(path: string): boolean {
  return isSourcePath(path);
}

const compilerOptions: ts.CompilerOptions = {
  noResolve: true,
  noLib: true,
  types: [],
  allowJs: true,
  noEmit: true,
  target: ts.ScriptTarget.Latest,
  module: ts.ModuleKind.ESNext,
  jsx: ts.JsxEmit.Preserve,
};

/** The deepest nesting walked; deeper code is not looked into. */
const walkDepthMax = 500;

/** A single-file program on the tree the merge already parsed; its checker binds the file. */
function checkerFor(sf: ts.SourceFile): ts.TypeChecker {
  const name = sf.fileName;
  const host: ts.CompilerHost = {
    getSourceFile: (file) => (file === name ? sf : undefined),
    getDefaultLibFileName: () => '/lib.d.ts',
    writeFile: () => undefined,
    getCurrentDirectory: () => '/',
    getCanonicalFileName: (file) => file,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (file) => file === name,
    readFile: () => undefined,
  };
  return ts.createProgram({ rootNames: [name], options: compilerOptions, host }).getTypeChecker();
}

/**
 * The problems of one version (see guardedCodes): the binder's diagnostics, then one walk over the
 * tree for names that resolve to nothing, duplicate implementations, base types, object keys and
 * the arity of calls.
 */
export function findingsOf(version: Version, owned: ReadonlySet<string> = noNames): Finding[] {
  const sf = version.sf;
  const checker = checkerFor(sf);
  const findings: Finding[] = [];
  const add = (code: number, start: number, end: number, extra = ''): void => {
    const name = version.text.slice(start, end).replace(/\s+/g, ' ').slice(0, findingTextCharsMax);
    findings.push({ code, name, id: `${code}|${name}${extra}`, start, length: end - start });
  };
  const bound = (sf as unknown as { bindDiagnostics?: readonly ts.Diagnostic[] }).bindDiagnostics ?? [];
  for (const d of bound) if (guardedCodes.has(d.code) && d.start !== undefined) add(d.code, d.start, d.start + (d.length ?? 0));
  const kind = scriptKindFor(sf.fileName);
  const isJs = kind === ts.ScriptKind.JS || kind === ts.ScriptKind.JSX;
  const stack: Array<[ts.Node, number]> = [[sf, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    inspect(version, checker, node, add, isJs, owned);
    if (depth < walkDepthMax) ts.forEachChild(node, (child) => void stack.push([child, depth + 1]));
  }
  return findings.sort((a, b) => a.start - b.start);
}

type Add = (code: number, start: number, end: number, extra?: string) => void;

/**
 * Names that the standard library, the DOM, node and test runners declare: without lib or types
 * they never resolve here, and a merge cannot break them. Taking them as resolved means that a
 * typical result has no finding at all, and its inputs need no check (one program, not four).
 */
const knownGlobals: ReadonlySet<string> = new Set(
  (
    'Array ArrayBuffer ArrayLike AsyncIterable AsyncIterableIterator Atomics BigInt BigInt64Array Boolean DataView Date Error EvalError Float32Array Float64Array ' +
    'Function Generator Infinity Int16Array Int32Array Int8Array Intl Iterable IterableIterator Iterator JSON Map Math NaN Number Object Omit Partial Pick Promise ' +
    'PromiseLike Proxy RangeError ReadonlyArray ReadonlyMap ReadonlySet Record ReferenceError Reflect RegExp Required Readonly ReturnType Parameters InstanceType ' +
    'Exclude Extract NonNullable Awaited ConstructorParameters ThisType Set SharedArrayBuffer String Symbol SyntaxError TemplateStringsArray TypeError URIError ' +
    'Uint16Array Uint32Array Uint8Array Uint8ClampedArray WeakMap WeakRef WeakSet PropertyKey PropertyDescriptor TypedPropertyDescriptor ' +
    'decodeURI decodeURIComponent encodeURI encodeURIComponent escape eval isFinite isNaN parseFloat parseInt unescape ' +
    'console process require module exports __dirname __filename global Buffer setTimeout clearTimeout setInterval clearInterval setImmediate clearImmediate ' +
    'queueMicrotask structuredClone fetch URL URLSearchParams TextEncoder TextDecoder AbortController AbortSignal Event EventTarget NodeJS ' +
    'window document navigator location history localStorage sessionStorage self alert requestAnimationFrame cancelAnimationFrame performance crypto ' +
    'HTMLElement Element Node Document Window KeyboardEvent MouseEvent CustomEvent Response Request Headers Blob File FormData WebSocket Worker ' +
    'describe it test expect beforeEach afterEach beforeAll afterAll jest vi xit xdescribe fit fdescribe jasmine spyOn fail pending context before after'
  ).split(' '),
);

const noNames: ReadonlySet<string> = new Set();

/**
 * The well-known global names (knownGlobals) that one of `versions` imports or declares at its
 * top level: in this file they are its own names, not the globals, and must resolve.
 */
export function ownedGlobals(versions: readonly Version[]): Set<string> {
  const owned = new Set<string>();
  const note = (name: ts.Node | undefined): void => {
    if (name !== undefined && ts.isIdentifier(name) && knownGlobals.has(name.text)) owned.add(name.text);
  };
  for (const version of versions) {
    for (const statement of version.sf.statements) {
      if (ts.isImportDeclaration(statement)) {
        const clause = statement.importClause;
        note(clause?.name);
        const bindings = clause?.namedBindings;
        if (bindings !== undefined) {
          if (ts.isNamespaceImport(bindings)) note(bindings.name);
          else for (const element of bindings.elements) note(element.name);
        }
      } else if (ts.isVariableStatement(statement)) {
        for (const declaration of statement.declarationList.declarations) note(declaration.name);
      } else if (ts.isImportEqualsDeclaration(statement) || ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)) {
        note(statement.name);
      }
    }
  }
  return owned;
}

const anyMeaning = ts.SymbolFlags.Value | ts.SymbolFlags.Type | ts.SymbolFlags.Namespace | ts.SymbolFlags.Alias;

function inspect(version: Version, checker: ts.TypeChecker, node: ts.Node, add: Add, isJs: boolean, owned: ReadonlySet<string>): void {
  const sf = version.sf;
  if (ts.isIdentifier(node)) {
    const use = referenceKind(node);
    if (use !== null && (!knownGlobals.has(node.text) || owned.has(node.text)) && checker.resolveName(node.text, node, anyMeaning, false) === undefined) add(use === 'shorthand' ? 18004 : 2304, node.getStart(sf), node.end);
    return;
  }
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.body !== undefined && node.name !== undefined) {
    const symbol = (node as unknown as { symbol?: ts.Symbol }).symbol;
    const bodies = (symbol?.declarations ?? []).filter((d) => d.kind === node.kind && (d as ts.FunctionLikeDeclaration).body !== undefined);
    if (bodies.length > 1) add(2393, node.name.getStart(sf), node.name.end);
    return;
  }
  if (ts.isClassLike(node)) {
    inspectHeritage(sf, node, add);
    return;
  }
  if (ts.isObjectLiteralExpression(node)) {
    const seen = new Set<string>();
    for (const property of node.properties) {
      if (!(ts.isPropertyAssignment(property) || ts.isShorthandPropertyAssignment(property) || ts.isMethodDeclaration(property))) continue;
      const name = property.name;
      if (!(ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name))) continue;
      if (seen.has(name.text)) add(1117, name.getStart(sf), name.end);
      seen.add(name.text);
    }
    return;
  }
  if (ts.isCallExpression(node) && !isJs) inspectArity(sf, checker, node, add);
}

function inspectHeritage(sf: ts.SourceFile, node: ts.ClassLikeDeclaration, add: Add): void {
  let extendsSeen = false;
  let implementsSeen = false;
  for (const clause of node.heritageClauses ?? []) {
    const at = (n: ts.Node): [number, number] => [n.getStart(sf), n.end];
    if (clause.token === ts.SyntaxKind.ExtendsKeyword) {
      if (extendsSeen) add(1172, ...at(clause));
      if (implementsSeen) add(1173, ...at(clause));
      const second = clause.types[1];
      if (second !== undefined) add(1174, ...at(second));
      extendsSeen = true;
    } else {
      if (implementsSeen) add(1175, ...at(clause));
      implementsSeen = true;
    }
  }
}

/** A call of a function this file declares once, with a body, with an argument count it cannot take. */
function inspectArity(sf: ts.SourceFile, checker: ts.TypeChecker, call: ts.CallExpression, add: Add): void {
  const callee = call.expression;
  if (!ts.isIdentifier(callee) || call.arguments.some((a) => ts.isSpreadElement(a))) return;
  const symbol = checker.resolveName(callee.text, callee, ts.SymbolFlags.Value, false);
  const declarations = symbol?.declarations ?? [];
  const only = declarations[0];
  if (declarations.length !== 1 || only === undefined || !ts.isFunctionDeclaration(only) || only.body === undefined) return;
  const parameters = only.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this'));
  if (parameters.some((p) => p.dotDotDotToken !== undefined)) return;
  const required = parameters.filter((p) => p.questionToken === undefined && p.initializer === undefined).length;
  const count = call.arguments.length;
  if (count >= required && count <= parameters.length) return;
  add(2554, callee.getStart(sf), callee.end, `|${required}-${parameters.length}|${count}`);
}

/**
 * How an identifier is used: as a reference to a declaration in scope (`value`), the value of a
 * shorthand property (`shorthand`), or null where it is a declaration's own name, a member name, a
 * label, or a name in another module.
 */
function referenceKind(id: ts.Identifier): 'value' | 'shorthand' | null {
  const p = id.parent;
  if (p === undefined) return null;
  if (ts.isPropertyAccessExpression(p)) return p.expression === id ? 'value' : null;
  if (ts.isQualifiedName(p)) {
    if (p.left !== id) return null;
    let top: ts.Node = p;
    while (ts.isQualifiedName(top.parent)) top = top.parent;
    return ts.isImportTypeNode(top.parent) || ts.isImportEqualsDeclaration(top.parent) || ts.isJSDoc(top.parent) ? null : 'value';
  }
  if (ts.isShorthandPropertyAssignment(p)) return p.name === id ? 'shorthand' : 'value';
  if (ts.isExportSpecifier(p)) {
    const local = p.propertyName ?? p.name;
    return local === id && p.parent.parent.moduleSpecifier === undefined ? 'value' : null;
  }
  if (ts.isJsxOpeningElement(p) || ts.isJsxSelfClosingElement(p) || ts.isJsxClosingElement(p)) return /^[A-Z_$]/.test(id.text) ? 'value' : null;
  if (ts.isImportSpecifier(p) || ts.isImportEqualsDeclaration(p) || ts.isImportTypeNode(p) || ts.isJsxAttribute(p) || ts.isJsxNamespacedName(p) || ts.isMetaProperty(p)) return null;
  if (ts.isLabeledStatement(p) || ts.isBreakStatement(p) || ts.isContinueStatement(p) || ts.isTypePredicateNode(p)) return null;
  if (ts.isBindingElement(p)) return p.initializer === id ? 'value' : null;
  if ('name' in p && (p as { name?: ts.Node }).name === id) return null;
  return 'value';
}

/**
 * The findings of the merged result that none of the inputs has. Inputs are checked lazily, ours
 * first: a result with no guarded diagnostic (the common case) costs one program, and most of a
 * result's diagnostics (unresolved globals) are found in ours already.
 */
export function newFindings(result: readonly Finding[], inputs: ReadonlyArray<() => readonly Finding[]>): Finding[] {
  let open = [...result];
  for (const input of inputs) {
    if (open.length === 0) break;
    const seen = new Set(input().map((f) => f.id));
    open = open.filter((f) => !seen.has(f.id));
  }
  assert(open.every((f) => guardedCodes.has(f.code)), 'newFindings: only guarded codes');
  return open;
}

/** A one-line account of findings, for a conflict's detail. */
export function describeFindings(findings: readonly Finding[]): string {
  const unique = [...new Set(findings.map((f) => `TS${f.code} '${f.name}'`))];
  return unique.slice(0, 5).join(', ') + (unique.length > 5 ? `, and ${unique.length - 5} more` : '');
}

/** The names a version declares (with their declarations) and every identifier it uses. */
interface Names {
  readonly declared: Map<string, ts.Node[]>;
  readonly used: Set<string>;
}

/** Declarations whose name is a binding of the scope they are in (members are not: `this.x`). */
function declaredName(node: ts.Node): ts.Identifier | null {
  if (
    ts.isFunctionDeclaration(node) ||
    ts.isClassDeclaration(node) ||
    ts.isVariableDeclaration(node) ||
    ts.isParameter(node) ||
    ts.isInterfaceDeclaration(node) ||
    ts.isTypeAliasDeclaration(node) ||
    ts.isEnumDeclaration(node) ||
    ts.isImportSpecifier(node) ||
    ts.isImportClause(node) ||
    ts.isNamespaceImport(node) ||
    ts.isBindingElement(node)
  ) {
    const name = node.name;
    return name !== undefined && ts.isIdentifier(name) ? name : null;
  }
  return null;
}

function isImportBinding(node: ts.Node): boolean {
  return ts.isImportSpecifier(node) || ts.isImportClause(node) || ts.isNamespaceImport(node);
}

/** The deepest nesting walked when collecting names; deeper code is not looked into. */
const namesDepthMax = 500;

function namesOf(version: Version): Names {
  const declared = new Map<string, ts.Node[]>();
  const used = new Set<string>();
  const stack: Array<[ts.Node, number]> = [[version.sf, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (ts.isIdentifier(node)) used.add(node.text);
    const name = declaredName(node);
    if (name !== null) declared.set(name.text, [...(declared.get(name.text) ?? []), node]);
    if (depth < namesDepthMax) ts.forEachChild(node, (child) => void stack.push([child, depth + 1]));
  }
  return { declared, used };
}

/** Words two texts share, as a share of both (Dice's coefficient over word multisets). */
function wordsAlike(a: string, b: string): number {
  const split = (text: string): string[] => text.match(/[\w$]+/g) ?? [];
  const [wa, wb] = [split(a), split(b)];
  if (wa.length + wb.length === 0) return 1;
  const counts = new Map<string, number>();
  for (const w of wa) counts.set(w, (counts.get(w) ?? 0) + 1);
  let shared = 0;
  for (const w of wb) {
    const n = counts.get(w) ?? 0;
    if (n === 0) continue;
    shared += 1;
    counts.set(w, n - 1);
  }
  return (2 * shared) / (wa.length + wb.length);
}

/** How alike a renamed declaration must stay (its new name read as the old one). */
const carrySimilarityMin = 0.8;

function replaceName(text: string, from: string, to: string): string {
  const escaped = from.replace(/[$]/g, '\\$');
  return text.replace(new RegExp(`(?<![\\w$])${escaped}(?![\\w$])`, 'g'), to);
}

/** The three inputs of a merge, parsed. */
export interface Inputs {
  readonly base: Version;
  readonly ours: Version;
  readonly theirs: Version;
}

/**
 * What `name` became on one side: the one name that side declares where base declared `name`, when
 * that side no longer uses `name` at all, base never used the new name, neither is an import, and
 * the two declarations are the same but for the name (80% of their words, the new name read as
 * the old). Null otherwise.
 */
function renamedTo(name: string, base: Version, baseNames: Names, side: Version, sideNames: Names): string | null {
  const before = baseNames.declared.get(name);
  if (before === undefined || before.length !== 1 || sideNames.used.has(name)) return null;
  const old = before[0]!;
  // An import names another module's declaration: changing it is not a rename of this file's.
  if (isImportBinding(old)) return null;
  const oldText = base.text.slice(old.getStart(base.sf), old.end);
  const alike: string[] = [];
  for (const [candidate, declarations] of sideNames.declared) {
    if (baseNames.used.has(candidate) || declarations.length !== 1) continue;
    const now = declarations[0]!;
    if (now.kind !== old.kind || isImportBinding(now)) continue;
    const nowText = replaceName(side.text.slice(now.getStart(side.sf), now.end), candidate, name);
    if (wordsAlike(oldText, nowText) >= carrySimilarityMin) alike.push(candidate);
  }
  return alike.length === 1 ? alike[0]! : null;
}

/**
 * Carry a rename into the other side's new code: where the merged text uses a name that does not
 * resolve, and exactly one side renamed that name's declaration (the other side did not declare
 * the new name too), the unresolved uses take the new name. Returns the repaired text, or null
 * when some unresolved name is not such a rename (removed, renamed on both sides, ambiguous).
 * The caller checks the repaired text again: a new name out of scope there still fails.
 */
export function carryRenames(result: Version, findings: readonly Finding[], inputs: Inputs): string | null {
  if (findings.length === 0 || findings.some((f) => !unresolvedNameCodes.has(f.code) || !/^[A-Za-z_$][\w$]*$/.test(f.name))) return null;
  const [baseNames, oursNames, theirsNames] = [namesOf(inputs.base), namesOf(inputs.ours), namesOf(inputs.theirs)];
  const targets = new Map<string, string>();
  for (const name of new Set(findings.map((f) => f.name))) {
    const viaOurs = renamedTo(name, inputs.base, baseNames, inputs.ours, oursNames);
    const viaTheirs = renamedTo(name, inputs.base, baseNames, inputs.theirs, theirsNames);
    if ((viaOurs === null) === (viaTheirs === null)) return null;
    const to = (viaOurs ?? viaTheirs)!;
    const otherNames = viaOurs !== null ? theirsNames : oursNames;
    if (otherNames.declared.has(to)) return null;
    targets.set(name, to);
  }
  // Two old names carried to one new name: not a rename, a replacement of several declarations.
  if (new Set(targets.values()).size !== targets.size) return null;
  let text = result.text;
  for (const f of [...findings].sort((a, b) => b.start - a.start)) {
    const to = targets.get(f.name);
    assert(to !== undefined, 'carryRenames: every finding has a target');
    assert(text.slice(f.start, f.start + f.length) === f.name, 'carryRenames: a finding points at its name');
    // `{ name }` with no `name` in scope becomes `{ name: newName }`: the property keeps its key.
    const replacement = f.code === 18004 ? `${f.name}: ${to}` : to;
    text = text.slice(0, f.start) + replacement + text.slice(f.start + f.length);
  }
  return text;
}

/**
 * The safeguard's question asked from outside a merge: the guarded diagnostics of `result` that
 * none of base, ours and theirs has. Null when the file is not judged (not TypeScript or
 * JavaScript, or some version does not parse). `acu replay-merges` asks it of every clean result.
 */
export function introducedFindings(path: string, texts: { base: string; ours: string; theirs: string; result: string }): Finding[] | null {
  if (!isCheckedPath(path)) return null;
  const versions = [texts.result, texts.ours, texts.theirs, texts.base].map((text) => parseVersion(path, text));
  if (versions.some((v) => v === null)) return null;
  const [result, ...inputs] = versions as Version[];
  const owned = ownedGlobals(inputs);
  return newFindings(findingsOf(result!, owned), inputs.map((v) => () => findingsOf(v, owned)));
}
