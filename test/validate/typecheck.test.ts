/** The warm type-checking session: programs are reused across batches, not rebuilt. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repoRoot, TypeCheckSession } from '../../src/validate/typecheck.js';

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
