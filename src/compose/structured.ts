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
import { identText, slotRange, slotShape, slotsOf } from './syntax.js';
import type { Version } from './syntax.js';
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
  if (renamedAgainstArguments(cx, b, o, t)) return fail;
  // A child one side added or dropped (`export`, `async`, a return type, type arguments): the
  // slots no longer line up, and the node is merged token by token instead.
  const byTokens = (): Outcome => mergeTokens(cx, b, o, t, options) ?? fail;
  if (bs.length !== os.length || bs.length !== tsl.length) return byTokens();
  const parts: string[] = [];
  const conflicts: Conflict[] = [];
  let [bp, op, tp] = options.bodyOnly === true ? [b.getStart(cx.base.sf), o.getStart(cx.ours.sf), t.getStart(cx.theirs.sf)] : [b.pos, o.pos, t.pos];
  for (let k = 0; k < bs.length; k += 1) {
    const bSlot = bs[k]!;
    const oSlot = os[k]!;
    const tSlot = tsl[k]!;
    if (slotShape(bSlot) !== slotShape(oSlot) || slotShape(bSlot) !== slotShape(tSlot)) return byTokens();
    const [br, or, tr] = [slotRange(bSlot), slotRange(oSlot), slotRange(tSlot)];
    const gap = mergeAtom(cx.base.text.slice(bp, br.pos), cx.ours.text.slice(op, or.pos), cx.theirs.text.slice(tp, tr.pos));
    if (gap === null) return fail;
    parts.push(gap);
    let child: Outcome;
    if (bSlot.list && oSlot.list && tSlot.list) child = mergeList(cx, { b, o, t }, [bSlot.nodes, oSlot.nodes, tSlot.nodes], path, options.depth + 1, mergeChild);
    else if (!bSlot.list && !oSlot.list && !tSlot.list) child = mergeNode(cx, bSlot.node, oSlot.node, tSlot.node, path, { tryLines: true, depth: options.depth + 1 });
    else return fail;
    if (!child.ok) return child;
    parts.push(child.text);
    conflicts.push(...child.conflicts);
    [bp, op, tp] = [br.end, or.end, tr.end];
  }
  const tail = mergeAtom(cx.base.text.slice(bp, b.end), cx.ours.text.slice(op, o.end), cx.theirs.text.slice(tp, t.end));
  if (tail === null) return fail;
  parts.push(tail);
  return ok(parts.join(''), conflicts);
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
 * A rename of the type throughout the file is a sweep and is carried before this is asked.
 */
function renamedAgainstArguments(cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node): boolean {
  if (!ts.isTypeReferenceNode(b) || !ts.isTypeReferenceNode(o) || !ts.isTypeReferenceNode(t)) return false;
  const name = (version: Version, node: ts.TypeReferenceNode): string => identText(version, node.typeName);
  const args = (version: Version, node: ts.TypeReferenceNode): string => (node.typeArguments ?? []).map((a) => identText(version, a)).join(',');
  const [bn, on, tn] = [name(cx.base, b), name(cx.ours, o), name(cx.theirs, t)];
  const [ba, oa, ta] = [args(cx.base, b), args(cx.ours, o), args(cx.theirs, t)];
  return (on !== bn && ta !== ba) || (tn !== bn && oa !== ba);
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
 * of the declaration are two changes, not one. Null when the trivia does not differ, lies inside
 * the first child (whose own merge splits it), or conflicts.
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
  if (!ownsTrivia) return null;
  const lead = mergeTrivia(cx, leads[0]!, leads[1]!, leads[2]!);
  if (lead === null) return null;
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

