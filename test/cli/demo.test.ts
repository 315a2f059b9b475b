import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = join(fileURLToPath(new URL('../../..', import.meta.url)), 'bin', 'acu.js');

it('acu demo runs end to end as a real process and every check holds', () => {
  const result = spawnSync(process.execPath, [bin, 'demo'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /git reports conflicts \(\d+ conflicted hunks/);
  assert.match(result.stdout, /ok {2}git merge completes with no conflict/);
  assert.match(result.stdout, /ok {2}all 4 nodes connect and authenticate each other/);
  assert.match(result.stdout, /ok {2}lima catches up; all 4 nodes hold the same agreed commit [0-9a-f]{12}/);
  assert.match(result.stdout, /ok {2}height 1 is agreed; all 4 nodes hold the same commit [0-9a-f]{12}/);
  assert.match(result.stdout, /ok {2}acu verify: every certificate on every node checks/);
  assert.match(result.stdout, /ok {2}paris commits the change to \.acu\/cluster\.json, and its post-commit hook hands it to its node/);
  assert.match(result.stdout, /ok {2}the cluster agrees the change: all 4 nodes count 5 members from height \d+/);
  assert.match(result.stdout, /ok {2}sydney's node starts after the agreed chain it cloned .* links to all 4 members over pinned TLS/);
  assert.match(result.stdout, /ok {2}sydney catches up to height \d+ .*; all 5 nodes hold the same agreed commit [0-9a-f]{12}/);
  assert.match(result.stdout, /ok {2}height \d+, with sydney's commit, is agreed by the 5 members; all 5 nodes hold the same commit [0-9a-f]{12}/);
  assert.match(result.stdout, /recovered from the log/);
  assert.match(result.stdout, /^27 of 27 checks passed$/m);
  assert.doesNotMatch(result.stdout, /FAILED/);
});

it('acu demo refuses stray arguments with a usage error', () => {
  const result = spawnSync(process.execPath, [bin, 'demo', 'extra'], { encoding: 'utf8' });
  assert.equal(result.status, 129);
  assert.match(result.stderr, /^error: demo: unexpected argument 'extra'$/m);
  assert.match(result.stderr, /^hint: /m);
});
