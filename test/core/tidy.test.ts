// Tidy: src/core is pure. It imports no IO, clock or randomness, and nothing from outside
// src/core but the pure npm package @noble/hashes (ARCHITECTURE.md, STYLE.md rule 1).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot, tsFilesUnder } from '../support/sources.js';

const coreRoot = join(repoRoot, 'src', 'core');

/** Strip comments so that prose about Date or process does not trip the scan. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const forbiddenModules = /^(node:|fs$|fs\/|net$|http|https$|child_process$|crypto$|os$|path$|worker_threads$|dgram$|tls$|timers)/;
const forbiddenIdentifiers: readonly [RegExp, string][] = [
  [/\bDate\b/, 'Date'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\bsetTimeout\b/, 'setTimeout'],
  [/\bsetInterval\b/, 'setInterval'],
  [/\bsetImmediate\b/, 'setImmediate'],
  [/\bperformance\b/, 'performance'],
  [/\bprocess\b/, 'process'],
  [/\brequire\s*\(/, 'require()'],
  [/\bimport\s*\(/, 'dynamic import()'],
  [/\bglobalThis\b/, 'globalThis'],
];

void test('tidy: src/core imports no IO, clock or randomness', () => {
  const files = tsFilesUnder(coreRoot);
  assert.ok(files.length > 5, 'src/core has sources');
  const problems: string[] = [];
  let imports = 0;
  for (const file of files) {
    const text = code(readFileSync(file, 'utf8'));
    const where = relative(repoRoot, file);
    for (const match of text.matchAll(/^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)) {
      const spec = match[1] ?? match[2] ?? '';
      imports += 1;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(coreRoot)) problems.push(`${where}: imports ${spec}, outside src/core`);
      } else if (forbiddenModules.test(spec)) {
        problems.push(`${where}: imports ${spec}`);
      } else if (!spec.startsWith('@noble/hashes')) {
        problems.push(`${where}: imports package ${spec}; only @noble/hashes is allowed`);
      }
    }
    for (const [pattern, name] of forbiddenIdentifiers) {
      if (pattern.test(text)) problems.push(`${where}: uses ${name}`);
    }
  }
  assert.ok(imports > 20, 'the scan sees the imports');
  assert.deepEqual(problems, []);
});
