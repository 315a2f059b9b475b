// People's votes follow the conflict's ACUs across rounds: a new leader may order the batch
// differently, so conflict `0.0` can list its sides the other way round, or be another conflict.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyConflict } from '../../src/core/policy/index.js';
import type { PersonVote } from '../../src/sync/node-log.js';
import { votesFor } from '../../src/sync/node.js';

function conflict(id: string, a: string, b: string): PolicyConflict {
  return {
    id,
    a: { acuIds: [a], site: 'paris', sequence: 0, risk: 0, interference: 0 },
    b: { acuIds: [b], site: 'tokyo', sequence: 1, risk: 0, interference: 0 },
    bothValid: false,
  };
}

describe('votesFor', () => {
  it('keeps the ACU a person chose when a later round swaps the sides', () => {
    const stored = new Map<string, PersonVote>([['0.0', { choice: 'keep-b', sides: ['paris-read', 'tokyo-read'] }]]);
    assert.deepEqual([...votesFor([conflict('0.0', 'paris-read', 'tokyo-read')], stored)], [['0.0', 'keep-b']]);
    assert.deepEqual([...votesFor([conflict('0.0', 'tokyo-read', 'paris-read')], stored)], [['0.0', 'keep-a']]);
  });

  it('follows the conflict to its new id, and does not apply to another conflict holding the old id', () => {
    const stored = new Map<string, PersonVote>([['0.0', { choice: 'defer', sides: ['x', 'y'] }]]);
    const votes = votesFor([conflict('0.0', 'p', 'q'), conflict('0.1', 'y', 'x')], stored);
    assert.deepEqual([...votes], [['0.1', 'defer']]);
  });

  it('applies a vote cast before its conflict opened by id', () => {
    const stored = new Map<string, PersonVote>([['3.0', { choice: 'keep-a', sides: null }]]);
    assert.deepEqual([...votesFor([conflict('3.0', 'p', 'q')], stored)], [['3.0', 'keep-a']]);
  });
});
