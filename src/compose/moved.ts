/**
 * Code that one side moved into a new wrapper (a function body into a callback, a class into a
 * namespace) while the other side edited it. In the list both sides share, the mover's side seems
 * to remove the moved elements and insert the wrapper; the editor's side changed one of them: a
 * remove/modify conflict. When the moved text is the base text exactly, modulo indentation, the
 * edit can follow it: the editor's version of the element replaces the base text inside the
 * wrapper, re-indented to its new place.
 */
import { assert } from '../core/errors.js';

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
export function findMovedBlock(host: string, moved: string): number | null {
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
export function replaceMovedBlock(host: string, at: number, movedLineCount: number, edited: string, editedColumn: number): string {
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
