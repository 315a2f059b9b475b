/**
 * What the structured merge needs to know about syntax: parsing a version of a file, the children
 * of a node as slots (single nodes and lists, in source order), the identity of list elements
 * (their keys) and how a list orders its elements.
 */
import { ts } from 'ts-morph';
import { isSourcePath, parseSource } from '../extract/segment.js';

/** One version of a file: its text and its syntax tree. */
export interface Version {
  readonly text: string;
  readonly sf: ts.SourceFile;
}

/** Parse one version; null when the parser reports syntax errors (such files merge by lines). */
export function parseVersion(path: string, text: string): Version | null {
  // A BOM shifts every position by one: such files are rare enough to merge by lines.
  if (text.startsWith('\uFEFF')) return null;
  const sf = isJsonPath(path) ? ts.parseJsonText(path, text) : parseSource(path, text);
  if (syntaxErrorCount(sf) > 0) return null;
  return { text, sf };
}

/** True when `text` parses without syntax errors as the file at `path`. */
export function parsesCleanly(path: string, text: string): boolean {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return syntaxErrorCount(isJsonPath(path) ? ts.parseJsonText(path, body) : parseSource(path, body)) === 0;
}

/** JSON files (package.json, tsconfig.json...) merge structurally too: as one object literal. */
export function isJsonPath(path: string): boolean {
  const lower = path.toLowerCase();
  // Lock files are regenerated, never merged by hand: their lines are all there is to merge.
  if (lower.endsWith('package-lock.json') || lower.endsWith('npm-shrinkwrap.json')) return false;
  return lower.endsWith('.json');
}

/** True when the structured merge applies to the file at `path`. */
export function isStructuredPath(path: string): boolean {
  return isSourcePath(path) || isJsonPath(path);
}

function syntaxErrorCount(sf: ts.SourceFile): number {
  const diagnostics = (sf as unknown as { parseDiagnostics?: readonly unknown[] }).parseDiagnostics;
  return diagnostics?.length ?? 0;
}

/** A child slot of a node: one node, or a list of nodes. */
export type Slot = { readonly list: false; readonly node: ts.Node } | { readonly list: true; readonly nodes: ts.NodeArray<ts.Node> };

/** The children of `node` in source order; null when they do not come in increasing positions. */
export function slotsOf(node: ts.Node): Slot[] | null {
  const slots: Slot[] = [];
  ts.forEachChild(
    node,
    (child) => {
      slots.push({ list: false, node: child });
    },
    (nodes) => {
      slots.push({ list: true, nodes });
    },
  );
  let pos = node.pos;
  for (const slot of slots) {
    const range = slotRange(slot);
    if (range.pos < pos || range.end > node.end) return null;
    pos = range.end;
  }
  return slots;
}

/** The text range a slot covers (leading trivia included). */
export function slotRange(slot: Slot): { pos: number; end: number } {
  return slot.list ? { pos: slot.nodes.pos, end: slot.nodes.end } : { pos: slot.node.pos, end: slot.node.end };
}

/**
 * Whether three versions of one slot hold the same role, so that the node's versions line up slot
 * by slot: lists with lists, and nodes of one kind, or all types (a return type `Function` made
 * `Function & IAction`), or all expressions (an initializer `f()` made `await f()`). A slot whose
 * kind changed is then merged as a node whose kinds differ: one side's version when the other
 * side left it alone, else a conflict.
 */
export function slotsAlign(slots: readonly [Slot, Slot, Slot]): boolean {
  const nodes = slots.flatMap((slot) => (slot.list ? [] : [slot.node]));
  if (nodes.length === 0) return true;
  if (nodes.length !== slots.length) return false;
  const kind = nodes[0]!.kind;
  return nodes.every((node) => node.kind === kind) || nodes.every((node) => ts.isTypeNode(node)) || nodes.every((node) => ts.isExpression(node));
}

/** The node's tokens without trivia, spaces collapsed: equal for changes of layout only. */
export function identText(version: Version, node: ts.Node): string {
  return version.text.slice(node.getStart(version.sf), node.end).replace(/\s+/g, ' ');
}

/**
 * The key of a list element: its name among its siblings (`method:open`, `prop:a`, `spec:x`), or
 * null for an anonymous element (a statement without a name, an array element).
 */
export function elementKey(version: Version, node: ts.Node, parent: ts.Node | null = null): string | null {
  const named = declarationKey(version, node);
  if (named !== null) return named;
  if (ts.isImportSpecifier(node) || ts.isExportSpecifier(node)) return `spec:${node.name.text}`;
  if (ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) return `prop:${nameText(version, node.name)}`;
  if (ts.isStringLiteral(node) && parent !== null && ts.isArrayLiteralExpression(parent)) return `string:${node.text}`;
  // A heritage clause names each base type once: keyed by the type's name, its type arguments are
  // an edit of it (two sides editing `extends Store<User>` must not yield two base classes).
  if (parent !== null && ts.isHeritageClause(parent) && ts.isExpressionWithTypeArguments(node)) return `type:${identText(version, node.expression)}`;
  if (ts.isHeritageClause(node)) return `heritage:${node.token === ts.SyntaxKind.ExtendsKeyword ? 'extends' : 'implements'}`;
  if (parent !== null && (ts.isUnionTypeNode(parent) || ts.isIntersectionTypeNode(parent))) return `type:${identText(version, node)}`;
  if (ts.isSpreadAssignment(node) || ts.isJsxSpreadAttribute(node)) return `spread:${identText(version, node.expression)}`;
  if (ts.isJsxAttribute(node)) return `attr:${version.text.slice(node.name.getStart(version.sf), node.name.end)}`;
  if (ts.isEnumMember(node)) return `member:${nameText(version, node.name)}`;
  if (ts.isCaseClause(node)) return `case:${identText(version, node.expression)}`;
  if (ts.isDefaultClause(node)) return 'default';
  if (ts.isBindingElement(node) && ts.isIdentifier(node.name)) return `bind:${node.name.text}`;
  return memberKey(version, node);
}

function declarationKey(version: Version, node: ts.Node): string | null {
  if (ts.isImportDeclaration(node)) return `import:${identText(version, node.moduleSpecifier)}${node.importClause?.isTypeOnly === true ? ':type' : ''}`;
  if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) return `export:${identText(version, node.moduleSpecifier)}`;
  if (ts.isExportAssignment(node)) return 'export:default';
  if (ts.isFunctionDeclaration(node)) return `function:${node.name?.text ?? 'default'}`;
  if (ts.isClassDeclaration(node)) return `class:${node.name?.text ?? 'default'}`;
  if (ts.isInterfaceDeclaration(node)) return `interface:${node.name.text}`;
  if (ts.isTypeAliasDeclaration(node)) return `type:${node.name.text}`;
  if (ts.isEnumDeclaration(node)) return `enum:${node.name.text}`;
  if (ts.isModuleDeclaration(node)) return `namespace:${identText(version, node.name)}`;
  if (ts.isVariableStatement(node)) {
    const names = node.declarationList.declarations.map((d) => identText(version, d.name));
    return `variable:${names.join(',')}`;
  }
  if (ts.isExpressionStatement(node) && ts.isCallExpression(node.expression)) {
    const first = node.expression.arguments[0];
    if (first !== undefined && ts.isStringLiteralLike(first)) return `call:${identText(version, node.expression.expression)}(${first.text})`;
  }
  return null;
}

function memberKey(version: Version, node: ts.Node): string | null {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isIndexSignatureDeclaration(node)) return `index:${identText(version, node)}`;
  const isStatic = ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.StaticKeyword);
  const prefix = isStatic ? 'static ' : '';
  if (ts.isMethodDeclaration(node) || ts.isMethodSignature(node)) return `method:${prefix}${nameText(version, node.name)}`;
  if (ts.isPropertyDeclaration(node) || ts.isPropertySignature(node)) return `property:${prefix}${nameText(version, node.name)}`;
  if (ts.isGetAccessorDeclaration(node)) return `get:${prefix}${nameText(version, node.name)}`;
  if (ts.isSetAccessorDeclaration(node)) return `set:${prefix}${nameText(version, node.name)}`;
  return null;
}

function nameText(version: Version, name: ts.Node): string {
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) return name.text;
  if (ts.isStringLiteral(name) || ts.isNumericLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
  return identText(version, name);
}

/**
 * Parents whose elements are an unordered set: both sides' additions are kept (ours first). In
 * every other list, two insertions at one point conflict unless one contains the other.
 */
export function isUnorderedParent(parent: ts.Node): boolean {
  return (
    ts.isSourceFile(parent) ||
    ts.isModuleBlock(parent) ||
    ts.isClassLike(parent) ||
    ts.isInterfaceDeclaration(parent) ||
    ts.isTypeLiteralNode(parent) ||
    ts.isEnumDeclaration(parent) ||
    ts.isObjectLiteralExpression(parent) ||
    ts.isNamedImports(parent) ||
    ts.isNamedExports(parent) ||
    ts.isJsxAttributes(parent) ||
    ts.isCaseBlock(parent) ||
    ts.isObjectBindingPattern(parent) ||
    ts.isUnionTypeNode(parent) ||
    ts.isIntersectionTypeNode(parent) ||
    ts.isHeritageClause(parent)
  );
}

/**
 * Parents whose lists are literal sequences: array items, call and `new` arguments, parameters,
 * type arguments and parameters, tuple members, a JSX element's or fragment's children. Ordered,
 * but two different additions at one point are both kept (ours first): that is how people merge
 * two new options, plugins or arguments, and two new children of one element (a field and a
 * button added to one form).
 */
export function isSequenceParent(parent: ts.Node): boolean {
  return (
    ts.isArrayLiteralExpression(parent) ||
    ts.isJsxElement(parent) ||
    ts.isJsxFragment(parent) ||
    ts.isCallExpression(parent) ||
    ts.isNewExpression(parent) ||
    ts.isFunctionLike(parent) ||
    ts.isTypeReferenceNode(parent) ||
    ts.isExpressionWithTypeArguments(parent) ||
    ts.isTupleTypeNode(parent) ||
    ts.isArrayBindingPattern(parent)
  );
}

/** The separator to put between two elements that were never neighbours, by parent kind. */
export function defaultSeparator(parent: ts.Node): string {
  if (
    ts.isObjectLiteralExpression(parent) ||
    ts.isArrayLiteralExpression(parent) ||
    ts.isCallExpression(parent) ||
    ts.isNewExpression(parent) ||
    ts.isNamedImports(parent) ||
    ts.isNamedExports(parent) ||
    ts.isEnumDeclaration(parent) ||
    ts.isObjectBindingPattern(parent) ||
    ts.isArrayBindingPattern(parent) ||
    ts.isFunctionLike(parent) ||
    ts.isTypeReferenceNode(parent) ||
    ts.isTupleTypeNode(parent) ||
    ts.isVariableDeclarationList(parent)
  ) {
    return ',';
  }
  if (ts.isUnionTypeNode(parent)) return ' |';
  if (ts.isIntersectionTypeNode(parent)) return ' &';
  if (ts.isHeritageClause(parent)) return ',';
  return '';
}
