/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests that scrape
 * `/metrics`: every line must be a HELP, a TYPE or a sample of a family declared before it; names,
 * labels, escapes and values must be well formed; a series appears once; a histogram's buckets are
 * cumulative and end in `+Inf`, equal to its `_count`. Anything else throws, naming the line.
 */

/** A metric family's type. */
export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** One sample: its full name (with `_bucket`, `_sum`, `_count` for histograms), labels, value. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A family: its HELP, TYPE and samples. */
export interface PromFamily {
  readonly name: string;
  readonly help: string;
  readonly type: PromType;
  readonly samples: PromSample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Parse an exposition; throws on the first line that breaks the format. */
export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const helps = new Map<string, string>();
  const seen = new Set<string>();
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition ends without a newline');
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, i) => {
    const where = `line ${i + 1} '${line}'`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta === null) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`${where}: a malformed HELP or TYPE`);
        return; // a comment
      }
      const [, what, name, rest] = meta as unknown as [string, string, string, string];
      if (!metricName.test(name)) throw new Error(`${where}: '${name}' is not a metric name`);
      if (what === 'HELP') {
        if (helps.has(name)) throw new Error(`${where}: a second HELP for ${name}`);
        helps.set(name, unescapeHelp(rest, where));
        return;
      }
      if (!types.includes(rest)) throw new Error(`${where}: '${rest}' is not a metric type`);
      if (families.has(name)) throw new Error(`${where}: a second TYPE for ${name}`);
      families.set(name, { name, help: helps.get(name) ?? '', type: rest as PromType, samples: [] });
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (family === undefined) throw new Error(`${where}: a sample of no family declared with TYPE before it`);
    const key = `${sample.name}{${Object.entries(sample.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (seen.has(key)) throw new Error(`${where}: the series ${key} appears twice`);
    seen.add(key);
    if (family.type === 'counter' && !(sample.value >= 0)) throw new Error(`${where}: a counter below zero`);
    family.samples.push(sample);
  });
  for (const family of families.values()) {
    if (!helps.has(family.name)) throw new Error(`${family.name}: no HELP`);
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

function familyOf(families: Map<string, PromFamily>, name: string): PromFamily | undefined {
  const exact = families.get(name);
  if (exact !== undefined) return exact;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  const family = base === undefined ? undefined : families.get(base);
  return family !== undefined && (family.type === 'histogram' || family.type === 'summary') ? family : undefined;
}

function parseSample(line: string, where: string): PromSample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (head === null) throw new Error(`${where}: no metric name`);
  const name = head[1]!;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at += 1;
    while (line[at] !== '}') {
      const label = /^([^=]*)="/.exec(line.slice(at));
      if (label === null || !labelName.test(label[1]!)) throw new Error(`${where}: a malformed label at column ${at + 1}`);
      at += label[0].length;
      let value = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) throw new Error(`${where}: an unterminated label value`);
        at += 1;
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const escaped = line[at];
        at += 1;
        if (escaped === '\\' || escaped === '"') value += escaped;
        else if (escaped === 'n') value += '\n';
        else throw new Error(`${where}: an unknown escape \\${escaped ?? ''}`);
      }
      if (label[1]! in labels) throw new Error(`${where}: the label ${label[1]!} twice`);
      labels[label[1]!] = value;
      if (line[at] === ',') at += 1;
      else if (line[at] !== '}') throw new Error(`${where}: labels go on with ',' or end with '}'`);
    }
    at += 1;
  }
  const rest = /^ (\S+)(?: (-?\d+))?$/.exec(line.slice(at));
  if (rest === null) throw new Error(`${where}: no value after the name and labels`);
  return { name, labels, value: parseValue(rest[1]!, where) };
}

function parseValue(text: string, where: string): number {
  // Prometheus reads values with Go's ParseFloat: NaN and infinities in any case (prom-client writes 'Nan').
  if (/^[+]?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: '${text}' is not a value`);
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_all, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`${where}: an unknown escape in HELP`);
  });
}

/** Buckets per label set cumulative, ending at +Inf equal to _count; a _sum for each. */
function checkHistogram(family: PromFamily): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, family.name), s.value]);
    } else if (s.name === `${family.name}_count`) entry.count = s.value;
    else if (s.name === `${family.name}_sum`) entry.sum = s.value;
    else throw new Error(`${family.name}: a histogram sample named ${s.name}`);
  }
  for (const [key, entry] of series) {
    const last = entry.buckets.at(-1);
    if (last === undefined || last[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket last`);
    for (let i = 1; i < entry.buckets.length; i += 1) {
      const [le0, n0] = entry.buckets[i - 1]!;
      const [le1, n1] = entry.buckets[i]!;
      if (!(le1 > le0) || n1 < n0) throw new Error(`${family.name}${key}: buckets not cumulative in increasing le`);
    }
    if (entry.count !== last[1] || entry.sum === undefined) throw new Error(`${family.name}${key}: _count differs from the +Inf bucket, or no _sum`);
  }
}
