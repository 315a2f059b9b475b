/**
 * The line diff behind text hunks: its edits turn one side into the other exactly, leave only
 * equal lines outside them, are minimal where Myers finishes, and stay small on a lock file too
 * large and too changed for Myers' budget. Failures print the seed; replay with ACU_SEED.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineEdits } from '../../src/extract/line-diff.js';
import { applyHunks, computeHunks, splitLines } from '../../src/extract/text.js';
import type { Rng } from '../support/random.js';
import { baseSeed, rng } from '../support/random.js';

/** Apply flat edits to `a` with `b`'s lines, checking that every line outside them is equal. */
function replay(a: readonly string[], b: readonly string[], edits: readonly number[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; k < edits.length; k += 4) {
    const [aStart, aEnd, bStart, bEnd] = edits.slice(k, k + 4) as [number, number, number, number];
    assert.ok(aStart >= i && bStart >= j, 'edits are in increasing order');
    assert.ok(aStart > i || bStart > j || k === 0, 'edits are never adjacent');
    assert.equal(aStart - i, bStart - j, 'equal runs have one length on both sides');
    for (; i < aStart; i += 1, j += 1) {
      assert.equal(a[i], b[j], `line ${i} outside the edits is equal`);
      out.push(a[i]!);
    }
    out.push(...b.slice(bStart, bEnd));
    i = aEnd;
    j = bEnd;
  }
  assert.equal(a.length - i, b.length - j, 'the tails have one length');
  for (; i < a.length; i += 1, j += 1) {
    assert.equal(a[i], b[j], `line ${i} outside the edits is equal`);
    out.push(a[i]!);
  }
  return out;
}

/** Lines removed plus lines inserted by the edits. */
function editCost(edits: readonly number[]): number {
  let cost = 0;
  for (let k = 0; k < edits.length; k += 4) cost += edits[k + 1]! - edits[k]! + edits[k + 3]! - edits[k + 2]!;
  return cost;
}

/** The fewest removals plus insertions, from the longest common subsequence. */
function shortestEdit(a: readonly string[], b: readonly string[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = 0;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? diagonal + 1 : Math.max(above, row[j - 1]!);
      diagonal = above;
    }
  }
  return a.length + b.length - 2 * row[b.length]!;
}

function randomLines(r: Rng, count: number, alphabet: number): string[] {
  return Array.from({ length: count }, () => `line ${r.int(alphabet)}\n`);
}

function mutate(r: Rng, lines: readonly string[], edits: number, alphabet: number): string[] {
  const out = [...lines];
  for (let e = 0; e < edits; e += 1) {
    const at = r.int(out.length + 1);
    if (r.chance(0.5) && at < out.length) out.splice(at, 1 + r.int(3));
    else out.splice(at, 0, ...randomLines(r, 1 + r.int(3), alphabet));
  }
  return out;
}

/** A lock-file-like text: entries of a few lines, many lines repeated across entries. */
function lockFile(r: Rng, entries: number): string[] {
  const lines: string[] = [];
  for (let e = 0; e < entries; e += 1) {
    lines.push(`"pkg-${e}@^${r.int(9)}.0.0":\n`, `  version "${r.int(9)}.${r.int(20)}.${r.int(20)}"\n`, `  resolved "https://registry.example/pkg-${e}-${r.int(1_000_000)}.tgz"\n`);
    if (r.chance(0.5)) lines.push('  dependencies:\n', `    dep-${r.int(50)} "^1.0.0"\n`);
    lines.push('\n');
  }
  return lines;
}

describe('line diff', () => {
  it('edits reproduce the new side, with only equal lines outside them, and are minimal (random, small)', () => {
    const seed = baseSeed(0x11ed1ff);
    for (let round = 0; round < 400; round += 1) {
      const r = rng(seed + round);
      const alphabet = 2 + r.int(12);
      const a = randomLines(r, r.int(40), alphabet);
      const b = r.chance(0.2) ? randomLines(r, r.int(40), alphabet) : mutate(r, a, r.int(8), alphabet);
      const edits = lineEdits(a, b);
      assert.deepEqual(replay(a, b, edits), b, `seed ${seed + round}`);
      assert.equal(editCost(edits), shortestEdit(a, b), `seed ${seed + round}: the edit script is shortest`);
    }
  });

  it('a lock file too changed for Myers: anchors keep the hunks small and the round trip exact', () => {
    const seed = baseSeed(0x10c4);
    const r = rng(seed);
    const before = lockFile(r, 6_000);
    const after = [...before];
    // Version bumps spread over the file, a thousand and more: far beyond Myers' budget at once.
    const bumped = new Set<number>();
    for (let k = 0; k < 8_000; k += 1) {
      const entry = r.int(after.length);
      if (!after[entry]!.startsWith('  version ')) continue;
      after[entry] = `  version "${r.int(9)}.${r.int(20)}.${100 + k}"\n`;
      bumped.add(entry);
    }
    assert.ok(bumped.size > 1_000, `seed ${seed}: ${bumped.size} bumps`);
    after.splice(after.length >> 1, 0, '"new-pkg@^1.0.0":\n', '  version "1.0.0"\n', '\n');
    const beforeText = before.join('');
    const afterText = after.join('');
    const hunks = computeHunks(beforeText, afterText);
    assert.equal(applyHunks(beforeText, hunks), afterText, `seed ${seed}`);
    // Each bump is one line out and one in; the new entry is three lines in.
    const hunkLines = hunks.reduce((n, h) => n + h.beforeLines.length + h.afterLines.length, 0);
    assert.ok(hunkLines <= 2 * bumped.size + 3, `seed ${seed}: ${hunkLines} hunk lines for ${bumped.size} bumps and one new entry`);
  });

  it('whole-text edge cases: empty sides, missing final newline, CRLF, equal texts', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['', 'a\nb\n'],
      ['a\nb\n', ''],
      ['a\nb', 'a\nb\n'],
      ['a\r\nb\r\n', 'a\nb\n'],
      ['same\n', 'same\n'],
      ['x\ny\nz\n', 'z\ny\nx\n'],
    ];
    for (const [before, after] of cases) {
      const hunks = computeHunks(before, after);
      assert.equal(applyHunks(before, hunks), after, JSON.stringify([before, after]));
      assert.equal(hunks.length === 0, before === after);
      assert.deepEqual(replay(splitLines(before), splitLines(after), lineEdits(splitLines(before), splitLines(after))), splitLines(after));
    }
  });
});
