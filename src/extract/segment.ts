/**
 * Segmentation: one parsed source file -> a tree of declarations whose texts, concatenated in
 * order, are the file's exact bytes.
 *
 * Every container (the module itself, classes, interfaces, enums, namespaces) is a head, a list of
 * children and a tail. Each child owns its leading trivia (comments, blank lines, indentation) and
 * the rest of its last line: a comment on the same line after it and the line break. That way a
 * declaration moves and changes together with its comments, and an insertion between two
 * declarations never splits a line.
 *
 * Parsing uses the TypeScript compiler that ts-morph bundles, through `ts.createSourceFile` with
 * no type checker: the raw parser is about twice as fast as ts-morph's wrapper objects, and
 * extraction of a long history is bound by parsing.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import type { ContainerKind, DeclKind } from '../core/acu/model.js';

/** A container's inner layout: `[start, headEnd)` head, children, `[tailStart, end)` tail. */
export interface ContainerLayout {
  readonly headEnd: number;
  readonly tailStart: number;
  readonly children: readonly Segment[];
}

/** One declaration of a file, with the exact text range it owns. */
export interface Segment {
  /** Its name within its parent: `method:open`, `import:'./a'`, `variable:x#2`. */
  readonly key: string;
  readonly kind: DeclKind;
  readonly start: number;
  readonly end: number;
  /** The AST nodes (several for overloads); empty in a light tree (see {@link lighten}). */
  readonly nodes: readonly ts.Node[];
  /** For containers: the inner layout; null for leaves. */
  readonly layout: ContainerLayout | null;
}

/** A segmented source file. */
export interface SegmentedFile {
  readonly path: string;
  readonly text: string;
  /** The syntax tree; null in a light tree, which keeps only keys and ranges. */
  readonly sourceFile: ts.SourceFile | null;
  /** JSX or standard: how fragments of this file are scanned. */
  readonly variant: ts.LanguageVariant;
  /** False when the parser reported syntax errors: such files change as whole files. */
  readonly parsed: boolean;
  /** The module's layout; the root segment spans the whole text. */
  readonly root: Segment;
}

/** File extensions that are split into declarations. */
export const sourceExtensions: readonly string[] = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs'];

/** True when `path` names a TypeScript or JavaScript source file. */
export function isSourcePath(path: string): boolean {
  const lower = path.toLowerCase();
  if (lower.endsWith('.d.ts')) return true;
  return sourceExtensions.some((ext) => lower.endsWith(ext));
}

/** How a file at `path` parses: TS, TSX, JS or JSX. */
export function scriptKindFor(path: string): ts.ScriptKind {
  const lower = path.toLowerCase();
  if (lower.endsWith('.tsx')) return ts.ScriptKind.TSX;
  if (lower.endsWith('.jsx')) return ts.ScriptKind.JSX;
  if (lower.endsWith('.js') || lower.endsWith('.mjs') || lower.endsWith('.cjs')) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

/** Parse `text` (the file's decoded content, BOM included) as the file at `path`. */
export function parseSource(path: string, text: string): ts.SourceFile {
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, scriptKindFor(path));
}

/** Segment a file. The text must be exactly the file's content (a leading BOM is allowed). */
export function segmentFile(path: string, text: string, sourceFile?: ts.SourceFile): SegmentedFile {
  // The scanner mis-reads a shebang behind a byte-order mark, so the BOM is parsed away and
  // carried in the module head. Positions below are shifted back by its length.
  const bom = text.startsWith('\uFEFF') ? 1 : 0;
  const body = bom === 0 ? text : text.slice(bom);
  const sf = sourceFile ?? parseSource(path, body);
  assert(sf.text.length === body.length, 'segmentFile: source file text does not match');
  const parsed = parseDiagnosticCount(sf) === 0;
  if (!parsed) {
    // A file with syntax errors changes as a whole file; its layout is never looked into.
    const whole = { headEnd: text.length, tailStart: text.length, children: [] };
    return { path, text, sourceFile: sf, variant: sf.languageVariant, parsed, root: { key: '', kind: 'module', start: 0, end: text.length, nodes: [sf], layout: whole } };
  }
  const cx: Context = { text: body, sf, shift: bom };
  const headEnd = moduleHeadEnd(body, sf);
  const children = segmentList(cx, sf.statements, headEnd, body.length, 'module');
  // Children's positions already include the BOM's shift; headEnd does not.
  const tailStart = children.length === 0 ? headEnd : children[children.length - 1]!.end - bom;
  const root: Segment = {
    key: '',
    kind: 'module',
    start: 0,
    end: text.length,
    nodes: [sf],
    layout: { headEnd: headEnd + bom, tailStart: tailStart + bom, children },
  };
  return { path, text, sourceFile: sf, variant: sf.languageVariant, parsed, root };
}

/**
 * The same file without its syntax tree: keys, kinds and ranges only. Caches hold light trees: a
 * retained syntax tree is about ten times its text, and a heap full of them made every collection
 * slow enough to halve the parser's speed.
 */
export function lighten(file: SegmentedFile): SegmentedFile {
  const strip = (segment: Segment): Segment => ({
    ...segment,
    nodes: [],
    layout: segment.layout === null ? null : { ...segment.layout, children: segment.layout.children.map(strip) },
  });
  return { ...file, sourceFile: null, root: strip(file.root) };
}

/** The parser's own syntax-error count (not exposed in the public typings). */
function parseDiagnosticCount(sf: ts.SourceFile): number {
  const diagnostics = (sf as unknown as { parseDiagnostics?: readonly unknown[] }).parseDiagnostics;
  return diagnostics?.length ?? 0;
}

interface Context {
  readonly text: string;
  readonly sf: ts.SourceFile;
  /** Added to every position recorded in a segment (the BOM's length). */
  readonly shift: number;
}

type ParentKind = 'module' | ContainerKind;

/**
 * The module head: a shebang line and the comments detached from the first statement by a blank
 * line (a licence header, say). A declaration added at the top of a file goes after them.
 */
function moduleHeadEnd(text: string, sf: ts.SourceFile): number {
  const first = sf.statements[0];
  const limit = first === undefined ? text.length : first.getStart(sf);
  let end = 0;
  const shebang = ts.getShebang(text);
  if (shebang !== undefined) end = lineEndAfter(text, shebang.length);
  const comments = ts.getLeadingCommentRanges(text, end) ?? [];
  for (const range of comments) {
    if (range.end > limit) break;
    const next = skipBlankLines(text, range.end);
    if (next.blank) end = next.pos;
  }
  return first === undefined ? text.length : Math.min(end, limit);
}

/** After a comment ending at `pos`: the position after the blank lines that follow, if any. */
function skipBlankLines(text: string, pos: number): { pos: number; blank: boolean } {
  let i = lineEndAfter(text, pos);
  if (i === pos) return { pos, blank: false };
  let blank = false;
  for (;;) {
    let j = i;
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j += 1;
    if (text[j] === '\n') {
      i = j + 1;
      blank = true;
    } else if (text[j] === '\r' && text[j + 1] === '\n') {
      i = j + 2;
      blank = true;
    } else {
      return { pos: i, blank };
    }
  }
}

/** If only spaces/tabs stand between `pos` and a line break, the position after the break. */
function lineEndAfter(text: string, pos: number): number {
  let i = pos;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i += 1;
  if (text[i] === '\n') return i + 1;
  if (text[i] === '\r' && text[i + 1] === '\n') return i + 2;
  if (i === text.length) return i;
  return pos;
}

/**
 * Where a declaration ending at `end` hands over to the next: after a separator comma (enum
 * members), comments that stay on the same line, and the line break. Never past `limit`.
 */
function boundaryAfter(text: string, end: number, limit: number, allowComma: boolean): number {
  let i = end;
  if (allowComma) {
    let j = i;
    while (j < limit && (text[j] === ' ' || text[j] === '\t')) j += 1;
    if (text[j] === ',') i = j + 1;
  }
  for (;;) {
    let j = i;
    while (j < limit && (text[j] === ' ' || text[j] === '\t')) j += 1;
    if (text.startsWith('//', j)) {
      let k = j;
      while (k < limit && text[k] !== '\n' && text[k] !== '\r') k += 1;
      i = k;
      continue;
    }
    if (text.startsWith('/*', j)) {
      const close = text.indexOf('*/', j + 2);
      if (close === -1 || close + 2 > limit) return i;
      const comment = text.slice(j, close + 2);
      if (comment.includes('\n')) return i;
      i = close + 2;
      continue;
    }
    if (j < limit && text[j] === '\n') return j + 1;
    if (j + 1 < limit && text[j] === '\r' && text[j + 1] === '\n') return j + 2;
    // Spaces before a closing brace on the same line belong to the container's tail, so that a
    // member added after the last one does not change it.
    return i;
  }
}

/** One child before its range is known: its key, kind and nodes. */
interface Pending {
  key: string;
  readonly kind: DeclKind;
  readonly nodes: ts.Node[];
}

/**
 * Segment a list of sibling nodes occupying `[start, limit)`. Overloads are grouped; duplicate
 * keys get `#2`, `#3`... in order of appearance.
 */
function segmentList(
  cx: Context,
  nodes: readonly ts.Node[],
  start: number,
  limit: number,
  parent: ParentKind,
): Segment[] {
  const pending = groupOverloads(nodes.map((node) => ({ key: keyOf(cx, node, parent), kind: kindOf(node, parent), nodes: [node] })));
  numberDuplicates(pending);
  const out: Segment[] = [];
  let pos = start;
  for (const item of pending) {
    const last = item.nodes[item.nodes.length - 1]!;
    const end = Math.max(pos, boundaryAfter(cx.text, last.end, limit, parent === 'enum'));
    out.push({
      key: item.key,
      kind: item.kind,
      start: pos + cx.shift,
      end: end + cx.shift,
      nodes: item.nodes,
      layout: containerLayout(cx, item.nodes[0]!, item.kind, end),
    });
    pos = end;
  }
  return out;
}

function groupOverloads(items: Pending[]): Pending[] {
  const out: Pending[] = [];
  for (const item of items) {
    const previous = out[out.length - 1];
    if (previous !== undefined && previous.key === item.key && isOverloadable(item.nodes[0]!)) {
      previous.nodes.push(...item.nodes);
    } else {
      out.push(item);
    }
  }
  return out;
}

function isOverloadable(node: ts.Node): boolean {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isMethodSignature(node)
  );
}

function numberDuplicates(items: Pending[]): void {
  const seen = new Map<string, number>();
  for (const item of items) {
    const count = (seen.get(item.key) ?? 0) + 1;
    seen.set(item.key, count);
    if (count > 1) item.key = `${item.key}#${count}`;
  }
}

/** The inner layout of a container declaration whose segment ends at `segmentEnd`. */
function containerLayout(cx: Context, node: ts.Node, kind: DeclKind, segmentEnd: number): ContainerLayout | null {
  const inner = containerMembers(node, kind);
  if (inner === null) return null;
  const { members, parent } = inner;
  // `members.pos` is just after the opening brace; the closing brace is the container's last token.
  const closeBrace = node.end - 1;
  const limit = closeBrace >= members.pos ? closeBrace : members.pos;
  const headEnd = boundaryAfter(cx.text, members.pos, limit, false);
  const children = segmentList(cx, members, headEnd, limit, parent);
  const tailStart = children.length === 0 ? headEnd : children[children.length - 1]!.end - cx.shift;
  assert(tailStart <= segmentEnd, 'containerLayout: children run past the container');
  return { headEnd: headEnd + cx.shift, tailStart: tailStart + cx.shift, children };
}

function containerMembers(
  node: ts.Node,
  kind: DeclKind,
): { members: ts.NodeArray<ts.Node>; parent: ContainerKind } | null {
  if (kind === 'class' && ts.isClassDeclaration(node)) return { members: node.members, parent: 'class' };
  if (kind === 'interface' && ts.isInterfaceDeclaration(node)) return { members: node.members, parent: 'interface' };
  if (kind === 'enum' && ts.isEnumDeclaration(node)) return { members: node.members, parent: 'enum' };
  if (kind === 'namespace' && ts.isModuleDeclaration(node)) {
    let body = node.body;
    while (body !== undefined && ts.isModuleDeclaration(body)) body = body.body;
    if (body !== undefined && ts.isModuleBlock(body)) return { members: body.statements, parent: 'namespace' };
  }
  return null;
}

/** The kind of a declaration in a parent of the given kind. */
function kindOf(node: ts.Node, parent: ParentKind): DeclKind {
  if (parent === 'enum') return 'enum-member';
  if (parent === 'interface') return 'member';
  if (parent === 'class') return classMemberKind(node);
  if (ts.isImportDeclaration(node) || ts.isImportEqualsDeclaration(node)) return 'import';
  if (ts.isExportDeclaration(node) || ts.isExportAssignment(node)) return 'export';
  if (ts.isFunctionDeclaration(node)) return 'function';
  if (ts.isClassDeclaration(node)) return 'class';
  if (ts.isInterfaceDeclaration(node)) return 'interface';
  if (ts.isTypeAliasDeclaration(node)) return 'type';
  if (ts.isEnumDeclaration(node)) return 'enum';
  if (ts.isModuleDeclaration(node)) return 'namespace';
  if (ts.isVariableStatement(node)) return 'variable';
  return 'statement';
}

function classMemberKind(node: ts.Node): DeclKind {
  if (ts.isMethodDeclaration(node)) return 'method';
  if (ts.isPropertyDeclaration(node)) return 'property';
  if (ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) return 'accessor';
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isIndexSignatureDeclaration(node)) return 'index-signature';
  if (ts.isClassStaticBlockDeclaration(node)) return 'static-block';
  return 'statement';
}

/** The key of a declaration within its parent (before duplicate numbering). */
function keyOf(cx: Context, node: ts.Node, parent: ParentKind): string {
  if (parent === 'enum' && ts.isEnumMember(node)) return `member:${propertyNameText(cx, node.name)}`;
  if (parent === 'class') return classMemberKey(cx, node);
  if (parent === 'interface') return interfaceMemberKey(cx, node);
  return statementKey(cx, node);
}

function statementKey(cx: Context, node: ts.Node): string {
  if (ts.isImportDeclaration(node)) {
    const typeOnly = node.importClause?.isTypeOnly === true ? 'type ' : '';
    return `import:${typeOnly}${moduleText(cx, node.moduleSpecifier)}`;
  }
  if (ts.isImportEqualsDeclaration(node)) return `import:${node.name.text}=`;
  if (ts.isExportDeclaration(node)) {
    const typeOnly = node.isTypeOnly ? 'type ' : '';
    const from = node.moduleSpecifier === undefined ? '{}' : moduleText(cx, node.moduleSpecifier);
    return `export:${typeOnly}${from}`;
  }
  if (ts.isExportAssignment(node)) return node.isExportEquals === true ? 'export:=' : 'export:default';
  if (ts.isFunctionDeclaration(node)) return `function:${node.name?.text ?? 'default'}`;
  if (ts.isClassDeclaration(node)) return `class:${node.name?.text ?? 'default'}`;
  if (ts.isInterfaceDeclaration(node)) return `interface:${node.name.text}`;
  if (ts.isTypeAliasDeclaration(node)) return `type:${node.name.text}`;
  if (ts.isEnumDeclaration(node)) return `enum:${node.name.text}`;
  if (ts.isModuleDeclaration(node)) return `namespace:${moduleName(cx, node)}`;
  if (ts.isVariableStatement(node)) return `variable:${variableNames(node).join(',') || '_'}`;
  return `statement:${statementIdentity(cx, node)}`;
}

function moduleName(cx: Context, node: ts.ModuleDeclaration): string {
  const parts: string[] = [];
  let current: ts.ModuleDeclaration | undefined = node;
  while (current !== undefined) {
    parts.push(ts.isStringLiteral(current.name) ? quote(current.name.text) : current.name.getText(cx.sf));
    current = current.body !== undefined && ts.isModuleDeclaration(current.body) ? current.body : undefined;
  }
  return parts.join('.');
}

function moduleText(cx: Context, specifier: ts.Expression): string {
  return ts.isStringLiteral(specifier) ? quote(specifier.text) : specifier.getText(cx.sf);
}

/** The names a variable statement declares, binding patterns included, in order. */
export function variableNames(node: ts.VariableStatement): string[] {
  const names: string[] = [];
  for (const declaration of node.declarationList.declarations) collectBindingNames(declaration.name, names);
  return names;
}

function collectBindingNames(name: ts.BindingName, out: string[]): void {
  if (ts.isIdentifier(name)) {
    out.push(name.text);
    return;
  }
  for (const element of name.elements) {
    if (ts.isBindingElement(element)) collectBindingNames(element.name, out);
  }
}

/**
 * A statement without a name is known by what it does: `describe('parser')` for a call with a
 * string first argument (test suites, registrations), else its syntax kind and a hash of its tokens.
 */
function statementIdentity(cx: Context, node: ts.Node): string {
  if (ts.isExpressionStatement(node) && ts.isCallExpression(node.expression)) {
    const call = node.expression;
    const callee = calleeText(cx, call.expression);
    const first = call.arguments[0];
    if (callee !== null && first !== undefined && ts.isStringLiteralLike(first)) return `${callee}(${quote(first.text)})`;
  }
  return `${ts.SyntaxKind[node.kind]}@${tokenHash(cx, node)}`;
}

function calleeText(cx: Context, expression: ts.Expression): string | null {
  if (ts.isIdentifier(expression)) return expression.text;
  if (ts.isPropertyAccessExpression(expression)) {
    const left = calleeText(cx, expression.expression);
    return left === null ? null : `${left}.${expression.name.text}`;
  }
  return null;
}

function classMemberKey(cx: Context, node: ts.Node): string {
  const isStatic = ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.StaticKeyword);
  const prefix = isStatic ? 'static ' : '';
  if (ts.isMethodDeclaration(node)) return `method:${prefix}${propertyNameText(cx, node.name)}`;
  if (ts.isPropertyDeclaration(node)) return `property:${prefix}${propertyNameText(cx, node.name)}`;
  if (ts.isGetAccessorDeclaration(node)) return `get:${prefix}${propertyNameText(cx, node.name)}`;
  if (ts.isSetAccessorDeclaration(node)) return `set:${prefix}${propertyNameText(cx, node.name)}`;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isIndexSignatureDeclaration(node)) return `index:${prefix}${indexText(cx, node)}`;
  if (ts.isClassStaticBlockDeclaration(node)) return 'static-block';
  if (ts.isSemicolonClassElement(node)) return 'statement:;';
  return `statement:${ts.SyntaxKind[node.kind]}@${tokenHash(cx, node)}`;
}

function interfaceMemberKey(cx: Context, node: ts.Node): string {
  if (ts.isPropertySignature(node)) return `property:${propertyNameText(cx, node.name)}`;
  if (ts.isMethodSignature(node)) return `method:${propertyNameText(cx, node.name)}`;
  if (ts.isGetAccessorDeclaration(node)) return `get:${propertyNameText(cx, node.name)}`;
  if (ts.isSetAccessorDeclaration(node)) return `set:${propertyNameText(cx, node.name)}`;
  if (ts.isIndexSignatureDeclaration(node)) return `index:${indexText(cx, node)}`;
  if (ts.isCallSignatureDeclaration(node)) return 'call';
  if (ts.isConstructSignatureDeclaration(node)) return 'new';
  return `statement:${ts.SyntaxKind[node.kind]}@${tokenHash(cx, node)}`;
}

function indexText(cx: Context, node: ts.IndexSignatureDeclaration): string {
  const parameter = node.parameters[0];
  return parameter?.type === undefined ? '' : safeName(compact(parameter.type.getText(cx.sf)));
}

/** A property name as written, string names quoted, computed names in brackets. */
function propertyNameText(cx: Context, name: ts.PropertyName): string {
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) return name.text;
  if (ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return quote(name.text);
  if (ts.isNumericLiteral(name) || ts.isBigIntLiteral(name)) return name.text;
  if (ts.isComputedPropertyName(name)) return safeName(`[${compact(name.expression.getText(cx.sf))}]`);
  return safeName(compact((name as ts.Node).getText(cx.sf)));
}

/**
 * A name as a symbol-path segment: as written when it holds no separator, quote or backslash, else
 * quoted (`[a / b]` would otherwise split the path in two).
 */
function safeName(text: string): string {
  return /^[^/'"`\\]*$/.test(text) ? text : quote(text);
}

/** Quote a name for a symbol path: single quotes, with `\` and `'` escaped. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function compact(text: string): string {
  return text.replace(/\s+/g, ' ');
}

/**
 * {@link fnv1a} of the node's tokens joined by single spaces: its identity ignoring layout and
 * comments. The hash runs over the tokens where they lie in the text, without building the joined
 * string (files with many unnamed statements spent a tenth of segmentation joining them).
 */
function tokenHash(cx: Context, node: ts.Node): string {
  const start = node.getStart(cx.sf);
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, cx.sf.languageVariant, cx.text, undefined, start, node.end - start);
  let hash = fnvOffsetBasis;
  let first = true;
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (!first) hash = fnvStep(hash, 0x20);
    first = false;
    // `getTokenText()` is exactly this range of the text.
    hash = fnvRange(hash, cx.text, scanner.getTokenStart(), scanner.getTokenEnd());
  }
  return fnvHex(hash);
}

const fnvOffsetBasis = 0x811c9dc5;

function fnvStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 0x01000193) >>> 0;
}

function fnvRange(hash: number, text: string, start: number, end: number): number {
  let out = hash;
  for (let i = start; i < end; i += 1) out = Math.imul(out ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return out;
}

function fnvHex(hash: number): string {
  return hash.toString(16).padStart(8, '0');
}

/** 32-bit FNV-1a of a string's UTF-16 code units, as 8 hex digits: a short, stable key suffix. */
export function fnv1a(text: string): string {
  return fnvHex(fnvRange(fnvOffsetBasis, text, 0, text.length));
}

/** Visit every segment of a tree, depth first, with its full symbol path. */
export function walkSegments(root: Segment, visit: (segment: Segment, symbol: string) => void): void {
  const recurse = (segment: Segment, symbol: string): void => {
    visit(segment, symbol);
    for (const child of segment.layout?.children ?? []) recurse(child, symbol === '' ? child.key : `${symbol}/${child.key}`);
  };
  recurse(root, '');
}
