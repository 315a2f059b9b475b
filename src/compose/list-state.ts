/**
 * The state of merging one list, shared by the list merge (list.ts) and the rules it applies
 * (imports.ts, moved.ts, sorted.ts), and the pieces a merged list is made of.
 */
import type { ts } from 'ts-morph';
import type { Conflict, MergeContext, Outcome } from './outcome.js';
import type { Element, Matching, Side } from './matching.js';

/** One piece of a merged list: an element's text, or a conflict between two alternatives. */
export type Piece =
  | { readonly kind: 'text'; readonly text: string; readonly ident: string; readonly key: string | null; readonly side: Side | 'base'; readonly index: number }
  | { readonly kind: 'conflict'; readonly ours: string; readonly theirs: string; readonly conflict: Conflict };

/**
 * Merges three versions of a list element both sides kept, `depth` levels down: the node merge
 * (structured.ts). The list merge is handed it rather than importing it: the node merge and the
 * list merge call each other, and neither module then imports the other.
 */
export type ElementMerge = (cx: MergeContext, b: ts.Node, o: ts.Node, t: ts.Node, path: string, depth: number) => Outcome;

/** One list being merged: its three versions' elements, their matchings, and what the merge has decided so far. */
export interface ListState {
  readonly cx: MergeContext;
  readonly path: string;
  readonly depth: number;
  readonly mergeChild: ElementMerge;
  readonly base: Element[];
  readonly ours: Element[];
  readonly theirs: Element[];
  readonly matchOurs: Matching;
  readonly matchTheirs: Matching;
  readonly conflicts: Conflict[];
  /** The list is a module's (or namespace's) statements. */
  readonly moduleLevel: boolean;
  /** The list is a literal sequence: array items, arguments, parameters, type arguments. */
  readonly sequence: boolean;
  /** The list is a block's statements (a function's body, a branch). */
  readonly block: boolean;
  /** The list is a union's or an intersection's members. */
  readonly typeMembers: boolean;
  /** The separator between elements that were not neighbours in any version. */
  readonly separator: string;
  /** Side elements (`ours:3`) whose change another element of the merge already holds. */
  readonly absorbed: Set<string>;
  /** Side elements (`ours:3`) whose text the merge replaced: a wrapper holding the other side's edit. */
  readonly replaced: Map<string, string>;
}

/** The elements of one version of the list. */
export function elementsFor(st: ListState, side: Side | 'base'): Element[] {
  return st[side];
}
