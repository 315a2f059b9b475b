// Layering: src/git is the only place that runs git (ARCHITECTURE.md, "Layers"). No file under src/
// outside src/git imports the process runner (src/git/exec.ts), imports isomorphic-git or
// simple-git, or starts a git process itself through node:child_process. A source scan, like
// test/core/tidy.test.ts; the scanner is first shown each form of the mistake, so that a scan that
// has gone blind fails rather than passes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot, tsFilesUnder } from '../support/sources.js';

const srcRoot = join(repoRoot, 'src');
const gitRoot = join(srcRoot, 'git');
const execModule = join(gitRoot, 'exec');

/** Strip comments so that prose about git commands does not trip the scan. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** Every module specifier a file imports or re-exports, statically or with import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]!);
  return found;
}

const childProcessFunctions = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'];
const gitLiteral = String.raw`(['"\`])git\1`;

/**
 * Names that start a process with their first argument as the program: node:child_process's own,
 * and functions of this file that hand their first parameter to one of those (a `spawnText(command,
 * args)` helper).
 */
function spawnerNames(text: string): string[] {
  const names = [...childProcessFunctions];
  const direct = childProcessFunctions.join('|');
  for (const match of text.matchAll(/\bfunction\s+(\w+)\s*\(\s*(\w+)/g)) {
    const [, name, parameter] = match as unknown as [string, string, string];
    if (new RegExp(String.raw`\b(?:${direct})\s*\(\s*${parameter}\b`).test(text)) names.push(name);
  }
  return names;
}

/** What in one file breaks the rule, as `<file>: <what>` lines; `file` is its path under the repository. */
function problemsOf(file: string, source: string): string[] {
  const text = code(source);
  const problems: string[] = [];
  for (const spec of specifiers(text)) {
    if (spec === 'isomorphic-git' || spec.startsWith('isomorphic-git/') || spec === 'simple-git') problems.push(`${file}: imports ${spec}`);
    if (spec.startsWith('.') && resolve(dirname(join(repoRoot, file)), spec).replace(/\.[jt]s$/, '') === execModule) problems.push(`${file}: imports ${spec}`);
  }
  if (!specifiers(text).some((spec) => spec === 'node:child_process' || spec === 'child_process')) return problems;
  for (const name of spawnerNames(text)) {
    if (new RegExp(String.raw`(?<![\w.])${name}\s*\(\s*${gitLiteral}`).test(text)) problems.push(`${file}: runs git with ${name}()`);
  }
  if (new RegExp(String.raw`\[\s*${gitLiteral}\s*,`).test(text)) problems.push(`${file}: builds a git command line`);
  if (/\b(?:exec|execSync)\s*\(\s*['"`]git\s/.test(text)) problems.push(`${file}: runs git through a shell`);
  return problems;
}

void test('layering: the scan catches each way of running git outside src/git', () => {
  const cp = "import { spawn, spawnSync, execSync } from 'node:child_process';\n";
  const caught: [string, string][] = [
    ['src/sync/a.ts', "import { runGit } from '../git/exec.js';\n"],
    ['src/cli/b.ts', "import type { GitResult } from '../git/exec.js';\n"],
    ['src/sync/c.ts', "const { runGitRaw } = await import('../git/exec.js');\n"],
    ['src/d.ts', "export { runGit } from './git/exec.js';\n"],
    ['src/compose/e.ts', "import git from 'isomorphic-git';\n"],
    ['src/compose/f.ts', "import { simpleGit } from 'simple-git';\n"],
    ['src/cli/g.ts', `${cp}spawnSync('git', ['status']);\n`],
    ['src/cli/h.ts', `${cp}const child = spawn("git", args, { cwd });\n`],
    ['src/cli/i.ts', `${cp}const argv = program === 'acu' ? [node, bin] : ['git', ...args];\nspawnSync(argv[0]!, argv.slice(1));\n`],
    ['src/cli/j.ts', `${cp}function spawnText(command: string, args: string[]) {\n  return spawn(command, args);\n}\nawait spawnText('git', ['pull']);\n`],
    ['src/cli/k.ts', `${cp}execSync('git rev-parse HEAD');\n`],
  ];
  for (const [file, source] of caught) assert.notDeepEqual(problemsOf(file, source), [], `the scan misses ${file}:\n${source}`);
  const allowed: [string, string][] = [
    ['src/cli/l.ts', "import { addPaths } from '../git/workdir.js';\nimport { GitRepo } from '../git/index.js';\n"],
    ['src/cli/m.ts', `${cp}spawn(process.execPath, [bin, 'node', 'start']);\ndemo.run('git', ['merge', 'bob']);\n`],
    ['src/cli/n.ts', "// spawnSync('git', ['status']) used to run here\nrow('git', counts);\n"],
  ];
  for (const [file, source] of allowed) assert.deepEqual(problemsOf(file, source), [], `the scan flags ${file}:\n${source}`);
});

void test('layering: no file under src/ outside src/git imports src/git/exec.ts or starts git itself', () => {
  const files = tsFilesUnder(srcRoot);
  const outside = files.filter((file) => !file.startsWith(`${gitRoot}/`));
  assert.ok(outside.length > 50, 'the scan sees the sources');
  const problems = outside.flatMap((file) => problemsOf(relative(repoRoot, file), readFileSync(file, 'utf8')));
  assert.deepEqual(problems, []);
  // The same scan inside src/git finds the runner's importers: it does read real imports.
  const inside = files.filter((file) => file.startsWith(`${gitRoot}/`));
  const importers = inside.filter((file) => problemsOf(relative(repoRoot, file), readFileSync(file, 'utf8')).length > 0);
  assert.ok(importers.length >= 5, `src/git's own files import the runner: ${importers.length}`);
});
