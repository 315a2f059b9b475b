/**
 * One conformance suite for every scoring backend available here: each must return the core
 * reference's cells bit for bit on seeded random batches (random features, and features of random
 * ACUs). A failure prints the seed; replay with ACU_SEED=<seed>. gpujs runs where gpu.js loads (set
 * ACU_GPUJS_PATH to a copy when it is not installed), in every mode it offers here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeclAcu } from '../../src/core/acu/model.js';
import { batchFeatures, emptyFeatures, nameBits, nameWords, referencePairScores, sketchWords } from '../../src/core/scoring/index.js';
import type { BatchFeatures } from '../../src/core/scoring/index.js';
import type { ScoringBackend } from '../../src/validate/scoring/backend.js';
import { gpuJsAutoMode, gpuJsBackend, loadGpuJs } from '../../src/validate/scoring/gpujs.js';
import { jsBitsetBackend } from '../../src/validate/scoring/js-bitset.js';
import { wasmAvailable, wasmBackend } from '../../src/validate/scoring/wasm.js';
import { cpuReferenceBackend } from '../../src/validate/scoring/cpu-reference.js';
import { baseSeed, rng } from '../support/random.js';
import type { Rng } from '../support/random.js';

function setBit(words: Uint32Array, row: number, bit: number): void {
  words[row * nameWords + (bit >>> 5)]! |= 1 << (bit & 31);
}

/** Random features: a few defined names, more used ones (some shared), sketches with near-copies. */
export function randomFeatures(r: Rng, n: number): BatchFeatures {
  const f = emptyFeatures(n);
  const vocabulary = 1 + r.int(nameBits);
  for (let i = 0; i < n; i += 1) {
    for (let k = r.int(5); k > 0; k -= 1) setBit(f.defines, i, r.int(vocabulary));
    // Now and then an ACU that defines many names (a long import or export list).
    if (r.chance(0.03)) for (let k = r.int(60); k > 0; k -= 1) setBit(f.defines, i, r.int(vocabulary));
    for (let k = r.int(24); k > 0; k -= 1) setBit(f.uses, i, r.int(vocabulary));
    if (r.chance(0.02)) for (let w = 0; w < nameWords; w += 1) f.uses[i * nameWords + w] = r.int(0x1_0000_0000);
    for (let w = 0; w < sketchWords; w += 1) f.sketch[i * sketchWords + w] = r.int(0x1_0000_0000);
    if (i > 0 && r.chance(0.2)) {
      const from = r.int(i);
      for (let w = 0; w < sketchWords; w += 1) f.sketch[i * sketchWords + w] = f.sketch[from * sketchWords + w]! ^ (r.chance(0.5) ? 0 : 1 << r.int(32));
    }
    if (r.chance(0.05)) f.empty[i] = 1;
  }
  return f;
}

const names = ['a', 'b', 'open', 'close', 'Repo', 'parse', 'x', 'y', 'default', 'Émile', 'constructor'];

function randomAcu(r: Rng, k: number): DeclAcu {
  const pick = (count: number): string[] => [...new Set(Array.from({ length: count }, () => r.pick(names)))].sort();
  const body = Array.from({ length: r.int(30) }, () => r.pick(['return', 'a', '(', ')', '+', '1', 'open', ';', '\n', 'x.y', '"s"'])).join(' ');
  return {
    v: 1, level: 'decl', file: `src/f${r.int(3)}.ts`, symbol: `function:f${k}`, kind: r.pick(['function', 'class', 'import', 'method'] as const),
    op: r.pick(['add', 'modify', 'remove', 'move'] as const), before: null, after: body, beforeTail: null, afterTail: null, anchor: null,
    defines: pick(r.int(3)), uses: pick(r.int(6)), flags: [],
  };
}

interface Candidate {
  readonly label: string;
  readonly make: () => Promise<ScoringBackend>;
  /** Largest batch to try (the gpu.js cpu modes are slow). */
  readonly nMax: number;
}

async function candidates(): Promise<Candidate[]> {
  const list: Candidate[] = [
    { label: 'cpu-reference', make: () => Promise.resolve(cpuReferenceBackend()), nMax: 200 },
    { label: 'js-bitset', make: () => Promise.resolve(jsBitsetBackend()), nMax: 300 },
  ];
  if (wasmAvailable()) {
    list.push({ label: 'wasm-popcount', make: () => Promise.resolve(wasmBackend()), nMax: 300 });
    list.push({ label: 'wasm-popcount (rows)', make: () => Promise.resolve(wasmBackend('rows')), nMax: 300 });
  }
  if ((await loadGpuJs()).ok) {
    const auto = await gpuJsAutoMode();
    const modes = [...new Set(['cpu', 'webasm', ...(auto === null ? [] : [auto])])];
    for (const mode of modes) list.push({ label: `gpujs (${mode})`, make: () => gpuJsBackend(mode), nMax: 70 });
  }
  return list;
}

const sizes = [0, 1, 2, 3, 17, 63, 64, 65, 129, 200, 300];

describe('scoring conformance: every backend equals the CPU reference bit for bit', async () => {
  const seed = baseSeed(20261121);
  const load = await loadGpuJs();
  if (!load.ok) void it.skip(`gpujs: gpu.js does not load here (${load.reason}); set ACU_GPUJS_PATH to a copy to include it`, () => undefined);
  for (const candidate of await candidates()) {
    it(`${candidate.label} on random features and random ACUs (seed ${seed})`, async () => {
      const backend = await candidate.make();
      try {
        for (const n of sizes.filter((size) => size <= candidate.nMax)) {
          for (let round = 0; round < 2; round += 1) {
            const caseSeed = (seed + n * 7919 + round) >>> 0;
            const r = rng(caseSeed);
            const features = round === 0 ? randomFeatures(r, n) : batchFeatures(Array.from({ length: n }, (_, k) => randomAcu(r, k)));
            const expected = referencePairScores(features);
            const actual = await backend.pairScores(features);
            assert.equal(actual.n, n);
            const mismatch = actual.cells.findIndex((cell, at) => cell !== expected.cells[at]);
            assert.equal(mismatch, -1, `${candidate.label}: n=${n} cell ${mismatch} differs (${actual.cells[mismatch]} vs ${expected.cells[mismatch]}); replay with ACU_SEED=${seed} (case seed ${caseSeed})`);
            assert.equal(actual.cells.length, expected.cells.length);
          }
        }
      } finally {
        backend.dispose();
      }
    });
  }
});
