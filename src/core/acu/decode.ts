/**
 * The one decoder for ACUs from untrusted places (a peer, a file, `--json` input): unknown value in,
 * a typed ACU or coded issues with paths out. Nothing past this function sees `unknown`.
 */
import type { Acu, AcuFlag, AcuOp, DeclKind, FileContentKind, FileLevelReason, Hunk } from './model.js';

/** One problem with an input value, at a path such as `hunks[2].beforeLines`. */
export interface DecodeIssue {
  readonly path: string;
  readonly code: 'missing' | 'type' | 'value' | 'version';
  readonly message: string;
}

/** A decoded ACU, or the issues that stopped it. */
export type DecodeResult = { readonly ok: true; readonly acu: Acu } | { readonly ok: false; readonly issues: readonly DecodeIssue[] };

const ops: readonly AcuOp[] = ['add', 'modify', 'remove', 'move'];
const declKinds: readonly DeclKind[] = [
  'class', 'interface', 'enum', 'namespace', 'import', 'export', 'function', 'type', 'variable', 'statement',
  'method', 'property', 'accessor', 'constructor', 'index-signature', 'static-block', 'member', 'enum-member', 'module',
];
const contents: readonly FileContentKind[] = ['text', 'binary', 'symlink', 'gitlink'];
const reasons: readonly FileLevelReason[] = ['added', 'removed', 'unparsed', 'binary', 'not-source'];
const flagsKnown: readonly AcuFlag[] = ['format-only'];

/** Limits on decoded values, so a hostile peer cannot make us hold unbounded data. */
export const acuTextCharsMax = 16 * 1024 * 1024;
export const acuNamesMax = 10_000;
export const acuHunksMax = 100_000;

class Reader {
  readonly issues: DecodeIssue[] = [];

  constructor(private readonly value: Record<string, unknown>) {}

  private issue(path: string, code: DecodeIssue['code'], message: string): void {
    this.issues.push({ path, code, message });
  }

  string(key: string, nullable: boolean): string | null {
    const v = this.value[key];
    if (v === null && nullable) return null;
    if (typeof v !== 'string') {
      this.issue(key, v === undefined ? 'missing' : 'type', `${key} must be a string${nullable ? ' or null' : ''}`);
      return null;
    }
    if (v.length > acuTextCharsMax) this.issue(key, 'value', `${key} is longer than ${acuTextCharsMax} characters`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], nullable = false): T {
    const v = this.value[key];
    if (v === null && nullable) return null as unknown as T;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.issue(key, v === undefined ? 'missing' : 'value', `${key} must be one of ${allowed.join(', ')}`);
      return allowed[0]!;
    }
    return v as T;
  }

  strings(key: string, max: number): string[] {
    const v = this.value[key];
    if (!Array.isArray(v) || v.length > max || !v.every((s) => typeof s === 'string')) {
      this.issue(key, v === undefined ? 'missing' : 'type', `${key} must be an array of at most ${max} strings`);
      return [];
    }
    return v;
  }
}

function hunksOf(value: unknown, issues: DecodeIssue[]): Hunk[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length > acuHunksMax) {
    issues.push({ path: 'hunks', code: 'type', message: 'hunks must be null or an array of hunks' });
    return null;
  }
  const out: Hunk[] = [];
  value.forEach((h: unknown, i) => {
    const hunk = h as Record<string, unknown> | null;
    // One line per element, its terminator last: `['x\ny\n']` and `['x\n', 'y\n']` would be two
    // encodings of one change.
    const isLine = (l: unknown): boolean => typeof l === 'string' && (l.indexOf('\n') === -1 || l.indexOf('\n') === l.length - 1);
    const ok =
      typeof hunk === 'object' && hunk !== null &&
      Object.keys(hunk).length === 3 &&
      Number.isSafeInteger(hunk.beforeStart) && (hunk.beforeStart as number) >= 0 &&
      Array.isArray(hunk.beforeLines) && hunk.beforeLines.every(isLine) &&
      Array.isArray(hunk.afterLines) && hunk.afterLines.every(isLine);
    if (!ok) issues.push({ path: `hunks[${i}]`, code: 'type', message: 'a hunk is exactly {beforeStart, beforeLines, afterLines}, one line per element' });
    else out.push({ beforeStart: hunk.beforeStart as number, beforeLines: hunk.beforeLines as string[], afterLines: hunk.afterLines as string[] });
  });
  return out;
}

/** Decode an ACU from an untrusted plain value. Extra fields are rejected (ids hash every field). */
export function decodeAcu(value: unknown): DecodeResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, issues: [{ path: '', code: 'type', message: 'an ACU must be an object' }] };
  }
  const record = value as Record<string, unknown>;
  if (record.v !== 1) return { ok: false, issues: [{ path: 'v', code: 'version', message: `unknown ACU format version ${String(record.v)}` }] };
  const r = new Reader(record);
  const level = r.oneOf('level', ['decl', 'file'] as const);
  const allowed = level === 'decl' ? declKeys : fileKeys;
  for (const key of Object.keys(record)) {
    if (!allowed.has(key)) r.issues.push({ path: key, code: 'value', message: `unknown field ${key}` });
  }
  const acu = level === 'decl' ? decodeDecl(r) : decodeFile(r, record);
  if (r.issues.length === 0) r.issues.push(...(acu.level === 'decl' ? declConsistency(acu) : fileConsistency(acu)));
  return r.issues.length > 0 ? { ok: false, issues: r.issues } : { ok: true, acu };
}

function issue(path: string, message: string): DecodeIssue {
  return { path, code: 'value', message };
}

/**
 * A repository path acu may write, with the same answer on every platform: relative,
 * `/`-separated, no empty, `.` or `..` component, no NUL or backslash (a separator on Windows),
 * and no component that is `.git` on some file system git runs on — any case, trailing dots and
 * spaces (Windows drops them), an NTFS stream suffix (`.git::$INDEX_ALLOCATION`), the 8.3 short
 * name `git~1`, or characters HFS+ ignores (`.g\u200cit`). A peer's ACU must never reach into
 * `.git` on any node, whatever its file system.
 */
export function isSafePath(path: string): boolean {
  if (path === '' || path.includes('\0') || path.includes('\\')) return false;
  return path.split('/').every((component) => component !== '' && component !== '.' && component !== '..' && !aliasesDotGit(component));
}

/** Code points HFS+ leaves out when it compares names (git's is_hfs_dotgit list). */
const hfsIgnorable = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

function aliasesDotGit(component: string): boolean {
  const stream = component.indexOf(':');
  const name = (stream === -1 ? component : component.slice(0, stream)).replace(hfsIgnorable, '').toLowerCase().replace(/[. ]+$/, '');
  return name === '.git' || name === 'git~1';
}

function sortedUnique(values: readonly string[]): boolean {
  return values.every((value, i) => i === 0 || values[i - 1]! < value);
}

/** What an operation implies about the other fields of a declaration ACU. */
function declConsistency(acu: Extract<Acu, { level: 'decl' }>): DecodeIssue[] {
  const out: DecodeIssue[] = [];
  if (!isSafePath(acu.file)) out.push(issue('file', 'a relative repository path outside .git'));
  if ((acu.kind === 'module') !== (acu.symbol === '')) out.push(issue('symbol', "the module, and only it, has the symbol ''"));
  if (acu.op === 'add' && (acu.before !== null || acu.after === null)) out.push(issue('before', 'an add has no text before and a text after'));
  if (acu.op === 'remove' && (acu.after !== null || acu.before === null)) out.push(issue('after', 'a remove has a text before and none after'));
  if ((acu.op === 'modify' || acu.op === 'move') && (acu.before === null || acu.after === null)) out.push(issue('before', `a ${acu.op} has texts before and after`));
  if ((acu.op === 'modify' || acu.op === 'remove') && acu.anchor !== null) out.push(issue('anchor', `a ${acu.op} has no anchor`));
  const shellTails = [acu.beforeTail, acu.afterTail].filter((t) => t !== null).length;
  if (shellTails === 1) out.push(issue('beforeTail', 'a shell has both tails, anything else neither'));
  if (shellTails === 2 && (acu.op === 'add' || acu.op === 'remove')) out.push(issue('beforeTail', 'added and removed containers carry their whole text'));
  if (!sortedUnique(acu.defines)) out.push(issue('defines', 'sorted and without repeats'));
  if (!sortedUnique(acu.uses)) out.push(issue('uses', 'sorted and without repeats'));
  if (acu.flags.length > 0 && acu.op !== 'modify') out.push(issue('flags', 'only a modify can be format-only'));
  return out;
}

const modes = new Set(['100644', '100755', '120000', '160000']);
const oidPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** What an operation implies about the other fields of a whole-file ACU. */
function fileConsistency(acu: Extract<Acu, { level: 'file' }>): DecodeIssue[] {
  const out: DecodeIssue[] = [];
  if (!isSafePath(acu.file)) out.push(issue('file', 'a relative repository path outside .git'));
  if ((acu.op === 'move') !== (acu.fromFile !== null)) out.push(issue('fromFile', 'a move, and only a move, has fromFile'));
  if (acu.fromFile !== null && !isSafePath(acu.fromFile)) out.push(issue('fromFile', 'a relative repository path outside .git'));
  const adding = acu.op === 'add';
  const removing = acu.op === 'remove';
  if (adding !== (acu.modeBefore === null) || adding !== (acu.beforeOid === null)) out.push(issue('modeBefore', 'an add, and only an add, has no mode and object before'));
  if (removing !== (acu.modeAfter === null) || removing !== (acu.afterOid === null)) out.push(issue('modeAfter', 'a remove, and only a remove, has no mode and object after'));
  for (const key of ['modeBefore', 'modeAfter'] as const) if (acu[key] !== null && !modes.has(acu[key])) out.push(issue(key, 'a git file mode'));
  for (const key of ['beforeOid', 'afterOid'] as const) if (acu[key] !== null && !oidPattern.test(acu[key])) out.push(issue(key, 'a git object id'));
  if (removing && (acu.data !== null || acu.hunks !== null)) out.push(issue('data', 'a remove carries no content'));
  if (acu.data !== null && acu.hunks !== null) out.push(issue('hunks', 'content comes whole or as hunks, not both'));
  return out;
}

const declKeys = new Set(['v', 'level', 'file', 'symbol', 'kind', 'op', 'before', 'after', 'beforeTail', 'afterTail', 'anchor', 'defines', 'uses', 'flags']);
const fileKeys = new Set(['v', 'level', 'file', 'fromFile', 'op', 'content', 'modeBefore', 'modeAfter', 'beforeOid', 'afterOid', 'data', 'hunks', 'reason']);

function decodeDecl(r: Reader): Acu {
  const flags = r.strings('flags', flagsKnown.length);
  for (const flag of flags) if (!(flagsKnown as readonly string[]).includes(flag)) r.issues.push({ path: 'flags', code: 'value', message: `unknown flag ${flag}` });
  return {
    v: 1,
    level: 'decl',
    file: r.string('file', false) ?? '',
    symbol: r.string('symbol', false) ?? '',
    kind: r.oneOf('kind', declKinds),
    op: r.oneOf('op', ops),
    before: r.string('before', true),
    after: r.string('after', true),
    beforeTail: r.string('beforeTail', true),
    afterTail: r.string('afterTail', true),
    anchor: r.string('anchor', true),
    defines: r.strings('defines', acuNamesMax),
    uses: r.strings('uses', acuNamesMax),
    flags: flags as AcuFlag[],
  };
}

function decodeFile(r: Reader, record: Record<string, unknown>): Acu {
  return {
    v: 1,
    level: 'file',
    file: r.string('file', false) ?? '',
    fromFile: r.string('fromFile', true),
    op: r.oneOf('op', ops),
    content: r.oneOf('content', contents),
    modeBefore: r.string('modeBefore', true),
    modeAfter: r.string('modeAfter', true),
    beforeOid: r.string('beforeOid', true),
    afterOid: r.string('afterOid', true),
    data: r.string('data', true),
    hunks: hunksOf(record.hunks, r.issues),
    reason: r.oneOf('reason', reasons, true),
  };
}
