/**
 * Choosing a scoring backend. `auto` follows a fixed rule, no benchmark at run time, so that a
 * node's choice is predictable and reported:
 *
 * 1. Batches under `gpuMinAcus` ACUs: js-bitset if under `wasmMinAcus`, else wasm-popcount (the cost
 *    of starting a kernel outweighs the work).
 * 2. gpu.js loads and runs in a GPU mode (headlessgl, webgl, webgl2, webgpu): gpujs.
 * 3. WebAssembly exists: wasm-popcount (the fastest exact CPU path measured here; gpu.js's own
 *    webasm mode is several times slower on this kernel, docs/benchmarks.md).
 * 4. Otherwise js-bitset.
 *
 * Every backend returns the same cells, so the choice changes speed only, never a vote.
 */
import { AcuError } from '../../core/errors.js';
import type { BackendName, ScoringBackend } from './backend.js';
import { backendNames } from './backend.js';
import { cpuReferenceBackend } from './cpu-reference.js';
import { gpuJsAutoMode, gpuJsBackend, gpuModes, loadGpuJs } from './gpujs.js';
import { jsBitsetBackend } from './js-bitset.js';
import { wasmAvailable, wasmBackend } from './wasm.js';

/** A backend name, `auto`, or `gpujs:<mode>` (gpu.js in one of its modes: gpu, headlessgl, webgl, webgl2, webgpu, webasm, cpu). */
export type BackendChoice = BackendName | 'auto' | `gpujs:${string}`;

/** gpu.js modes `gpujs:<mode>` accepts. */
export const gpuJsModeNames: readonly string[] = ['gpu', 'headlessgl', 'webgl', 'webgl2', 'webgpu', 'webasm', 'cpu'];

/** Below this many ACUs the GPU is not worth starting. */
export const gpuMinAcus = 256;
/** Below this many ACUs plain JavaScript is as fast as instantiating the module. */
export const wasmMinAcus = 64;

/** A backend ready to run, why it was chosen, and what gpu.js reported. */
export interface SelectedBackend {
  readonly backend: ScoringBackend;
  readonly reason: string;
  /** gpu.js's automatic mode here, or `unavailable` (with why). */
  readonly gpujs: string;
}

/** Parse a `--backend` value. */
export function parseBackendChoice(value: string): BackendChoice {
  if (value === 'auto' || (backendNames as readonly string[]).includes(value)) return value as BackendChoice;
  if (value.startsWith('gpujs:') && gpuJsModeNames.includes(value.slice('gpujs:'.length))) return value as BackendChoice;
  throw new AcuError('ERR_USAGE', `unknown scoring backend '${value}'`, {
    hint: `choose one of auto, ${backendNames.join(', ')}, or gpujs:<mode> (${gpuJsModeNames.join(', ')})`,
  });
}

async function gpuJsReport(): Promise<{ mode: string | null; text: string }> {
  const load = await loadGpuJs();
  if (!load.ok) return { mode: null, text: `unavailable (${load.reason})` };
  const mode = await gpuJsAutoMode();
  return { mode, text: mode ?? 'unavailable (no mode starts)' };
}

/** Create the backend for `choice` and a batch of `n` ACUs. */
export async function selectBackend(choice: BackendChoice, n: number): Promise<SelectedBackend> {
  switch (choice) {
    case 'cpu-reference':
      return { backend: cpuReferenceBackend(), reason: 'forced', gpujs: 'not loaded' };
    case 'js-bitset':
      return { backend: jsBitsetBackend(), reason: 'forced', gpujs: 'not loaded' };
    case 'wasm-popcount':
      if (!wasmAvailable()) throw new AcuError('ERR_BACKEND_UNAVAILABLE', 'WebAssembly is not available in this runtime', { hint: 'choose --backend js-bitset' });
      return { backend: wasmBackend(), reason: 'forced', gpujs: 'not loaded' };
    case 'gpujs': {
      const report = await gpuJsReport();
      return { backend: await gpuJsBackend(), reason: 'forced', gpujs: report.text };
    }
    case 'auto':
      return await autoBackend(n);
    default: {
      const mode = choice.slice('gpujs:'.length);
      const report = await gpuJsReport();
      return { backend: await gpuJsBackend(mode), reason: `forced (gpu.js mode ${mode})`, gpujs: report.text };
    }
  }
}

async function autoBackend(n: number): Promise<SelectedBackend> {
  if (n < gpuMinAcus) {
    if (n < wasmMinAcus || !wasmAvailable()) return { backend: jsBitsetBackend(), reason: `auto: ${n} ACUs, too few to start WebAssembly or a GPU`, gpujs: 'not loaded' };
    return { backend: wasmBackend(), reason: `auto: ${n} ACUs, too few to start a GPU`, gpujs: 'not loaded' };
  }
  const report = await gpuJsReport();
  if (report.mode !== null && gpuModes.includes(report.mode)) {
    return { backend: await gpuJsBackend(report.mode), reason: `auto: gpu.js runs on a GPU (${report.mode})`, gpujs: report.text };
  }
  if (wasmAvailable()) return { backend: wasmBackend(), reason: 'auto: no GPU mode in gpu.js; WebAssembly popcount is the fastest exact CPU path', gpujs: report.text };
  return { backend: jsBitsetBackend(), reason: 'auto: no GPU and no WebAssembly', gpujs: report.text };
}

/** Where a cluster's scoring backend is chosen: `"scoring"` in the cluster document (default `auto`). */
export interface ScoringSource {
  readonly scoring?: string;
}

/** The scoring backends a cluster document's `"scoring"` may name, for messages. */
export function scoringChoicesText(): string {
  return `auto, ${backendNames.join(', ')}, or gpujs:<mode> (${gpuJsModeNames.join(', ')})`;
}

/**
 * The backend choice a cluster document names in `"scoring"`, `auto` when it names none. An
 * unknown name is the user's situation (ERR_CONFIG, naming `where`): the node refuses to start
 * rather than score with something else than the document says.
 */
export function clusterScoringChoice(cluster: ScoringSource, where: string): BackendChoice {
  const value = cluster.scoring ?? 'auto';
  try {
    return parseBackendChoice(value);
  } catch {
    throw new AcuError('ERR_CONFIG', `${where}: "scoring" names an unknown scoring backend '${value}'`, {
      hint: `set "scoring" to one of ${scoringChoicesText()}; every backend scores bit for bit the same, only the speed differs`,
    });
  }
}

/** The backend a sync node validates with, and why: what `acu status` shows. */
export interface NodeScoring extends SelectedBackend {
  /** What the cluster document asked for (`auto` when it names nothing). */
  readonly choice: BackendChoice;
}

/**
 * The backend a sync node scores its batches with, for the cluster's choice. `auto` chooses as for
 * a batch of {@link gpuMinAcus} ACUs — gpu.js where it runs on a GPU, else the fastest exact CPU
 * backend — once, at start, so that the choice is fixed and reported while the node runs.
 */
export async function selectNodeScoring(choice: BackendChoice): Promise<NodeScoring> {
  const selected = await selectBackend(choice, gpuMinAcus);
  return { ...selected, choice };
}

/** A node's scoring as plain data, for `acu status`. */
export function scoringStatusOf(scoring: NodeScoring): { choice: string; backend: string; detail: string; reason: string } {
  return { choice: scoring.choice, backend: scoring.backend.name, detail: scoring.backend.detail, reason: scoring.reason };
}
