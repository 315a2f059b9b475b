/**
 * What a piece of TypeScript does at run time, apart from its types: the tokens left once type
 * annotations, type arguments and parameters, `as`/`satisfies` casts, non-null assertions,
 * type-only declarations and `import type` markers are dropped (comments and layout are never
 * tokens). Two versions with the same value tokens differ only in types or formatting; the
 * structured merge uses this to tell a removal from a change that a removal may override.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import type { Version } from './syntax.js';

/** Kinds the walk skips whole: types, and declarations that exist only as types. */
function isTypeOnlyNode(node: ts.Node): boolean {
  // `class A extends B<T>` names a value: only its type arguments are types.
  if (ts.isExpressionWithTypeArguments(node)) return false;
  if (ts.isTypeNode(node)) return true;
  return ts.isTypeParameterDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isTypeElement(node);
}

/** A token that only marks what follows it as a type (`: T`, `as T`, `<T>`, `import type`, `x!`). */
function isTypeMarker(sf: ts.SourceFile, parent: ts.Node, children: readonly ts.Node[], k: number): boolean {
  const token = children[k]!;
  const next = children[k + 1];
  const prev = children[k - 1];
  const skipped = (node: ts.Node | undefined): boolean => node !== undefined && (isTypeOnlyNode(node) || isTypeList(sf, node));
  const kind = token.kind;
  if (kind === ts.SyntaxKind.ColonToken || kind === ts.SyntaxKind.AsKeyword || kind === ts.SyntaxKind.SatisfiesKeyword || kind === ts.SyntaxKind.LessThanToken) return skipped(next);
  if (kind === ts.SyntaxKind.GreaterThanToken) return skipped(prev);
  if (kind === ts.SyntaxKind.TypeKeyword) return ts.isImportClause(parent) || ts.isImportSpecifier(parent) || ts.isExportDeclaration(parent) || ts.isExportSpecifier(parent);
  if (kind === ts.SyntaxKind.ExclamationToken) return ts.isNonNullExpression(parent) || ts.isPropertyDeclaration(parent) || ts.isVariableDeclaration(parent);
  // An optional parameter or property: a type-level mark (`a?: T`), not a conditional.
  if (kind === ts.SyntaxKind.QuestionToken) return ts.isParameter(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertySignature(parent);
  return false;
}

/** A syntax list that holds only types (type arguments or parameters) and their commas. */
function isTypeList(sf: ts.SourceFile, node: ts.Node): boolean {
  if (node.kind !== ts.SyntaxKind.SyntaxList) return false;
  const children = node.getChildren(sf);
  return children.length > 0 && children.every((c) => c.kind === ts.SyntaxKind.CommaToken || isTypeOnlyNode(c));
}

/** The value tokens of a node (see the module comment), joined by spaces. */
export function valueText(version: Version, node: ts.Node): string {
  const out: string[] = [];
  const visit = (n: ts.Node, parent: ts.Node | undefined, raw: boolean): void => {
    if (isTypeOnlyNode(n) || isTypeList(version.sf, n)) return;
    const children = n.getChildren(version.sf);
    if (children.length === 0) {
      // Separators are layout: a formatter adds and drops trailing commas and semicolons.
      if (n.kind !== ts.SyntaxKind.CommaToken && n.kind !== ts.SyntaxKind.SemicolonToken && n.kind !== ts.SyntaxKind.EndOfFileToken) out.push(leafText(version, n, parent, raw));
      return;
    }
    children.forEach((child, k) => {
      if (!isTypeMarker(version.sf, n, children, k) && !isOptionalParen(n, child, true)) visit(child, n, raw || ts.isTaggedTemplateExpression(n));
    });
  };
  visit(node, undefined, false);
  return out.join(' ');
}

/**
 * A token's text for comparing two versions of it: a string's *value* for string literals and
 * untagged templates, since a formatter that changes quotes or escapes (`'a'` to `"a"`, a line
 * break in a template to `\n`) changes nothing at run time; the text as written for the rest.
 * `raw` is set inside a tagged template, whose raw text reaches its tag, and a directive (`'use
 * strict'`) is recognized by its raw text: those keep the text as written.
 */
function leafText(version: Version, n: ts.Node, parent: ts.Node | undefined, raw: boolean): string {
  const text = n.getText(version.sf);
  if (raw) return text;
  if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
    return parent !== undefined && ts.isExpressionStatement(parent) ? text : `string:${JSON.stringify(n.text)}`;
  }
  // A template part keeps its kind: the `${` and `}` around it are not tokens of their own.
  if (ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) return `${ts.SyntaxKind[n.kind]}:${JSON.stringify(n.text)}`;
  return text;
}

/**
 * A parenthesis that is layout: around the one parameter of an arrow function when it is a bare
 * name (`x => x` and `(x) => x` parse to the same function; formatters add or drop them). With a
 * default, a rest, `?` or a pattern the parentheses are required and stay tokens; with a type
 * (`(x: T) => x`, `(x): R => x`, `<T>(x) => x`) too, unless `typesIgnored` (value tokens, where
 * the types they are there for are not compared).
 */
function isOptionalParen(parent: ts.Node, child: ts.Node, typesIgnored: boolean): boolean {
  if (!ts.isArrowFunction(parent) || (child.kind !== ts.SyntaxKind.OpenParenToken && child.kind !== ts.SyntaxKind.CloseParenToken)) return false;
  if (parent.parameters.length !== 1) return false;
  const [only] = parent.parameters;
  if (only === undefined || !ts.isIdentifier(only.name) || only.initializer !== undefined || only.dotDotDotToken !== undefined || only.questionToken !== undefined || (only.modifiers?.length ?? 0) > 0) return false;
  return typesIgnored || (parent.typeParameters === undefined && parent.type === undefined && only.type === undefined);
}

/**
 * True when two versions of one element differ at most in types and formatting, and the element
 * does something at run time. A declaration that is a type as a whole (an interface, a type alias,
 * a member of either) is its types, and a base class is there for its type arguments: a change of
 * such an element is a real change, never "only types".
 */
export function differsOnlyInTypes(a: Version, an: ts.Node, b: Version, bn: ts.Node): boolean {
  assert(an.end <= a.text.length, 'differsOnlyInTypes: the node lies in its version');
  assert(bn.end <= b.text.length, 'differsOnlyInTypes: the node lies in its version');
  // A base type (`extends Store<User>`) is there for its type arguments: a side that renamed it
  // and one that changed them made two changes.
  if (ts.isExpressionWithTypeArguments(an)) return false;
  const before = valueText(a, an);
  return before !== '' && before === valueText(b, bn);
}

/** Every token of a node but separators (commas, semicolons), joined by spaces: its text without layout. */
function tokenText(version: Version, node: ts.Node): string {
  const out: string[] = [];
  const visit = (n: ts.Node, parent: ts.Node | undefined, raw: boolean): void => {
    const children = n.getChildren(version.sf);
    if (children.length === 0) {
      if (n.kind !== ts.SyntaxKind.CommaToken && n.kind !== ts.SyntaxKind.SemicolonToken && n.kind !== ts.SyntaxKind.EndOfFileToken) out.push(leafText(version, n, parent, raw));
      return;
    }
    children.forEach((child) => {
      if (!isOptionalParen(n, child, false)) visit(child, n, raw || ts.isTaggedTemplateExpression(n));
    });
  };
  visit(node, undefined, false);
  return out.join(' ');
}

/**
 * True when two versions of one element have the same tokens, separators aside: one differs from
 * the other in layout and comments only (a formatter's trailing commas, re-wrapped lines). Unlike
 * {@link differsOnlyInTypes}, this holds for types too: an interface re-formatted says nothing new.
 */
export function differsOnlyInLayout(a: Version, an: ts.Node, b: Version, bn: ts.Node): boolean {
  return tokenText(a, an) === tokenText(b, bn);
}

/** The comments in a node's text (leading trivia included), in order, each trimmed. */
function commentsOf(version: Version, node: ts.Node): string[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, version.sf.languageVariant, version.text, undefined, node.pos, node.end - node.pos);
  const comments: string[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) comments.push(scanner.getTokenText().replace(/\s+/g, ' ').trim());
  }
  return comments;
}

/** True when two versions of an element hold the same comments, layout aside. */
export function sameComments(a: Version, an: ts.Node, b: Version, bn: ts.Node): boolean {
  const [x, y] = [commentsOf(a, an), commentsOf(b, bn)];
  return x.length === y.length && x.every((comment, k) => comment === y[k]);
}

/**
 * True when every use of `name` in the version, imports aside, is in a type position (inside a
 * type, an `implements` clause or an interface's `extends`): an `import type` of it would compile.
 */
export function usedOnlyAsType(version: Version, name: string): boolean {
  let valueUse = false;
  // Parents are passed down: the versions are parsed without parent pointers.
  const visit = (n: ts.Node, p: ts.Node): void => {
    if (valueUse || ts.isImportDeclaration(n) || isTypeOnlyNode(n)) return;
    if (ts.isHeritageClause(n) && (n.token === ts.SyntaxKind.ImplementsKeyword || ts.isInterfaceDeclaration(p))) return;
    if (ts.isIdentifier(n) && n.text === name) {
      // A property name (`x.name`, `{ name: 1 }`) is not a use of the binding.
      const isPropertyName = (ts.isPropertyAccessExpression(p) && p.name === n) || (ts.isPropertyAssignment(p) && p.name === n) || (ts.isMethodDeclaration(p) && p.name === n) || (ts.isPropertyDeclaration(p) && p.name === n);
      if (!isPropertyName) valueUse = true;
      return;
    }
    ts.forEachChild(n, (child) => visit(child, n));
  };
  ts.forEachChild(version.sf, (child) => visit(child, version.sf));
  return !valueUse;
}
