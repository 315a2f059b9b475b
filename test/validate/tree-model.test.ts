/**
 * The tree model's faults (src/validate/tree-model.ts): which changed path cannot stand in a git
 * tree, and whose change is to blame, decided from the paths and the proposal order alone.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { treeFaults } from '../../src/validate/tree-model.js';
import type { EntryChange } from '../../src/validate/tree-model.js';

const blob = (n: number): { mode: string; oid: string } => ({ mode: '100644', oid: String(n).repeat(40).slice(0, 40) });
const link = { mode: '120000', oid: '7'.repeat(40) };

function faults(base: string[], changes: Array<[string, EntryChange, number]>): string[] {
  const order = new Map(changes.map(([path, , p]) => [path, p]));
  const found = treeFaults(new Map(base.map((path, i) => [path, blob(i + 1)])), new Map(changes.map(([path, change]) => [path, change])), (path) => order.get(path) ?? -1);
  return found.map((fault) => fault.path);
}

it('a directory replaced by a file, with every file below it deleted, stands', () => {
  assert.deepEqual(faults(['lib/a.ts', 'lib/b/c.ts'], [['lib/a.ts', null, 0], ['lib/b/c.ts', null, 0], ['lib', blob(9), 0]]), []);
});

it('a file where the base keeps a directory is at fault, and so is a file below a base file', () => {
  assert.deepEqual(faults(['lib/a.ts', 'lib/b.ts'], [['lib/a.ts', null, 0], ['lib', blob(9), 0]]), ['lib']);
  assert.deepEqual(faults(['p'], [['p/q.ts', blob(9), 1]]), ['p/q.ts']);
});

it('of two added paths, the later proposal is at fault; on a tie, the deeper path', () => {
  assert.deepEqual(faults([], [['p', blob(8), 0], ['p/q.ts', blob(9), 1]]), ['p/q.ts']);
  assert.deepEqual(faults([], [['p', blob(8), 1], ['p/q.ts', blob(9), 0]]), ['p']);
  assert.deepEqual(faults([], [['p', blob(8), 2], ['p/q.ts', blob(9), 2], ['p/r/s.ts', blob(9), 2]]), ['p/q.ts', 'p/r/s.ts']);
  // An earlier file below makes the later file at `p` the fault, even beside a later one.
  assert.deepEqual(faults([], [['p', blob(8), 1], ['p/q.ts', blob(9), 0], ['p/r.ts', blob(9), 2]]), ['p']);
});

it('a symlink named like a git control file is at fault, in any alias', () => {
  for (const name of ['.gitmodules', '.GITMODULES', 'sub/.gitmodules. ', 'GITMOD~1', '.gitattributes', '.gitignore', '.mailmap']) {
    assert.deepEqual(faults([], [[name, link, 0]]), [name], name);
  }
  assert.deepEqual(faults([], [['.gitmodules', blob(3), 0], ['docs/gitmodules', link, 0]]), []);
});
