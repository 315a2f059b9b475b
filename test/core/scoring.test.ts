import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeclAcu } from '../../src/core/acu/model.js';
import {
  batchFeatures, fastPathBlock, fnv1a32, interferenceAt, nameWords, popcount32, referencePairScores, riskScores, shingleHashes,
  similarityAt, similarityFromMatches, tokenHashes,
} from '../../src/core/scoring/index.js';

function decl(fields: Partial<DeclAcu> & Pick<DeclAcu, 'symbol'>): DeclAcu {
  return {
    v: 1, level: 'decl', file: 'src/a.ts', kind: 'function', op: 'modify', before: null, after: '', beforeTail: null, afterTail: null,
    anchor: null, defines: [], uses: [], flags: [], ...fields,
  };
}

describe('scoring definitions', () => {
  it('hashes and popcounts as specified', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('é'), fnv1a32('\u00e9'));
    assert.equal(popcount32(0), 0);
    assert.equal(popcount32(0xffffffff), 32);
    assert.equal(popcount32(0x80000001), 2);
    assert.equal(similarityFromMatches(64), 0);
    assert.equal(similarityFromMatches(128), 1000);
    assert.equal(similarityFromMatches(100), 562);
  });

  it('tokenises code and builds distinct shingles', () => {
    assert.equal(tokenHashes('f(a, 1)').length, 6);
    assert.deepEqual(shingleHashes([]), []);
    assert.equal(shingleHashes([1, 2]).length, 1);
    assert.equal(shingleHashes([1, 2, 3, 1, 2, 3]).length, 3);
  });

  it('scores interference, near-duplicates and risk on a small batch', () => {
    const body = 'export function parse(text: string): Tree {\n  return build(tokens(text), 0);\n}\n';
    const acus = [
      decl({ symbol: 'function:parse', defines: ['parse'], uses: ['Tree', 'build', 'tokens'], after: body }),
      decl({ symbol: 'function:main', file: 'src/b.ts', defines: ['main'], uses: ['parse'], after: 'function main() {\n  parse("x");\n}\n' }),
      decl({ symbol: 'function:parse2', file: 'src/c.ts', op: 'add', defines: ['parse2'], uses: ['Tree', 'build', 'tokens'], after: body }),
      decl({ symbol: 'statement:x', kind: 'statement', op: 'add', after: '' }),
    ];
    const features = batchFeatures(acus);
    assert.equal(features.defines.length, 4 * nameWords);
    assert.equal(features.empty[3], 1);
    const pairs = referencePairScores(features);
    assert.equal(interferenceAt(pairs, 0, 1), 1, 'main uses parse');
    assert.equal(interferenceAt(pairs, 1, 0), 0);
    assert.equal(interferenceAt(pairs, 0, 0), 0, 'the diagonal is 0');
    assert.equal(similarityAt(pairs, 0, 2), 1000, 'the same text');
    assert.ok(similarityAt(pairs, 0, 1) < 800, `different texts: ${similarityAt(pairs, 0, 1)}`);
    assert.equal(similarityAt(pairs, 0, 2), similarityAt(pairs, 2, 0));
    assert.equal(similarityAt(pairs, 0, 3), 0, 'no tokens, no similarity');
    const risk = riskScores(features, pairs);
    // parse: 4 * (2 * 2) + 3 lines >> 3 + 8 * fanIn 1 + 4 * fanOut 0 + 2 * duplicates 1
    assert.equal(risk[0], 16 + 0 + 8 + 0 + 2);
    assert.deepEqual(fastPathBlock(pairs, risk, [0, 1, 2, 3]), { kind: 'interference', i: 0, j: 1, score: 1 });
    assert.equal(fastPathBlock(pairs, risk, [0, 0, 0, 0]), null);
  });

  it('is deterministic: the same ACUs give the same features', () => {
    const acus = [decl({ symbol: 'function:a', defines: ['a'], uses: ['b'], after: 'function a() { return b(); }\n' })];
    assert.deepEqual(batchFeatures(acus), batchFeatures(acus));
  });
});
