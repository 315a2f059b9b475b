import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureSpec } from '../../fixtures/builder.js';
import { brokenSpec, cleanSpec, exportRenameSpec, fileRemovalSpec, packageEnvironment, packageSpec, returnTypeSpec, signatureChangeSpec } from '../../fixtures/semantic.js';
import { syntheticSpec } from '../../fixtures/synthetic.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { GitRepo } from '../../src/git/index.js';
import { gitBaseTree, proposalFromCommit } from '../../src/validate/git.js';
import { jsBitsetBackend } from '../../src/validate/scoring/js-bitset.js';
import { wasmBackend } from '../../src/validate/scoring/wasm.js';
import type { AcuVerdict, ValidationResult } from '../../src/validate/result.js';
import type { BaseTree, Proposal, ValidationRun } from '../../src/validate/validate.js';
import { Validator } from '../../src/validate/validate.js';
import { typecheckLimits } from '../../src/validate/typecheck.js';
import { policyConflicts } from '../../src/validate/conflicts.js';
import { resolveConflict } from '../../src/core/policy/index.js';

interface Loaded {
  readonly repo: GitRepo;
  readonly base: BaseTree;
  readonly proposals: Proposal[];
}

const dirs: string[] = [];
const repos: GitRepo[] = [];

async function load(name: string, spec: FixtureSpec): Promise<Loaded> {
  const dir = await makeTempDir(`validate-${name}`);
  dirs.push(dir);
  const { oids } = await buildFixtureRepo(dir, spec);
  const repo = await GitRepo.open(dir);
  repos.push(repo);
  const base = await gitBaseTree(repo, oids.base!);
  const proposals = [
    await proposalFromCommit(repo, { base: oids.base!, commit: oids.ours!, site: 'paris' }),
    await proposalFromCommit(repo, { base: oids.base!, commit: oids.theirs!, site: 'tokyo' }),
  ];
  return { repo, base, proposals };
}

function find(result: ValidationResult, where: string): AcuVerdict {
  const verdict = result.acus.find((v) => v.where === where);
  assert.ok(verdict !== undefined, `an ACU at ${where} in ${result.acus.map((v) => v.where).join(', ')}`);
  return verdict;
}

function show(run: ValidationRun): string {
  return JSON.stringify(run.result, null, 1);
}

describe('validation of composed batches', () => {
  const validator = new Validator(jsBitsetBackend());
  after(async () => {
    validator.dispose();
    for (const repo of repos) await repo.close();
    for (const dir of dirs) await removeTempDir(dir);
  });

  it('rejects a call in the old shape of a function whose signature the other proposal changed, naming both ACUs', async () => {
    const { base, proposals } = await load('signature', signatureChangeSpec);
    const run = await validator.validate(base, proposals);
    const { result } = run;
    assert.equal(result.verdict, 'conflicts', show(run));
    const call = find(result, 'src/app.ts#function:twice');
    const signature = find(result, 'src/math.ts#function:scale');
    assert.equal(call.verdict, 'conflict', show(run));
    assert.equal(call.site, 'tokyo');
    assert.equal(signature.site, 'paris');
    assert.ok(call.reasons.some((r) => r.code === 'semantic-conflict' && r.message.startsWith('TS2554') && r.related.includes(signature.id)), show(run));
    assert.deepEqual(result.conflicts.map((c) => [c.kind, [...c.acus].sort()]), [['semantic', [call.id, signature.id].sort()]]);
    for (const v of result.acus.filter((a) => a !== call && a !== signature)) assert.equal(v.verdict, 'ok', `${v.where}: ${show(run)}`);
    assert.equal(result.scores.fastPath, false, 'the two proposals interfere');
    const [conflict] = policyConflicts(result);
    assert.ok(conflict !== undefined);
    const paris = conflict.a.site === 'paris' ? 'keep-a' : 'keep-b';
    const choice = resolveConflict({ kind: 'site-priority', sites: ['paris'] }, conflict, { votes: new Map(), elapsedTicks: 0 });
    assert.deepEqual(choice, { kind: 'choice', resolution: paris, reason: 'site priority (paris)' });
    assert.equal(conflict.a.interference + conflict.b.interference, 1, 'scale is used by twice');
  });

  it('rejects an import of an export the other proposal renamed, naming both ACUs', async () => {
    const { base, proposals } = await load('rename', exportRenameSpec);
    const run = await validator.validate(base, proposals);
    const { result } = run;
    assert.equal(result.verdict, 'conflicts', show(run));
    const importer = find(result, "src/main.ts#import:'./names.js'");
    const removed = find(result, 'src/names.ts#function:greet');
    assert.equal(importer.verdict, 'conflict', show(run));
    assert.equal(removed.verdict, 'conflict', show(run));
    assert.ok(importer.reasons.some((r) => r.code === 'semantic-conflict' && r.message.startsWith('TS2305') && r.related.includes(removed.id)), show(run));
    assert.ok(result.conflicts.some((c) => c.acus.includes(importer.id) && c.acus.includes(removed.id)), show(run));
    assert.equal(find(result, 'src/names.ts#function:welcome').verdict, 'ok');
  });

  it('rejects an import of a module the other proposal deletes, naming the deletion', async () => {
    const { base, proposals } = await load('removal', fileRemovalSpec);
    const run = await validator.validate(base, proposals);
    const { result } = run;
    assert.equal(result.verdict, 'conflicts', show(run));
    const importer = find(result, "src/names.ts#import:'./math.js'");
    const deletion = find(result, 'src/math.ts');
    assert.equal(importer.verdict, 'conflict', show(run));
    assert.ok(importer.reasons.some((r) => r.code === 'semantic-conflict' && r.message.startsWith('TS2307') && r.related.includes(deletion.id)), show(run));
  });

  it('attributes a changed return type: a conflict with the new typed use, a break of the untouched one', async () => {
    const { base, proposals } = await load('return', returnTypeSpec);
    const run = await validator.validate(base, proposals);
    const { result } = run;
    assert.equal(result.verdict, 'reject', show(run));
    const changed = find(result, 'src/math.ts#function:unit');
    const use = find(result, 'src/math.ts#function:three');
    assert.equal(use.verdict, 'conflict', show(run));
    assert.ok(use.reasons.some((r) => r.code === 'semantic-conflict' && r.message.startsWith('TS2322') && r.related.includes(changed.id)), show(run));
    assert.equal(changed.verdict, 'invalid', 'it breaks src/use.ts, which no ACU touches');
    assert.ok(changed.reasons.some((r) => r.code === 'breaks-dependent' && r.file === 'src/use.ts'), show(run));
    assert.deepEqual(result.unattributed, []);
  });

  it('checks uses of packages against an environment (node_modules), and records its digest', async () => {
    const { base, proposals } = await load('package', packageSpec);
    const without = await validator.validate(base, proposals);
    assert.equal(without.result.verdict, 'accept', 'without an environment the package is unknown');
    assert.equal(without.result.environment, null);
    const envDir = await makeTempDir('validate-env');
    dirs.push(envDir);
    for (const [path, text] of Object.entries(packageEnvironment)) {
      await mkdir(dirname(join(envDir, path)), { recursive: true });
      await writeFile(join(envDir, path), text);
    }
    const withEnv = new Validator(jsBitsetBackend(), { environmentRoot: envDir });
    try {
      const run = await withEnv.validate(base, proposals);
      assert.equal(run.result.verdict, 'reject', show(run));
      const twice = find(run.result, 'src/app.ts#function:twice');
      assert.ok(twice.reasons.some((r) => r.code === 'type-error' && r.message.startsWith('TS2322')), show(run));
      assert.match(run.result.environment ?? '', /^[0-9a-f]{64}$/);
    } finally {
      withEnv.dispose();
    }
  });

  it('accepts proposals that commute and do not interfere, on the fast path', async () => {
    const { base, proposals } = await load('clean', cleanSpec);
    const run = await validator.validate(base, proposals);
    assert.equal(run.result.verdict, 'accept', show(run));
    assert.equal(run.result.scores.fastPath, true, show(run));
    assert.ok(run.result.acus.every((v) => v.verdict === 'ok'));
  });

  it('marks an ACU broken on its own as invalid', async () => {
    const { base, proposals } = await load('broken', brokenSpec);
    const run = await validator.validate(base, proposals);
    assert.equal(run.result.verdict, 'reject', show(run));
    const broken = find(run.result, 'src/app.ts#function:run');
    assert.equal(broken.verdict, 'invalid');
    assert.ok(broken.reasons.some((r) => r.code === 'type-error' && r.message.includes('nowhere')), show(run));
    assert.ok(broken.reasons.some((r) => r.code === 'missing-name'), show(run));
  });

  describe('the type-check worker and the budget', () => {
    const specs: [string, FixtureSpec][] = [
      ['w-signature', signatureChangeSpec], ['w-rename', exportRenameSpec], ['w-removal', fileRemovalSpec],
      ['w-return', returnTypeSpec], ['w-clean', cleanSpec], ['w-broken', brokenSpec], ['w-package', packageSpec],
    ];

    it('gives the same result in the worker as in process, on every fixture', async () => {
      const inProcess = new Validator(jsBitsetBackend(), { typecheckIn: 'process' });
      try {
        for (const [name, spec] of specs) {
          const { base, proposals } = await load(name, spec);
          const inWorker = await validator.validate(base, proposals);
          const here = await inProcess.validate(base, proposals);
          assert.deepEqual(inWorker.result, here.result, name);
          assert.equal(inWorker.digest, here.digest, name);
          assert.deepEqual(inWorker.result.typeCheck, { kind: 'checked' }, name);
        }
      } finally {
        inProcess.dispose();
      }
    });

    it('gives an over-budget batch the same parse-only verdict every time, without calling the checker', async () => {
      const { base, proposals } = await load('budget', signatureChangeSpec);
      // A safety net of 0 ms: any call to the checker would come back as no verdict.
      const options = { typecheckLimits: { ...typecheckLimits, typecheckBatchAcusMax: 1 }, typecheckSafetyNetMs: 0 };
      const first = new Validator(jsBitsetBackend(), options);
      const second = new Validator(jsBitsetBackend(), options);
      try {
        const a = await first.validateOrAbstain(base, proposals);
        const b = await second.validateOrAbstain(base, proposals);
        const again = await first.validateOrAbstain(base, proposals);
        assert.ok(a.kind === 'verdict' && b.kind === 'verdict' && again.kind === 'verdict', 'the checker was never called');
        const count = a.result.acus.length;
        assert.deepEqual(a.result.typeCheck, { kind: 'over-budget', reason: `not type-checked: over budget (${count} ACUs > 1)` });
        assert.equal(b.digest, a.digest);
        assert.equal(again.digest, a.digest);
        assert.deepEqual(a.result.checked, []);
        assert.equal(a.result.verdict, 'accept', 'the semantic conflict goes unseen: only parsing was checked');
        const checked = await validator.validate(base, proposals);
        assert.notEqual(checked.digest, a.digest);
      } finally {
        first.dispose();
        second.dispose();
      }
    });

    it('abstains (no verdict) when the worker does not answer in time, and validates the next batch', async () => {
      const { base, proposals } = await load('abstain', cleanSpec);
      const hasty = new Validator(jsBitsetBackend(), { typecheckSafetyNetMs: 0 });
      try {
        const outcome = await hasty.validateOrAbstain(base, proposals);
        assert.equal(outcome.kind, 'no-verdict');
        await assert.rejects(hasty.validate(base, proposals), { name: 'NoVerdictError' });
      } finally {
        hasty.dispose();
      }
      const run = await validator.validate(base, proposals);
      assert.equal(run.result.verdict, 'accept');
    });
  });

  describe('determinism', () => {
    let loaded: Loaded;
    before(async () => {
      loaded = await load('determinism', signatureChangeSpec);
    });

    it('gives the same digest warm, cold, and with another scoring backend', async () => {
      const first = await validator.validate(loaded.base, loaded.proposals);
      const again = await validator.validate(loaded.base, loaded.proposals);
      const fresh = new Validator(wasmBackend());
      try {
        const other = await fresh.validate(loaded.base, loaded.proposals);
        assert.equal(again.digest, first.digest);
        assert.equal(other.digest, first.digest);
        assert.match(first.digest, /^[0-9a-f]{64}$/);
      } finally {
        fresh.dispose();
      }
    });

    it('gives the same digest whatever the validator validated before on the same base', async () => {
      const dir = await makeTempDir('validate-history');
      dirs.push(dir);
      const { oids } = await buildFixtureRepo(dir, syntheticSpec({ files: 30, batches: 3, seed: 11 }).spec);
      const repo = await GitRepo.open(dir);
      repos.push(repo);
      const base = await gitBaseTree(repo, oids.base!);
      const batch = async (k: number): Promise<Proposal[]> => [
        await proposalFromCommit(repo, { base: oids.base!, commit: oids[`a${k}`]!, site: 'paris' }),
        await proposalFromCommit(repo, { base: oids.base!, commit: oids[`b${k}`]!, site: 'tokyo' }),
      ];
      const seasoned = new Validator(jsBitsetBackend());
      const fresh = new Validator(jsBitsetBackend());
      try {
        for (const k of [0, 1]) await seasoned.validate(base, await batch(k));
        const last = await batch(2);
        assert.equal((await seasoned.validate(base, last)).digest, (await fresh.validate(base, last)).digest);
      } finally {
        seasoned.dispose();
        fresh.dispose();
      }
    });
  });
});
