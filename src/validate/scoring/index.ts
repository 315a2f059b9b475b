/** Scoring backends behind the core's scoring definition. */
export * from './backend.js';
export * from './select.js';
export { cpuReferenceBackend } from './cpu-reference.js';
export { jsBitsetBackend, jsBitsetPairScores } from './js-bitset.js';
export { wasmBackend, wasmPairScores, wasmAvailable, WasmArena } from './wasm.js';
export { gpuJsBackend, gpuJsAutoMode, loadGpuJs } from './gpujs.js';
