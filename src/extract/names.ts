/**
 * The names a declaration defines and the names it uses. Validation and scoring read them: an ACU
 * that changes a name another ACU uses interferes with it.
 *
 * `uses` is syntactic, not a type-checker's resolution: every identifier in a reference position,
 * less the names declared anywhere inside the declaration itself (parameters, locals, type
 * parameters) and less its own defined names. It over-approximates a little (a local shadowing an
 * outer name hides the outer use), which suits interference scoring: it errs towards "may touch".
 */
import { ts } from 'ts-morph';
import type { DeclKind } from '../core/acu/model.js';
import type { Segment, SegmentedFile } from './segment.js';
import { parseSource, scriptKindFor, variableNames } from './segment.js';

/** Sorted, unique names. */
export interface Names {
  readonly defines: string[];
  readonly uses: string[];
}

/** Where a declaration sits, and for a shell its head and tail text. */
export interface NamesContext {
  /** The kind of the container holding the declaration (`module` at the top level). */
  readonly parent: DeclKind;
  /** For a shell ACU, the container's head and tail: members are not visited. */
  readonly shell: { readonly head: string; readonly tail: string } | null;
}

/**
 * Names of a segment. With the file's syntax tree at hand the segment's own nodes are read; in a
 * light tree (a cached before-version) the segment's text is parsed alone, wrapped in a container
 * of its parent's kind. Names are syntactic and local to the declaration, so both give the same
 * result (a test checks it).
 */
export function namesOf(segment: Segment, file: SegmentedFile, context: NamesContext): Names {
  return namesOfMany([{ segment, file, context }])[0]!;
}

/** One request to {@link namesOfMany}. */
export interface NamesRequest {
  readonly segment: Segment;
  readonly file: SegmentedFile;
  readonly context: NamesContext;
}

/**
 * Names of many declarations. Those without a syntax tree are parsed together, one synthetic
 * source per file, each wrapped in a numbered container of its parent's kind: parsing has a fixed
 * cost per call, and a merge commit can bring hundreds of declarations whose file was parsed on
 * the other branch.
 */
export function namesOfMany(requests: readonly NamesRequest[]): Names[] {
  const keys = requests.map(memoKey);
  const out: (Names | null)[] = keys.map((key) => namesMemo.get(key) ?? null);
  const missing = requests.flatMap((request, i) => (out[i] === null ? [i] : []));
  if (missing.length > 0) {
    const computed = computeNames(missing.map((i) => requests[i]!));
    missing.forEach((i, k) => {
      out[i] = computed[k]!;
      remember(keys[i]!, computed[k]!);
    });
  }
  return out.map((names) => names!);
}

/**
 * Names by declaration text and context. Names are a function of the text, the parent's kind,
 * whether it is a shell, and how the file parses (tested: a tree and a fragment agree), so a merge
 * commit that repeats its side branch's changes, or a revert, costs a lookup.
 */
const namesMemo = new Map<string, Names>();
let namesMemoChars = 0;
const namesMemoCharsMax = 16 * 1024 * 1024;

/** Forget every memoized name (a benchmark's measured run starts from nothing, as a new process does). */
export function clearNamesMemo(): void {
  namesMemo.clear();
  namesMemoChars = 0;
}

function memoKey(request: NamesRequest): string {
  const { segment, file, context } = request;
  const text = context.shell !== null ? `${context.shell.head}\u0000${context.shell.tail}` : file.text.slice(segment.start, segment.end);
  return `${context.parent}\u0000${context.shell !== null ? 1 : 0}\u0000${segment.kind}\u0000${scriptKindFor(file.path)}\u0000${text}`;
}

function remember(key: string, names: Names): void {
  if (namesMemoChars + key.length > namesMemoCharsMax) {
    namesMemo.clear();
    namesMemoChars = 0;
  }
  namesMemo.set(key, names);
  namesMemoChars += key.length;
}

function computeNames(requests: readonly NamesRequest[]): Names[] {
  const nodes: (readonly ts.Node[] | null)[] = requests.map((r) => (r.segment.nodes.length > 0 ? r.segment.nodes : null));
  const byFile = new Map<SegmentedFile, number[]>();
  requests.forEach((r, i) => {
    if (r.segment.kind === 'module') {
      // The module's head and tail are trivia: a module shell defines and uses nothing, with or
      // without the file's syntax tree at hand.
      nodes[i] = [];
      return;
    }
    if (nodes[i] !== null) return;
    // Appended in place: a merge commit can bring hundreds of declarations of one file.
    const indices = byFile.get(r.file);
    if (indices === undefined) byFile.set(r.file, [i]);
    else indices.push(i);
  });
  for (const [file, indices] of byFile) {
    const parsed = parseFragments(file, indices.map((i) => requests[i]!));
    indices.forEach((requestIndex, k) => {
      nodes[requestIndex] = parsed?.[k] ?? fragmentNodes(requests[requestIndex]!.segment, file, requests[requestIndex]!.context);
    });
  }
  return requests.map((r, i) => namesFromNodes(nodes[i]!, r.context));
}

function namesFromNodes(nodes: readonly ts.Node[], context: NamesContext): Names {
  const defines = new Set<string>();
  for (const node of nodes) collectDefines(node, defines);
  const declared = new Set<string>(defines);
  const referenced = new Set<string>();
  const skip = context.shell !== null ? new Set<ts.Node>(memberNodes(nodes)) : null;
  for (const node of nodes) visitReferences(node, referenced, declared, skip);
  const uses = [...referenced].filter((name) => !declared.has(name));
  return { defines: [...defines].sort(), uses: uses.sort() };
}

/** The text a declaration without a tree is parsed from: its own text, or a shell's head and tail. */
function fragmentText(request: NamesRequest): string {
  const { segment, file, context } = request;
  if (context.shell !== null) return context.shell.head + context.shell.tail;
  return file.text.slice(segment.start, segment.end).replace(/^\uFEFF/, '');
}

/** Wrappers that give a member's text a parent of the right kind to parse in, one at a time. */
const fragmentWrappers: ReadonlyMap<DeclKind, string> = new Map<DeclKind, string>([
  ['class', 'class __acu_fragment__ {\n'],
  ['interface', 'interface __acu_fragment__ {\n'],
  ['enum', 'enum __acu_fragment__ {\n'],
]);

/** Parse one declaration's text alone (the fallback when a batch does not line up). */
function fragmentNodes(segment: Segment, file: SegmentedFile, context: NamesContext): readonly ts.Node[] {
  const text = fragmentText({ segment, file, context });
  if (context.shell !== null) return parseSource(file.path, text).statements.slice(0, 1);
  const wrapper = fragmentWrappers.get(context.parent);
  if (wrapper === undefined) return parseSource(file.path, text).statements;
  return memberNodes(parseSource(file.path, `${wrapper}${text}\n}`).statements.slice(0, 1));
}

/**
 * Parse several fragments of one file in one call. Each becomes the body of wrapper `i`
 * (`namespace __acu_i` for statements, `class`/`interface`/`enum __acu_i` for members); null when
 * the wrappers do not come back one for one, and the caller parses them singly.
 */
function parseFragments(file: SegmentedFile, requests: readonly NamesRequest[]): (readonly ts.Node[])[] | null {
  if (requests.length === 1) return null;
  const parts: string[] = [];
  requests.forEach((request, i) => {
    const wrapperKind = request.context.shell !== null ? 'namespace' : (containerWord.get(request.context.parent) ?? 'namespace');
    parts.push(`${wrapperKind} __acu_${i} {\n${fragmentText(request)}\n}\n`);
  });
  const sf = parseSource(file.path, parts.join(''));
  if (sf.statements.length !== requests.length) return null;
  const out: (readonly ts.Node[])[] = [];
  for (let i = 0; i < requests.length; i += 1) {
    const statement = sf.statements[i]!;
    const name = (statement as { name?: ts.Node }).name;
    if (name === undefined || !ts.isIdentifier(name) || name.text !== `__acu_${i}`) return null;
    // A shell is the one statement inside its wrapper; other fragments are the wrapper's members.
    const members = memberNodes([statement]);
    out.push(requests[i]!.context.shell !== null ? members.slice(0, 1) : members);
  }
  return out;
}

/** The keyword of a wrapper for members of a container of this kind. */
const containerWord: ReadonlyMap<DeclKind, string> = new Map<DeclKind, string>([
  ['class', 'class'],
  ['interface', 'interface'],
  ['enum', 'enum'],
]);

/** The members of container declarations among `nodes`. */
function memberNodes(nodes: readonly ts.Node[]): ts.Node[] {
  const out: ts.Node[] = [];
  for (const node of nodes) {
    if (ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isEnumDeclaration(node)) out.push(...node.members);
    else if (ts.isModuleDeclaration(node)) {
      let body = node.body;
      while (body !== undefined && ts.isModuleDeclaration(body)) body = body.body;
      if (body !== undefined && ts.isModuleBlock(body)) out.push(...body.statements);
    }
  }
  return out;
}

function collectDefines(node: ts.Node, out: Set<string>): void {
  if (ts.isSourceFile(node)) return;
  if (ts.isVariableStatement(node)) {
    for (const name of variableNames(node)) out.add(name);
    return;
  }
  if (ts.isImportDeclaration(node)) {
    collectImportNames(node, out);
    return;
  }
  if (ts.isImportEqualsDeclaration(node)) {
    out.add(node.name.text);
    return;
  }
  if (ts.isExportDeclaration(node)) {
    if (node.exportClause !== undefined && ts.isNamedExports(node.exportClause)) {
      for (const element of node.exportClause.elements) out.add(element.name.text);
    } else if (node.exportClause !== undefined) {
      out.add(node.exportClause.name.text);
    }
    return;
  }
  if (ts.isExportAssignment(node)) {
    out.add('default');
    return;
  }
  const name = (node as { name?: ts.Node }).name;
  if (name !== undefined && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name))) {
    out.add(name.text);
  } else if (ts.isConstructorDeclaration(node)) {
    out.add('constructor');
  } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name === undefined) {
    out.add('default');
  }
}

function collectImportNames(node: ts.ImportDeclaration, out: Set<string>): void {
  const clause = node.importClause;
  if (clause === undefined) return;
  if (clause.name !== undefined) out.add(clause.name.text);
  const bindings = clause.namedBindings;
  if (bindings === undefined) return;
  if (ts.isNamespaceImport(bindings)) out.add(bindings.name.text);
  else for (const element of bindings.elements) out.add(element.name.text);
}

/**
 * Words that are identifiers only in some parses: `await` is an identifier in a script and an
 * operator at the top of a module, and a declaration parsed alone (a light tree's fragment) is a
 * script. Never counting it keeps names the same whichever way they were computed.
 */
const notAName: ReadonlySet<string> = new Set(['await']);

const K = ts.SyntaxKind;

/** Parent kinds whose `name` declares a name (parameter, local variable, type parameter, function, class...). */
const declaresByName = 1;
/** Parent kinds whose `name` is a property or member name, not a reference. */
const namesByName = 2;

/**
 * Per syntax kind, what an identifier in that parent's `name` slot is: a table, so that the walk
 * below classifies each identifier with one switch instead of a chain of kind tests.
 */
const nameRole: Uint8Array = (() => {
  const table = new Uint8Array(K.Count + 1);
  for (const kind of [
    K.Parameter, K.VariableDeclaration, K.TypeParameter, K.FunctionDeclaration, K.FunctionExpression, K.ClassDeclaration,
    K.ClassExpression, K.BindingElement, K.InterfaceDeclaration, K.TypeAliasDeclaration, K.EnumDeclaration,
    K.ModuleDeclaration, K.ImportClause, K.NamespaceImport, K.ImportSpecifier, K.ImportEqualsDeclaration,
  ]) table[kind] = declaresByName;
  for (const kind of [
    K.PropertyAssignment, K.PropertyDeclaration, K.PropertySignature, K.MethodDeclaration, K.MethodSignature,
    K.GetAccessor, K.SetAccessor, K.EnumMember, K.PropertyAccessExpression, K.JsxAttribute,
  ]) table[kind] = namesByName;
  return table;
})();

/**
 * True when identifier `id`, whose parent is `parent`, is not a reference: a property or member
 * name, an import or re-export name, a label, an intrinsic JSX tag, or a destructured property.
 * Called only for identifiers that declare nothing (see {@link nameRole}).
 */
function isNamePosition(id: ts.Identifier, parent: ts.Node): boolean {
  const kind = parent.kind;
  if (nameRole[kind] === namesByName) return (parent as { name?: ts.Node }).name === id;
  if (kind === K.QualifiedName) return (parent as ts.QualifiedName).right === id;
  if (kind === K.ImportSpecifier || kind === K.LabeledStatement || kind === K.BreakStatement || kind === K.ContinueStatement) return true;
  if (kind === K.ExportSpecifier) {
    // `export { a as b } from './m'` refers to nothing local; `export { a as b }` uses `a`.
    const specifier = parent as ts.ExportSpecifier;
    if (specifier.parent.parent.moduleSpecifier !== undefined) return true;
    return specifier.propertyName !== undefined && specifier.name === id;
  }
  if (kind === K.JsxOpeningElement || kind === K.JsxSelfClosingElement || kind === K.JsxClosingElement) {
    // `<div>`: a lower-case JSX tag is an intrinsic element, not a name in scope.
    const first = id.text.charCodeAt(0);
    return (parent as ts.JsxOpeningLikeElement | ts.JsxClosingElement).tagName === id && first >= 0x61 && first <= 0x7a;
  }
  if (kind === K.BindingElement) return (parent as ts.BindingElement).propertyName === id;
  return false;
}

/** What one walk of {@link visitReferences} collects into. */
interface WalkSink {
  referenced: Set<string>;
  declared: Set<string>;
  skip: Set<ts.Node> | null;
}

// The walk's state lives in the module, so that `ts.forEachChild` gets one callback for the whole
// walk rather than a new closure per node. Walks are synchronous and never nested.
let walkSink: WalkSink = { referenced: new Set(), declared: new Set(), skip: null };
let walkParent: ts.Node | undefined;

function walkChild(child: ts.Node): undefined {
  // The parser was asked not to set parent pointers (it is faster); the position tests above need
  // them (an export specifier looks two levels up), so they are set during this one walk, only on
  // the declarations being named.
  (child as { parent: ts.Node | undefined }).parent = walkParent;
  walkNode(child, walkParent);
  return undefined;
}

function walkNode(node: ts.Node, parent: ts.Node | undefined): void {
  const sink = walkSink;
  if (sink.skip !== null && sink.skip.has(node)) return;
  if (node.kind === K.Identifier) {
    const id = node as ts.Identifier;
    if (parent !== undefined && nameRole[parent.kind] === declaresByName && (parent as { name?: ts.Node }).name === id) sink.declared.add(id.text);
    else if ((parent === undefined || !isNamePosition(id, parent)) && !notAName.has(id.text)) sink.referenced.add(id.text);
    return;
  }
  const saved = walkParent;
  walkParent = node;
  ts.forEachChild(node, walkChild);
  walkParent = saved;
}

function visitReferences(
  root: ts.Node,
  referenced: Set<string>,
  declared: Set<string>,
  skip: Set<ts.Node> | null,
): void {
  walkSink = { referenced, declared, skip };
  walkParent = undefined;
  walkNode(root, (root as { parent?: ts.Node }).parent);
}
