/**
 * The structured three-way merge: walks the syntax trees of base, ours and theirs together and
 * merges what the line merge could not. This module merges nodes; the rest lives beside it:
 * - list.ts: a list of child nodes, element by element (matching.ts matches elements to base;
 *   imports.ts, moved.ts and sorted.ts hold the rules for imports, moved code and sorted lists);
 * - header-body.ts: a node whose children do not line up, token by token;
 * - outcome.ts: the context, outcomes and conflicts all of them share.
 *
 * Every node's text is the concatenation of its slots (child nodes and child lists, leading trivia
 * included) and the gaps between them (punctuation, keywords). A node both sides changed is first
 * merged by lines (two edits to different lines still merge, as git would); when that conflicts,
 * slot by slot: gaps as atoms, child nodes recursively, child lists element by element. A failure
 * rises to the nearest list element, which becomes a conflict rendered with git's markers.
 *
 * The merge never invents text: every byte of the result comes from one of the three versions or
 * is a separator those versions use.
 */
import { ts } from 'ts-morph';
import { innerEditLengthMax, mergeLines } from './diff3.js';
import { identText, slotRange, slotsAlign, slotsOf } from './syntax.js';
import type { Slot, Version } from './syntax.js';
import { mergeHeaderAndBody } from './header-body.js';
import { mergeList } from './list.js';
import { mergeAtom, ok } from './outcome.js';
import type { Conflict, MergeContext, Outcome } from './outcome.js';

/**
 * Nodes longer than this are not line-merged on their own: their text is most of the file's,
 * whose line merge already failed, and re-running it at every level of a deep wrapper (a bundle's
 * IIFE) made one file cost seconds.
 */
const innerLineMergeCharsMax = 64 * 1024;

/** The deepest recursion into nested nodes; beyond it a node conflicts as a whole. */
const mergeDepthMax = 200;

/** Merge the three versions' whole syntax trees (the line merge of the whole file was tried already). */
export function mergeSourceFiles(cx: MergeContext): Outcome {
  return mergeNode(cx, cx.base.sf, cx.ours.sf, cx.theirs.sf, '', { tryLines: false, depth: 0 });
}

interface NodeOptions {
  readonly tryLines: boolean;
  readonly depth: number;
  /** Merge the node from its first token on: its leading trivia is merged by the caller. */
  readonly bodyOnly?: boolean;
}

function mergeNode(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, path: string, options: NodeOptions): Outcome {
  const outcome = mergeInPlace(cx, b, o, t, path, options);
  if ((outcome.ok && outcome.conflicts.length === 0) || options.depth >= mergeDepthMax) return outcome;
  // Merged in place it conflicts; one side may have put the node inside a wrapper.
  const wrapped = mergeWrapped(cx, b, o, t, path, options);
  return wrapped !== null && wrapped.ok && wrapped.conflicts.length === 0 ? wrapped : outcome;
}

/** A node merged where it stands in all three versions (see {@link mergeNode}). */
function mergeInPlace(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, path: string, options: NodeOptions): Outcome {
  const from = (version: Version, node: ts.Node): number => (options.bodyOnly === true ? node.getStart(version.sf) : node.pos);
  const bt = cx.base.text.slice(from(cx.base, b), b.end);
  const ot = cx.ours.text.slice(from(cx.ours, o), o.end);
  const tt = cx.theirs.text.slice(from(cx.theirs, t), t.end);
  if (ot === bt || ot === tt) return ok(tt);
  if (tt === bt) return ok(ot);
  if (options.bodyOnly !== true) {
    const split = mergeApart(cx, b, o, t, path, options);
    if (split !== null) return split;
  }
  if (options.tryLines && Math.max(bt.length, ot.length, tt.length) <= innerLineMergeCharsMax) {
    const lines = mergeLines(bt, ot, tt, cx.markers, innerEditLengthMax);
    if (lines.conflicts === 0) return ok(lines.text);
  }
  const fail: Outcome = { ok: false, conflict: { path, kind: 'modify/modify', base: bt, ours: ot, theirs: tt } };
  if (b.kind !== o.kind || b.kind !== t.kind || options.depth >= mergeDepthMax) return fail;
  const bs = slotsOf(b);
  const os = slotsOf(o);
  const tsl = slotsOf(t);
  if (bs === null || os === null || tsl === null) return fail;
  // The arguments of a type or function one side replaced: the other side's edits of them are
  // taken only where the replacing side made them too.
  const replacing = renamedAgainstArguments(cx, b, o, t);
  const merged = mergeBySlots(cx, [b, o, t], [bs, os, tsl], path, options, fail);
  if (replacing === null || !merged.ok) return merged;
  return merged.conflicts.length === 0 && merged.text === (replacing === 'ours' ? ot : tt) ? merged : fail;
}

/** A node whose three versions have the same kind, merged slot by slot, else token by token. */
function mergeBySlots(cx: MergeContext, nodes: readonly [ts.Node, ts.Node, ts.Node], slots: readonly [Slot[], Slot[], Slot[]], path: string, options: NodeOptions, fail: Outcome): Outcome {
  const [b, o, t] = nodes;
  const [bs, os, tsl] = slots;
  // A child one side added or dropped (`export`, `async`, a return type, type arguments): the
  // slots no longer line up, and the node is merged token by token instead.
  const byTokens = (): Outcome => mergeTokens(cx, b, o, t, options) ?? fail;
  if (bs.length !== os.length || bs.length !== tsl.length) return byTokens();
  const triples = bs.map((bSlot, k) => [bSlot, os[k]!, tsl[k]!] as const);
  if (!triples.every((slots) => slotsAlign(slots))) return byTokens();
  const merged = mergeSlots(cx, [b, o, t], triples, path, options);
  if (merged !== null && merged.ok) return merged;
  // A slot whose kind one side changed: what the slots could not merge may still merge as one
  // header edit against one body edit, as it did before such slots were taken to line up.
  const kindOf = (slot: Slot): ts.SyntaxKind | null => (slot.list ? null : slot.node.kind);
  const kindChanged = triples.some(([x, y, z]) => kindOf(x) !== kindOf(y) || kindOf(x) !== kindOf(z));
  if (kindChanged) return byTokens();
  return merged ?? fail;
}

/**
 * A node merged slot by slot (the gaps between its slots as atoms, child nodes recursively, child
 * lists element by element): the outcome, a child's failure, or null when a gap conflicts.
 */
function mergeSlots(cx: MergeContext, nodes: readonly [ts.Node, ts.Node, ts.Node], triples: ReadonlyArray<readonly [Slot, Slot, Slot]>, path: string, options: NodeOptions): Outcome | null {
  const [b, o, t] = nodes;
  const parts: string[] = [];
  const conflicts: Conflict[] = [];
  let [bp, op, tp] = options.bodyOnly === true ? [b.getStart(cx.base.sf), o.getStart(cx.ours.sf), t.getStart(cx.theirs.sf)] : [b.pos, o.pos, t.pos];
  for (const [bSlot, oSlot, tSlot] of triples) {
    const [br, or, tr] = [slotRange(bSlot), slotRange(oSlot), slotRange(tSlot)];
    const gap = mergeAtom(cx.base.text.slice(bp, br.pos), cx.ours.text.slice(op, or.pos), cx.theirs.text.slice(tp, tr.pos));
    if (gap === null) return null;
    parts.push(gap);
    let child: Outcome;
    if (bSlot.list && oSlot.list && tSlot.list) child = mergeList(cx, { b, o, t }, [bSlot.nodes, oSlot.nodes, tSlot.nodes], path, options.depth + 1, mergeChild);
    else if (!bSlot.list && !oSlot.list && !tSlot.list) child = mergeNode(cx, bSlot.node, oSlot.node, tSlot.node, path, { tryLines: true, depth: options.depth + 1 });
    else return null;
    if (!child.ok) return child;
    parts.push(child.text);
    conflicts.push(...child.conflicts);
    [bp, op, tp] = [br.end, or.end, tr.end];
  }
  const tail = mergeAtom(cx.base.text.slice(bp, b.end), cx.ours.text.slice(op, o.end), cx.theirs.text.slice(tp, t.end));
  if (tail === null) return null;
  parts.push(tail);
  return ok(parts.join(''), conflicts);
}

/** How deep under a wrapper one side added the node it wrapped is looked for. */
const wrapDepthMax = 3;

/** The binary operators that wrap an operand (a guard, a fallback), rather than extend it. */
const wrappingOperators: ReadonlySet<ts.SyntaxKind> = new Set([ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken]);

/**
 * One side wrapped the node (`void f(a)`, `await f(a)`, `(f(a) as T)`, `g(f(a))`, `ready && f(a)`)
 * and the other edited it (`f(b)`): the edit is merged inside the wrapper; an operand arithmetic
 * extends (`a + b` made `a + b + 0`) is an edit of one expression, and conflicts. The wrapping side must hold base's
 * node unchanged, once, within {@link wrapDepthMax} levels, and no other node of its kind that
 * starts with the same token; the editing side must keep the node's kind and its leading trivia
 * (which the wrapper now owns). A name or literal is not taken for a wrapped node. Null otherwise.
 */
function mergeWrapped(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, path: string, options: NodeOptions): Outcome | null {
  // A name or a literal inside a larger expression is a shared piece, not a wrapped node.
  if (ts.isSourceFile(b) || b.getChildCount(cx.base.sf) === 0) return null;
  return mergeWrappedBy(cx, 'theirs', b, o, t, path, options) ?? mergeWrappedBy(cx, 'ours', b, o, t, path, options);
}

/** {@link mergeWrapped} with `wrapping` the side that put the wrapper around the node. */
function mergeWrappedBy(cx: MergeContext, wrapping: 'ours' | 'theirs', b: ts.Node, o: ts.Node, t: ts.Node, path: string, options: NodeOptions): Outcome | null {
  const [editing, editNode, wrapper, wrapNode] = wrapping === 'theirs' ? [cx.ours, o, cx.theirs, t] : [cx.theirs, t, cx.ours, o];
  if (editNode.kind !== b.kind) return null;
  const lead = (version: Version, node: ts.Node): string => version.text.slice(node.pos, node.getStart(version.sf));
  if (lead(editing, editNode) !== lead(cx.base, b)) return null;
  const wanted = identText(cx.base, b);
  const firstToken = (version: Version, node: ts.Node): string | undefined => node.getFirstToken(version.sf)?.getText(version.sf);
  const head = firstToken(cx.base, b);
  const found: Array<{ node: ts.Node; parent: ts.Node }> = [];
  let nearCopies = 0;
  const visit = (node: ts.Node, parent: ts.Node, depth: number): void => {
    if (node.kind === b.kind && identText(wrapper, node) === wanted) {
      found.push({ node, parent });
      return;
    }
    // Another node like it (`if (a) f(5) else f(6)` around base's `f(6)`): which copy the other
    // side's edit belongs to is a guess.
    if (node.kind === b.kind && firstToken(wrapper, node) === head) nearCopies += 1;
    if (depth < wrapDepthMax) ts.forEachChild(node, (child) => visit(child, node, depth + 1));
  };
  ts.forEachChild(wrapNode, (child) => visit(child, wrapNode, 1));
  if (found.length !== 1 || nearCopies > 0) return null;
  // Both sides wrapped it, each its own way: nesting one wrapper in the other is no merge. (Looked
  // for deeper than a wrapper is: a guard against a wrong merge, not a way to one.)
  const holdsBase = (version: Version, node: ts.Node, depth: number): boolean =>
    ts.forEachChild(node, (child) => ((child.kind === b.kind && identText(version, child) === wanted) || (depth < 2 * wrapDepthMax && holdsBase(version, child, depth + 1)) ? true : undefined)) ?? false;
  if (holdsBase(editing, editNode, 1)) return null;
  const { node: inner, parent } = found[0]!;
  // An operand that arithmetic now extends (`a + b` made `a + b + 0`) is the same expression
  // edited, not wrapped; a guard (`ready && f(a)`) or a fallback (`f(a) ?? d`) wraps it.
  if (ts.isBinaryExpression(parent) && !wrappingOperators.has(parent.operatorToken.kind)) return null;
  const [ib, io, it] = wrapping === 'theirs' ? [b, o, inner] : [b, inner, t];
  const merged = mergeNode(cx, ib, io, it, path, { tryLines: true, depth: options.depth + 1, bodyOnly: true });
  if (!merged.ok) return null;
  const from = options.bodyOnly === true ? wrapNode.getStart(wrapper.sf) : wrapNode.pos;
  const text = wrapper.text.slice(from, inner.getStart(wrapper.sf)) + merged.text + wrapper.text.slice(inner.end, wrapNode.end);
  return ok(text, merged.conflicts);
}

/** A list element both sides kept, merged as a node of its own: its line merge is tried first. */
function mergeChild(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, path: string, depth: number): Outcome {
  return mergeNode(cx, b, o, t, path, { tryLines: true, depth });
}

/**
 * A type reference whose type one side replaced (`Dictionary<T>` made `Record<EntityId, T>`)
 * while the other side edited its type arguments (`Dictionary<T, Id>`): the arguments belong to
 * the type they were written for, and the two edits merged would pass arguments to a type that
 * does not take them (`Record<EntityId, T, Id>`). A conflict, as for a base class in `extends`.
 * The same holds for a call or `new` whose function one side replaced (`define(target, key)`
 * made `adopt(target).add(key)`, the last name changed) while the other side added or dropped
 * an argument, or edited one the replacing side rewrote too. A rename throughout the file is a sweep and is carried before this is asked; a
 * callee reached another way (`f(x)` made `this.f(x)`) keeps its name and merges. The side that
 * replaced the type or function, or null.
 */
function renamedAgainstArguments(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node): 'ours' | 'theirs' | null {
  // `args`: the arguments as written; `takes`: what the callee must accept (for a type, its
  // arguments as written; for a function, how many: an argument edited in place is the caller's
  // value and carries over, one added or dropped was written for the function it went to).
  const parts = (version: Version, node: ts.Node): { name: string; args: string; takes: string } | null => {
    const texts = (nodes: readonly ts.Node[] | undefined): string => (nodes ?? []).map((a) => identText(version, a)).join(',');
    if (ts.isTypeReferenceNode(node)) {
      const args = texts(node.typeArguments);
      return { name: identText(version, node.typeName), args, takes: args };
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : identText(version, callee);
      return { name, args: `${texts(node.typeArguments)}(${texts(node.arguments)})`, takes: `${texts(node.typeArguments)}(${node.arguments?.length ?? 0})` };
    }
    return null;
  };
  const [bp, op, tp] = [parts(cx.base, b), parts(cx.ours, o), parts(cx.theirs, t)];
  if (bp === null || op === null || tp === null) return null;
  // The replacing side also rewrote the arguments: the other side's edits of base's are void.
  const against = (replacer: typeof bp, other: typeof bp): boolean => replacer.name !== bp.name && (other.takes !== bp.takes || (replacer.args !== bp.args && other.args !== bp.args));
  if (against(op, tp)) return 'ours';
  return against(tp, op) ? 'theirs' : null;
}

/**
 * Three versions of a node whose children do not line up (one side added `export`, `async`, a
 * return type): merged token by token when one side changed only the node's header and the other
 * only its bodies (header-body.ts); null otherwise.
 */
function mergeTokens(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, options: NodeOptions): Outcome | null {
  const text = mergeHeaderAndBody([cx.base, cx.ours, cx.theirs], [b, o, t], options.bodyOnly === true);
  return text === null ? null : ok(text);
}

/**
 * A node's leading trivia (comments, blank lines) and its syntax merged apart: one side's comment
 * above a declaration, or the comment a removed neighbour left to it, and the other side's edit
 * of the declaration are two changes, not one. Null when the trivia does not differ, or lies
 * inside the first child (whose own merge splits it) while both sides changed the syntax
 * differently, or conflicts.
 */
function mergeApart(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, path: string, options: NodeOptions): Outcome | null {
  if (ts.isSourceFile(b)) return null;
  const versions = [cx.base, cx.ours, cx.theirs] as const;
  const nodes = [b, o, t] as const;
  const starts = nodes.map((node, k) => node.getStart(versions[k]!.sf));
  const leads = nodes.map((node, k) => versions[k]!.text.slice(node.pos, starts[k]));
  if (leads[0] === leads[1] && leads[0] === leads[2]) return null;
  const ownsTrivia = nodes.every((node, k) => {
    const first = slotsOf(node)?.[0];
    return first === undefined || slotRange(first).pos >= starts[k]!;
  });
  // Where the trivia lies inside the first child (a name, a modifier), the node's syntax can still
  // be taken whole when only one side changed it, or both alike.
  const bodies = nodes.map((node, k) => versions[k]!.text.slice(starts[k], node.end));
  const wholeBody = bodies[1] === bodies[0] || bodies[1] === bodies[2] ? bodies[2] : bodies[2] === bodies[0] ? bodies[1] : null;
  if (!ownsTrivia && wholeBody === null) return null;
  const lead = mergeTrivia(cx, leads[0]!, leads[1]!, leads[2]!);
  if (lead === null) return null;
  if (wholeBody !== null) return ok(lead + wholeBody);
  const body = mergeNode(cx, b, o, t, path, { ...options, bodyOnly: true });
  return body.ok ? ok(lead + body.text, body.conflicts) : null;
}

/** Merge leading trivia: as an atom, else by lines (two comments edited apart); null on a conflict. */
function mergeTrivia(cx: MergeContext, b: string, o: string, t: string): string | null {
  const atom = mergeAtom(b, o, t);
  if (atom !== null) return atom;
  const lines = mergeLines(b, o, t, cx.markers, innerEditLengthMax);
  return lines.conflicts === 0 ? lines.text : null;
}

