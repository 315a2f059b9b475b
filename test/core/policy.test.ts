import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcuError } from '../../src/core/errors.js';
import { policyFromSettings, resolveConflict } from '../../src/core/policy/index.js';
import type { Candidate, PolicyConflict } from '../../src/core/policy/index.js';

const a: Candidate = { acuIds: ['aa'], site: 'paris', sequence: 1, risk: 40, interference: 1 };
const b: Candidate = { acuIds: ['bb'], site: 'tokyo', sequence: 0, risk: 20, interference: 1 };
const conflict: PolicyConflict = { id: 'c1', a, b, bothValid: false };
const none = { votes: new Map(), elapsedTicks: 0 };

describe('conflict-resolution policies', () => {
  it('score: lower risk wins, then interference, order, id', () => {
    assert.deepEqual(resolveConflict({ kind: 'score' }, conflict, none), { kind: 'choice', resolution: 'keep-b', reason: 'lower risk (20 < 40)' });
    const tied = { ...conflict, b: { ...b, risk: 40 } };
    assert.equal((resolveConflict({ kind: 'score' }, tied, none) as { resolution: string }).resolution, 'keep-b');
    const same = { ...conflict, b: { ...a } };
    assert.equal((resolveConflict({ kind: 'score' }, same, none) as { resolution: string }).resolution, 'defer');
    assert.equal((resolveConflict({ kind: 'score' }, { ...conflict, bothValid: true }, none) as { resolution: string }).resolution, 'keep-both');
  });

  it('site priority, prefer-earlier and a person vote with a timeout', () => {
    assert.equal((resolveConflict({ kind: 'site-priority', sites: ['paris', 'tokyo'] }, conflict, none) as { resolution: string }).resolution, 'keep-a');
    assert.equal((resolveConflict({ kind: 'site-priority', sites: ['berlin'] }, conflict, none) as { resolution: string }).resolution, 'keep-b');
    assert.equal((resolveConflict({ kind: 'prefer-earlier' }, conflict, none) as { resolution: string }).resolution, 'keep-b');
    const vote = { kind: 'vote', timeoutTicks: 10, fallback: 'defer' } as const;
    assert.deepEqual(resolveConflict(vote, conflict, { votes: new Map(), elapsedTicks: 4 }), { kind: 'pending', ticksLeft: 6 });
    assert.equal((resolveConflict(vote, conflict, { votes: new Map([['c1', 'keep-a']]), elapsedTicks: 4 }) as { resolution: string }).resolution, 'keep-a');
    assert.equal((resolveConflict(vote, conflict, { votes: new Map(), elapsedTicks: 10 }) as { resolution: string }).resolution, 'defer');
    assert.equal((resolveConflict({ ...vote, fallback: 'score' }, conflict, { votes: new Map(), elapsedTicks: 10 }) as { resolution: string }).resolution, 'keep-b');
  });

  it('reads settings and names a bad one', () => {
    assert.deepEqual(policyFromSettings({}), { kind: 'score' });
    assert.deepEqual(policyFromSettings({ policy: 'site-priority', sitePriority: ' paris, tokyo ' }), { kind: 'site-priority', sites: ['paris', 'tokyo'] });
    assert.deepEqual(policyFromSettings({ policy: 'vote', voteTimeoutTicks: '50', voteFallback: 'score' }), { kind: 'vote', timeoutTicks: 50, fallback: 'score' });
    assert.throws(() => policyFromSettings({ policy: 'coin' }), (error: unknown) => error instanceof AcuError && error.code === 'ERR_CONFIG');
    assert.throws(() => policyFromSettings({ policy: 'site-priority' }), /acu.sitePriority/);
    assert.throws(() => policyFromSettings({ policy: 'vote', voteTimeoutTicks: '-1' }), /acu.voteTimeoutTicks/);
  });
});
