/**
 * The index of pending ACUs by declaration (src/sync/concurrent.ts), on its own: which arrivals
 * warn, from whose view, what `acu status` and the hook's answer list, and that settled ACUs leave.
 * The end-to-end behaviour, with real hooks and nodes, is in concurrent-edits.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concurrentEditLine } from '../../src/sync/hook-run.js';
import { ConcurrentEdits, declarationOf } from '../../src/sync/concurrent.js';
import type { NodeContext, NodeEvent } from '../../src/sync/node-types.js';
import type { IdentifiedRecord } from '../../src/sync/records.js';

const commitOf = (n: number): string => n.toString(16).padStart(40, '0');

/** A record of `site` changing `symbol` of src/a.ts (only the fields the index reads are real). */
function record(id: string, site: string, symbol: string, commit: number): IdentifiedRecord {
  const acu = symbol === '' ? { level: 'file', file: 'src/a.ts' } : { level: 'decl', file: 'src/a.ts', symbol };
  const origin = { commit: commitOf(commit), node: `n-${site}`, site, authorName: site, authorEmail: `${site}@example.com` };
  return { id, record: { acu, origin } } as unknown as IdentifiedRecord;
}

function harness(site: string): { index: ConcurrentEdits; events: { kind: NodeEvent['kind']; text: string; data?: Record<string, unknown> }[]; keep: (...items: IdentifiedRecord[]) => void; settle: (id: string) => void } {
  const records = new Map<string, IdentifiedRecord>();
  const settled = new Set<string>();
  const events: { kind: NodeEvent['kind']; text: string; data?: Record<string, unknown> }[] = [];
  const ctx = {
    memory: { records, settled },
    cluster: { members: [{ site: 'paris' }, { site: 'tokyo' }, { site: 'lima' }] },
    self: ['paris', 'tokyo', 'lima'].indexOf(site),
    event: (kind: NodeEvent['kind'], text: string, data?: Record<string, unknown>) => events.push({ kind, text, ...(data === undefined ? {} : { data }) }),
  } as unknown as NodeContext;
  const index = new ConcurrentEdits(ctx);
  return {
    index, events,
    keep: (...items) => {
      for (const item of items) records.set(item.id, item);
      index.learned(items);
    },
    settle: (id) => settled.add(id),
  };
}

describe('concurrent edits index', () => {
  it('warns when another site has a pending ACU on the declaration, naming the other site from this one', () => {
    const { index, events, keep } = harness('tokyo');
    keep(record('p1', 'paris', 'function:add', 1), record('p2', 'paris', 'function:mul', 1));
    assert.equal(events.length, 0, 'one site alone is no overlap');
    keep(record('p3', 'paris', 'function:add', 2));
    assert.equal(events.length, 0, 'two commits of one site are no overlap');
    keep(record('t1', 'tokyo', 'function:add', 3));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'concurrent-edit');
    assert.deepEqual(events[0]!.data, {
      declaration: 'src/a.ts#function:add', file: 'src/a.ts', site: 'paris', node: 'n-paris', author: 'paris <paris@example.com>', commit: commitOf(2), mineCommit: commitOf(3),
    });
    assert.deepEqual(index.current().map((edit) => [edit.declaration, edit.edits.map((one) => one.acu)]), [['src/a.ts#function:add', ['p1', 'p3', 't1']]]);
    assert.deepEqual(index.ofCommit(commitOf(3)).map((edit) => edit.declaration), ['src/a.ts#function:add']);
    assert.deepEqual(index.ofCommit(commitOf(9)), []);
  });

  it('reports a peer\'s arrival against this site\'s pending ACU as the peer\'s, and forgets settled ACUs', () => {
    const { index, events, keep, settle } = harness('paris');
    keep(record('p1', 'paris', 'function:add', 1));
    keep(record('t1', 'tokyo', 'function:add', 2));
    assert.equal(events[0]!.data?.site, 'tokyo');
    assert.equal(events[0]!.data?.mineCommit, commitOf(1));
    settle('t1');
    assert.deepEqual(index.current(), [], 'the other side was agreed: no overlap is left');
    keep(record('l1', 'lima', 'function:add', 3));
    assert.equal(events.length, 2);
    assert.equal(events[1]!.data?.site, 'lima');
  });

  it('keys file-level ACUs by their file, and declarations by file and symbol', () => {
    assert.deepEqual(declarationOf(record('x', 'paris', '', 1)), { declaration: 'src/a.ts', file: 'src/a.ts' });
    assert.deepEqual(declarationOf(record('y', 'paris', 'class:A/method:b', 1)), { declaration: 'src/a.ts#class:A/method:b', file: 'src/a.ts' });
  });

  it('gives the hook one line naming the other site, author and declaration', () => {
    const { index, keep } = harness('tokyo');
    keep(record('p1', 'paris', 'function:add', 1), record('p2', 'paris', 'function:mul', 1));
    keep(record('t1', 'tokyo', 'function:add', 2), record('t2', 'tokyo', 'function:mul', 2));
    const line = concurrentEditLine(commitOf(2), index.ofCommit(commitOf(2)));
    assert.equal(line, `acu: warning: paris (paris <paris@example.com>) also has a pending change to src/a.ts#function:add, commit ${commitOf(1).slice(0, 12)}: expect a conflict to vote on (and 1 more declaration; see 'acu status')\n`);
    assert.equal(concurrentEditLine(commitOf(7), index.ofCommit(commitOf(2))), null, 'nothing for a commit not in the overlaps');
    assert.equal(concurrentEditLine(commitOf(2), []), null);
  });
});
