/**
 * Replaying a history's merges: for every two-parent merge commit, every file changed on both
 * sides since the merge base becomes a scenario (base, ours = first parent, theirs = second
 * parent, and what the human committed). Each scenario is merged by acu (composeFile) and by git
 * (`git merge-file`, the reference), and both results are classified against the human's.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ts } from 'ts-morph';
import { AcuError, assert } from '../core/errors.js';
import type { GitRepo, TreeChange } from '../git/index.js';
import { mergeBase } from '../git/history.js';
import type { MergeCommit } from '../git/history.js';
import { mergeFile } from '../git/merge-file.js';
import { isSourcePath, parseSource } from '../extract/segment.js';
import { decodeText } from '../extract/text.js';
import { introducedFindings } from './check.js';
import { composeFile } from './file.js';

/** One file of one merge: the three inputs and the human's result. */
export interface Scenario {
  readonly merge: string;
  readonly path: string;
  readonly base: string;
  readonly ours: string;
  readonly theirs: string;
  /** What the merge commit holds at `path`; null when the human deleted the file. */
  readonly human: string | null;
}

/** How a tool's result compares with the human's. */
export type Verdict = 'exact' | 'format' | 'reorder' | 'conflict' | 'differ' | 'crash';

/** The verdicts that count as "equal to the human merge". */
export const equalVerdicts: readonly Verdict[] = ['exact', 'format', 'reorder'];

/** Text equal ignoring blank lines and line-end spaces. */
function withoutBlankLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/\s+$/, ''))
    .filter((line) => line !== '')
    .join('\n');
}

/**
 * The token stream of a text: TypeScript tokens for source files, else whitespace-separated words.
 * Source files are tokenized by the parser, not the bare scanner: only the parser knows where a
 * template literal resumes after `${...}` and whether `/` starts a regular expression, and a
 * scanner that guesses wrong swallows code (with its layout) into one long token.
 */
export function tokens(path: string, text: string): string[] {
  if (!isSourcePath(path)) return text.split(/\s+/).filter((word) => word !== '');
  const sourceFile = parseSource(path, text);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    const children = node.getChildren(sourceFile);
    if (children.length > 0) {
      for (const child of children) visit(child);
      return;
    }
    // Separators are layout: trailing commas, optional semicolons.
    if (node.kind === ts.SyntaxKind.CommaToken || node.kind === ts.SyntaxKind.SemicolonToken || node.kind === ts.SyntaxKind.EndOfFileToken) return;
    const text = node.kind === ts.SyntaxKind.JsxText ? node.getText(sourceFile).trim() : node.getText(sourceFile);
    if (text !== '') out.push(text);
  };
  visit(sourceFile);
  return out;
}

/**
 * Classify a tool's clean result against the human's: exact (ignoring blank lines), format (same
 * tokens, separators `,`/`;` aside: trailing commas and semicolons are layout), reorder (the same
 * tokens in another order: the same declarations, members and import names, reordered).
 */
export function classify(path: string, result: string, human: string): Verdict {
  if (withoutBlankLines(result) === withoutBlankLines(human)) return 'exact';
  const a = tokens(path, result);
  const b = tokens(path, human);
  if (a.length === b.length && a.every((token, i) => token === b[i])) return 'format';
  if (a.length !== b.length) return 'differ';
  const sorted = (list: string[]): string => [...list].sort().join('\u0000');
  return sorted(a) === sorted(b) ? 'reorder' : 'differ';
}

/** One tool's outcome on one scenario. */
export interface ToolOutcome {
  readonly verdict: Verdict;
  readonly ms: number;
  /** acu only: a conflict the safeguard made of a clean merge (a diagnostic no input had). */
  readonly guarded?: boolean;
  /** acu only: a clean result that still has a diagnostic no input had (the safeguard missed it). */
  readonly broken?: boolean;
}

/** A scenario's outcome for both tools. */
export interface ScenarioOutcome {
  readonly merge: string;
  readonly path: string;
  /** The human kept one side verbatim: counted apart. */
  readonly oneSide: boolean;
  /**
   * The human merge uses only the sides' lines (see {@link usesOnlySidesLines}): a merge tool
   * could have produced it, so its =human share is the one issue #15's target is about.
   */
  readonly sidesLines: boolean;
  readonly acu: ToolOutcome;
  readonly git: ToolOutcome;
}

/** Merge one scenario with acu (in process). */
export function runAcu(scenario: Scenario): ToolOutcome {
  const started = performance.now();
  let verdict: Verdict;
  try {
    const result = composeFile({ path: scenario.path, base: scenario.base, ours: scenario.ours, theirs: scenario.theirs });
    const ms = performance.now() - started;
    if (result.conflicts.length > 0) return { verdict: 'conflict', ms, guarded: result.conflicts.some((c) => c.kind === 'diagnostic') };
    verdict = scenario.human === null ? 'differ' : classify(scenario.path, result.text, scenario.human);
    // Checked apart from the merge (and outside its time): a clean result must never break the file.
    const introduced = introducedFindings(scenario.path, { base: scenario.base, ours: scenario.ours, theirs: scenario.theirs, result: result.text });
    return { verdict, ms, broken: introduced !== null && introduced.length > 0 };
  } catch {
    return { verdict: 'crash', ms: performance.now() - started };
  }
}

/** Scratch files for `git merge-file`, reused across scenarios. */
export class MergeFileRunner {
  private constructor(private readonly dir: string) {}

  /** Make a runner with its own temporary directory. */
  static async create(): Promise<MergeFileRunner> {
    return new MergeFileRunner(await mkdtemp(join(tmpdir(), 'acu-merge-file-')));
  }

  /** git's merge of three texts: its output and whether it conflicted; the time of the git process. */
  async merge(base: string, ours: string, theirs: string): Promise<{ text: string; clean: boolean; ms: number }> {
    const files = ['ours', 'base', 'theirs'].map((name) => join(this.dir, name));
    await Promise.all([writeFile(files[0]!, ours), writeFile(files[1]!, base), writeFile(files[2]!, theirs)]);
    const started = performance.now();
    const result = await mergeFile({ ours: files[0]!, base: files[1]!, theirs: files[2]! }, { cwd: this.dir });
    const ms = performance.now() - started;
    return { text: result.text, clean: result.conflicts === 0, ms };
  }

  /** Remove the scratch directory. */
  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Merge one scenario with `git merge-file` and classify it. */
export async function runGitMergeFile(runner: MergeFileRunner, scenario: Scenario): Promise<ToolOutcome> {
  try {
    const result = await runner.merge(scenario.base, scenario.ours, scenario.theirs);
    if (!result.clean) return { verdict: 'conflict', ms: result.ms };
    const verdict = scenario.human === null ? 'differ' : classify(scenario.path, result.text, scenario.human);
    return { verdict, ms: result.ms };
  } catch {
    return { verdict: 'crash', ms: 0 };
  }
}

/** A deterministic sample of `limit` merges drawn with `seed` (all of them, in order, without a limit). */
export function sampleMerges(merges: readonly MergeCommit[], limit: number | undefined, seed: number): MergeCommit[] {
  if (limit === undefined || limit >= merges.length) return [...merges];
  const order = merges.map((_, i) => i);
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state;
  };
  for (let i = order.length - 1; i > 0; i -= 1) {
    const j = next() % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, limit).sort((a, b) => a - b).map((i) => merges[i]!);
}

/** The largest file (bytes) replayed; bigger ones are generated or vendored, not merged by hand. */
const scenarioFileBytesMax = 1_000_000;

/** The scenarios of one merge: text files modified on both sides since the merge base. */
export async function scenariosOf(repo: GitRepo, merge: MergeCommit): Promise<Scenario[]> {
  const base = await mergeBase(repo, merge.ours, merge.theirs);
  if (base === null) return [];
  const [toOurs, toTheirs, toHuman] = await repo.diffTrees(
    [{ from: base, to: merge.ours }, { from: base, to: merge.theirs }, { from: merge.ours, to: merge.oid }],
    { renames: false },
  );
  assert(toOurs !== undefined && toTheirs !== undefined && toHuman !== undefined, 'diffTrees answers each pair');
  const modified = (changes: TreeChange[]): Map<string, TreeChange> =>
    new Map(changes.filter((c) => c.status === 'M' && c.oldMode === '100644' && c.newMode === '100644').map((c) => [c.newPath!, c]));
  const ours = modified(toOurs);
  const theirs = modified(toTheirs);
  const human = new Map(toHuman.map((c) => [c.oldPath ?? c.newPath!, c]));
  const scenarios: Scenario[] = [];
  for (const [path, o] of ours) {
    const t = theirs.get(path);
    if (t === undefined) continue;
    const h = human.get(path);
    const humanOid = h === undefined ? o.newOid : h.newOid;
    const oids = [o.oldOid!, o.newOid!, t.newOid!, ...(humanOid === null ? [] : [humanOid])];
    const blobs = await repo.readBlobs(oids);
    if (blobs.some((blob) => blob.length > scenarioFileBytesMax)) continue;
    const texts = blobs.map((blob) => decodeText(blob));
    if (texts.some((text) => text === null)) continue;
    scenarios.push({ merge: merge.oid, path, base: texts[0]!, ours: texts[1]!, theirs: texts[2]!, human: humanOid === null ? null : texts[3]! });
  }
  return scenarios;
}

/** Failures that mean "this repository does not hold that merge's history", not a bug. */
const skippableCodes: readonly string[] = ['ERR_MISSING_OBJECT', 'ERR_SHALLOW_BOUNDARY', 'ERR_UNKNOWN_REVISION', 'ERR_GIT_FAILED'];

/**
 * A merge's scenarios, or null when the repository lacks some of its objects (a partial or
 * shallow mirror): such merges are skipped and counted, not fatal.
 */
export async function scenariosOrSkip(repo: GitRepo, merge: MergeCommit): Promise<Scenario[] | null> {
  try {
    return await scenariosOf(repo, merge);
  } catch (error) {
    if (error instanceof AcuError && skippableCodes.includes(error.code)) return null;
    throw error;
  }
}

/**
 * Whether the human merge uses only the sides' lines: every line of the human's file that is not
 * blank, with its trailing whitespace removed, is also a line (trailing whitespace removed) of
 * base, ours or theirs. Indentation and order count; blank lines do not. A deleted file (human
 * null) does not. A human merge that wrote new lines (a hand-made fix, a third version of a
 * conflicting line) is one no merge tool can reproduce, so the =human share that measures a tool
 * is taken on the scenarios where this holds.
 */
export function usesOnlySidesLines(scenario: Pick<Scenario, 'base' | 'ours' | 'theirs' | 'human'>): boolean {
  if (scenario.human === null) return false;
  const linesOf = (text: string): string[] => text.split('\n').map((line) => line.replace(/\s+$/, ''));
  const known = new Set([...linesOf(scenario.base), ...linesOf(scenario.ours), ...linesOf(scenario.theirs)]);
  return linesOf(scenario.human).every((line) => line === '' || known.has(line));
}

/** Replay one scenario with both tools. */
export async function replayScenario(runner: MergeFileRunner, scenario: Scenario): Promise<ScenarioOutcome> {
  const oneSide = scenario.human !== null && scenario.ours !== scenario.theirs && (scenario.human === scenario.ours || scenario.human === scenario.theirs);
  const git = await runGitMergeFile(runner, scenario);
  const acu = runAcu(scenario);
  return { merge: scenario.merge, path: scenario.path, oneSide, sidesLines: usesOnlySidesLines(scenario), acu, git };
}

/** Scenario groups of the report. */
export type Group = 'git-conflict' | 'git-clean' | 'one-side';

/** Which group a scenario belongs to. */
export function groupOf(outcome: ScenarioOutcome): Group {
  if (outcome.oneSide) return 'one-side';
  return outcome.git.verdict === 'conflict' || outcome.git.verdict === 'crash' ? 'git-conflict' : 'git-clean';
}

/** Counts per verdict. */
export type VerdictCounts = Record<Verdict, number>;

/**
 * The scenarios of a group whose human merge uses only the sides' lines, and per tool how many of
 * them it merged cleanly (neither conflict nor crash) and how many of those equal the human.
 */
export interface SidesLinesCounts {
  readonly scenarios: number;
  readonly acuClean: number;
  readonly acuEqual: number;
  readonly gitClean: number;
  readonly gitEqual: number;
}

/** A group's figures. */
export interface GroupSummary {
  readonly scenarios: number;
  readonly acu: VerdictCounts;
  readonly git: VerdictCounts;
  readonly guarded: number;
  readonly broken: number;
  readonly sidesLines: SidesLinesCounts;
}

/** Per-group, per-tool counts, and timing percentiles. */
export interface ReplaySummary {
  readonly merges: number;
  /** Merges left out because the repository lacks some of their objects. */
  readonly skippedMerges: number;
  readonly scenarios: number;
  /**
   * Per group: the scenarios, the verdicts of each tool, and for acu the clean merges its safeguard
   * turned into conflicts (`guarded`, counted in `conflict` too) and the clean results that still
   * have a diagnostic no input had (`broken`, counted in their verdict too; the target is 0);
   * `sidesLines`: the same restricted to the scenarios whose human merge uses only the sides' lines.
   */
  readonly groups: Record<Group, GroupSummary>;
  readonly acuMs: { readonly p50: number; readonly p95: number; readonly max: number };
  readonly gitMs: { readonly p50: number; readonly p95: number; readonly max: number };
}

function zeroCounts(): VerdictCounts {
  return { exact: 0, format: 0, reorder: 0, conflict: 0, differ: 0, crash: 0 };
}

/** The value at fraction `q` of sorted numbers (nearest rank); 0 for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Summarise outcomes into the report's table. */
export function summarize(merges: number, outcomes: readonly ScenarioOutcome[]): ReplaySummary {
  type Mutable<T> = { -readonly [K in keyof T]: T[K] };
  const zeroGroup = (): Mutable<Omit<GroupSummary, 'sidesLines'>> & { sidesLines: Mutable<SidesLinesCounts> } => ({
    scenarios: 0,
    acu: zeroCounts(),
    git: zeroCounts(),
    guarded: 0,
    broken: 0,
    sidesLines: { scenarios: 0, acuClean: 0, acuEqual: 0, gitClean: 0, gitEqual: 0 },
  });
  const groups = { 'git-conflict': zeroGroup(), 'git-clean': zeroGroup(), 'one-side': zeroGroup() };
  const isClean = (verdict: Verdict): boolean => verdict !== 'conflict' && verdict !== 'crash';
  for (const outcome of outcomes) {
    const group = groups[groupOf(outcome)];
    group.scenarios += 1;
    if (outcome.acu.guarded === true) group.guarded += 1;
    if (outcome.acu.broken === true) group.broken += 1;
    group.acu[outcome.acu.verdict] += 1;
    group.git[outcome.git.verdict] += 1;
    if (!outcome.sidesLines) continue;
    const sides = group.sidesLines;
    sides.scenarios += 1;
    if (isClean(outcome.acu.verdict)) sides.acuClean += 1;
    if (equalVerdicts.includes(outcome.acu.verdict)) sides.acuEqual += 1;
    if (isClean(outcome.git.verdict)) sides.gitClean += 1;
    if (equalVerdicts.includes(outcome.git.verdict)) sides.gitEqual += 1;
  }
  assert(outcomes.every((o) => !o.oneSide || o.sidesLines), 'a human that kept one side used only its lines');
  const stats = (ms: number[]): { p50: number; p95: number; max: number } => ({ p50: percentile(ms, 0.5), p95: percentile(ms, 0.95), max: percentile(ms, 1) });
  return {
    merges,
    skippedMerges: 0,
    scenarios: outcomes.length,
    groups,
    acuMs: stats(outcomes.map((o) => o.acu.ms)),
    gitMs: stats(outcomes.map((o) => o.git.ms)),
  };
}
