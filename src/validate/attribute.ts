/**
 * Attribution: which ACU a new diagnostic belongs to (the one whose declaration holds it) and
 * which ACUs caused it (those of other proposals that define, change or remove a name the
 * diagnostic refers to). Pure functions over texts, syntax trees and ACUs.
 */
import { ts } from 'ts-morph';
import type { DeclAcu, IdentifiedAcu } from '../core/acu/model.js';
import { segmentFile, walkSegments } from '../extract/segment.js';
import type { Segment } from '../extract/segment.js';

/** An ACU of the batch with its position: proposal index and batch index. */
export interface BatchAcu {
  readonly index: number;
  readonly proposal: number;
  readonly site: string;
  readonly item: IdentifiedAcu;
}

/** Segments of a text by symbol path, with the deepest one holding a position. */
export interface Outline {
  readonly bySymbol: ReadonlyMap<string, Segment>;
  symbolAt(position: number): string | null;
}

/** The outline of a source text, or null when it does not parse. */
export function outline(path: string, text: string): Outline | null {
  const segmented = segmentFile(path, text);
  if (!segmented.parsed) return null;
  const bySymbol = new Map<string, Segment>();
  walkSegments(segmented.root, (segment, symbol) => {
    if (symbol !== '') bySymbol.set(symbol, segment);
  });
  const ordered = [...bySymbol].sort(([a], [b]) => b.length - a.length);
  return {
    bySymbol,
    symbolAt: (position) => {
      // Deepest first: longer symbol paths are nested inside shorter ones.
      for (const [symbol, segment] of ordered) if (segment.start <= position && position < segment.end) return symbol;
      return null;
    },
  };
}

function isAncestorOrSelf(ancestor: string, symbol: string): boolean {
  return ancestor === symbol || symbol.startsWith(`${ancestor}/`);
}

/** The ACU whose declaration (or added file) holds `position` of `path` after composition. */
export function ownerOf(acus: readonly BatchAcu[], path: string, symbol: string | null): BatchAcu | null {
  let best: BatchAcu | null = null;
  for (const entry of acus) {
    const acu = entry.item.acu;
    if (acu.file !== path || acu.op === 'remove') continue;
    if (acu.level === 'file') {
      if (best === null && (acu.op === 'add' || acu.hunks !== null || acu.data !== null)) best = entry;
      continue;
    }
    if (symbol === null || acu.symbol === '' || !isAncestorOrSelf(acu.symbol, symbol)) continue;
    const bestSymbol = best?.item.acu.level === 'decl' ? best.item.acu.symbol : null;
    if (bestSymbol === null || acu.symbol.length > bestSymbol.length) best = entry;
  }
  return best;
}

/** Names a diagnostic refers to: identifiers in its span, the callee of a call it sits in, quoted names in its message. */
export function diagnosticNames(sf: ts.SourceFile | undefined, start: number, length: number, message: string): Set<string> {
  const names = new Set<string>();
  for (const match of message.matchAll(/'([A-Za-z_$][\w$]*)'/g)) names.add(match[1]!);
  if (sf === undefined) return names;
  const end = start + Math.max(length, 1);
  let innermostCall: ts.CallExpression | ts.NewExpression | null = null;
  const visit = (node: ts.Node): void => {
    if (node.end <= start || node.getStart(sf) >= end) return;
    if (ts.isIdentifier(node) && node.getStart(sf) >= start && node.end <= end) names.add(node.text);
    if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.getStart(sf) <= start && node.end >= end) innermostCall = node;
    ts.forEachChild(node, visit);
  };
  visit(sf);
  const call = innermostCall as ts.CallExpression | ts.NewExpression | null;
  if (call !== null) {
    const callee = call.expression;
    if (ts.isIdentifier(callee)) names.add(callee.text);
    else if (ts.isPropertyAccessExpression(callee)) names.add(callee.name.text);
  }
  return names;
}

/**
 * Identifiers of the innermost statement (or class member, or declaration) holding `start`: the
 * fallback when the diagnostic's own span names nothing another ACU changed (`const x: number =
 * f()` reports at `x` when `f`'s return type changed).
 */
export function statementNames(sf: ts.SourceFile | undefined, start: number): Set<string> {
  const names = new Set<string>();
  if (sf === undefined) return names;
  let statement: ts.Node | null = null;
  const visit = (node: ts.Node): void => {
    if (node.getStart(sf) > start || node.end <= start) return;
    const parent = node.parent as ts.Node | undefined;
    if (parent !== undefined && (ts.isBlock(parent) || ts.isSourceFile(parent) || ts.isModuleBlock(parent) || ts.isCaseClause(parent) || ts.isDefaultClause(parent) || ts.isClassLike(parent))) statement = node;
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(sf, visit);
  const collect = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) names.add(node.text);
    ts.forEachChild(node, collect);
  };
  if (statement !== null) collect(statement);
  return names;
}

/** ACUs (outside proposal `excluded`) that define, change or remove one of `names`. */
export function causesOf(acus: readonly BatchAcu[], names: ReadonlySet<string>, excluded: number | null): BatchAcu[] {
  return acus.filter((entry) => {
    if (entry.proposal === excluded) return false;
    const acu = entry.item.acu;
    if (acu.level !== 'decl' || acu.op === 'add') return false;
    return acu.defines.some((name) => names.has(name));
  });
}

/** Repository paths without extension that a diagnostic's relative module specifiers name (`Cannot find module './a.js'`). */
export function diagnosticModules(file: string, message: string): Set<string> {
  const out = new Set<string>();
  const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '';
  for (const match of message.matchAll(/'(\.{1,2}\/[^']+)'/g)) {
    const parts = dir === '' ? [] : dir.split('/');
    for (const part of match[1]!.split('/')) {
      if (part === '..') parts.pop();
      else if (part !== '.') parts.push(part);
    }
    out.add(stripExtension(parts.join('/')));
  }
  return out;
}

function stripExtension(path: string): string {
  return path.replace(/(\.d)?\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/, '');
}

/** Whole-file ACUs (outside proposal `excluded`) that remove or rename away one of `modules` (paths without extension). */
export function fileCausesOf(acus: readonly BatchAcu[], modules: ReadonlySet<string>, excluded: number | null): BatchAcu[] {
  if (modules.size === 0) return [];
  return acus.filter((entry) => {
    const acu = entry.item.acu;
    if (entry.proposal === excluded || acu.level !== 'file') return false;
    const gone = acu.op === 'remove' ? acu.file : acu.op === 'move' ? acu.fromFile : null;
    return gone !== null && modules.has(stripExtension(gone));
  });
}

/** Identifiers inside a declaration that name one of its used names, by name. */
export function usedIdentifiers(sf: ts.SourceFile, segment: Segment, acu: DeclAcu): Map<string, ts.Identifier[]> {
  const wanted = new Set(acu.uses);
  const out = new Map<string, ts.Identifier[]>();
  const visit = (node: ts.Node): void => {
    if (node.end <= segment.start || node.pos >= segment.end) return;
    if (ts.isIdentifier(node) && wanted.has(node.text) && node.getStart(sf) >= segment.start) {
      out.set(node.text, [...(out.get(node.text) ?? []), node]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}
