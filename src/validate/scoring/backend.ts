/**
 * The scoring port: a backend turns a batch's features into its pair scores. Every backend must
 * return exactly what the core's reference returns (src/core/scoring/reference.ts), bit for bit;
 * test/validate/scoring-conformance.test.ts holds them to it.
 */
import type { BatchFeatures, PairScores } from '../../core/scoring/index.js';

/** The backends, by name (`acu score --backend <name>`). */
export type BackendName = 'cpu-reference' | 'js-bitset' | 'wasm-popcount' | 'gpujs';

/** All backend names, in the order `auto` prefers them last to first. */
export const backendNames: readonly BackendName[] = ['cpu-reference', 'js-bitset', 'wasm-popcount', 'gpujs'];

/** One way of computing pair scores. */
export interface ScoringBackend {
  readonly name: BackendName;
  /** What actually runs: for gpujs, gpu.js's mode (`headlessgl`, `webgl2`, `webgpu`, `webasm`, `cpu`). */
  readonly detail: string;
  pairScores(features: BatchFeatures): Promise<PairScores>;
  /** Release what the backend holds (GPU contexts, kernels). */
  dispose(): void;
}
