/**
 * Two runs of statements that both sides inserted at one point of a block, and whether their
 * order can matter. Statements are steps of an algorithm and two insertions at one point conflict
 * (list.ts), except where neither run can observe the other:
 * - every statement is a declaration of local names (`const a = ...`), an assignment to a name or
 *   a property path (`edit.snippets = true`), or an expression with no effect;
 * - at most one of the two runs runs code it does not see (a call, `new`, `await`, `yield`,
 *   `delete`, `++`, a tagged template), outside the functions it only defines;
 * - neither run declares or writes a name, or a property path, that the other mentions; and when
 *   one run calls out, the other writes no property (the call may read it).
 * Such runs are kept both, ours first: vscode-languageserver-node 9a9220b set two capabilities
 * at one place of a method, redux-toolkit 2a4ad73 declared two helpers at one place of a
 * function.
 */
import { ts } from 'ts-morph';
import type { Version } from './syntax.js';

/** What one run of statements does, as far as its order against another run can matter. */
interface RunEffects {
  /** It runs code it does not see. */
  readonly callsOut: boolean;
  /** Local names it declares and names or property paths it assigns (`edit.snippets`). */
  readonly writes: ReadonlySet<string>;
  /** It assigns a property. */
  readonly writesProperty: boolean;
  /** Names and property paths it mentions, nested functions included. */
  readonly mentions: ReadonlySet<string>;
}

/** A name or a property path (`a`, `this.b.c`) as text, or null for any other target. */
function pathText(version: Version, node: ts.Expression): string | null {
  if (ts.isIdentifier(node)) return node.text;
  if (node.kind === ts.SyntaxKind.ThisKeyword) return 'this';
  if (ts.isPropertyAccessExpression(node)) {
    const head = pathText(version, node.expression);
    return head === null ? null : `${head}.${node.name.text}`;
  }
  return null;
}

/** Whether `node` runs code it does not see, outside the functions and classes it only defines. */
function callsOut(node: ts.Node): boolean {
  if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
  if (ts.isCallExpression(node) || ts.isNewExpression(node) || ts.isAwaitExpression(node) || ts.isYieldExpression(node) || ts.isDeleteExpression(node) || ts.isTaggedTemplateExpression(node)) return true;
  if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) && (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)) return true;
  if (ts.isBinaryExpression(node) && node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && node.operatorToken.kind <= ts.SyntaxKind.LastAssignment) return true;
  return ts.forEachChild(node, (child) => (callsOut(child) ? true : undefined)) ?? false;
}

/**
 * Every name and property path `node` mentions, nested functions included: a path whole
 * (`edit.snippets`, not `edit` beside it), a name used on its own as itself.
 */
function mentionsOf(version: Version, node: ts.Node, into: Set<string>): void {
  if (ts.isPropertyAccessExpression(node)) {
    const path = pathText(version, node);
    if (path !== null) {
      into.add(path);
      return;
    }
  }
  if (ts.isIdentifier(node)) into.add(node.text);
  else if (node.kind === ts.SyntaxKind.ThisKeyword) into.add('this');
  ts.forEachChild(node, (child) => mentionsOf(version, child, into));
}

/** The names a binding declares (`a`, `{ b, c: d }`, `[e, ...f]`). */
function boundNames(name: ts.BindingName, into: Set<string>): void {
  if (ts.isIdentifier(name)) {
    into.add(name.text);
    return;
  }
  for (const element of name.elements) if (!ts.isOmittedExpression(element)) boundNames(element.name, into);
}

/** What a run of statements does, or null when one of them is not a declaration, an assignment or an expression. */
function effectsOf(version: Version, statements: readonly ts.Node[]): RunEffects | null {
  let out = false;
  let writesProperty = false;
  const writes = new Set<string>();
  const mentions = new Set<string>();
  for (const statement of statements) {
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        boundNames(declaration.name, writes);
        if (declaration.initializer !== undefined) out ||= callsOut(declaration.initializer);
      }
    } else if (ts.isExpressionStatement(statement)) {
      const expression = statement.expression;
      if (ts.isBinaryExpression(expression) && expression.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
        const target = pathText(version, expression.left);
        if (target === null) return null;
        writes.add(target);
        writesProperty ||= target.includes('.');
        out ||= callsOut(expression.right);
      } else {
        out ||= callsOut(expression);
      }
    } else {
      return null;
    }
    mentionsOf(version, statement, mentions);
  }
  return { callsOut: out, writes, writesProperty, mentions };
}

/**
 * Whether `writer`'s writes are all out of `reader`'s sight: the reader mentions no written name or
 * path, nothing inside one, and no object one is a property of (`a` when `a.b` is written).
 */
function unseen(writer: RunEffects, reader: RunEffects): boolean {
  for (const written of writer.writes) {
    for (const mentioned of reader.mentions) {
      if (mentioned === written || mentioned.startsWith(`${written}.`) || written.startsWith(`${mentioned}.`)) return false;
    }
  }
  return true;
}

/**
 * Whether two runs of statements inserted at one point of a block (ours' from `ours`, theirs' from
 * `theirs`) can be kept both in either order: see the module's comment.
 */
export function independentRuns(ours: { version: Version; statements: readonly ts.Node[] }, theirs: { version: Version; statements: readonly ts.Node[] }): boolean {
  if (ours.statements.length === 0 || theirs.statements.length === 0) return false;
  const [o, t] = [effectsOf(ours.version, ours.statements), effectsOf(theirs.version, theirs.statements)];
  if (o === null || t === null) return false;
  if (o.callsOut && t.callsOut) return false;
  if ((o.callsOut && t.writesProperty) || (t.callsOut && o.writesProperty)) return false;
  return unseen(o, t) && unseen(t, o);
}
