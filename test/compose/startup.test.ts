// What the processes git starts per file (the merge driver) and per commit (the post-commit hook)
// load before they can answer: their static import graphs, read from the compiled code. A static
// import of the parser on these paths costs about 0.9 s of CPU per file or commit; the merge code
// must be loaded lazily (or by the merge service) only.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Static imports (`import ... from 'x'`, `import 'x'`, `export ... from 'x'`), not `import('x')`. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)';|^import\s+'([^']+)';/gms)) found.push((match[1] ?? match[2])!);
  return found;
}

/** Every module reached by static imports from `entry`: our files (relative to the root) and packages. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [resolve(root, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const name = relative(root, file);
    if (files.has(name)) continue;
    files.add(name);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  }
  return { files, packages };
}

describe('startup cost of the processes git starts', () => {
  it('the merge driver (bin/acu.js merge-driver) statically loads no parser, no merge code, no package but picocolors', () => {
    const { files, packages } = closure('bin/acu.js');
    const driver = closure('dist/src/cli/merge-driver.js');
    for (const file of driver.files) files.add(file);
    for (const name of driver.packages) packages.add(name);
    assert.deepEqual([...packages].sort(), ['picocolors']);
    for (const heavy of ['dist/src/compose/file.js', 'dist/src/compose/service-merge.js', 'dist/src/compose/install.js', 'dist/src/compose/diff3.js', 'dist/src/extract/text.js']) {
      assert.ok(!files.has(heavy), `${heavy} is on the driver's static path`);
    }
    assert.ok(files.has('dist/src/compose/service-client.js'), 'the closure was followed');
  });

  it('the hooks (bin/acu.js hook) statically load neither the parser nor the cluster and verification code', () => {
    const { files, packages } = closure('dist/src/cli/hook.js');
    assert.deepEqual([...packages].sort(), []);
    for (const heavy of ['dist/src/store/cluster.js', 'dist/src/sync/verify-chain.js', 'dist/src/git/index.js', 'dist/src/sync/gate.js']) {
      assert.ok(!files.has(heavy), `${heavy} is on the hooks' static path`);
    }
    assert.ok(files.has('dist/src/sync/hook-run.js'), 'the closure was followed');
  });
});
