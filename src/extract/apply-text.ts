/**
 * Applying declaration-level ACUs to one file's text: the inverse of diff.ts.
 *
 * The parent text is segmented into a mutable tree (containers: head, children, tail). For each
 * container, top-down: removals and moves-out first, then in-place modifications, then insertions
 * (adds and moves-in) placed right after their anchors, in an order where every anchor is already
 * present. Each ACU is checked against the text it expects (`before`): a mismatch is reported as
 * a problem, never applied blindly.
 *
 * Several insertions with one anchor (only composition produces them) go in list order: the first
 * listed directly after the anchor, the next after it, and so on.
 */
import { assert } from '../core/errors.js';
import type { DeclAcu } from '../core/acu/model.js';
import { isShell, leafSegment, parentSymbol } from '../core/acu/model.js';
import type { Segment, SegmentedFile } from './segment.js';

/** Why an ACU could not be applied. */
export interface ApplyProblem {
  readonly symbol: string;
  readonly reason:
    | 'missing-container'
    | 'missing-declaration'
    | 'already-exists'
    | 'text-mismatch'
    | 'missing-anchor'
    | 'not-a-container';
  readonly detail: string;
}

/** The outcome of applying ACUs to one file. */
export type ApplyTextResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly problems: readonly ApplyProblem[] };

interface MutableNode {
  key: string;
  /** Whole text of a leaf, or of a container that is not opened (added whole). */
  text: string | null;
  head: string;
  tail: string;
  children: MutableNode[] | null;
}

/** Apply `acus` (all for this file) to the segmented parent. */
export function applyDeclAcus(parent: SegmentedFile, acus: readonly DeclAcu[]): ApplyTextResult {
  assert(parent.parsed, 'applyDeclAcus: the parent does not parse');
  const root = toMutable(parent.text, parent.root);
  const problems: ApplyProblem[] = [];
  const byParent = new Map<string, DeclAcu[]>();
  for (const acu of acus) {
    if (acu.symbol === '') {
      applyShell(root, acu, problems);
      continue;
    }
    const key = parentSymbol(acu.symbol);
    const list = byParent.get(key);
    if (list === undefined) byParent.set(key, [acu]);
    else list.push(acu);
  }
  applyContainer(root, '', byParent, problems);
  for (const symbol of byParent.keys()) {
    problems.push({ symbol, reason: 'missing-container', detail: `no container '${symbol}' to hold its members` });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, text: serialize(root) };
}

function toMutable(text: string, segment: Segment): MutableNode {
  const layout = segment.layout;
  if (layout === null) {
    return { key: segment.key, text: text.slice(segment.start, segment.end), head: '', tail: '', children: null };
  }
  return {
    key: segment.key,
    text: null,
    head: text.slice(segment.start, layout.headEnd),
    tail: text.slice(layout.tailStart, segment.end),
    children: layout.children.map((child) => toMutable(text, child)),
  };
}

/** Exact text of a node. */
export function serialize(node: MutableNode): string {
  if (node.text !== null) return node.text;
  const parts = [node.head];
  for (const child of node.children ?? []) parts.push(serialize(child));
  parts.push(node.tail);
  return parts.join('');
}

function applyShell(node: MutableNode, acu: DeclAcu, problems: ApplyProblem[]): void {
  if (node.children === null) {
    problems.push({ symbol: acu.symbol, reason: 'not-a-container', detail: 'a shell change needs an opened container' });
    return;
  }
  if (node.head !== acu.before || node.tail !== acu.beforeTail) {
    problems.push({ symbol: acu.symbol, reason: 'text-mismatch', detail: 'the head or tail differs from the expected text' });
    return;
  }
  node.head = acu.after ?? '';
  node.tail = acu.afterTail ?? '';
}

function applyContainer(node: MutableNode, symbol: string, byParent: Map<string, DeclAcu[]>, problems: ApplyProblem[]): void {
  const acus = byParent.get(symbol);
  byParent.delete(symbol);
  const children = node.children;
  if (acus !== undefined) {
    if (children === null) {
      problems.push({ symbol, reason: 'not-a-container', detail: `'${symbol}' holds no members` });
      return;
    }
    node.children = applyToChildren(children, acus, problems);
  }
  for (const child of node.children ?? []) {
    if (child.children !== null) applyContainer(child, symbol === '' ? child.key : `${symbol}/${child.key}`, byParent, problems);
  }
}

function applyToChildren(children: MutableNode[], acus: readonly DeclAcu[], problems: ApplyProblem[]): MutableNode[] {
  let list = children;
  const inserts: { node: MutableNode; anchor: string | null; symbol: string }[] = [];
  for (const acu of acus) {
    const key = leafSegment(acu.symbol);
    const index = list.findIndex((child) => child.key === key);
    const fail = (reason: ApplyProblem['reason'], detail: string): void => {
      problems.push({ symbol: acu.symbol, reason, detail });
    };
    switch (acu.op) {
      case 'add':
        if (index !== -1) fail('already-exists', 'an added declaration is already there');
        else inserts.push({ node: leaf(key, acu.after ?? ''), anchor: acu.anchor, symbol: acu.symbol });
        break;
      case 'remove':
        if (index === -1) fail('missing-declaration', 'nothing to remove');
        else if (serialize(list[index]!) !== acu.before) fail('text-mismatch', 'the removed text differs');
        else list = list.filter((_, i) => i !== index);
        break;
      case 'modify':
        if (index === -1) fail('missing-declaration', 'nothing to modify');
        else if (!rewrite(list[index]!, acu)) fail('text-mismatch', 'the text before differs');
        break;
      case 'move':
        if (index === -1) fail('missing-declaration', 'nothing to move');
        else if (!rewrite(list[index]!, acu)) fail('text-mismatch', 'the text before differs');
        else {
          inserts.push({ node: list[index]!, anchor: acu.anchor, symbol: acu.symbol });
          list = list.filter((_, i) => i !== index);
        }
        break;
    }
  }
  return insertAll(list, inserts, problems);
}

function leaf(key: string, text: string): MutableNode {
  return { key, text, head: '', tail: '', children: null };
}

/** Check a modified or moved declaration's text and replace it; false on a mismatch. */
function rewrite(node: MutableNode, acu: DeclAcu): boolean {
  if (isShell(acu)) {
    if (node.children === null || node.head !== acu.before || node.tail !== acu.beforeTail) return false;
    node.head = acu.after ?? '';
    node.tail = acu.afterTail ?? '';
    return true;
  }
  if (serialize(node) !== acu.before) return false;
  node.text = acu.after ?? '';
  node.children = null;
  node.head = '';
  node.tail = '';
  return true;
}

/**
 * Place insertions after their anchors. Each round places every insertion whose anchor is present;
 * an anchor that never appears is a problem. Insertions sharing an anchor keep their list order.
 */
function insertAll(
  list: MutableNode[],
  inserts: { node: MutableNode; anchor: string | null; symbol: string }[],
  problems: ApplyProblem[],
): MutableNode[] {
  const out = [...list];
  let pending = inserts;
  // Position after which the next insertion with a given anchor goes (grows as siblings stack up).
  const lastPlaced = new Map<string, MutableNode>();
  while (pending.length > 0) {
    const waiting: typeof pending = [];
    for (const item of pending) {
      const anchorKey = item.anchor === null ? null : leafSegment(item.anchor);
      const anchorIndex = anchorKey === null ? -1 : out.findIndex((child) => child.key === anchorKey);
      if (anchorKey !== null && anchorIndex === -1) {
        waiting.push(item);
        continue;
      }
      const stackKey = anchorKey ?? '\u0000start';
      const previous = lastPlaced.get(stackKey);
      const at = previous !== undefined ? out.indexOf(previous) + 1 : anchorIndex + 1;
      out.splice(at, 0, item.node);
      lastPlaced.set(stackKey, item.node);
    }
    if (waiting.length === pending.length) {
      for (const item of waiting) {
        problems.push({ symbol: item.symbol, reason: 'missing-anchor', detail: `anchor '${item.anchor ?? ''}' is not there` });
      }
      break;
    }
    pending = waiting;
  }
  return out;
}
