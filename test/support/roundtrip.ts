import assert from 'node:assert/strict';
import type { DeclAcu } from '../../src/core/acu/model.js';
import { applyDeclAcus } from '../../src/extract/apply-text.js';
import { diffDeclarations } from '../../src/extract/diff.js';
import { segmentFile } from '../../src/extract/segment.js';

/** Segmentation must partition the text: head + children + tail, recursively, is the text. */
export function assertPartition(path: string, text: string): void {
  const seg = segmentFile(path, text);
  assert.ok(seg.parsed, `${path} should parse`);
  const rebuild = (start: number, end: number, layout: NonNullable<typeof seg.root.layout> | null): string => {
    if (layout === null) return text.slice(start, end);
    assert.ok(start <= layout.headEnd && layout.headEnd <= layout.tailStart && layout.tailStart <= end, 'ordered ranges');
    let pos = layout.headEnd;
    let out = text.slice(start, layout.headEnd);
    for (const child of layout.children) {
      assert.equal(child.start, pos, `child ${child.key} starts where the previous ended`);
      out += rebuild(child.start, child.end, child.layout);
      pos = child.end;
    }
    assert.equal(pos, layout.tailStart, 'the tail starts after the last child');
    return out + text.slice(layout.tailStart, end);
  };
  assert.equal(rebuild(0, text.length, seg.root.layout), text);
}

/** Extract ACUs between two texts and check that applying them to `before` gives `after`. */
export function roundTrip(path: string, before: string, after: string): DeclAcu[] {
  const b = segmentFile(path, before);
  const a = segmentFile(path, after);
  assert.ok(b.parsed, 'before parses');
  assert.ok(a.parsed, 'after parses');
  const acus = diffDeclarations(path, b, a);
  const result = applyDeclAcus(b, acus);
  assert.ok(result.ok, `apply failed: ${JSON.stringify(result.ok ? null : result.problems)}`);
  assert.equal(result.text, after, 'round trip is byte-exact');
  return acus;
}

/** `op symbol` lines, sorted, for compact assertions. */
export function summary(acus: readonly DeclAcu[]): string[] {
  return acus.map((acu) => `${acu.op} ${acu.symbol}`).sort();
}
