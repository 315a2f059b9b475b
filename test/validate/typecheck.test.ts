/** The warm type-checking session: programs are reused across batches, not rebuilt. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { defaultCompilerOptions, overBudget, repoRoot, typecheckLimits, typecheckMeasures, TypeCheckSession } from '../../src/validate/typecheck.js';
import type { TypeCheckJob } from '../../src/validate/typecheck.js';
import { InProcessTypeChecker, WorkerTypeChecker } from '../../src/validate/typecheck-worker.js';
import type { CheckOutcome } from '../../src/validate/typecheck-worker.js';

const files = new Map([
  ['src/a.ts', 'export function a(x: number): number {\n  return x;\n}\n'],
  ['src/b.ts', "import { a } from './a.js';\n\nexport const b: number = a(1);\n"],
  ['src/c.ts', 'export const c = 3;\n'],
]);

describe('TypeCheckSession', () => {
  it('reuses unchanged source files and lib files across overlays and bases', () => {
    const session = new TypeCheckSession();
    try {
      session.setBase('t1', files);
      assert.deepEqual(session.diagnosticsOf('src/b.ts'), []);
      const first = session.program();
      const baseProgram = session.baseProgram();
      const lib = first.getSourceFiles().find((sf) => !sf.fileName.startsWith(repoRoot));
      assert.ok(lib !== undefined, 'a lib file is in the program');
      session.overlay(new Map([['src/a.ts', 'export function a(x: string): number {\n  return x.length;\n}\n']]));
      const diagnostics = session.diagnosticsOf('src/b.ts');
      assert.deepEqual(diagnostics.map((d) => [d.code, d.line]), [[2345, 3]]);
      const second = session.program();
      assert.notEqual(second, first);
      assert.equal(second.getSourceFile(`${repoRoot}src/c.ts`), first.getSourceFile(`${repoRoot}src/c.ts`), 'an untouched file is not re-parsed');
      assert.equal(second.getSourceFile(lib.fileName), lib, 'lib files are not re-parsed');
      assert.deepEqual(session.dependentsOf(new Set(['src/a.ts'])), ['src/b.ts']);
      assert.equal(session.baseProgram(), baseProgram, 'the base program (and its checker) stays while the base does');
      assert.deepEqual(session.baseDiagnosticsOf(['src/b.ts']).get('src/b.ts'), [], 'the base still type-checks');
      session.setBase('t2', new Map([...files, ['src/c.ts', 'export const c = 4;\n']]));
      assert.equal(session.program().getSourceFile(lib.fileName), lib, 'a new base keeps the lib files');
      assert.deepEqual(session.baseDiagnosticsOf(['src/b.ts']).get('src/b.ts'), []);
    } finally {
      session.dispose();
    }
  });
});

/** A program whose check takes a while: many functions, each with types to infer and compare. */
function slowFile(functions: number): string {
  const lines: string[] = [];
  for (let k = 0; k < functions; k += 1) {
    lines.push(`export function f${k}<T extends { k: number }>(a: T, b: readonly string[]): { k: number; s: string[] } {`);
    lines.push(`  const m = b.map((x, i) => ({ x, i: i + a.k + ${k} })).filter((y) => y.i > ${k % 7});`);
    lines.push(`  return { k: m.reduce((s, y) => s + y.i, 0), s: m.map((y) => y.x.toUpperCase()) };`);
    lines.push('}');
  }
  return `${lines.join('\n')}\n`;
}

function job(baseId: string, changes: ReadonlyMap<string, string | null>, acus: TypeCheckJob['acus'] = []): TypeCheckJob {
  return { baseId, baseFiles: files, options: defaultCompilerOptions, acus, changes, fastPath: false };
}

/**
 * How many event-loop turns (setImmediate callbacks) ran between starting `check` and its answer.
 * Each turn re-arms the next, as a sync node's tick or socket callback would need the loop.
 */
async function turnsDuring(check: () => Promise<CheckOutcome>): Promise<{ turns: number; outcome: CheckOutcome }> {
  let turns = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    turns += 1;
    setImmediate(spin);
  };
  setImmediate(spin);
  const outcome = await check();
  done = true;
  return { turns, outcome };
}

describe('the type-check budget', () => {
  it('measures the composed program from the base and the changes alone, and names the first limit exceeded', () => {
    const changes = new Map<string, string | null>([['src/a.ts', 'x'.repeat(10)], ['src/c.ts', null], ['README.md', 'not in the program']]);
    const measures = typecheckMeasures(files, changes, 3);
    assert.deepEqual(measures, { acus: 3, changedChars: 10, programFiles: 2, programChars: 10 + files.get('src/b.ts')!.length });
    assert.equal(overBudget(measures), null);
    const tight = { ...typecheckLimits, typecheckChangedCharsMax: 9, typecheckProgramFilesMax: 1 };
    assert.equal(overBudget(measures, tight), 'not type-checked: over budget (10 changed chars > 9)');
    assert.equal(overBudget(measures, { ...tight, typecheckBatchAcusMax: 2 }), 'not type-checked: over budget (3 ACUs > 2)');
  });
});

describe('the type-check worker', () => {
  const inProcess = new InProcessTypeChecker(null);
  after(() => inProcess.dispose());

  it('answers exactly what the in-process check answers, while the event loop keeps turning', async () => {
    const worker = new WorkerTypeChecker({ environmentRoot: null });
    try {
      const slow = job('slow', new Map([['src/slow.ts', slowFile(150)], ['src/a.ts', 'export function a(x: string): number {\n  return x.length;\n}\n']]));
      const inWorker = await turnsDuring(() => worker.check(slow));
      const here = await turnsDuring(() => inProcess.check(slow));
      assert.equal(inWorker.outcome.kind, 'checked');
      assert.deepEqual(inWorker.outcome, here.outcome, 'same checked files, findings (in order) and environment');
      // In process the check holds the loop from start to answer: not one turn runs. In the
      // worker the loop keeps turning (a lower bound on a count, not a time).
      assert.equal(here.turns, 0);
      assert.ok(inWorker.turns >= 100, `${inWorker.turns} event-loop turns during the check`);
    } finally {
      worker.dispose();
    }
  });

  it('abstains when the safety net kills the worker, and serves the next job from a fresh worker', async () => {
    const worker = new WorkerTypeChecker({ environmentRoot: null });
    try {
      const broken = job('t1', new Map([['src/a.ts', 'export function a(x: string): number {\n  return x.length;\n}\n']]));
      // A safety net of 0 ms fires before any worker can answer: the worker is killed mid-job.
      const killed = await worker.check(broken, 0);
      assert.equal(killed.kind, 'no-verdict');
      assert.match(killed.kind === 'no-verdict' ? killed.reason : '', /safety net/);
      const next = await worker.check(broken);
      assert.deepEqual(next, await inProcess.check(broken));
      assert.equal(worker.workersStarted, 2, 'the killed worker was replaced');
    } finally {
      worker.dispose();
    }
  });

  it('abstains when the worker crashes, and serves the next job from a fresh worker', async () => {
    const worker = new WorkerTypeChecker({ environmentRoot: null });
    try {
      const ok = job('t1', new Map([['src/c.ts', 'export const c: string = 3;\n']]));
      assert.equal((await worker.check(ok)).kind, 'checked');
      // A job the validator never builds (an ACU without its body) makes the check throw in the worker.
      const crashing = job('t1', new Map([['src/c.ts', 'export const c = 5;\n']]), [{} as TypeCheckJob['acus'][number]]);
      const crashed = await worker.check(crashing);
      assert.equal(crashed.kind, 'no-verdict');
      assert.match(crashed.kind === 'no-verdict' ? crashed.reason : '', /crashed/);
      assert.deepEqual(await worker.check(ok), await inProcess.check(ok), 'the fresh worker is sent the base again');
      assert.equal(worker.workersStarted, 2);
    } finally {
      worker.dispose();
    }
  });
});
