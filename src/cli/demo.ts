/**
 * `acu demo [--keep]` — a walkthrough on a generated repository, with nothing to set up: two
 * developers change different methods of one class and both extend one import; acu shows their
 * ACUs, git's line merge conflicts, and the same merge through acu's merge driver is clean and
 * round-trips. Every command it runs is printed, so the demo doubles as a tutorial. Exits 0 only if
 * every check holds.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFixtureRepo } from '../../fixtures/builder.js';
import { demoFixture } from '../../fixtures/demo.js';
import { makeTempDir, removeTempDir } from '../../fixtures/tmp.js';
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { runAsUserSync, runGitAsUserSync } from '../git/as-user.js';
import type { UserCommandResult } from '../git/as-user.js';
import type { Command } from './command.js';
import { parseCommandArgs, refusePositionals } from './command.js';
import type { Io } from './io.js';
import { paint } from './io.js';

/** Parsed options of `acu demo`. */
export interface DemoOptions {
  /** Keep the generated repository and print where it is. */
  readonly keep: boolean;
}

const acuBin = fileURLToPath(new URL('../../../bin/acu.js', import.meta.url));

/**
 * What the demo's user has set in their shell: no colours, no credential prompts, and merges that
 * take git's message rather than opening an editor.
 */
const shellEnv = { NO_COLOR: '1', GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', GIT_MERGE_AUTOEDIT: 'no' } as const;

/** Run `acu <args>` in `cwd` as the user would, with this checkout's launcher. */
function runAcu(args: readonly string[], cwd: string): UserCommandResult {
  return runAsUserSync(process.execPath, [acuBin, ...args], { cwd, env: shellEnv });
}

/** Runs commands in the demo repository and narrates them. */
class Narrator {
  private readonly checks: { name: string; ok: boolean }[] = [];

  constructor(
    private readonly io: Io,
    private readonly cwd: string,
  ) {}

  section(title: string): void {
    this.io.stdout(`\n${paint(this.io).bold(`== ${title}`)}\n`);
  }

  /** Run `acu ...` or `git ...` as a user would, and show its output. */
  run(program: 'acu' | 'git', args: readonly string[], show = true): UserCommandResult {
    this.io.stdout(`${paint(this.io).dim('$')} ${program} ${args.join(' ')}\n`);
    const ran = program === 'acu' ? runAcu(args, this.cwd) : runGitAsUserSync(args, { cwd: this.cwd, env: shellEnv });
    if (show) {
      const text = `${ran.stdout}${ran.stderr}`.trimEnd();
      if (text !== '') this.io.stdout(`${text.replace(/^/gm, '    ')}\n`);
    }
    return ran;
  }

  check(name: string, ok: boolean): void {
    this.checks.push({ name, ok });
    const c = paint(this.io);
    this.io.stdout(`  ${ok ? c.green('ok') : c.red('FAILED')}  ${name}\n`);
  }

  get allOk(): boolean {
    return this.checks.every((check) => check.ok);
  }

  summary(): string {
    const passed = this.checks.filter((check) => check.ok).length;
    return `${passed} of ${this.checks.length} checks passed`;
  }
}

async function run(options: DemoOptions, io: Io): Promise<ExitCodeValue> {
  const top = await makeTempDir('demo');
  const dir = join(top, 'store');
  try {
    io.stdout(`Generating a repository in ${dir}\n`);
    await buildFixtureRepo(dir, demoFixture);
    const demo = new Narrator(io, dir);
    await walkthrough(demo, dir);
    const { ClusterDemo } = await import('./demo-cluster.js');
    await new ClusterDemo(io, demo, join(top, 'cluster')).run();
    io.stdout(`\n${demo.summary()}\n`);
    if (options.keep) io.stdout(`The repositories are kept in ${top}\n`);
    return demo.allOk ? ExitCode.ok : ExitCode.negative;
  } finally {
    if (!options.keep) await removeTempDir(top);
  }
}

async function walkthrough(demo: Narrator, dir: string): Promise<void> {
  demo.section('1. Each commit splits into atomic change units (ACUs)');
  const alice = demo.run('acu', ['extract', 'alice']);
  demo.check("alice's commit is one import change and one added method", alice.status === 0 && /~ modify import:'node:fs\/promises'/.test(alice.stdout) && /\+ add +class:Store\/method:stat/.test(alice.stdout));
  const bob = demo.run('acu', ['extract', 'bob']);
  demo.check("bob's commit is one import change, one added method and one modified method", bob.status === 0 && /\+ add +class:Store\/method:write/.test(bob.stdout) && /~ modify class:Store\/method:path/.test(bob.stdout));
  const check = demo.run('acu', ['extract', '--check', '--all']);
  demo.check('applying the ACUs to each parent gives each commit back, byte for byte', check.status === 0 && /0 round-trip failures/.test(check.stdout));

  demo.section("2. git's line merge: the two sides touch neighbouring lines");
  demo.run('git', ['checkout', '-q', 'alice']);
  const plain = demo.run('git', ['merge', '--no-edit', 'bob'], false);
  const conflicted = await readFile(join(dir, 'src', 'store.ts'), 'utf8');
  const markers = conflicted.split('\n').filter((line) => line.startsWith('<<<<<<<')).length;
  demo.check(`git reports conflicts (${markers} conflicted hunks in src/store.ts)`, plain.status !== 0 && markers > 0);
  demo.run('git', ['merge', '--abort']);

  demo.section("3. The same merge through acu's merge driver");
  const install = demo.run('acu', ['merge-driver', 'install']);
  demo.check('the merge driver is installed for *.ts files', install.status === 0);
  const merged = demo.run('git', ['merge', '--no-edit', 'bob']);
  demo.check('git merge completes with no conflict', merged.status === 0);
  if (merged.status !== 0) {
    demo.run('git', ['merge', '--abort']);
    return;
  }
  demo.run('git', ['diff', 'HEAD^1', 'HEAD', '--', 'src/store.ts']);
  const result = await readFile(join(dir, 'src', 'store.ts'), 'utf8');
  demo.check('both added methods are there, and the import names both functions', /async stat\(/.test(result) && /async write\(/.test(result) && /import \{[^}]*\bstat\b[^}]*\bwriteFile\b[^}]*\}|import \{[^}]*\bwriteFile\b[^}]*\bstat\b[^}]*\}/.test(result));
  demo.check("bob's change to path() is kept", result.includes('encodeURIComponent(key)'));
  const again = demo.run('acu', ['extract', '--check', 'HEAD']);
  demo.check('the merge commit round-trips too', again.status === 0 && /0 round-trip failures/.test(again.stdout));
}

/** The `acu demo` command. */
export const demoCommand: Command<DemoOptions> = {
  name: 'demo',
  usage: 'demo [--keep]',
  summary: 'a walkthrough on a generated repository: ACUs, and a merge git conflicts on but acu does not',
  help: `Generates a repository where two developers change different methods of one class and both
extend one import; shows their ACUs, git's conflicting line merge, and the clean merge through
acu's merge driver. Exits 0 only if every check holds.

  --keep    keep the generated repository and print where it is`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('demo', argv, { keep: { type: 'boolean' } });
    refusePositionals('demo', positionals);
    return { keep: values.keep === true };
  },
  run,
};
