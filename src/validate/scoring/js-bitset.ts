/**
 * The `js-bitset` backend: typed arrays, the upper triangle only (each pair computes both directed
 * interferences and the symmetric similarity once), in cache-sized tiles, over the sparse define
 * words.
 */
import { nameWords, sketchWords } from '../../core/scoring/index.js';
import type { BatchFeatures, PairScores } from '../../core/scoring/index.js';
import type { ScoringBackend } from './backend.js';
import { similarityTable, sparseDefines, tileSize } from './sparse.js';
import type { SparseDefines } from './sparse.js';

function popcount(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Compute pair scores with the triangle loop, into `reuse` when it is large enough. */
export function jsBitsetPairScores(features: BatchFeatures, reuse: Int32Array | null = null): PairScores {
  const n = features.n;
  const cells = reuse !== null && reuse.length >= n * n ? reuse.subarray(0, n * n) : new Int32Array(n * n);
  for (let i = 0; i < n; i += 1) cells[i * n + i] = 0;
  const sparse = sparseDefines(features);
  const table = similarityTable();
  for (let i0 = 0; i0 < n; i0 += tileSize) {
    for (let j0 = i0; j0 < n; j0 += tileSize) {
      tile(features, sparse, table, cells, i0, j0);
    }
  }
  return { n, cells };
}

function defineHits(sparse: SparseDefines, i: number, uses: Uint32Array, usesRow: number): number {
  let hits = 0;
  const end = sparse.offsets[i + 1]!;
  for (let k = sparse.offsets[i]!; k < end; k += 1) hits += popcount(sparse.values[k]! & uses[usesRow + sparse.words[k]!]!);
  return hits;
}

function tile(features: BatchFeatures, sparse: SparseDefines, table: Int32Array, cells: Int32Array, i0: number, j0: number): void {
  const n = features.n;
  const { uses, sketch, empty } = features;
  const iEnd = Math.min(i0 + tileSize, n);
  const jEnd = Math.min(j0 + tileSize, n);
  for (let i = i0; i < iEnd; i += 1) {
    const s = i * sketchWords;
    const [s0, s1, s2, s3] = [sketch[s]!, sketch[s + 1]!, sketch[s + 2]!, sketch[s + 3]!];
    const emptyI = empty[i]!;
    const rowI = i * n;
    for (let j = i0 === j0 ? i + 1 : j0; j < jEnd; j += 1) {
      const ij = defineHits(sparse, i, uses, j * nameWords);
      const ji = defineHits(sparse, j, uses, i * nameWords);
      const t = j * sketchWords;
      const differing = popcount(s0 ^ sketch[t]!) + popcount(s1 ^ sketch[t + 1]!) + popcount(s2 ^ sketch[t + 2]!) + popcount(s3 ^ sketch[t + 3]!);
      const similar = (emptyI | empty[j]!) === 0 ? table[differing]! : 0;
      cells[rowI + j] = similar | ij;
      cells[j * n + i] = similar | ji;
    }
  }
}

/** The js-bitset backend. Its results are valid until its next call (it reuses their memory). */
export function jsBitsetBackend(): ScoringBackend {
  let buffer: Int32Array | null = null;
  return {
    name: 'js-bitset',
    detail: 'javascript',
    pairScores: (features) => {
      const scores = jsBitsetPairScores(features, buffer);
      if (buffer === null || scores.cells.length > buffer.length) buffer = scores.cells;
      return Promise.resolve(scores);
    },
    dispose: () => {
      buffer = null;
    },
  };
}
