/**
 * The `gpujs` backend: one gpu.js kernel over the whole N x N batch, each thread one cell. gpu.js
 * moves numbers as float32, so the bit sets travel as 16-bit halves (exact in a float), popcounts
 * are SWAR on 16-bit values, and the cell (similarity * 4096 + interference) stays below 2^24: the
 * kernel's float result is the exact integer on every gpu.js mode (docs/scoring.md).
 *
 * gpu.js is loaded on demand and may be missing or fail to load (its GPU bindings are native): the
 * backend then reports itself unavailable and the automatic choice moves on.
 */
import { createRequire } from 'node:module';
import { AcuError, assert } from '../../core/errors.js';
import { minhashCount, nameWords, sketchWords } from '../../core/scoring/index.js';
import type { BatchFeatures, PairScores } from '../../core/scoring/index.js';
import type { ScoringBackend } from './backend.js';

/** The part of gpu.js's API used here (typed locally: the package is optional at build time). */
interface GpuKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): GpuKernel;
  setConstants(constants: Record<string, number>): GpuKernel;
  setLoopMaxIterations(count: number): GpuKernel;
  setPrecision(precision: 'single' | 'unsigned'): GpuKernel;
  setTactic(tactic: 'speed' | 'balanced' | 'precision'): GpuKernel;
  setDynamicOutput(flag: boolean): GpuKernel;
  setDynamicArguments(flag: boolean): GpuKernel;
  destroy?(): void;
  readonly kernel?: { readonly constructor: { readonly mode?: string } };
}
interface GpuInstance {
  readonly mode: string;
  createKernel(fn: (...args: never[]) => number): GpuKernel;
  destroy(): unknown;
}
interface GpuModule {
  readonly GPU: (new (settings?: { mode?: string }) => GpuInstance) & {
    readonly isWebGPUSupported?: boolean;
    isWebGPUAvailable?(): Promise<boolean>;
  };
}

/** gpu.js modes that run on a GPU. */
export const gpuModes: readonly string[] = ['gpu', 'headlessgl', 'webgl', 'webgl2', 'webgpu'];

/** What loading gpu.js gave: the module, or why not. */
export type GpuJsLoad = { readonly ok: true; readonly module: GpuModule; readonly from: string } | { readonly ok: false; readonly reason: string };

let loaded: Promise<GpuJsLoad> | null = null;

/**
 * Load gpu.js once: the package as installed, else (for experiments with a copy installed
 * elsewhere) the path in ACU_GPUJS_PATH.
 */
export function loadGpuJs(env: Readonly<Record<string, string | undefined>> = process.env): Promise<GpuJsLoad> {
  loaded ??= (async (): Promise<GpuJsLoad> => {
    const reasons: string[] = [];
    try {
      const specifier = 'gpu.js';
      const module = (await import(specifier)) as Partial<GpuModule> & { default?: Partial<GpuModule> };
      const api = module.GPU ?? module.default?.GPU;
      if (api !== undefined) return { ok: true, module: { GPU: api }, from: 'gpu.js' };
      reasons.push('gpu.js has no GPU export');
    } catch (error) {
      reasons.push(`gpu.js: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
    const path = env.ACU_GPUJS_PATH;
    if (path !== undefined && path !== '') {
      try {
        const module = createRequire(import.meta.url)(path) as Partial<GpuModule>;
        if (module.GPU !== undefined) return { ok: true, module: { GPU: module.GPU }, from: path };
        reasons.push(`${path} has no GPU export`);
      } catch (error) {
        reasons.push(`${path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      }
    }
    return { ok: false, reason: reasons.join('; ') };
  })();
  return loaded;
}

/** The mode gpu.js picks by itself here (`new GPU()`), or null when it does not load. */
export async function gpuJsAutoMode(): Promise<string | null> {
  const load = await loadGpuJs();
  if (!load.ok) return null;
  try {
    const probe = new load.module.GPU();
    const mode = probe.mode;
    probe.destroy();
    if (mode === 'webasm' || mode === 'cpu') {
      const webgpu = load.module.GPU.isWebGPUSupported === true && (await load.module.GPU.isWebGPUAvailable?.()) === true;
      if (webgpu) return 'webgpu';
    }
    return mode;
  } catch {
    return null;
  }
}

// The kernel is transpiled by gpu.js from this function's source: plain arithmetic on numbers,
// fixed loop bounds from constants, no closures. It runs on floats; every value stays an integer
// below 2^24, so each operation is exact. The defined names come as up to `slots` (index, value)
// pairs of non-zero 16-bit halves per ACU (value 0 for an unused slot): the zero halves the
// definition also ANDs contribute nothing.
function cellKernel(this: { thread: { x: number; y: number }; constants: { halves: number; slots: number; sketchHalves: number; matchesHalf: number; minhashCount: number } }, slotIndex: number[], slotValue: number[], uses: number[], sketch: number[], empty: number[]): number {
  const i = this.thread.y;
  const j = this.thread.x;
  if (i === j) return 0;
  let hits = 0;
  for (let k = 0; k < this.constants.slots; k++) {
    const d = slotValue[i * this.constants.slots + k]!;
    if (d !== 0) {
      let v = d & uses[j * this.constants.halves + slotIndex[i * this.constants.slots + k]!]!;
      v = v - ((v >> 1) & 0x5555);
      v = (v & 0x3333) + ((v >> 2) & 0x3333);
      v = (v + (v >> 4)) & 0x0f0f;
      hits += (v & 0xff) + (v >> 8);
    }
  }
  let similar = 0;
  if (empty[i]! + empty[j]! === 0) {
    let differing = 0;
    for (let w = 0; w < this.constants.sketchHalves; w++) {
      let v = sketch[i * this.constants.sketchHalves + w]! ^ sketch[j * this.constants.sketchHalves + w]!;
      v = v - ((v >> 1) & 0x5555);
      v = (v & 0x3333) + ((v >> 2) & 0x3333);
      v = (v + (v >> 4)) & 0x0f0f;
      differing += (v & 0xff) + (v >> 8);
    }
    const matches = this.constants.minhashCount - differing;
    if (matches > this.constants.matchesHalf) similar = Math.floor(((matches - this.constants.matchesHalf) * 125) / 8);
  }
  return similar * 4096 + hits;
}

/** Define halves as slots: the smallest power of two (at least 4) that holds every ACU's non-zero halves. */
function defineSlots(defines: Float32Array, n: number): { slots: number; index: Float32Array; value: Float32Array } {
  const halvesPerAcu = nameWords * 2;
  let most = 0;
  for (let i = 0; i < n; i += 1) {
    let count = 0;
    for (let h = 0; h < halvesPerAcu; h += 1) if (defines[i * halvesPerAcu + h] !== 0) count += 1;
    most = Math.max(most, count);
  }
  let slots = 4;
  while (slots < most) slots *= 2;
  const index = new Float32Array(n * slots);
  const value = new Float32Array(n * slots);
  for (let i = 0; i < n; i += 1) {
    let k = 0;
    for (let h = 0; h < halvesPerAcu; h += 1) {
      const v = defines[i * halvesPerAcu + h]!;
      if (v === 0) continue;
      index[i * slots + k] = h;
      value[i * slots + k] = v;
      k += 1;
    }
  }
  return { slots, index, value };
}

/** 32-bit words as 16-bit halves, low half first, as floats. */
function halves(words: Uint32Array): Float32Array {
  const out = new Float32Array(words.length * 2);
  for (let k = 0; k < words.length; k += 1) {
    out[2 * k] = words[k]! & 0xffff;
    out[2 * k + 1] = words[k]! >>> 16;
  }
  return out;
}

function copyCells(result: unknown, n: number): Int32Array {
  const cells = new Int32Array(n * n);
  if (result instanceof Float32Array) {
    for (let k = 0; k < n * n; k += 1) cells[k] = result[k]!;
    return cells;
  }
  assert(Array.isArray(result) && result.length === n, 'gpujs: the kernel returns one row per ACU');
  (result as Float32Array[]).forEach((row, i) => {
    assert(row.length === n, 'gpujs: rows are n long');
    for (let j = 0; j < n; j += 1) cells[i * n + j] = row[j]!;
  });
  return cells;
}

/** Create the gpujs backend in `mode` (default: what gpu.js picks). Throws ERR_CONFIG when gpu.js is unavailable. */
export async function gpuJsBackend(mode?: string): Promise<ScoringBackend> {
  const load = await loadGpuJs();
  if (!load.ok) {
    throw new AcuError('ERR_BACKEND_UNAVAILABLE', `the gpujs scoring backend is unavailable: ${load.reason}`, {
      hint: "install gpu.js (npm install gpu.js), or choose another backend with --backend",
    });
  }
  const gpu = new load.module.GPU(mode === undefined ? {} : { mode });
  // One kernel per slot count: constants are compiled in.
  const kernels = new Map<number, GpuKernel>();
  const kernelFor = (slots: number): GpuKernel => {
    let kernel = kernels.get(slots);
    if (kernel === undefined) {
      kernel = gpu.createKernel(cellKernel)
        .setConstants({ halves: nameWords * 2, slots, sketchHalves: sketchWords * 2, matchesHalf: minhashCount / 2, minhashCount })
        .setLoopMaxIterations(nameWords * 2)
        .setPrecision('single')
        .setTactic('precision')
        .setDynamicOutput(true)
        .setDynamicArguments(true);
      kernels.set(slots, kernel);
    }
    return kernel;
  };
  const detail = gpu.mode;
  return {
    name: 'gpujs',
    detail,
    pairScores: async (features: BatchFeatures): Promise<PairScores> => {
      const n = features.n;
      if (n === 0) return { n, cells: new Int32Array(0) };
      const defines = defineSlots(halves(features.defines), n);
      const kernel = kernelFor(defines.slots);
      kernel.setOutput([n, n]);
      const empty = Float32Array.from(features.empty);
      const result: unknown = await kernel(defines.index, defines.value, halves(features.uses), halves(features.sketch), empty);
      return { n, cells: copyCells(result, n) };
    },
    dispose: () => {
      gpu.destroy();
    },
  };
}
