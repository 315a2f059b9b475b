/**
 * What the structured merge reads and returns: the three versions being merged, the outcome of
 * merging one node or list, and the conflicts it reports. Shared by the node merge
 * (structured.ts), the list merge (list.ts) and the rules the list merge applies.
 */
import type { MarkerStyle } from './diff3.js';
import type { Version } from './syntax.js';

/** What kind of disagreement a conflict is. */
export type ConflictKind = 'modify/modify' | 'remove/modify' | 'modify/remove' | 'add/add' | 'insert/insert' | 'lines' | 'unparseable' | 'diagnostic';

/** One conflict: where it is, what kind, and the three versions of the text involved. */
export interface Conflict {
  /** The symbol path of the smallest element that conflicts (`class:A/method:m`); '' for the file. */
  readonly path: string;
  readonly kind: ConflictKind;
  readonly base: string | null;
  readonly ours: string | null;
  readonly theirs: string | null;
  /** For a `diagnostic` conflict: the diagnostics the clean result had and no input had. */
  readonly detail?: string;
}

/** The three versions being merged, and the marker style for conflicts. */
export interface MergeContext {
  readonly base: Version;
  readonly ours: Version;
  readonly theirs: Version;
  readonly markers: MarkerStyle;
  /**
   * Where the merge records what it decided for the reader of a clean result (a removal taken
   * over the other side's change of types): one line each. Absent: not recorded.
   */
  readonly notes?: string[];
}

/** A merge of one node or list: its text (with markers where it holds conflicts), or a failure. */
export type Outcome = { readonly ok: true; readonly text: string; readonly conflicts: Conflict[] } | { readonly ok: false; readonly conflict: Conflict };

/** A clean (or conflict-marked) merge of `text`. */
export function ok(text: string, conflicts: Conflict[] = []): Outcome {
  return { ok: true, text, conflicts };
}

/** Merge an indivisible piece of text: taken from the side that changed it; null when both did. */
export function mergeAtom(b: string, o: string, t: string): string | null {
  if (o === b || o === t) return t;
  if (t === b) return o;
  return null;
}
