/**
 * Code that one side moved into a new wrapper (a function body into a callback, a class into a
 * namespace) while the other side edited it. In the list both sides share, the mover's side seems
 * to remove the moved elements and insert the wrapper; the editor's side changed one of them: a
 * remove/modify conflict. When the moved text is the base text exactly, modulo indentation, the
 * edit can follow it: the editor's version of the element replaces the base text inside the
 * wrapper, re-indented to its new place. followMoves is the rule the list merge (list.ts)
 * applies; the text helpers before it find the moved block in the wrapper and replace it.
 */
import { ts } from 'ts-morph';
import { assert } from '../core/errors.js';
import type { Version } from './syntax.js';
import { elementPath } from './matching.js';
import type { Element, Side } from './matching.js';
import type { ListState, Piece } from './list-state.js';

/** The longest element (lines) looked for inside a wrapper: bounds the search. */
const movedLinesMax = 400;

/** A text's lines with their leading whitespace removed. */
function trimmedLines(text: string): string[] {
  return text.split('\n').map((line) => line.trim());
}

function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/**
 * Where the base element's text (`moved`, from its first token to its end) occurs in `host` as
 * whole lines, modulo indentation: the index of its first line, or null when it occurs there not
 * exactly once or not at all.
 */
function findMovedBlock(host: string, moved: string): number | null {
  const want = trimmedLines(moved);
  if (want.length > movedLinesMax || want[0] === '' || want.length === 0) return null;
  const lines = trimmedLines(host);
  let found: number | null = null;
  for (let i = 0; i + want.length <= lines.length; i += 1) {
    if (lines[i] !== want[0]) continue;
    if (!want.every((line, k) => lines[i + k] === line)) continue;
    if (found !== null) return null;
    found = i;
  }
  return found;
}

/**
 * `host` with the block of `movedLineCount` lines at `at` replaced by `edited` (the editor's text
 * of the element, from its first token, whose first line stood at column `editedColumn`),
 * re-indented so that its first line takes the block's indentation.
 */
function replaceMovedBlock(host: string, at: number, movedLineCount: number, edited: string, editedColumn: number): string {
  const lines = host.split('\n');
  assert(at >= 0 && at + movedLineCount <= lines.length, 'replaceMovedBlock: the block lies in the host');
  assert(movedLineCount > 0, 'replaceMovedBlock: a block has lines');
  const indent = indentOf(lines[at]!);
  const delta = indent.length - editedColumn;
  const reindent = (line: string, k: number): string => {
    if (k === 0) return indent + line;
    if (line.trim() === '') return '';
    if (delta >= 0) return ' '.repeat(delta) + line;
    const strip = Math.min(-delta, indentOf(line).length);
    return line.slice(strip);
  };
  const replaced = edited.split('\n').map(reindent);
  return [...lines.slice(0, at), ...replaced, ...lines.slice(at + movedLineCount)].join('\n');
}

/**
 * Elements the mover removed from this list and put, unchanged modulo indentation, inside one of
 * its new elements (a wrapper), and that the other side edited: the edit is applied inside the
 * wrapper. Only when the editor inserted nothing in this list (an insertion next to
 * moved code would be placed outside the wrapper) and each moved text occurs once in the mover's
 * new elements; otherwise the remove/modify conflict stands.
 */
export function followMoves(st: ListState, mover: Side, dropped: Map<string, Piece | null>): void {
  const editor: Side = mover === 'ours' ? 'theirs' : 'ours';
  const [moverMatch, editorMatch] = mover === 'ours' ? [st.matchOurs, st.matchTheirs] : [st.matchTheirs, st.matchOurs];
  if (editorMatch.sideToBase.some((b) => b === -1)) return;
  // A wrapper is new, or a base element only the mover changed (`return rows` became
  // `return withRetry(() => { ... })`: the two statements pair by kind).
  const isWrapper = (e: Element): boolean => {
    const b = moverMatch.sideToBase[e.index]!;
    if (b === -1) return !dropped.has(`${mover}:${e.index}`);
    const kept = editorMatch.baseToSide[b]!;
    return kept !== -1 && st.base[b]!.ident !== e.ident && st[editor][kept]!.ident === st.base[b]!.ident;
  };
  const wrappers = st[mover].filter(isWrapper);
  if (wrappers.length === 0) return;
  const texts = new Map(wrappers.map((w) => [w.index, w.unit]));
  const absorbed: string[] = [];
  const notes: string[] = [];
  for (let b = 0; b < st.base.length; b += 1) {
    if (moverMatch.baseToSide[b] !== -1 || editorMatch.baseToSide[b] === -1) continue;
    const baseElement = st.base[b]!;
    const edited = st[editor][editorMatch.baseToSide[b]!]!;
    if (edited.ident === baseElement.ident) continue;
    const movedText = st.cx.base.text.slice(baseElement.node.getStart(st.cx.base.sf), baseElement.node.end);
    const hits = wrappers.flatMap((w) => {
      const at = findMovedBlock(texts.get(w.index)!, movedText);
      return at === null ? [] : [{ w, at }];
    });
    if (hits.length !== 1) return;
    const { w, at } = hits[0]!;
    assert(moverMatch.sideToBase[w.index] !== b, 'followMoves: a wrapper is not the moved element itself');
    if (!movedIntoBody(st.cx[mover], w.node, baseElement.node.kind, movedText)) return;
    const version = st.cx[editor];
    const start = edited.node.getStart(version.sf);
    const column = start - (version.text.lastIndexOf('\n', start - 1) + 1);
    assert(column >= 0, 'followMoves: a column is not negative');
    texts.set(w.index, replaceMovedBlock(texts.get(w.index)!, at, movedText.split('\n').length, version.text.slice(start, edited.node.end), column));
    absorbed.push(`${editor}:${edited.index}`);
    notes.push(`${elementPath(st.path, baseElement)}: moved by ${mover} into a new element; the edit of ${editor} applied there`);
  }
  st.cx.notes?.push(...notes);
  for (const w of wrappers) {
    const text = texts.get(w.index)!;
    if (text === w.unit) continue;
    if (moverMatch.sideToBase[w.index] === -1) dropped.set(`${mover}:${w.index}`, { kind: 'text', text, ident: w.ident, key: w.key, side: 'base', index: -1 });
    else st.replaced.set(`${mover}:${w.index}`, text);
  }
  for (const key of absorbed) st.absorbed.add(key);
}

/**
 * True when the wrapper holds the moved element (a node of its kind with its text, modulo
 * indentation) directly in the body of a function, class or namespace: code moved into a
 * callback or another class. Code moved into one branch of a new `if` is not followed: the other
 * branch is often the other side's version of it, and the edit belongs to one of them only.
 */
function movedIntoBody(version: Version, wrapper: ts.Node, kind: ts.SyntaxKind, movedText: string): boolean {
  const want = movedText.split('\n').map((line) => line.trim()).join('\n');
  let fits = 0;
  let found = 0;
  const visit = (node: ts.Node, parent: ts.Node): void => {
    if (node.kind === kind) {
      const text = version.text.slice(node.getStart(version.sf), node.end).split('\n').map((line) => line.trim()).join('\n');
      if (text === want) {
        found += 1;
        const owner = ts.isBlock(parent) ? (parentOf.get(parent) ?? null) : parent;
        if (owner !== null && ((ts.isBlock(parent) && ts.isFunctionLike(owner)) || ts.isClassLike(parent) || ts.isModuleBlock(parent))) fits += 1;
        return;
      }
    }
    parentOf.set(node, parent);
    ts.forEachChild(node, (child) => visit(child, node));
  };
  const parentOf = new Map<ts.Node, ts.Node>();
  ts.forEachChild(wrapper, (child) => visit(child, wrapper));
  return found === 1 && fits === 1;
}
