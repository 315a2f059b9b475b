/**
 * Early warning of concurrent edits: pending ACUs (committed, not yet agreed) indexed by the
 * declaration they change and the site that proposed them. When a record arrives — from a peer, or
 * this site's own from the outbox — that changes a declaration another site has a pending ACU on,
 * the node says so at once (a `concurrent-edit` event), long before the batch that holds both
 * opens a conflict. `acu status` lists the overlaps, and the post-commit hook's poke is answered
 * with those of the commit just proposed, so its author reads one line naming the other site,
 * author and declaration (docs/sync.md, "Concurrent edits").
 *
 * Only a warning: two edits of one declaration may still compose (a conflict is what validation
 * finds), and nothing here changes what is proposed or agreed.
 */
import { assert } from '../core/errors.js';
import type { ConcurrentEdit, NodeContext, PendingEdit } from './node-types.js';
import type { IdentifiedRecord } from './records.js';

/** Overlaps `acu status` and a poke's answer list, at most (the busiest declarations first). */
export const concurrentEditsMax = 64;
/** Pending ACUs listed per declaration, at most. */
const editsPerDeclarationMax = 8;
/** Warnings sent per batch of learned records, at most (a flood of overlaps says so once each). */
const warningsPerLearnMax = 16;
/** Declarations indexed before the first sweep of settled ones (then twice what a sweep leaves). */
const sweepDeclarationsMin = 4096;

/** The declaration an ACU changes: `file#symbol`, or the file for a file-level ACU. */
export function declarationOf(item: IdentifiedRecord): { declaration: string; file: string } {
  const acu = item.record.acu;
  return { declaration: acu.level === 'decl' && acu.symbol !== '' ? `${acu.file}#${acu.symbol}` : acu.file, file: acu.file };
}

function editOf(item: IdentifiedRecord): PendingEdit {
  const { origin } = item.record;
  return { site: origin.site, node: origin.node, author: `${origin.authorName} <${origin.authorEmail}>`, commit: origin.commit, acu: item.id };
}

/** The pending ACUs of a node, by declaration. */
export class ConcurrentEdits {
  /** Declaration -> record ids pending on it, in the order learned. Settled ids are dropped when read. */
  private readonly byDeclaration = new Map<string, string[]>();
  private built = false;
  /** Past this many declarations, `learned` drops the settled ones (nobody may be asking for status). */
  private sweepAt = sweepDeclarationsMin;

  constructor(private readonly ctx: NodeContext) {}

  /**
   * Records newly kept (durably): index them, and warn of each declaration one of them changes
   * that another site has a pending ACU on.
   */
  learned(items: readonly IdentifiedRecord[]): void {
    this.build();
    let warned = 0;
    for (const item of items) {
      const { declaration, file } = declarationOf(item);
      const ids = this.pendingOn(declaration).filter((id) => id !== item.id);
      const others = ids.map((id) => this.ctx.memory.records.get(id)!).filter((other) => other.record.origin.site !== item.record.origin.site);
      this.byDeclaration.set(declaration, [...ids, item.id]);
      if (others.length === 0 || warned >= warningsPerLearnMax) continue;
      warned += 1;
      this.warn(declaration, file, item, others);
    }
    if (this.byDeclaration.size > this.sweepAt) {
      // Settled ids leave the index when read; a sweep keeps it within the pending records.
      for (const declaration of [...this.byDeclaration.keys()]) this.pendingOn(declaration);
      this.sweepAt = Math.max(sweepDeclarationsMin, 2 * this.byDeclaration.size);
    }
    assert(this.byDeclaration.size <= Math.max(this.sweepAt, sweepDeclarationsMin), 'the index stays bounded');
  }

  /** Every declaration with pending ACUs of two or more sites, the most edited first. */
  current(): ConcurrentEdit[] {
    this.build();
    const out: ConcurrentEdit[] = [];
    for (const declaration of [...this.byDeclaration.keys()]) {
      const edit = this.overlapOn(declaration);
      if (edit !== null) out.push(edit);
    }
    out.sort((a, b) => b.edits.length - a.edits.length || (a.declaration < b.declaration ? -1 : a.declaration > b.declaration ? 1 : 0));
    return out.slice(0, concurrentEditsMax);
  }

  /** The overlaps a commit's pending ACUs are part of (the post-commit hook's answer). */
  ofCommit(commit: string): ConcurrentEdit[] {
    return this.current().filter((edit) => edit.edits.some((one) => one.commit === commit));
  }

  private overlapOn(declaration: string): ConcurrentEdit | null {
    const items = this.pendingOn(declaration).map((id) => this.ctx.memory.records.get(id)!);
    if (new Set(items.map((item) => item.record.origin.site)).size < 2) return null;
    assert(items.length >= 2, 'an overlap has two pending ACUs');
    return { declaration, file: declarationOf(items[0]!).file, edits: items.slice(-editsPerDeclarationMax).map(editOf) };
  }

  /** The ids still pending on a declaration; settled ones leave the index here. */
  private pendingOn(declaration: string): string[] {
    const { memory } = this.ctx;
    const ids = this.byDeclaration.get(declaration);
    if (ids === undefined) return [];
    const pending = ids.filter((id) => memory.records.has(id) && !memory.settled.has(id));
    if (pending.length === 0) this.byDeclaration.delete(declaration);
    else if (pending.length !== ids.length) this.byDeclaration.set(declaration, pending);
    return pending;
  }

  /** The first use indexes what the log brought back (records kept before a restart). */
  private build(): void {
    if (this.built) return;
    this.built = true;
    const { memory } = this.ctx;
    for (const item of memory.records.values()) {
      if (memory.settled.has(item.id)) continue;
      const { declaration } = declarationOf(item);
      const ids = this.byDeclaration.get(declaration);
      if (ids === undefined) this.byDeclaration.set(declaration, [item.id]);
      else ids.push(item.id);
    }
  }

  /** Tell this site: its side (when it has one) against the other site's pending ACU. */
  private warn(declaration: string, file: string, item: IdentifiedRecord, others: readonly IdentifiedRecord[]): void {
    const site = this.ctx.cluster.members[this.ctx.self]?.site ?? '';
    // From this site's view: "the other" is the side that is not ours; a third site reports the newcomer.
    const mine = item.record.origin.site === site ? item : others.find((other) => other.record.origin.site === site) ?? null;
    const other = mine === item ? others.at(-1)! : item;
    const them = editOf(other);
    const text = `concurrent edit of ${declaration}: ${them.site} (${them.author}, commit ${them.commit.slice(0, 12)}) has a pending change to it${mine === null ? ` too, with ${others.at(-1)!.record.origin.site}` : ' as well as this site'}; expect a conflict to vote on`;
    this.ctx.event('concurrent-edit', text, {
      declaration, file, site: them.site, node: them.node, author: them.author, commit: them.commit,
      ...(mine === null ? {} : { mineCommit: mine.record.origin.commit }),
    });
  }
}
