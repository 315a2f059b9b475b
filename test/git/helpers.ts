/**
 * Shared helpers for the git layer's tests: the git CLI as the reference implementation, a rich
 * fixture that holds every kind of entry and change, and temp-directory bookkeeping.
 */
import { execFileSync } from 'node:child_process';
import { after } from 'node:test';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import type { FixtureOptions, FixtureSpec } from '../../fixtures/builder.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';

// Tests must not depend on the machine's git configuration (CI has none, a laptop has plenty).
process.env.GIT_CONFIG_NOSYSTEM = '1';
process.env.GIT_CONFIG_GLOBAL = '/dev/null';
for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR']) delete process.env[name];

const madeDirs: string[] = [];
after(async () => {
  for (const dir of madeDirs.splice(0)) await removeTempDir(dir);
});

/** A temp directory removed when the test file ends. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await makeTempDir(prefix);
  madeDirs.push(dir);
  return dir;
}

/** Run the git CLI (the reference) in `cwd`; returns stdout bytes. Throws on failure. */
export function git(cwd: string, args: readonly string[], options: { input?: string | Uint8Array; env?: Record<string, string> } = {}): Buffer {
  return execFileSync('git', ['-c', 'core.quotePath=false', ...args], {
    cwd,
    input: options.input,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...options.env },
    maxBuffer: 512 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** The git CLI's stdout as text, without the final newline. */
export function gitText(cwd: string, args: readonly string[]): string {
  return git(cwd, args).toString('utf8').replace(/\n$/, '');
}

/** A fixed commit id every fixture's submodule entry points at (need not exist). */
export const gitlinkOid = '0123456789abcdef0123456789abcdef01234567';

/** Bytes 0..255, repeated: a binary file with NULs and invalid UTF-8. */
export function binaryBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 1) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

const tsSource = Array.from({ length: 40 }, (_, i) => `export function f${i}(x: number): number {\n  return x + ${i};\n}\n`).join('');

/**
 * A history with every kind of entry and change: root and merge commits, a rename with edits, a
 * mode change, type changes both ways, a symlink, a gitlink, binary content, paths with spaces,
 * quotes, tabs, newlines and non-ASCII characters, a directory that becomes a file, dates with
 * offsets, and multi-line subjects.
 */
export const richSpec: FixtureSpec = {
  commits: [
    {
      id: 'root',
      message: 'Root commit\n\nWith a body.\n',
      files: {
        'README.md': '# fixture\n',
        'src/a.ts': tsSource,
        'bin/tool': { content: '#!/bin/sh\necho tool\n', mode: '100755' },
        link: { symlink: 'README.md' },
        'with space/file name.txt': 'spaces\n',
        'ünïcödé/日本.txt': 'unicode\n',
        'new\nline.txt': 'newline in the name\n',
        'quote"d.txt': 'quoted\n',
        'tab\tname': 'tab\n',
        'binary.bin': binaryBytes(5000),
      },
    },
    {
      id: 'rename',
      message: 'Rename a.ts to b.ts\nand edit it\n',
      date: '2024-03-04T05:06:07+05:30',
      files: { 'src/a.ts': null, 'src/b.ts': `${tsSource}export const extra = 1;\n`, 'README.md': '# fixture\n\nmore\n' },
    },
    { id: 'chmod', date: '2024-03-05T05:06:07-08:00', message: '\n\n  \nSubject after blank lines  \n\nbody\n', files: { 'bin/tool': '#!/bin/sh\necho tool\n' } },
    { id: 'typechange', files: { link: 'now a regular file\n', 'README.md': { symlink: 'src/b.ts' } } },
    { id: 'submodule', files: { 'vendor/lib': { gitlink: gitlinkOid }, 'binary.bin': binaryBytes(6000) } },
    { id: 'feature', branch: 'feature', parents: ['rename'], files: { 'feature.txt': 'feature\n', 'tab\tname': null } },
    { id: 'feature2', branch: 'feature', files: { 'feature.txt': 'feature two\n' } },
    { id: 'merge', parents: ['submodule', 'feature2'], message: 'Merge branch feature', files: { 'feature.txt': 'feature two\n', 'tab\tname': null } },
    { id: 'dir-to-file', files: { 'with space/file name.txt': null, 'with space': 'now a file\n', 'ünïcödé/日本.txt': 'unicode, edited\n' } },
  ],
  tags: { v1: 'rename' },
};

/** Build {@link richSpec} in a fresh temp directory. */
export async function buildRich(options: FixtureOptions = {}): Promise<{ dir: string; oids: Record<string, string> }> {
  const dir = await tempDir(`rich-${options.storage ?? 'loose'}`);
  return await buildFixtureRepo(dir, richSpec, options);
}

/** A linear history of `count` commits, each changing one file. */
export function linearSpec(count: number): FixtureSpec {
  return {
    commits: Array.from({ length: count }, (_, i) => ({ id: `c${i}`, files: { [`file${i % 3}.txt`]: `content ${i}\n` } })),
  };
}
