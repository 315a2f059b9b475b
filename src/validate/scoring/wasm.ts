/**
 * The `wasm-popcount` backend: a small WebAssembly module, assembled here from its instructions (no
 * toolchain), that runs one tile of the triangle loop with `i32.popcnt` over the sparse define
 * words and `i64.popcnt` over the 128-bit sketches. JavaScript walks the tiles; the module writes
 * both matrices straight into its memory, which the result's arrays then view without a copy.
 */
import { assert } from '../../core/errors.js';
import { nameWords, sketchWords } from '../../core/scoring/index.js';
import type { BatchFeatures, PairScores } from '../../core/scoring/index.js';
import type { ScoringBackend } from './backend.js';
import { similarityTable, sparseDefines, tileSize } from './sparse.js';

// Opcodes used below (WebAssembly core specification, binary format).
const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i64Load: 0x29, i32Load8u: 0x2d, i32Store: 0x36,
  i32Const: 0x41, i32Eqz: 0x45, i32GeU: 0x4f, i32Popcnt: 0x69, i32Add: 0x6a, i32Mul: 0x6c,
  i32Or: 0x72, i32And: 0x71, i32Shl: 0x74, i64Popcnt: 0x7b, i64Add: 0x7c, i64Xor: 0x85, i32WrapI64: 0xa7,
  void: 0x40, i32: 0x7f, i64: 0x7e,
} as const;

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function utf8Name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

// Parameters 0..4: i0, i1, j0, j1, diagonal. Locals 5.. as named here.
const L = {
  i0: 0, i1: 1, j0: 2, j1: 3, diag: 4,
  n: 5, uses: 6, ovr: 7, defPairs: 8, sketch: 9, empty: 10, simTab: 11, cells: 12, slots: 13,
  i: 14, j: 15, k: 16, kEnd: 17, a: 18, b: 19, ui: 20, uj: 21, emi: 22, s: 23, ki0: 24, ki1: 25, rowI: 26, tmp: 27,
  w0i: 28, v0i: 29, w1i: 30, v1i: 31, sj: 32,
  ski0: 33, ski1: 34,
} as const;

/** Header words at address 0: where the module finds its arrays. */
const headerFields = ['n', 'uses', 'ovr', 'defPairs', 'sketch', 'empty', 'simTab', 'cells', 'slots'] as const;
const headerBytes = 64;

const get = (local: number): number[] => [op.localGet, local];
const set = (local: number): number[] => [op.localSet, local];
const tee = (local: number): number[] => [op.localTee, local];
const i32 = (value: number): number[] => [op.i32Const, ...sleb(value)];
const load32 = (offset = 0): number[] => [op.i32Load, 2, ...uleb(offset)];
const load64 = (offset = 0): number[] => [op.i64Load, 3, ...uleb(offset)];
const store32 = (): number[] => [op.i32Store, 2, 0];
const inc = (local: number): number[] => [...get(local), ...i32(1), op.i32Add, ...set(local)];
/** `block; loop; if (counter >= limit) break; body; counter++; continue; end; end` */
const countedLoop = (counter: number, limit: number, body: number[]): number[] => [
  op.block, op.void, op.loop, op.void,
  ...get(counter), ...get(limit), op.i32GeU, op.brIf, 1,
  ...body,
  ...inc(counter), op.br, 0,
  op.end, op.end,
];
/** hits += popcount(defValue & uses[row + defWord]) over define entries k .. kEnd. */
const hitsLoop = (acc: number, row: number): number[] => countedLoop(L.k, L.kEnd, [
  ...get(L.defPairs), ...get(L.k), ...i32(3), op.i32Shl, op.i32Add, ...set(L.tmp),
  ...get(acc),
  ...get(L.tmp), ...load32(4),
  ...get(row), ...get(L.tmp), ...load32(0), op.i32Add, ...load32(0),
  op.i32And, op.i32Popcnt, op.i32Add, ...set(acc),
]);
/** address = base + (index << 2) */
const cell = (base: number, index: number[]): number[] => [...get(base), ...index, ...i32(2), op.i32Shl, op.i32Add];

/** The tile function; `full` computes every ordered cell of the tile (one direction, no transposed write). */
function tileBody(full: boolean): number[] {
  const header = headerFields.flatMap((_, at) => [...i32(0), ...load32(at * 4), ...set(L.n + at)]);
  const pairBody = [
    ...get(L.uses), ...get(L.j), ...i32(8), op.i32Shl, op.i32Add, ...set(L.uj),
    ...get(L.v0i), ...get(L.uj), ...get(L.w0i), op.i32Add, ...load32(0), op.i32And, op.i32Popcnt,
    ...get(L.v1i), ...get(L.uj), ...get(L.w1i), op.i32Add, ...load32(0), op.i32And, op.i32Popcnt,
    op.i32Add, ...set(L.a),
    ...get(L.ki0), ...set(L.k), ...get(L.ki1), ...set(L.kEnd), ...hitsLoop(L.a, L.uj),
    ...(full ? [] : [
      ...get(L.slots), ...get(L.j), ...i32(4), op.i32Shl, op.i32Add, ...set(L.sj),
      ...get(L.sj), ...load32(4), ...get(L.ui), ...get(L.sj), ...load32(0), op.i32Add, ...load32(0), op.i32And, op.i32Popcnt,
      ...get(L.sj), ...load32(12), ...get(L.ui), ...get(L.sj), ...load32(8), op.i32Add, ...load32(0), op.i32And, op.i32Popcnt,
      op.i32Add, ...set(L.b),
      ...get(L.ovr), ...get(L.j), ...i32(3), op.i32Shl, op.i32Add, ...tee(L.tmp), ...load32(0), ...set(L.k),
      ...get(L.tmp), ...load32(4), ...set(L.kEnd), ...hitsLoop(L.b, L.ui),
    ]),
    ...get(L.sketch), ...get(L.j), ...i32(4), op.i32Shl, op.i32Add, ...set(L.tmp),
    ...get(L.simTab),
    ...get(L.ski0), ...get(L.tmp), ...load64(0), op.i64Xor, op.i64Popcnt,
    ...get(L.ski1), ...get(L.tmp), ...load64(8), op.i64Xor, op.i64Popcnt,
    op.i64Add, op.i32WrapI64, ...i32(2), op.i32Shl, op.i32Add, ...load32(0),
    ...i32(0),
    ...get(L.emi), ...get(L.empty), ...get(L.j), op.i32Add, op.i32Load8u, 0, 0, op.i32Or, op.i32Eqz,
    op.select, ...set(L.s),
    ...cell(L.cells, [...get(L.rowI), ...get(L.j), op.i32Add]), ...get(L.a), ...get(L.s), op.i32Or, ...store32(),
    ...(full ? [] : [...cell(L.cells, [...get(L.j), ...get(L.n), op.i32Mul, ...get(L.i), op.i32Add]), ...get(L.b), ...get(L.s), op.i32Or, ...store32()]),
  ];
  const rowBody = [
    ...get(L.i), ...i32(1), op.i32Add, ...get(L.j0), ...get(L.diag), op.select, ...set(L.j),
    ...get(L.ovr), ...get(L.i), ...i32(3), op.i32Shl, op.i32Add, ...tee(L.tmp), ...load32(0), ...set(L.ki0),
    ...get(L.tmp), ...load32(4), ...set(L.ki1),
    ...get(L.slots), ...get(L.i), ...i32(4), op.i32Shl, op.i32Add, ...tee(L.tmp), ...load32(0), ...set(L.w0i),
    ...get(L.tmp), ...load32(4), ...set(L.v0i), ...get(L.tmp), ...load32(8), ...set(L.w1i), ...get(L.tmp), ...load32(12), ...set(L.v1i),
    ...get(L.uses), ...get(L.i), ...i32(8), op.i32Shl, op.i32Add, ...set(L.ui),
    ...get(L.sketch), ...get(L.i), ...i32(4), op.i32Shl, op.i32Add, ...tee(L.tmp), ...load64(0), ...set(L.ski0),
    ...get(L.tmp), ...load64(8), ...set(L.ski1),
    ...get(L.empty), ...get(L.i), op.i32Add, op.i32Load8u, 0, 0, ...set(L.emi),
    ...get(L.i), ...get(L.n), op.i32Mul, ...set(L.rowI),
    ...countedLoop(L.j, L.j1, pairBody),
  ];
  const locals = [2, ...uleb(L.sj - L.n + 1), op.i32, 2, op.i64];
  const code = [...locals, ...header, ...get(L.i0), ...set(L.i), ...countedLoop(L.i, L.i1, rowBody), op.end];
  return [...uleb(code.length), ...code];
}

/**
 * The module's bytes: imports `env.mem`, exports `tile(i0, i1, j0, j1, diagonal)` (upper-triangle
 * pairs, both directions written) and `rows(i0, i1, j0, j1, 0)` (every ordered cell, row-major).
 */
export function scoringModuleBytes(): Uint8Array {
  const type = section(1, [1, 0x60, 5, op.i32, op.i32, op.i32, op.i32, op.i32, 0]);
  const imports = section(2, [1, ...utf8Name('env'), ...utf8Name('mem'), 0x02, 0x00, 1]);
  const functions = section(3, [2, 0, 0]);
  const exports = section(7, [2, ...utf8Name('tile'), 0x00, 0, ...utf8Name('rows'), 0x00, 1]);
  const code = section(10, [2, ...tileBody(false), ...tileBody(true)]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...functions, ...exports, ...code]);
}

/**
 * From this many ACUs on, every ordered cell is computed row by row (`rows`) instead of the upper
 * triangle with transposed writes (`tile`): past about 128 MB of cells the scattered transposed
 * writes cost more than computing each pair twice (measured here at N = 8,192: 206-314 against
 * 51-157 M pairs/s; at N = 4,096 the triangle was ahead, 166-280 against 196-237).
 */
export const rowsMinAcus = 6144;

/** How the module walks the matrix: by the rule above, or forced (tests cover both paths). */
export type WasmLayout = 'auto' | 'triangle' | 'rows';

/** Define words per ACU read from fixed slots; more go through the overflow loop. */
const inlineDefineWords = 2;

/** Bytes of wasm32 memory addressable at most. */
const memoryBytesMax = 4 * 1024 * 1024 * 1024 - 65536;

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/** The part of the WebAssembly JS API used here (the build's lib has no DOM types). */
interface WasmApi {
  readonly Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer };
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}

const wasmApi: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null = null;

type TileFunction = (i0: number, i1: number, j0: number, j1: number, diagonal: number) => void;

/** A module instance and its memory, kept between batches so that warm calls fault no new pages. */
export class WasmArena {
  private memory: { readonly buffer: ArrayBuffer; grow?: (pages: number) => number } | null = null;
  private tile: ((i0: number, i1: number, j0: number, j1: number, diagonal: number) => void) | null = null;
  private rows: ((i0: number, i1: number, j0: number, j1: number, diagonal: number) => void) | null = null;

  /** The memory, at least `bytes` long, and the tile function bound to it. */
  prepare(bytes: number): { buffer: ArrayBuffer; tile: TileFunction; rows: TileFunction } {
    assert(wasmApi !== undefined, 'wasm: WebAssembly exists (checked by wasmAvailable)');
    if (this.memory === null || this.tile === null || this.rows === null || this.memory.buffer.byteLength < bytes) {
      const memory = new wasmApi.Memory({ initial: Math.ceil(bytes / 65536) });
      compiled ??= new wasmApi.Module(scoringModuleBytes());
      const instance = new wasmApi.Instance(compiled, { env: { mem: memory } });
      this.memory = memory;
      this.tile = instance.exports.tile as TileFunction;
      this.rows = instance.exports.rows as TileFunction;
    }
    return { buffer: this.memory.buffer, tile: this.tile, rows: this.rows };
  }

  /** Let the memory go. */
  release(): void {
    this.memory = null;
    this.tile = null;
    this.rows = null;
  }
}

/**
 * Compute pair scores in WebAssembly. The cells are a view into the arena's memory: valid until
 * the arena's next use (a fresh arena, the default, is never reused).
 */
export function wasmPairScores(features: BatchFeatures, arena: WasmArena = new WasmArena(), walk: WasmLayout = 'auto'): PairScores {
  assert(sketchWords === 4, 'wasm: the module reads 128-bit sketches');
  assert(nameWords === 64, 'wasm: the module reads 256-byte name sets');
  const n = features.n;
  const sparse = sparseDefines(features);
  const layout: Record<(typeof headerFields)[number], number> = { n, uses: 0, ovr: 0, defPairs: 0, sketch: 0, empty: 0, simTab: 0, cells: 0, slots: 0 };
  let at = headerBytes;
  const place = (key: Exclude<keyof typeof layout, 'n'>, bytes: number): void => {
    layout[key] = at;
    at = align(at + bytes, 16);
  };
  place('uses', features.uses.byteLength);
  place('ovr', n * 8);
  place('slots', n * 16);
  place('defPairs', sparse.words.length * 8);
  place('sketch', features.sketch.byteLength);
  place('empty', features.empty.byteLength);
  place('simTab', (sketchWords * 32 + 1) * 4);
  place('cells', n * n * 4);
  assert(at <= memoryBytesMax, `wasm: a batch of ${n} ACUs fits in 4 GiB`);
  const { buffer, tile, rows } = arena.prepare(at);
  new Int32Array(buffer, 0, headerFields.length).set(headerFields.map((field) => layout[field]));
  new Uint32Array(buffer, layout.uses, features.uses.length).set(features.uses);
  // The first two non-zero define words of each ACU sit in fixed slots (byte offset in a uses row,
  // value; zeros when absent: they add nothing), read without a loop; the rest, rarely any, are an
  // overflow range of the define-word list.
  const ovr = new Int32Array(buffer, layout.ovr, n * 2);
  const slots = new Uint32Array(buffer, layout.slots, n * 4);
  slots.fill(0);
  for (let i = 0; i < n; i += 1) {
    const [from, to] = [sparse.offsets[i]!, sparse.offsets[i + 1]!];
    for (let k = from; k < Math.min(from + inlineDefineWords, to); k += 1) {
      slots[i * 4 + 2 * (k - from)] = sparse.words[k]! * 4;
      slots[i * 4 + 2 * (k - from) + 1] = sparse.values[k]!;
    }
    ovr[2 * i] = Math.min(from + inlineDefineWords, to);
    ovr[2 * i + 1] = to;
  }
  const pairs = new Uint32Array(buffer, layout.defPairs, sparse.words.length * 2);
  for (let k = 0; k < sparse.words.length; k += 1) {
    pairs[2 * k] = sparse.words[k]! * 4;
    pairs[2 * k + 1] = sparse.values[k]!;
  }
  new Uint32Array(buffer, layout.sketch, features.sketch.length).set(features.sketch);
  new Uint8Array(buffer, layout.empty, n).set(features.empty);
  new Int32Array(buffer, layout.simTab, sketchWords * 32 + 1).set(similarityTable());
  if (walk === 'rows' || (walk === 'auto' && n >= rowsMinAcus)) {
    for (let i0 = 0; i0 < n; i0 += tileSize) rows(i0, Math.min(i0 + tileSize, n), 0, n, 0);
  } else {
    for (let i0 = 0; i0 < n; i0 += tileSize) {
      const i1 = Math.min(i0 + tileSize, n);
      for (let j0 = i0; j0 < n; j0 += tileSize) tile(i0, i1, j0, Math.min(j0 + tileSize, n), j0 === i0 ? 1 : 0);
    }
  }
  const cells = new Int32Array(buffer, layout.cells, n * n);
  // A reused arena holds an earlier batch's cells; the module writes every cell but the diagonal.
  for (let i = 0; i < n; i += 1) cells[i * n + i] = 0;
  return { n, cells };
}

/** True where this runtime has WebAssembly. */
export function wasmAvailable(): boolean {
  return wasmApi !== undefined && typeof wasmApi.Module === 'function';
}

/** The wasm-popcount backend. Its results are valid until its next call (they live in its arena). */
export function wasmBackend(layout: WasmLayout = 'auto'): ScoringBackend {
  const arena = new WasmArena();
  return {
    name: 'wasm-popcount',
    detail: layout === 'auto' ? 'webassembly' : `webassembly, ${layout}`,
    pairScores: (features) => Promise.resolve(wasmPairScores(features, arena, layout)),
    dispose: () => arena.release(),
  };
}
