/**
 * The parse cache: segmented files by blob id. A blob is the "after" of one commit and the
 * "before" of the next, so over a history walked parents-first each distinct blob is parsed once.
 * Bounded by the total characters held (least recently used entries go first).
 */
import { performance } from 'node:perf_hooks';
import type { Acu, IdentifiedAcu } from '../core/acu/model.js';
import { assert } from '../core/errors.js';
import type { SegmentedFile } from './segment.js';
import { lighten, parseSource, scriptKindFor, segmentFile } from './segment.js';

/** Counters a benchmark reads. */
export interface ParseStats {
  /** Calls to the parser. */
  parses: number;
  /** Distinct blob ids parsed. */
  distinctBlobs: number;
  /** UTF-16 code units parsed. */
  parsedChars: number;
  /** UTF-8 bytes parsed. */
  parsedBytes: number;
  /** Milliseconds spent inside `ts.createSourceFile`. */
  parseMs: number;
  /** Lookups answered from the cache. */
  hits: number;
  /** Changes whose ACUs came from the change memo (a change seen before in the run). */
  changeHits: number;
}

/** Default bound on characters held by a cache: about 64 M (light trees: text, keys and ranges). */
export const parseCacheCharsMax = 64 * 1024 * 1024;

/** A blob's decoded text, as extraction keeps it for the next commit. */
export interface BlobText {
  readonly text: string;
  /** UTF-8 bytes of the blob. */
  readonly byteLength: number;
}

/**
 * A bounded LRU of segmented files keyed by blob id, and of the decoded texts of recent blobs: the
 * "after" of one commit is the "before" of the next, so a cached text need not be read from git,
 * or decoded again (lock files of a megabyte change in many commits).
 */
export class ParseCache {
  readonly stats: ParseStats = { parses: 0, distinctBlobs: 0, parsedChars: 0, parsedBytes: 0, parseMs: 0, hits: 0, changeHits: 0 };
  /** ACUs of changes already extracted in this run, by {@link changeKey}. */
  readonly changes = new ChangeMemo();
  private readonly entries = new Map<string, SegmentedFile>();
  private readonly seen = new Map<string, string>();
  private readonly texts = new Map<string, BlobText>();
  private chars = 0;
  private textChars = 0;

  constructor(
    private readonly charsMax: number = parseCacheCharsMax,
    private readonly textCharsMax: number = Math.max(1, Math.floor(charsMax / 2)),
  ) {
    assert(charsMax > 0, 'ParseCache: charsMax must be positive');
    assert(textCharsMax > 0, 'ParseCache: textCharsMax must be positive');
  }

  /** The decoded text of blob `oid`, if it is held; marks it recently used. */
  text(oid: string): BlobText | undefined {
    const held = this.texts.get(oid);
    if (held === undefined) return undefined;
    this.texts.delete(oid);
    this.texts.set(oid, held);
    return held;
  }

  /** Whether the decoded text of blob `oid` is held. */
  hasText(oid: string): boolean {
    return this.texts.has(oid);
  }

  /** Keep the decoded text of blob `oid` (text only: binary content is never kept). */
  keepText(oid: string, text: string, byteLength: number): BlobText {
    const held = this.texts.get(oid);
    if (held !== undefined) return held;
    const entry: BlobText = { text, byteLength };
    this.texts.set(oid, entry);
    this.textChars += text.length;
    for (const [key, value] of this.texts) {
      if (this.textChars <= this.textCharsMax || key === oid) break;
      this.texts.delete(key);
      this.textChars -= value.text.length;
    }
    return entry;
  }

  /**
   * The segmented file for blob `oid` with `text`, parsed as a file at `path`, parsing it if it is
   * not cached. One blob parses differently as `.ts` and `.tsx`, so the key is both.
   */
  get(oid: string, path: string, text: string, byteLength: number): SegmentedFile {
    const key = `${oid}:${scriptKindFor(path)}`;
    const cached = this.entries.get(key);
    if (cached !== undefined) {
      // Re-insert to mark it most recently used (Map keeps insertion order).
      this.entries.delete(key);
      this.entries.set(key, cached);
      this.stats.hits += 1;
      return cached;
    }
    const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
    const started = performance.now();
    const sourceFile = parseSource(path, body);
    this.stats.parseMs += performance.now() - started;
    this.stats.parses += 1;
    this.stats.parsedChars += text.length;
    this.stats.parsedBytes += byteLength;
    if (!this.seen.has(oid)) {
      this.seen.set(oid, path);
      this.stats.distinctBlobs += 1;
    }
    const segmented = segmentFile(path, text, sourceFile);
    // The caller gets the tree for this commit; the cache keeps only keys and ranges.
    this.put(key, lighten(segmented));
    return segmented;
  }

  /** Every distinct blob parsed so far, with the path it was parsed as (for benchmarks). */
  parsedBlobs(): { oid: string; path: string }[] {
    return [...this.seen].map(([oid, path]) => ({ oid, path }));
  }

  private put(key: string, segmented: SegmentedFile): void {
    this.entries.set(key, segmented);
    this.chars += segmented.text.length;
    for (const [entry, value] of this.entries) {
      if (this.chars <= this.charsMax || entry === key) break;
      this.entries.delete(entry);
      this.chars -= value.text.length;
    }
  }
}

/** The fields of a tree change that its ACUs depend on (the shape of `git diff-tree -r -M`). */
export interface ChangeFields {
  readonly status: string;
  readonly oldPath: string | null;
  readonly newPath: string | null;
  readonly oldMode: string | null;
  readonly newMode: string | null;
  readonly oldOid: string | null;
  readonly newOid: string | null;
}

/**
 * A change's identity for the memo: everything its ACUs depend on. Extraction of one change reads
 * nothing but these fields and the contents of the two blobs they name, so equal keys give equal
 * ACUs (ids included).
 */
export function changeKey(change: ChangeFields): string {
  return `${change.status}\u0000${change.oldPath ?? ''}\u0000${change.newPath ?? ''}\u0000${change.oldMode ?? ''}\u0000${change.newMode ?? ''}\u0000${change.oldOid ?? ''}\u0000${change.newOid ?? ''}`;
}

/**
 * Default bounds of a {@link ChangeMemo}: changes held, and characters held, counting the texts
 * the ACUs were cut from (see {@link ChangeMemo}).
 */
export const changeMemoEntriesMax = 4096;
export const changeMemoCharsMax = 32 * 1024 * 1024;

/** A blob text the ACUs of a memoized change may keep alive, and how long it is. */
export interface RetainedText {
  readonly oid: string;
  readonly length: number;
}

/**
 * The ACUs of changes extracted earlier in a run, least recently used first out. Over all refs a
 * change recurs: a merge commit, diffed against its first parent, repeats the changes of the
 * branch it merges, and a branch rebased or cherry-picked elsewhere repeats them again (a third of
 * the changes of the newest 500 commits of mobx). A repeat costs a lookup instead of a declaration
 * diff, names, a line diff of a lock file, and ids; its blobs are not even read.
 *
 * The strings of an ACU (declaration texts, hunk lines, names) may share memory with the whole
 * text they were cut from, so holding the ACUs can hold those texts after the text cache has let
 * them go. The bound therefore counts, besides each change's own ACU text, every text a held
 * change was cut from, once however many changes share it.
 */
export class ChangeMemo {
  private readonly entries = new Map<string, { readonly acus: readonly IdentifiedAcu[]; readonly chars: number; readonly texts: readonly string[] }>();
  private readonly texts = new Map<string, { readonly length: number; refs: number }>();
  private chars = 0;

  constructor(
    private readonly entriesMax: number = changeMemoEntriesMax,
    private readonly charsMax: number = changeMemoCharsMax,
  ) {
    assert(entriesMax > 0 && charsMax > 0, 'ChangeMemo: bounds must be positive');
  }

  /** Whether the ACUs of the change with this key are held. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The ACUs of the change with this key, if held; marks it recently used. */
  get(key: string): readonly IdentifiedAcu[] | undefined {
    const held = this.entries.get(key);
    if (held === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, held);
    return held.acus;
  }

  /** Characters held: the ACUs' own text and the texts they were cut from. */
  get heldChars(): number {
    return this.chars;
  }

  /**
   * Hold the ACUs of the change with this key, cut from `texts`. A change that would take more
   * than a quarter of the bound is not held.
   */
  set(key: string, acus: readonly IdentifiedAcu[], texts: readonly RetainedText[] = []): void {
    if (this.entries.has(key)) return;
    const own = acus.reduce((n, { acu }) => n + acuChars(acu), 0);
    const added = texts.reduce((n, text) => n + (this.texts.has(text.oid) ? 0 : text.length), 0);
    if (own + added > this.charsMax / 4) return;
    for (const text of texts) {
      const held = this.texts.get(text.oid);
      if (held === undefined) this.texts.set(text.oid, { length: text.length, refs: 1 });
      else held.refs += 1;
    }
    this.entries.set(key, { acus, chars: own, texts: texts.map((text) => text.oid) });
    this.chars += own + added;
    for (const [entry, value] of this.entries) {
      if ((this.chars <= this.charsMax && this.entries.size <= this.entriesMax) || entry === key) break;
      this.evict(entry, value);
    }
  }

  private evict(key: string, value: { readonly chars: number; readonly texts: readonly string[] }): void {
    this.entries.delete(key);
    this.chars -= value.chars;
    for (const oid of value.texts) {
      const held = this.texts.get(oid)!;
      held.refs -= 1;
      if (held.refs === 0) {
        this.texts.delete(oid);
        this.chars -= held.length;
      }
    }
  }
}

/** Characters of text an ACU holds (its declaration texts, hunk lines or base64 data). */
function acuChars(acu: Acu): number {
  if (acu.level === 'decl') {
    return acu.symbol.length + (acu.before?.length ?? 0) + (acu.after?.length ?? 0) + (acu.beforeTail?.length ?? 0) + (acu.afterTail?.length ?? 0);
  }
  let chars = acu.file.length + (acu.data?.length ?? 0);
  for (const hunk of acu.hunks ?? []) {
    for (const line of hunk.beforeLines) chars += line.length;
    for (const line of hunk.afterLines) chars += line.length;
  }
  return chars;
}
