// Import cycles: no module under src/ imports itself at run time, through any chain of relative
// imports. In a cycle, one module's top level runs before the module it imports has finished, and
// sees its exports still undefined (a class, a constant). A source scan, like tidy.test.ts and
// test/git/layering.test.ts; the detector is first shown small cycles, so that a scan that has
// gone blind fails rather than passes.
//
// Run-time edges are what the compiled JavaScript keeps: `import ... from`, `export ... from`,
// `import '...'`, and `import { type A } from` too (verbatimModuleSyntax keeps it as `import {}
// from`, which still loads the module). `import type` and `export type` vanish at compile time,
// so a cycle through them is allowed, as is one through a dynamic import(), which loads lazily.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot, tsFilesUnder } from '../support/sources.js';

const srcRoot = join(repoRoot, 'src');

/** Strip comments so that an import quoted in prose is not taken for one. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The relative modules one file loads at run time, as paths under the repository (`src/x/y.ts`). */
function runtimeImports(file: string, source: string): string[] {
  const found: string[] = [];
  const statements = /^\s*(?:import|export)\s+(type\s+)?([^;'"]*?)\bfrom\s*['"](\.[^'"]+)['"]|^\s*import\s*['"](\.[^'"]+)['"]/gm;
  for (const match of code(source).matchAll(statements)) {
    const [, typeKeyword, clause, fromSpec, bareSpec] = match as unknown as [string, string | undefined, string | undefined, string | undefined, string | undefined];
    // `import type X from` is type-only; `import type, { a } from` imports a default named `type`.
    if (typeKeyword !== undefined && !/^\s*[,=]/.test(clause ?? '')) continue;
    const spec = (fromSpec ?? bareSpec)!;
    found.push(relative(repoRoot, resolve(dirname(join(repoRoot, file)), spec)).split('\\').join('/').replace(/\.js$/, '.ts'));
  }
  return found;
}

/**
 * Every cycle of the graph (each strongly connected component of more than one module, or a
 * module that imports itself), each written as one path round it: `a.ts -> b.ts -> a.ts`.
 */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const next = (from: string): string[] => (graph.get(from) ?? []).filter((to) => graph.has(to));
  // Tarjan's algorithm, iterative over the files in order so that the result is stable.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (module: string): void => {
    index.set(module, index.size);
    low.set(module, index.get(module)!);
    stack.push(module);
    onStack.add(module);
    for (const to of next(module)) {
      if (!index.has(to)) {
        visit(to);
        low.set(module, Math.min(low.get(module)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(module, Math.min(low.get(module)!, index.get(to)!));
      }
    }
    if (low.get(module) !== index.get(module)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== module);
    if (component.length > 1 || next(module).includes(module)) components.push(component.sort());
  };
  for (const module of [...graph.keys()].sort()) if (!index.has(module)) visit(module);
  // One path round each component, from its first module back to it (breadth first: the shortest).
  return components.map((component) => {
    const start = component[0]!;
    const members = new Set(component);
    const cameFrom = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const at = queue.shift()!;
      const to = next(at).find((t) => t === start);
      if (to !== undefined) {
        const path = [start];
        for (let step: string | undefined = at; step !== start && step !== undefined; step = cameFrom.get(step)) path.splice(1, 0, step);
        return [...path, start].join(' -> ');
      }
      for (const t of next(at)) {
        if (members.has(t) && t !== start && !cameFrom.has(t)) {
          cameFrom.set(t, at);
          queue.push(t);
        }
      }
    }
    return component.join(', ');
  }).sort();
}

/** The cycles among some sources, given as path under the repository -> text. */
function cyclesAmong(sources: Record<string, string>): string[] {
  return cyclesOf(new Map(Object.entries(sources).map(([file, text]) => [file, runtimeImports(file, text)])));
}

void test('import cycles: the detector catches a run-time cycle and lets a type-only one pass', () => {
  // Three modules round a cycle, through each form that loads a module at run time.
  assert.deepEqual(
    cyclesAmong({
      'src/x/a.ts': "import { b } from './b.js';\n",
      'src/x/b.ts': "export { c } from '../y/c.js';\n",
      'src/y/c.ts': "import { type A } from '../x/a.js';\n",
      'src/y/d.ts': "import '../x/a.js';\n",
    }),
    ['src/x/a.ts -> src/x/b.ts -> src/y/c.ts -> src/x/a.ts'],
  );
  assert.deepEqual(cyclesAmong({ 'src/a.ts': "import { a } from './a.js';\n" }), ['src/a.ts -> src/a.ts']);
  assert.deepEqual(
    cyclesAmong({ 'src/a.ts': "import type { B } from './b.js';\nimport { c } from './c.js';\n", 'src/b.ts': "import { a } from './a.js';\n", 'src/c.ts': '' }),
    [],
    'an import type edge closes no cycle',
  );
  assert.deepEqual(cyclesAmong({ 'src/a.ts': "export type { B } from './b.js';\n", 'src/b.ts': "import { a } from './a.js';\n" }), []);
  assert.deepEqual(cyclesAmong({ 'src/a.ts': "const { b } = await import('./b.js');\n", 'src/b.ts': "import { a } from './a.js';\n" }), [], 'import() loads lazily');
  assert.deepEqual(cyclesAmong({ 'src/a.ts': "// import { b } from './b.js';\n", 'src/b.ts': "import { a } from './a.js';\n" }), [], 'comments are not imports');
  assert.deepEqual(
    cyclesAmong({ 'src/a.ts': "import type, { b } from './b.js';\n", 'src/b.ts': "import { a } from './a.js';\n" }),
    ['src/a.ts -> src/b.ts -> src/a.ts'],
    'a default import named type is a run-time import',
  );
});

void test('import cycles: no module under src/ imports itself at run time', () => {
  const files = tsFilesUnder(srcRoot);
  assert.ok(files.length > 50, 'src has sources');
  const graph = new Map(files.map((full) => {
    const file = relative(repoRoot, full).split('\\').join('/');
    return [file, runtimeImports(file, readFileSync(full, 'utf8'))] as const;
  }));
  const edges = [...graph.values()].reduce((sum, targets) => sum + targets.filter((t) => graph.has(t)).length, 0);
  assert.ok(edges > 200, `the scan sees the imports (${edges})`);
  assert.deepEqual(cyclesOf(graph), []);
});
