/**
 * A declaration's header and its body as two changes. When the children of a node no longer line
 * up across the three versions (one side added `export`, `async` or a return type), the structured
 * merge cannot go slot by slot; this merges the node token by token, but only when one side
 * changed the node's header alone (every token outside its bodies: blocks, namespace bodies,
 * `switch` case blocks, the member lists of classes, interfaces, enums and object types) and the
 * other only inside its bodies. Those two edits cannot interleave. Any other pair is left to
 * conflict: a token-level merge of arbitrary edits was tried and interleaved a `try` restructured
 * on one side with the other side's edits of its `catch` (docs/compose.md).
 */
import { ts } from 'ts-morph';
import { diff3, editsOf, innerEditLengthMax } from './diff3.js';
import type { Version } from './syntax.js';

/** The largest node (characters, any version) merged token by token. */
const tokenMergeCharsMax = 16 * 1024;

/** One token of a node: its text with the trivia before it, and where the token itself starts. */
interface TokenUnit {
  readonly unit: string;
  readonly start: number;
}

/**
 * The tokens of a node, each with the trivia before it (the node's own leading trivia belongs to
 * its first token unless `bodyOnly`): joined, they are the node's text.
 */
function tokenUnits(version: Version, node: ts.Node, bodyOnly: boolean): TokenUnit[] {
  const units: TokenUnit[] = [];
  let at = bodyOnly ? node.getStart(version.sf) : node.pos;
  const visit = (n: ts.Node): void => {
    const children = n.getChildren(version.sf);
    if (children.length === 0) {
      if (n.end > at) units.push({ unit: version.text.slice(at, n.end), start: n.end === n.pos ? n.end : n.getStart(version.sf) });
      at = Math.max(at, n.end);
      return;
    }
    children.forEach(visit);
  };
  visit(node);
  if (node.end > at) units.push({ unit: version.text.slice(at, node.end), start: node.end });
  return units;
}

/**
 * The bodies inside a node, as text ranges from their opening to their closing brace: blocks,
 * namespace bodies, `switch` case blocks, and the member lists of classes, interfaces, enums and
 * object types.
 */
function bodyRanges(version: Version, node: ts.Node): Array<{ from: number; to: number }> {
  const ranges: Array<{ from: number; to: number }> = [];
  const visit = (n: ts.Node): void => {
    if (ts.isBlock(n) || ts.isModuleBlock(n) || ts.isCaseBlock(n)) {
      ranges.push({ from: n.getStart(version.sf), to: n.end });
      return;
    }
    const open = ts.isClassLike(n) || ts.isInterfaceDeclaration(n) || ts.isEnumDeclaration(n) || ts.isTypeLiteralNode(n) ? n.getChildren(version.sf).find((c) => c.kind === ts.SyntaxKind.OpenBraceToken) : undefined;
    if (open !== undefined) {
      ranges.push({ from: open.getStart(version.sf), to: n.end });
      // What comes before the brace (decorators, type parameters, heritage) is header.
      ts.forEachChild(n, (child) => (child.end <= open.pos ? visit(child) : undefined));
      return;
    }
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(node, visit);
  return ranges;
}

/** Where a side's edits of a node lie: only outside its bodies, only inside them, or both. */
type EditPlace = 'header' | 'body' | 'both' | 'none';

/**
 * Where one side's token edits lie relative to base's bodies. A token is *inside* a body when it
 * lies strictly between the body's braces; an insertion is inside when both its neighbours are
 * tokens of one body, braces included; a header edit may touch a body's braces from outside
 * (a return type inserted before `{`).
 */
function editPlace(base: readonly TokenUnit[], side: readonly TokenUnit[], bodies: ReadonlyArray<{ from: number; to: number }>): EditPlace {
  const bodyOf = (k: number): number => {
    const start = base[k]?.start;
    if (start === undefined) return -1;
    return bodies.findIndex((r) => r.from <= start && start < r.to);
  };
  // Strictly between the braces: the opening brace starts the range, the closing one ends it.
  const strictlyInside = (k: number): boolean => {
    const b = bodyOf(k);
    if (b === -1) return false;
    const start = base[k]!.start;
    return start !== bodies[b]!.from && start < bodies[b]!.to - 1;
  };
  let header = false;
  let body = false;
  for (const { from, to } of editsOf(base.map((u) => u.unit), side.map((u) => u.unit))) {
    if (to > from) {
      const inside = Array.from({ length: to - from }, (_, k) => strictlyInside(from + k));
      if (inside.every(Boolean)) body = true;
      else if (inside.some(Boolean)) return 'both';
      else header = true;
    } else {
      // An insertion between base tokens from - 1 and from.
      const [before, after] = [from - 1 >= 0 ? bodyOf(from - 1) : -1, from < base.length ? bodyOf(from) : -1];
      if (before !== -1 && before === after) body = true;
      else header = true;
    }
  }
  return header && body ? 'both' : header ? 'header' : body ? 'body' : 'none';
}

/**
 * The merged text of one node whose three versions are `versions` and `nodes` (from the node's
 * first token when `bodyOnly`, else with its leading trivia), or null: not one header-only and one
 * body-only side, an overlap, or a node over {@link tokenMergeCharsMax}.
 */
export function mergeHeaderAndBody(versions: readonly [Version, Version, Version], nodes: readonly [ts.Node, ts.Node, ts.Node], bodyOnly: boolean): string | null {
  const [b, o, t] = nodes;
  if (Math.max(b.end - b.pos, o.end - o.pos, t.end - t.pos) > tokenMergeCharsMax) return null;
  const [bu, ou, tu] = [tokenUnits(versions[0], b, bodyOnly), tokenUnits(versions[1], o, bodyOnly), tokenUnits(versions[2], t, bodyOnly)];
  const bodies = bodyRanges(versions[0], b);
  const places = [editPlace(bu, ou, bodies), editPlace(bu, tu, bodies)].sort().join('+');
  if (places !== 'body+header') return null;
  const chunks = diff3(bu.map((u) => u.unit), ou.map((u) => u.unit), tu.map((u) => u.unit), 'forward', innerEditLengthMax);
  if (chunks.some((chunk) => chunk.kind === 'conflict')) return null;
  return chunks.flatMap((chunk) => (chunk.kind === 'conflict' ? [] : chunk.items)).join('');
}
