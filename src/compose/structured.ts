/**
 * The structured three-way merge: walks the syntax trees of base, ours and theirs together and
 * merges what the line merge could not.
 *
 * Every node's text is the concatenation of its slots (child nodes and child lists, leading trivia
 * included) and the gaps between them (punctuation, keywords). A node both sides changed is first
 * merged by lines (two edits to different lines still merge, as git would); when that conflicts,
 * slot by slot: gaps as atoms, child nodes recursively, child lists element by element. List
 * elements are matched by key (their name) or, for anonymous ones, by identical tokens and then by
 * position and kind. Additions follow their anchor (the preceding element), ours before theirs.
 * In unordered lists (members, properties, imports) both sides' additions are kept; in ordered
 * lists (statements, arguments) two insertions at one point conflict unless one contains the
 * other. A conflict is rendered with git's markers around the smallest enclosing list element.
 *
 * The merge never invents text: every byte of the result comes from one of the three versions or
 * is a separator those versions use.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import { defaultMarkers, innerEditLengthMax, mergeLines } from './diff3.js';
import type { MarkerStyle } from './diff3.js';
import { defaultSeparator, identText, isSequenceParent, isUnorderedParent, slotRange, slotShape, slotsOf } from './syntax.js';
import type { Version } from './syntax.js';
import { differsOnlyInLayout, differsOnlyInTypes, sameComments } from './typeonly.js';
import { followMoves } from './moved.js';
import { mergeHeaderAndBody } from './header-body.js';
import { absorbedImport, mergeTypeOnlyImports, onlyDropsNames, unionOfSpecifiers } from './imports.js';
import { mergeAtom, ok } from './outcome.js';
import type { Conflict, ConflictKind, MergeContext, Outcome } from './outcome.js';
import { elementPath, elementsOf, isReordered, matchElements } from './matching.js';
import type { Element, Side } from './matching.js';
import { elementsFor } from './list-state.js';
import { keepSorted, sortedInsertions } from './sorted.js';
import type { ListState, Piece } from './list-state.js';

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
    if (bSlot.list && oSlot.list && tSlot.list) child = mergeList(cx, { b, o, t }, [bSlot.nodes, oSlot.nodes, tSlot.nodes], path, options.depth + 1);
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

type NodeList = ts.NodeArray<ts.Node>;
type Lists = [NodeList, NodeList, NodeList];

function mergeList(cx: MergeContext, parents: { b: ts.Node; o: ts.Node; t: ts.Node }, lists: Lists, path: string, depth: number): Outcome {
  const [bl, ol, tl] = lists;
  const bt = cx.base.text.slice(bl.pos, bl.end);
  const ot = cx.ours.text.slice(ol.pos, ol.end);
  const tt = cx.theirs.text.slice(tl.pos, tl.end);
  if (ot === bt || ot === tt) return ok(tt);
  if (tt === bt) return ok(ot);
  const base = elementsOf(cx.base, bl, parents.b);
  const ours = elementsOf(cx.ours, ol, parents.o);
  const theirs = elementsOf(cx.theirs, tl, parents.t);
  const st: ListState = { cx, path, depth, base, ours, theirs, matchOurs: matchElements(base, ours), matchTheirs: matchElements(base, theirs), conflicts: [], moduleLevel: ts.isSourceFile(parents.b) || ts.isModuleBlock(parents.b), sequence: isSequenceParent(parents.b), typeMembers: ts.isUnionTypeNode(parents.b) || ts.isIntersectionTypeNode(parents.b), separator: observedSeparator([ours, base, theirs]) ?? defaultSeparator(parents.b), absorbed: new Set(), replaced: new Map() };
  const fail: Outcome = { ok: false, conflict: { path, kind: 'modify/modify', base: bt, ours: ot, theirs: tt } };
  const unordered = isUnorderedParent(parents.b);
  const reorderedOurs = isReordered(st.matchOurs.sideToBase);
  const reorderedTheirs = isReordered(st.matchTheirs.sideToBase);
  if (reorderedOurs && reorderedTheirs && !unordered) return fail;
  const primary: Side = reorderedTheirs && !reorderedOurs ? 'theirs' : 'ours';
  const pieces = orderPieces(st, primary, unordered);
  if (pieces === null) return fail;
  const edges = {
    lead: mergeAtom(...noVoteAsBase(leadOf(cx.base, bl), leadOf(cx.ours, ol), leadOf(cx.theirs, tl))),
    trail: mergeTrail(trailOf(cx.base, bl), trailOf(cx.ours, ol), trailOf(cx.theirs, tl)),
  };
  if (edges.lead === null) return fail;
  // A list left without elements keeps no separator (`{,}` would not parse): its text is what an
  // emptied side left there.
  if (pieces.length === 0) return ok([ot, tt, bt].find((_, k) => [ol, tl, bl][k]!.length === 0) ?? '', st.conflicts);
  const text = edges.lead + renderPieces(st, pieces, st.separator) + edges.trail;
  return ok(text, st.conflicts);
}

/** The text before a list's first element; null for an empty list: no opinion. */
function leadOf(version: Version, list: Lists[number]): string | null {
  const first = list[0];
  return first === undefined ? null : version.text.slice(list.pos, first.pos);
}

/** Three versions of an edge text where null (an emptied list) counts as unchanged from base. */
function noVoteAsBase(b: string | null, o: string | null, t: string | null): [string, string, string] {
  const base = b ?? o ?? t ?? '';
  return [base, o ?? base, t ?? base];
}

/** The text after a list's last element (a trailing comma); null for an empty list: no opinion. */
function trailOf(version: Version, list: Lists[number]): string | null {
  const last = list[list.length - 1];
  return last === undefined ? null : version.text.slice(last.end, list.end);
}

/** Merge trailing separators; a side whose list became empty does not vote, ours wins a tie. */
function mergeTrail(b: string | null, o: string | null, t: string | null): string {
  const [base, ours, theirs] = noVoteAsBase(b, o, t);
  return mergeAtom(base, ours, theirs) ?? ours;
}

function observedSeparator(lists: readonly (readonly Element[])[]): string | null {
  for (const elements of lists) {
    const first = elements[0]?.sepAfter;
    if (first !== undefined && first !== null) return first.includes('\n') ? first.trim() : first;
  }
  return null;
}

/**
 * The merged list's pieces in order: the primary side's order (ours, unless only theirs reordered
 * elements), each side's insertions after their anchor (ours first), deletions honoured.
 */
function orderPieces(st: ListState, primary: Side, unordered: boolean): Piece[] | null {
  const secondary: Side = primary === 'ours' ? 'theirs' : 'ours';
  const runs = { ours: new Map<number, Piece[]>(), theirs: new Map<number, Piece[]>() };
  const dropped = dedupeInsertions(st);
  for (const side of ['ours', 'theirs'] as const) mergeTypeOnlyImports(st, side, dropped);
  for (const side of ['ours', 'theirs'] as const) followMoves(st, side, dropped);
  collectRuns(st, primary, secondary, runs, dropped);
  collectRuns(st, secondary, primary, runs, dropped);
  const pieces: Piece[] = [];
  const emitRuns = (anchor: number): boolean => {
    const merged = combineRuns(st, runs.ours.get(anchor) ?? [], runs.theirs.get(anchor) ?? [], unordered, anchor);
    if (merged === null) return false;
    pieces.push(...merged);
    return true;
  };
  if (!emitRuns(-1)) return null;
  const elements = st[primary];
  const matching = primary === 'ours' ? st.matchOurs : st.matchTheirs;
  const otherMatching = primary === 'ours' ? st.matchTheirs : st.matchOurs;
  for (const e of elements) {
    const b = matching.sideToBase[e.index]!;
    // Insertions and elements the other side removed were placed by collectRuns.
    if (b === -1 || otherMatching.baseToSide[b] === -1) continue;
    const piece = mergeElement(st, b);
    if (piece !== null) pieces.push(piece);
    if (!emitRuns(b)) return null;
  }
  return keepSorted(st, pieces, unordered);
}

/** Insertions of the same key on both sides: identical ones are kept once, others conflict. */
function dedupeInsertions(st: ListState): Map<string, Piece | null> {
  const dropped = new Map<string, Piece | null>();
  const oursByKey = new Map<string, Element>();
  for (const e of st.ours) if (e.key !== null && st.matchOurs.sideToBase[e.index] === -1) oursByKey.set(e.key, e);
  for (const e of st.theirs) {
    if (e.key === null || st.matchTheirs.sideToBase[e.index] !== -1) continue;
    const mine = oursByKey.get(e.key);
    if (mine === undefined) continue;
    if (mine.ident === e.ident) {
      dropped.set(`theirs:${e.index}`, null);
      continue;
    }
    // Both sides import (or re-export) names from one module they did not use before: one
    // declaration with the names of both.
    const union = unionOfSpecifiers(st.cx, mine.node, e.node);
    if (union !== null) {
      dropped.set(`theirs:${e.index}`, null);
      dropped.set(`ours:${mine.index}`, { kind: 'text', text: mine.unit.slice(0, mine.node.getStart(st.cx.ours.sf) - mine.node.pos) + union, ident: mine.ident, key: mine.key, side: 'base', index: -1 });
      continue;
    }
    const conflict: Conflict = { path: elementPath(st.path, e), kind: 'add/add', base: null, ours: mine.unit, theirs: e.unit };
    dropped.set(`theirs:${e.index}`, null);
    dropped.set(`ours:${mine.index}`, { kind: 'conflict', ours: mine.unit, theirs: e.unit, conflict });
  }
  return dropped;
}

/**
 * One side's insertions (and its modifications of elements the other side removed), grouped by
 * anchor: the last base element before them that the other side still has... or -1 at the start.
 */
function collectRuns(st: ListState, side: Side, other: Side, runs: Record<Side, Map<number, Piece[]>>, dropped: Map<string, Piece | null>): void {
  const matching = side === 'ours' ? st.matchOurs : st.matchTheirs;
  const otherMatching = other === 'ours' ? st.matchOurs : st.matchTheirs;
  let anchor = -1;
  const push = (piece: Piece): void => {
    const run = runs[side].get(anchor) ?? [];
    run.push(piece);
    runs[side].set(anchor, run);
  };
  for (const e of st[side]) {
    const b = matching.sideToBase[e.index]!;
    if (b === -1) {
      const replacement = dropped.get(`${side}:${e.index}`);
      if (replacement !== undefined) {
        if (replacement !== null) push(replacement);
      } else if (st.moduleLevel && st.path === '' && absorbedImport(e.node, st.cx.base, st.cx[other])) {
        // Both sides added these names from one module; the other side's declaration holds them all.
        st.cx.notes?.push(`${elementPath(st.path, e)}: its names added by ${side} and by ${other}, in a larger import of the same module there: kept once, as ${other} has it`);
      } else {
        push({ kind: 'text', text: e.unit, ident: e.ident, key: e.key, side, index: e.index });
      }
      continue;
    }
    if (otherMatching.baseToSide[b] !== -1) {
      anchor = b;
      continue;
    }
    // The other side removed this element: fine if this side left it alone, or only dropped
    // names from it (an import both sides want smaller), else a conflict.
    const baseElement = st.base[b]!;
    if (baseElement.ident === e.ident) continue;
    if (onlyDropsNames(st.cx.base, baseElement.node, st.cx[side], e.node)) continue;
    if (st.absorbed.has(`${side}:${e.index}`)) continue;
    // A change of types or layout only (annotations, `import type`, comments) to an element the
    // other side removed: the removal stands; what it loses changes nothing at run time.
    if (differsOnlyInLayout(st.cx.base, baseElement.node, st.cx[side], e.node) || differsOnlyInTypes(st.cx.base, baseElement.node, st.cx[side], e.node)) {
      st.cx.notes?.push(`${elementPath(st.path, baseElement)}: removed by ${other}; ${side} changed only its types or layout, dropped with it`);
      continue;
    }
    const kind: ConflictKind = side === 'ours' ? 'modify/remove' : 'remove/modify';
    const conflict: Conflict = { path: elementPath(st.path, baseElement), kind, base: baseElement.unit, ours: side === 'ours' ? e.unit : null, theirs: side === 'theirs' ? e.unit : null };
    push({ kind: 'conflict', ours: conflict.ours ?? '', theirs: conflict.theirs ?? '', conflict });
  }
}

/** A base element both sides kept: merged recursively, or a conflict between the two versions. */
function mergeElement(st: ListState, b: number): Piece | null {
  const base = st.base[b]!;
  const o = st.ours[st.matchOurs.baseToSide[b]!]!;
  const t = st.theirs[st.matchTheirs.baseToSide[b]!]!;
  const path = elementPath(st.path, base);
  // A wrapper that received the other side's edit of code it holds (followMoves).
  for (const [side, e] of [['ours', o], ['theirs', t]] as const) {
    const wrapped = st.replaced.get(`${side}:${e.index}`);
    if (wrapped !== undefined) return { kind: 'text', text: wrapped, ident: e.ident, key: e.key, side: 'base', index: -1 };
  }
  const outcome = mergeNode(st.cx, base.node, o.node, t.node, path, { tryLines: true, depth: st.depth + 1 });
  if (outcome.ok) {
    st.conflicts.push(...outcome.conflicts);
    return { kind: 'text', text: outcome.text, ident: o.ident, key: o.key, side: 'ours', index: o.index };
  }
  // One side only re-formatted the element (same tokens, same comments): the other side's change
  // is the only one that says something; the re-formatting of this element is dropped.
  for (const [side, mine, other] of [['ours', o, t], ['theirs', t, o]] as const) {
    const otherSide: Side = side === 'ours' ? 'theirs' : 'ours';
    if (!differsOnlyInLayout(st.cx.base, base.node, st.cx[side], mine.node) || !sameComments(st.cx.base, base.node, st.cx[side], mine.node)) continue;
    st.cx.notes?.push(`${path}: ${side} changed only its layout, ${otherSide} changed it: kept as ${otherSide} has it`);
    return { kind: 'text', text: other.unit, ident: other.ident, key: other.key, side: otherSide, index: other.index };
  }
  return { kind: 'conflict', ours: o.unit, theirs: t.unit, conflict: { ...outcome.conflict, path } };
}

/**
 * Two insertions at one anchor. Unordered lists keep both (ours first) when all are named; ordered
 * ones keep one when it contains the other, and otherwise conflict.
 */
function combineRuns(st: ListState, ours: Piece[], theirs: Piece[], unordered: boolean, anchor: number): Piece[] | null {
  if (theirs.length === 0) return ours;
  if (ours.length === 0) return theirs;
  const named = (p: Piece): boolean => p.kind === 'text' && p.key !== null;
  if (ours.some((p) => p.kind === 'conflict') || theirs.some((p) => p.kind === 'conflict')) return [...ours, ...theirs];
  const replaced = st.typeMembers ? removedAfter(st, anchor) : [];
  if (replaced.length > 0) {
    // Both sides replaced the same member (`& { next: A }` by `& { next: B }` and by `& { next: C }`):
    // two versions of one operand, not two new ones; keeping both would intersect them.
    const join = (run: Piece[]): string => run.map((p) => (p.kind === 'text' ? p.text : '')).join(st.separator);
    const conflict: Conflict = { path: st.path, kind: 'modify/modify', base: replaced.join(st.separator), ours: join(ours), theirs: join(theirs) };
    return [{ kind: 'conflict', ours: conflict.ours ?? '', theirs: conflict.theirs ?? '', conflict }];
  }
  if (unordered) {
    const sorted = sortedInsertions(st, ours, theirs, anchor);
    if (sorted !== null) return sorted;
  }
  if (unordered && ours.every(named) && theirs.every(named)) return [...ours, ...theirs];
  const identOf = (run: Piece[]): string => run.map((p) => (p.kind === 'text' ? p.ident : '')).join(' ');
  const [oi, ti] = [identOf(ours), identOf(theirs)];
  if (oi.includes(ti)) return ours;
  if (ti.includes(oi)) return theirs;
  // A module's statements are declarations and registrations (tests, plugins) more than steps of
  // an algorithm: two features that each add some keep both, as their authors would.
  if (unordered && st.moduleLevel) return [...ours, ...theirs];
  // Elements of a literal sequence (array items, arguments, parameters, JSX children) that two
  // sides added at one point are two additions, as people merge them (docs/compose.md, "Why
  // sequences keep both insertions"); steps of an algorithm (statements) are not: their order is
  // their meaning.
  if (st.sequence) return [...ours, ...theirs];
  const join = (run: Piece[]): string => run.map((p) => (p.kind === 'text' ? p.text : '')).join(st.separator);
  const conflict: Conflict = { path: st.path, kind: 'insert/insert', base: null, ours: join(ours), theirs: join(theirs) };
  return [{ kind: 'conflict', ours: conflict.ours ?? '', theirs: conflict.theirs ?? '', conflict }];
}

/**
 * The base elements in the gap after `anchor` (up to the next one both sides kept) that both sides
 * removed, as text: where both sides also inserted there, each replaced them.
 */
function removedAfter(st: ListState, anchor: number): string[] {
  const removed: string[] = [];
  for (let b = anchor + 1; b < st.base.length; b += 1) {
    const [o, t] = [st.matchOurs.baseToSide[b]!, st.matchTheirs.baseToSide[b]!];
    if (o !== -1 && t !== -1) break;
    if (o === -1 && t === -1) removed.push(st.base[b]!.unit);
  }
  return removed;
}

/** Join pieces with the separators their sources used; conflicts carry their separator inside. */
function renderPieces(st: ListState, pieces: Piece[], separator: string): string {
  const out: string[] = [];
  const sepBetween = (k: number): string => {
    const prev = pieces[k - 1]!;
    const cur = pieces[k]!;
    if (prev.kind === 'text' && cur.kind === 'text' && prev.side === cur.side && cur.index === prev.index + 1) {
      return elementsFor(st, prev.side)[prev.index]?.sepAfter ?? separator;
    }
    return separator;
  };
  for (let k = 0; k < pieces.length; k += 1) {
    const piece = pieces[k]!;
    const sepBefore = k === 0 || pieces[k - 1]!.kind === 'conflict' ? '' : sepBetween(k);
    if (piece.kind === 'conflict') {
      const sepAfter = k + 1 < pieces.length ? separator : '';
      out.push(sepBefore, renderConflict(piece.ours, piece.theirs, sepAfter, st.cx.markers));
      st.conflicts.push(piece.conflict);
      continue;
    }
    out.push(sepBefore, placeText(st, piece, k));
  }
  return out.join('');
}

/** An element's text adjusted to its new place: the first element of a file has no line break before it. */
function placeText(st: ListState, piece: Piece & { kind: 'text' }, position: number): string {
  if (piece.side === 'base') return piece.text;
  const first = elementsFor(st, piece.side)[0];
  assert(first !== undefined, 'placeText: a piece comes from a non-empty list');
  if (position === 0 && piece.index > 0 && !/^\s/.test(first.unit)) return piece.text.replace(/^(?:[ \t]*\r?\n)+/, '');
  if (position > 0 && piece.index === 0 && !/^\s/.test(piece.text)) return `\n${piece.text}`;
  return piece.text;
}

/** git's markers around two alternatives, on lines of their own. */
function renderConflict(ours: string, theirs: string, sepAfter: string, markers: MarkerStyle = defaultMarkers): string {
  const lead = ours.startsWith('\n') || theirs.startsWith('\n') ? '\n' : '';
  const body = (text: string): string => {
    const stripped = text.startsWith('\n') ? text.slice(1) : text;
    return stripped === '' ? '' : `${stripped}${sepAfter}\n`;
  };
  return `${lead}${'<'.repeat(markers.size)} ${markers.ours}\n${body(ours)}${'='.repeat(markers.size)}\n${body(theirs)}${'>'.repeat(markers.size)} ${markers.theirs}`;
}

