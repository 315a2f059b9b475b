/**
 * `acu score [<rev> | <range>] [-n <count>] [--backend <name>] [--json]`
 *
 * Extracts the ACUs of a range's commits, scores them as one batch (each commit one proposal) and
 * prints every ACU with its risk, the pairs that interfere or near-duplicate each other, whether
 * the batch could take the fast path, and the scoring backend that ran.
 */
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import type { IdentifiedAcu } from '../core/acu/model.js';
import { qualifiedSymbol } from '../core/acu/model.js';
import { GitRepo } from '../git/index.js';
import { ParseCache } from '../extract/cache.js';
import { extractCommits, listRange } from '../extract/range.js';
import { scoreAcus } from '../validate/score.js';
import type { BatchScores } from '../validate/score.js';
import { parseBackendChoice, selectBackend } from '../validate/scoring/select.js';
import type { BackendChoice, SelectedBackend } from '../validate/scoring/select.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';
import { paint } from './io.js';

/** Parsed options of `acu score`. */
export interface ScoreOptions {
  readonly revs: string[];
  readonly maxCount: number | undefined;
  readonly backend: BackendChoice;
  readonly json: boolean;
}

const help = `Score the ACUs of a range as one batch, each commit one proposal: per ACU its risk, and
the pairs of ACUs of different commits that interfere (one defines or changes a name the other
uses) or are near-duplicates (similar token shingles). Scores are integers, identical on every
backend; docs/scoring.md defines them.

  <rev>, <range>       one commit (default HEAD) or a range (A..B)
  -n, --max-count      at most this many commits, the newest
  --backend <name>     auto (default), cpu-reference, js-bitset, wasm-popcount, gpujs (in
                       gpu.js's own choice of mode), or gpujs:<mode> with mode one of gpu,
                       headlessgl, webgl, webgl2, webgpu, webasm, cpu
  --json               one JSON document`;

function parse(argv: readonly string[]): ScoreOptions {
  const { values, positionals } = parseCommandArgs('score', argv, {
    'max-count': { type: 'string', short: 'n' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    revs: positionals,
    maxCount: parseCount('score', 'max-count', values['max-count']),
    backend: parseBackendChoice(values.backend ?? 'auto'),
    json: values.json === true,
  };
}

interface Scored {
  readonly commit: string;
  readonly subject: string;
  readonly item: IdentifiedAcu;
}

async function run(options: ScoreOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  let selected: SelectedBackend | null = null;
  try {
    const commits = await listRange(repo, { revs: options.revs, maxCount: options.maxCount });
    const items: Scored[] = [];
    const groups: number[] = [];
    let group = 0;
    for await (const commit of extractCommits(repo, commits, { revs: [], cache: new ParseCache(), jobs: 1 })) {
      for (const item of commit.acus) {
        items.push({ commit: commit.commit, subject: commit.info.subject, item });
        groups.push(group);
      }
      group += 1;
    }
    selected = await selectBackend(options.backend, items.length);
    const scores = await scoreAcus(items.map((s) => s.item.acu), groups, selected.backend);
    io.stdout(options.json ? renderJson(items, scores, selected) : renderText(io, items, scores, selected));
    return ExitCode.ok;
  } finally {
    selected?.backend.dispose();
    await repo.close();
  }
}

function where(item: IdentifiedAcu): string {
  return item.acu.level === 'decl' ? qualifiedSymbol(item.acu.file, item.acu.symbol) : item.acu.file;
}

function backendLine(selected: SelectedBackend): string {
  return `backend: ${selected.backend.name} (${selected.backend.detail}); ${selected.reason}; gpu.js: ${selected.gpujs}`;
}

function renderText(io: Io, items: readonly Scored[], scores: BatchScores, selected: SelectedBackend): string {
  const c = paint(io);
  const lines: string[] = [c.dim(backendLine(selected))];
  let commit = '';
  items.forEach((s, i) => {
    if (s.commit !== commit) {
      commit = s.commit;
      lines.push(`${c.yellow(`commit ${commit}`)}  ${s.subject}`);
    }
    lines.push(`  ${String(scores.risk[i] ?? 0).padStart(5)}  ${s.item.acu.op.padEnd(6)} ${where(s.item)}`);
  });
  if (scores.pairs.length > 0) lines.push('', 'pairs (interference i->j, j->i, similarity per-mille):');
  for (const p of scores.pairs) {
    lines.push(`  ${where(items[p.i]!.item)} <-> ${where(items[p.j]!.item)}: ${p.interferenceIj}, ${p.interferenceJi}, ${p.similarity}`);
  }
  const block = scores.fastPath;
  lines.push('', block === null ? c.green('fast path: yes') : `fast path: no (${block.kind}${'j' in block ? ` between ACUs ${block.i} and ${block.j}` : ` of ACU ${block.i}`}, ${block.score})`);
  lines.push(`${items.length} ACUs scored`);
  return `${lines.join('\n')}\n`;
}

function renderJson(items: readonly Scored[], scores: BatchScores, selected: SelectedBackend): string {
  const value = {
    version: 1,
    backend: { name: selected.backend.name, detail: selected.backend.detail, reason: selected.reason, gpujs: selected.gpujs },
    acus: items.map((s, i) => ({ commit: s.commit, id: s.item.id, where: where(s.item), op: s.item.acu.op, risk: scores.risk[i] ?? 0 })),
    pairs: scores.pairs,
    fastPath: scores.fastPath === null,
    fastPathBlock: scores.fastPath,
  };
  return `${JSON.stringify(value)}\n`;
}

/** The `acu score` command. */
export const scoreCommand: Command<ScoreOptions> = {
  name: 'score',
  usage: 'score [<rev> | <range>] [-n <count>] [--backend <name>] [--json]',
  summary: "score a range's ACUs (interference, near-duplicates, risk) and show the backend",
  help,
  parse,
  run,
};
