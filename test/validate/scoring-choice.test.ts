/**
 * The scoring backend a cluster document names: the list the document check accepts
 * (src/store/cluster.ts) is exactly what the backend chooser runs (src/validate/scoring/select.ts),
 * and a name the chooser does not know is the user's situation, with a hint.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcuError } from '../../src/core/errors.js';
import { clusterIssues, clusterScoringChoices } from '../../src/store/cluster.js';
import { backendNames, clusterScoringChoice, gpuJsModeNames, parseBackendChoice } from '../../src/validate/scoring/index.js';

describe('cluster scoring choice', () => {
  it('accepts in the document exactly the choices the chooser runs', () => {
    const runnable = ['auto', ...backendNames, ...gpuJsModeNames.map((mode) => `gpujs:${mode}`)];
    assert.deepEqual([...clusterScoringChoices].sort(), [...runnable].sort());
    for (const choice of clusterScoringChoices) assert.equal(parseBackendChoice(choice), choice);
  });

  it('refuses an unknown name in the document, and in the chooser with an error and a hint', () => {
    const doc = { version: 1, branch: 'main', members: [], scoring: 'quantum' };
    assert.ok(clusterIssues(doc).some((issue) => issue.startsWith('scoring: "quantum" is not a scoring backend')), clusterIssues(doc).join('; '));
    assert.equal(clusterIssues({ ...doc, scoring: 'gpujs:webgl2' }).some((issue) => issue.startsWith('scoring')), false);
    assert.equal(clusterScoringChoice({}, 'x'), 'auto');
    assert.throws(() => clusterScoringChoice({ scoring: 'quantum' }, '.acu/cluster.json'), (error: unknown) => {
      assert.ok(error instanceof AcuError);
      assert.equal(error.code, 'ERR_CONFIG');
      assert.match(error.message, /"scoring" names an unknown scoring backend 'quantum'/);
      assert.match(error.hint ?? '', /^set "scoring" to one of auto, cpu-reference, js-bitset, wasm-popcount, gpujs, or gpujs:<mode>/);
      return true;
    });
  });
});
