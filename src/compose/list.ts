/**
 * The merge of one list of child nodes (statements, members, properties, specifiers, arguments)
 * inside the structured merge (structured.ts). Elements are matched to base (matching.ts);
 * elements both sides kept are merged as nodes; additions follow their anchor (the preceding
 * element both sides kept), ours before theirs. In unordered lists (members, properties, imports)
 * both sides' additions are kept; in ordered lists (statements, arguments) two insertions at one
 * point conflict unless one contains the other. Import declarations (imports.ts), code moved into
 * a wrapper (moved.ts) and sorted lists (sorted.ts) have rules of their own. A conflict is
 * rendered with git's markers around the list element.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import { defaultMarkers } from './diff3.js';
import type { MarkerStyle } from './diff3.js';
import { defaultSeparator, isSequenceParent, isUnorderedParent } from './syntax.js';
import type { Version } from './syntax.js';
import { differsOnlyInLayout, differsOnlyInTypes, sameComments } from './typeonly.js';
import { followMoves } from './moved.js';
import { absorbedImport, mergeTypeOnlyImports, onlyDropsNames, unionOfSpecifiers } from './imports.js';
import { mergeAtom, ok } from './outcome.js';
import type { Conflict, ConflictKind, MergeContext, Outcome } from './outcome.js';
import { elementPath, elementsOf, isReordered, matchElements } from './matching.js';
import type { Element, Side } from './matching.js';
import { elementsFor } from './list-state.js';
import type { ElementMerge, ListState, Piece } from './list-state.js';
import { keepSorted, sortedInsertions } from './sorted.js';
import { independentRuns } from './independent.js';

type NodeList = ts.NodeArray<ts.Node>;
type Lists = [NodeList, NodeList, NodeList];

/**
 * Merge the three versions of one list of children of `parents`, `depth` levels down; each element
 * both sides kept is merged by `mergeChild` (the node merge).
 */
export function mergeList(cx: MergeContext, parents: { b: ts.Node; o: ts.Node; t: ts.Node }, lists: Lists, path: string, depth: number, mergeChild: ElementMerge): Outcome {
  const [bl, ol, tl] = lists;
  const bt = cx.base.text.slice(bl.pos, bl.end);
  const ot = cx.ours.text.slice(ol.pos, ol.end);
  const tt = cx.theirs.text.slice(tl.pos, tl.end);
  if (ot === bt || ot === tt) return ok(tt);
  if (tt === bt) return ok(ot);
  const base = elementsOf(cx.base, bl, parents.b);
  const ours = elementsOf(cx.ours, ol, parents.o);
  const theirs = elementsOf(cx.theirs, tl, parents.t);
  const st: ListState = { cx, path, depth, mergeChild, base, ours, theirs, matchOurs: matchElements(base, ours), matchTheirs: matchElements(base, theirs), conflicts: [], moduleLevel: ts.isSourceFile(parents.b) || ts.isModuleBlock(parents.b), sequence: isSequenceParent(parents.b), block: ts.isBlock(parents.b), typeMembers: ts.isUnionTypeNode(parents.b) || ts.isIntersectionTypeNode(parents.b), separator: observedSeparator([ours, base, theirs]) ?? defaultSeparator(parents.b), absorbed: new Set(), replaced: new Map() };
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
  const outcome = st.mergeChild(st.cx, base.node, o.node, t.node, path, st.depth + 1);
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
  // their meaning, unless neither run can observe the other (independent.ts).
  if (st.sequence) return [...ours, ...theirs];
  if (st.block && independentRuns(runStatements(st, 'ours', ours), runStatements(st, 'theirs', theirs))) return [...ours, ...theirs];
  const join = (run: Piece[]): string => run.map((p) => (p.kind === 'text' ? p.text : '')).join(st.separator);
  const conflict: Conflict = { path: st.path, kind: 'insert/insert', base: null, ours: join(ours), theirs: join(theirs) };
  return [{ kind: 'conflict', ours: conflict.ours ?? '', theirs: conflict.theirs ?? '', conflict }];
}

/** A run of one side's inserted statements, as that side's nodes (none when one is not the side's own). */
function runStatements(st: ListState, side: Side, run: readonly Piece[]): { version: Version; statements: ts.Node[] } {
  const statements = run.flatMap((p) => (p.kind === 'text' && p.side === side && p.index >= 0 ? [st[side][p.index]!.node] : []));
  return { version: st.cx[side], statements: statements.length === run.length ? statements : [] };
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
