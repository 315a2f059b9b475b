/**
 * `npm run bench:score [-- --sizes 256,1024,4096,8192] [--reps 3] [--gpujs-max 8192] [--no-typecheck]`
 *
 * 1. Pair scoring for each N: every backend available here (cpu-reference up to N = 1,024; gpu.js
 *    in each mode it offers, up to --gpujs-max since its CPU modes are slow), warm (the second and
 *    later calls; the first call's time is shown apart), median of --reps runs, in million pairs
 *    (N x N cells) per second, each result checked against js-bitset's.
 * 2. Validation of batches on a synthetic 500-file repository: cold (a fresh validator: base
 *    loaded, lib files parsed, first program) and warm (the same validator, next batches), p50/p90.
 *
 * Ends with one line per size: `bench:score n=N backend=B mpairs_per_s=X`, B being what `auto`
 * chooses here.
 */
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { nameWords, sketchWords } from '../src/core/scoring/index.js';
import type { BatchFeatures } from '../src/core/scoring/index.js';
import { buildFixtureRepo } from '../fixtures/builder.js';
import { syntheticSpec } from '../fixtures/synthetic.js';
import { makeTempDir, removeTempDir } from '../fixtures/tmp.js';
import { GitRepo } from '../src/git/index.js';
import type { ScoringBackend } from '../src/validate/scoring/backend.js';
import { cpuReferenceBackend } from '../src/validate/scoring/cpu-reference.js';
import { gpuJsAutoMode, gpuJsBackend, loadGpuJs } from '../src/validate/scoring/gpujs.js';
import { jsBitsetBackend } from '../src/validate/scoring/js-bitset.js';
import { selectBackend } from '../src/validate/scoring/select.js';
import { wasmAvailable, wasmBackend } from '../src/validate/scoring/wasm.js';
import { gitBaseTree, proposalFromCommit } from '../src/validate/git.js';
import { Validator } from '../src/validate/validate.js';

function option(args: readonly string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at === -1 ? fallback : (args[at + 1] ?? fallback);
}

/** Seeded features shaped like real batches: 1-3 defined names, 4-24 used ones, some near-copies. */
function syntheticFeatures(n: number, seed: number): BatchFeatures {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const f = { n, defines: new Uint32Array(n * nameWords), uses: new Uint32Array(n * nameWords), sketch: new Uint32Array(n * sketchWords), empty: new Uint8Array(n), lines: new Int32Array(n), weight: new Int32Array(n) };
  const setBit = (words: Uint32Array, i: number, bit: number): void => {
    words[i * nameWords + (bit >>> 5)]! |= 1 << (bit & 31);
  };
  for (let i = 0; i < n; i += 1) {
    for (let k = 1 + (next() % 3); k > 0; k -= 1) setBit(f.defines, i, next() % 2048);
    for (let k = 4 + (next() % 21); k > 0; k -= 1) setBit(f.uses, i, next() % 2048);
    const copy = i > 0 && next() % 10 === 0 ? next() % i : -1;
    for (let w = 0; w < sketchWords; w += 1) f.sketch[i * sketchWords + w] = copy === -1 ? next() : f.sketch[copy * sketchWords + w]! ^ (next() & next() & next());
    f.lines[i] = next() % 60;
    f.weight[i] = 2 + (next() % 7);
  }
  return f;
}

interface Contender {
  readonly label: string;
  readonly nMax: number;
  readonly make: () => Promise<ScoringBackend>;
}

async function contenders(gpujsMax: number): Promise<Contender[]> {
  const list: Contender[] = [
    { label: 'cpu-reference', nMax: 1024, make: () => Promise.resolve(cpuReferenceBackend()) },
    { label: 'js-bitset', nMax: Infinity, make: () => Promise.resolve(jsBitsetBackend()) },
  ];
  if (wasmAvailable()) list.push({ label: 'wasm-popcount', nMax: Infinity, make: () => Promise.resolve(wasmBackend()) });
  const load = await loadGpuJs();
  if (load.ok) {
    const auto = await gpuJsAutoMode();
    for (const mode of [...new Set([auto ?? 'webasm', 'cpu'])]) {
      const gpu = mode !== 'webasm' && mode !== 'cpu';
      list.push({ label: `gpujs/${mode}`, nMax: gpu ? Infinity : mode === 'cpu' ? Math.min(1024, gpujsMax) : gpujsMax, make: () => gpuJsBackend(mode) });
    }
  } else {
    console.log(`gpujs: unavailable (${load.reason})`);
  }
  return list;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function benchScoring(sizes: readonly number[], reps: number, gpujsMax: number): Promise<Map<number, { backend: string; mpairs: number }>> {
  const list = await contenders(gpujsMax);
  const autoLines = new Map<number, { backend: string; mpairs: number }>();
  console.log('\n## pair scoring (million pairs/s = N*N cells per second; warm median, first call apart)');
  console.log('| N | backend | first call ms | warm ms | Mpairs/s |');
  console.log('| ---: | --- | ---: | ---: | ---: |');
  for (const n of sizes) {
    const features = syntheticFeatures(n, 20261121 + n);
    const expected = Int32Array.from((await jsBitsetBackend().pairScores(features)).cells);
    const measured = new Map<string, number>();
    for (const contender of list) {
      if (n > contender.nMax) {
        console.log(`| ${n} | ${contender.label} | skipped (slow above N = ${contender.nMax}) | | |`);
        continue;
      }
      const backend = await contender.make();
      try {
        let started = performance.now();
        const first = await backend.pairScores(features);
        const firstMs = performance.now() - started;
        if (first.cells.some((cell, at) => cell !== expected[at])) throw new Error(`${contender.label}: result differs at N = ${n}`);
        const times: number[] = [];
        const runs = contender.label.startsWith('gpujs') || contender.label === 'cpu-reference' ? 1 : reps;
        for (let r = 0; r < runs; r += 1) {
          started = performance.now();
          await backend.pairScores(features);
          times.push(performance.now() - started);
        }
        const ms = median(times);
        const mpairs = (n * n) / ms / 1000;
        measured.set(contender.label.startsWith('gpujs') ? 'gpujs' : contender.label, mpairs);
        console.log(`| ${n} | ${contender.label}${contender.label.startsWith('gpujs') ? ` (${backend.detail})` : ''} | ${firstMs.toFixed(1)} | ${ms.toFixed(1)} | ${mpairs.toFixed(1)} |`);
      } finally {
        backend.dispose();
      }
    }
    const chosen = await selectBackend('auto', n);
    chosen.backend.dispose();
    autoLines.set(n, { backend: chosen.backend.name, mpairs: measured.get(chosen.backend.name) ?? 0 });
  }
  return autoLines;
}

async function benchValidation(files: number, batches: number): Promise<void> {
  console.log(`\n## validation of a batch (two proposals) on a ${files}-file repository`);
  const dir = await makeTempDir('bench-score');
  try {
    const { spec } = syntheticSpec({ files, batches, seed: 7 });
    const { oids } = await buildFixtureRepo(dir, spec, { storage: 'packed' });
    const repo = await GitRepo.open(dir);
    try {
      const base = await gitBaseTree(repo, oids.base!);
      const batchesOf = [];
      for (let k = 0; k < batches; k += 1) {
        batchesOf.push([
          await proposalFromCommit(repo, { base: oids.base!, commit: oids[`a${k}`]!, site: 'paris' }),
          await proposalFromCommit(repo, { base: oids.base!, commit: oids[`b${k}`]!, site: 'tokyo' }),
        ]);
      }
      const validator = new Validator(wasmBackend());
      const times: number[] = [];
      const checked: number[] = [];
      const verdicts = new Map<string, number>();
      const slow: number[] = [];
      for (const [k, proposals] of batchesOf.entries()) {
        const started = performance.now();
        const run = await validator.validate(base, proposals);
        times.push(performance.now() - started);
        checked.push(run.result.checked.length);
        if (k > 0 && !run.result.scores.fastPath) slow.push(times[k]!);
        verdicts.set(run.result.verdict, (verdicts.get(run.result.verdict) ?? 0) + 1);
        if (k === 0) console.log(`cold: ${times[0]!.toFixed(0)} ms (load ${run.timings.loadMs.toFixed(0)}, compose ${run.timings.composeMs.toFixed(0)}, score ${run.timings.scoreMs.toFixed(1)}, type-check ${run.timings.checkMs.toFixed(0)}; ${run.result.checked.length} files checked)`);
      }
      validator.dispose();
      const warm = times.slice(1).sort((a, b) => a - b);
      const p = (q: number): number => warm[Math.min(warm.length - 1, Math.floor(q * warm.length))] ?? 0;
      console.log(`warm: p50 ${p(0.5).toFixed(0)} ms, p90 ${p(0.9).toFixed(0)} ms, max ${(warm.at(-1) ?? 0).toFixed(0)} ms over ${warm.length} batches; files checked per batch: median ${median(checked.slice(1))}`);
      slow.sort((a, b) => a - b);
      console.log(`warm, batches not on the fast path (dependents checked too): ${slow.length}, p50 ${(slow[Math.floor(slow.length / 2)] ?? 0).toFixed(0)} ms, max ${(slow.at(-1) ?? 0).toFixed(0)} ms`);
      console.log(`verdicts: ${[...verdicts].map(([v, c]) => `${v} ${c}`).join(', ')}`);
      console.log(`bench:validate files=${files} cold_ms=${times[0]!.toFixed(0)} warm_p50_ms=${p(0.5).toFixed(0)}`);
    } finally {
      await repo.close();
    }
  } finally {
    await removeTempDir(dir);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sizes = option(args, '--sizes', '256,1024,4096,8192').split(',').map(Number);
  const reps = Number(option(args, '--reps', '3'));
  const gpujsMax = Number(option(args, '--gpujs-max', '8192'));
  console.log(`# bench:score on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  const autoLines = await benchScoring(sizes, reps, gpujsMax);
  if (!args.includes('--no-typecheck')) await benchValidation(Number(option(args, '--files', '500')), Number(option(args, '--batches', '21')));
  console.log('');
  for (const [n, line] of autoLines) console.log(`bench:score n=${n} backend=${line.backend} mpairs_per_s=${line.mpairs.toFixed(1)}`);
}

await main();
