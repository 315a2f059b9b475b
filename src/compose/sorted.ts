/**
 * Lists people keep sorted (imports, specifiers, object keys, union members, cases) stay sorted
 * after the list merge (list.ts): both sides' insertions at one point go to their sorted places,
 * and a list all three versions keep sorted is sorted again after the merge.
 */
import { ts } from 'ts-morph';
import { elementsFor } from './list-state.js';
import type { ListState, Piece } from './list-state.js';

/** Keys in order, compared the way people sort names: case-insensitively. */
function isSortedByKey(keys: readonly (string | null)[]): boolean {
  if (keys.length < 2 || keys.some((k) => k === null)) return false;
  for (let i = 1; i < keys.length; i += 1) if (compareKeys(keys[i - 1]!, keys[i]!) > 0) return false;
  return true;
}

/** Names compared the way people sort them: case-insensitively. */
export function compareKeys(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A list both sides keep sorted (dependencies, import names) stays sorted after the merge. */
export function keepSorted(st: ListState, pieces: Piece[], unordered: boolean): Piece[] {
  if (!unordered) return pieces;
  const sorted = [st.base, st.ours, st.theirs].every((list) => list.length < 2 || isSortedByKey(list.map((e) => e.key)));
  if (!sorted || st.ours.length + st.theirs.length < 4) return pieces;
  if (pieces.some((p) => p.kind !== 'text' || p.key === null)) return pieces;
  const keyOf = (p: Piece): string => (p.kind === 'text' ? (p.key ?? '') : '');
  return [...pieces].sort((p, q) => compareKeys(keyOf(p), keyOf(q)));
}

/**
 * The family of a key (`import`, `spec`, `prop`, `type`, `case`...) and the name it is sorted by:
 * quotes dropped, so `import:'./b'` sorts as `./b`.
 */
function sortName(key: string): { family: string; name: string } {
  const at = key.indexOf(':');
  return { family: key.slice(0, at), name: key.slice(at + 1).replace(/#\d+$/, '').replace(/['"`]/g, '') };
}

/** Sorted-insertion order: numbers by value (`case 2` before `case 10`), other names as compareKeys does. */
function compareNames(a: string, b: string): number {
  if (/^\d+(\.\d+)?$/.test(a) && /^\d+(\.\d+)?$/.test(b)) return Number(a) - Number(b);
  return compareKeys(a, b);
}

/** Families whose elements people keep sorted: imports, named specifiers, object keys, enum and union members, cases. */
const sortableFamilies: ReadonlySet<string> = new Set(['import', 'spec', 'prop', 'member', 'type', 'case']);

/** A switch case that cannot fall through into the next one (moving it changes nothing). */
function endsItsCase(node: ts.Node): boolean {
  if (!ts.isCaseClause(node)) return true;
  let last: ts.Node | undefined = node.statements[node.statements.length - 1];
  while (last !== undefined && ts.isBlock(last)) last = last.statements[last.statements.length - 1];
  return last !== undefined && (ts.isReturnStatement(last) || ts.isThrowStatement(last) || ts.isBreakStatement(last) || ts.isContinueStatement(last));
}

/**
 * Both sides' insertions at one point, in sorted position, when the elements around that point are
 * sorted: the base elements of one family (imports, specifiers, keys, union members, cases) right
 * before and after the point, at least two of them, in order by compareNames, and every inserted
 * element of that family and between its neighbours. Null when that does not hold: the usual rule
 * (ours first) applies.
 */
export function sortedInsertions(st: ListState, ours: Piece[], theirs: Piece[], anchor: number): Piece[] | null {
  const inserted = [...ours, ...theirs];
  const names: string[] = [];
  let family: string | null = null;
  for (const p of inserted) {
    if (p.kind !== 'text' || p.key === null || p.side === 'base') return null;
    const sorted = sortName(p.key);
    if (family !== null && sorted.family !== family) return null;
    family = sorted.family;
    names.push(sorted.name);
    if (!endsItsCase(elementsFor(st, p.side)[p.index]!.node)) return null;
  }
  if (family === null || !sortableFamilies.has(family)) return null;
  const inFamily = (i: number): boolean => {
    const key = st.base[i]?.key;
    return key !== null && key !== undefined && sortName(key).family === family;
  };
  const kept = (i: number): boolean => st.matchOurs.baseToSide[i] !== -1 && st.matchTheirs.baseToSide[i] !== -1;
  const around: string[] = [];
  for (let i = anchor; i >= 0 && inFamily(i); i -= 1) around.unshift(sortName(st.base[i]!.key!).name);
  const before = around.length;
  let next = anchor + 1;
  while (next < st.base.length && !kept(next)) next += 1;
  for (let i = next; i < st.base.length && inFamily(i); i += 1) around.push(sortName(st.base[i]!.key!).name);
  if (around.length < 2 || !around.every((name, i) => i === 0 || compareNames(around[i - 1]!, name) <= 0)) return null;
  const low = around[before - 1];
  const high = around[before];
  if (names.some((name) => (low !== undefined && compareNames(low, name) > 0) || (high !== undefined && compareNames(name, high) > 0))) return null;
  // A stable sort: equal names keep ours first.
  const order = inserted.map((piece, k) => ({ piece, name: names[k]!, k }));
  order.sort((x, y) => compareNames(x.name, y.name) || x.k - y.k);
  return order.map((entry) => entry.piece);
}
