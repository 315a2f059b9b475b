/**
 * Declaration diff: two segmented versions of one file -> declaration-level ACUs.
 *
 * Per container, children are matched by key. A key only before is a `remove`; only after, an
 * `add` anchored on its preceding sibling. Keys on both sides keep their relative order along a
 * longest increasing subsequence; the others are `move`s. A container whose head or tail changed
 * (or that moved) yields a shell ACU, and its members are compared recursively. Applying the ACUs
 * to the before text reproduces the after text exactly (see apply-text.ts, and docs/acu-format.md
 * for why anchored insertion in after order restores the order).
 */
import { assert } from '../core/errors.js';
import type { AcuFlag, AcuOp, DeclAcu, DeclKind } from '../core/acu/model.js';
import { longestIncreasingSubsequence } from './line-diff.js';
import { namesOfMany } from './names.js';
import type { NamesRequest } from './names.js';
import type { Segment, SegmentedFile } from './segment.js';
import { ts } from 'ts-morph';

/** Extract the declaration-level ACUs that turn `before` into `after` (both parsed). */
export function diffDeclarations(file: string, before: SegmentedFile, after: SegmentedFile): DeclAcu[] {
  assert(before.parsed, 'diffDeclarations: before does not parse');
  assert(after.parsed, 'diffDeclarations: after does not parse');
  const cx: DiffContext = { file, before, after, out: [], names: [] };
  const headB = shell(before.text, before.root);
  const headA = shell(after.text, after.root);
  if (headB.head !== headA.head || headB.tail !== headA.tail) {
    cx.out.push(declAcu(cx, { symbol: '', segment: after.root, op: 'modify', anchor: null, shellOf: { before: headB, after: headA }, beforeSeg: before.root, parentKind: 'module' }));
  }
  diffChildren(cx, '', before.root, after.root);
  // Names last, all at once: declarations without a syntax tree are parsed in one batch.
  const names = namesOfMany(cx.names);
  return cx.out.map((acu, i) => ({ ...acu, defines: names[i]!.defines, uses: names[i]!.uses }));
}

interface DiffContext {
  readonly file: string;
  readonly before: SegmentedFile;
  readonly after: SegmentedFile;
  readonly out: DeclAcu[];
  /** One names request per ACU of `out`, same order. */
  readonly names: NamesRequest[];
}

interface Shell {
  readonly head: string;
  readonly tail: string;
}

function shell(text: string, segment: Segment): Shell {
  const layout = segment.layout;
  assert(layout !== null, 'shell: not a container');
  return { head: text.slice(segment.start, layout.headEnd), tail: text.slice(layout.tailStart, segment.end) };
}

function childSymbol(parent: string, key: string): string {
  return parent === '' ? key : `${parent}/${key}`;
}

function diffChildren(cx: DiffContext, symbol: string, before: Segment, after: Segment): void {
  const beforeChildren = before.layout?.children ?? [];
  const afterChildren = after.layout?.children ?? [];
  const beforeByKey = new Map(beforeChildren.map((child, index) => [child.key, { child, index }]));
  const afterKeys = new Set(afterChildren.map((child) => child.key));
  for (const child of beforeChildren) {
    if (!afterKeys.has(child.key)) {
      cx.out.push(declAcu(cx, { symbol: childSymbol(symbol, child.key), segment: child, op: 'remove', anchor: null, shellOf: null, beforeSeg: child, parentKind: before.kind }));
    }
  }
  const common = afterChildren.filter((child) => beforeByKey.has(child.key));
  const stable = stableKeys(common.map((child) => beforeByKey.get(child.key)!.index), common);
  for (let i = 0; i < afterChildren.length; i += 1) {
    const child = afterChildren[i]!;
    const anchor = i === 0 ? null : childSymbol(symbol, afterChildren[i - 1]!.key);
    const match = beforeByKey.get(child.key);
    const path = childSymbol(symbol, child.key);
    if (match === undefined) {
      cx.out.push(declAcu(cx, { symbol: path, segment: child, op: 'add', anchor, shellOf: null, beforeSeg: null, parentKind: after.kind }));
    } else {
      diffMatched(cx, path, match.child, child, { moved: !stable.has(child.key), anchor, parentKind: after.kind });
    }
  }
}

/** Keys on the longest increasing subsequence of before-positions keep their place. */
function stableKeys(positions: readonly number[], common: readonly Segment[]): Set<string> {
  const kept = longestIncreasingSubsequence(positions);
  return new Set(kept.map((index) => common[index]!.key));
}

/** A declaration on both sides: unchanged, modified, moved, or a container to recurse into. */
function diffMatched(
  cx: DiffContext,
  symbol: string,
  before: Segment,
  after: Segment,
  place: { moved: boolean; anchor: string | null; parentKind: DeclKind },
): void {
  const { moved, anchor, parentKind } = place;
  if (before.layout !== null && after.layout !== null) {
    const shellB = shell(cx.before.text, before);
    const shellA = shell(cx.after.text, after);
    if (moved || shellB.head !== shellA.head || shellB.tail !== shellA.tail) {
      cx.out.push(declAcu(cx, { symbol, segment: after, op: moved ? 'move' : 'modify', anchor, shellOf: { before: shellB, after: shellA }, beforeSeg: before, parentKind }));
    }
    diffChildren(cx, symbol, before, after);
    return;
  }
  const textB = cx.before.text.slice(before.start, before.end);
  const textA = cx.after.text.slice(after.start, after.end);
  if (moved || textB !== textA) {
    cx.out.push(declAcu(cx, { symbol, segment: after, op: moved ? 'move' : 'modify', anchor, shellOf: null, beforeSeg: before, parentKind }));
  }
}

interface AcuSpec {
  readonly symbol: string;
  /** The after segment (the before one for `remove`). */
  readonly segment: Segment;
  readonly op: AcuOp;
  readonly anchor: string | null;
  readonly shellOf: { before: Shell; after: Shell } | null;
  readonly beforeSeg: Segment | null;
  /** The kind of the container the declaration sits in. */
  readonly parentKind: DeclKind;
}

function declAcu(cx: DiffContext, spec: AcuSpec): DeclAcu {
  const { segment, op, shellOf } = spec;
  const beforeText = spec.beforeSeg === null ? null : cx.before.text.slice(spec.beforeSeg.start, spec.beforeSeg.end);
  const afterText = op === 'remove' ? null : cx.after.text.slice(segment.start, segment.end);
  const before = shellOf !== null ? shellOf.before.head : beforeText;
  const after = shellOf !== null ? shellOf.after.head : afterText;
  const file = op === 'remove' ? cx.before : cx.after;
  const shell = shellOf !== null ? (op === 'remove' ? shellOf.before : shellOf.after) : null;
  cx.names.push({ segment, file, context: { parent: spec.parentKind, shell } });
  const flags: AcuFlag[] = [];
  // A shell's own change is its head and tail; its members change through ACUs of their own.
  const ownBefore = shellOf !== null ? shellOf.before.head + shellOf.before.tail : beforeText;
  const ownAfter = shellOf !== null ? shellOf.after.head + shellOf.after.tail : afterText;
  if (op === 'modify' && formatOnly(ownBefore, ownAfter, cx)) flags.push('format-only');
  return {
    v: 1,
    level: 'decl',
    file: cx.file,
    symbol: spec.symbol,
    kind: segment.kind,
    op,
    before,
    after,
    beforeTail: shellOf?.before.tail ?? null,
    afterTail: shellOf?.after.tail ?? null,
    anchor: op === 'add' || op === 'move' ? spec.anchor : null,
    // Filled in by diffDeclarations once every ACU of the file is known.
    defines: [],
    uses: [],
    flags,
  };
}

/**
 * True when two texts hold the same tokens and comments, differing only in whitespace between
 * tokens. Conservative: the scanner reads a slice without its context, so it cannot tell a regular
 * expression from a division, a template's text from code, or JSX text from tokens; where any of
 * those could hold the changed whitespace, the change is not called format-only.
 */
function formatOnly(before: string | null, after: string | null, cx: DiffContext): boolean {
  if (before === null || after === null || before === after) return false;
  // Cheap refusal first: texts that differ outside whitespace cannot be format-only.
  if (!sameOutsideWhitespace(before, after)) return false;
  const variant = cx.after.variant;
  if (mayHideWhitespace(before, variant) || mayHideWhitespace(after, variant)) return false;
  return sameTokens(before, after, variant);
}

/**
 * Whether two texts are equal once every `\s` (JavaScript's white space and line terminators) is
 * taken out: `a.replace(/\s+/g, '') === b.replace(/\s+/g, '')` without copying either text, and
 * stopping at the first difference (a test compares the two on random texts).
 */
export function sameOutsideWhitespace(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isRegExpSpace(a.charCodeAt(i))) i += 1;
    while (j < b.length && isRegExpSpace(b.charCodeAt(j))) j += 1;
    if (i === a.length || j === b.length) return i === a.length && j === b.length;
    if (a.charCodeAt(i) !== b.charCodeAt(j)) return false;
    i += 1;
    j += 1;
  }
}

/** The code units `\s` matches: ECMAScript's WhiteSpace and LineTerminator. */
function isRegExpSpace(code: number): boolean {
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true;
  if (code < 0xa0) return false;
  return code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 ||
    code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff;
}

/** Whether text outside comments holds a `/`, a backtick, or (in JSX) a `<`. */
function mayHideWhitespace(text: string, variant: ts.LanguageVariant): boolean {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, variant, text);
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (token === ts.SyntaxKind.SingleLineCommentTrivia || token === ts.SyntaxKind.MultiLineCommentTrivia) continue;
    if (token === ts.SyntaxKind.StringLiteral) continue;
    const tokenText = scanner.getTokenText();
    if (tokenText.includes('/') || tokenText.includes('`')) return true;
    if (variant === ts.LanguageVariant.JSX && tokenText.includes('<')) return true;
  }
  return false;
}

function tokens(text: string, variant: ts.LanguageVariant): string[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, variant, text);
  const out: string[] = [];
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (token === ts.SyntaxKind.WhitespaceTrivia || token === ts.SyntaxKind.NewLineTrivia) continue;
    out.push(scanner.getTokenText().trimEnd());
  }
  return out;
}

/** Token-stream equality (comments included, whitespace ignored). */
export function sameTokens(a: string, b: string, variant: ts.LanguageVariant = ts.LanguageVariant.Standard): boolean {
  const ta = tokens(a, variant);
  const tb = tokens(b, variant);
  return ta.length === tb.length && ta.every((token, i) => token === tb[i]);
}
