/**
 * Pure parsers for git's object formats and for the `-z` output of its plumbing commands. Every
 * function here takes bytes and returns values or throws ERR_CORRUPT_OBJECT for bytes that cannot
 * be what git wrote; none of them runs a process.
 */
import { AcuError, assert } from '../core/errors.js';
import type { ChangeStatus, CommitInfo, TreeChange, TreeEntry } from './types.js';

/** An author or committer line, split. */
export interface Ident {
  readonly name: string;
  readonly email: string;
  readonly timestamp: number;
  /** Minutes east of UTC, as written (`+0130` is 90). */
  readonly offsetMinutes: number;
}

function corrupt(what: string, detail: string): AcuError {
  return new AcuError('ERR_CORRUPT_OBJECT', `${what} is malformed: ${detail}`, {
    hint: "run 'git fsck' in the repository",
  });
}

/** Split an ident (`Name <email> 1700000000 +0100`) the way git's split_ident_line does. */
export function parseIdent(line: string, what: string): Ident {
  const open = line.indexOf('<');
  const close = open < 0 ? -1 : line.indexOf('>', open + 1);
  if (open < 0 || close < 0) throw corrupt(what, `no <email> in ${JSON.stringify(line)}`);
  const name = line.slice(0, open).replace(/[ \t]+$/, '');
  const email = line.slice(open + 1, close);
  const match = /^\s*(-?\d+)\s+([+-])(\d\d)(\d\d)\s*$/.exec(line.slice(line.lastIndexOf('>') + 1));
  if (match === null) throw corrupt(what, `no date in ${JSON.stringify(line)}`);
  const [, seconds, sign, hours, minutes] = match;
  assert(seconds !== undefined && sign !== undefined, 'regex groups are present');
  assert(hours !== undefined && minutes !== undefined, 'regex groups are present');
  const magnitude = Number(hours) * 60 + Number(minutes);
  return { name, email, timestamp: Number(seconds), offsetMinutes: sign === '-' ? -magnitude : magnitude };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** ISO-8601 strict with offset, as git's `%aI`: `2005-04-07T22:13:13+02:00`. */
export function isoStrictDate(timestamp: number, offsetMinutes: number): string {
  const local = new Date((timestamp + offsetMinutes * 60) * 1000);
  assert(!Number.isNaN(local.getTime()), 'timestamp is within the Date range');
  const date = `${String(local.getUTCFullYear()).padStart(4, '0')}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}`;
  const time = `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}`;
  const abs = Math.abs(offsetMinutes);
  const zone = `${offsetMinutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
  return `${date}T${time}${zone}`;
}

const gitSpace = /[ \t\n\r]+$/;

/**
 * git's `%s`: skip leading blank lines, then join the lines of the first paragraph (up to a line
 * that is empty after trimming trailing whitespace) with single spaces, each right-trimmed.
 */
export function subjectOf(message: string): string {
  const lines = message.split('\n');
  let index = 0;
  while (index < lines.length && (lines[index] ?? '').replace(gitSpace, '') === '') index += 1;
  const parts: string[] = [];
  for (; index < lines.length; index += 1) {
    const line = (lines[index] ?? '').replace(gitSpace, '');
    if (line === '') break;
    parts.push(line);
  }
  return parts.join(' ');
}

/** Parse a raw commit object (the bytes `git cat-file commit <oid>` prints). */
export function parseCommit(oid: string, raw: Uint8Array): CommitInfo {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  const headerText = headerEnd < 0 ? text.replace(/\n$/, '') : text.slice(0, headerEnd);
  const message = headerEnd < 0 ? '' : text.slice(headerEnd + 2);
  let tree: string | null = null;
  const parents: string[] = [];
  let author: Ident | null = null;
  let committer: Ident | null = null;
  for (const line of headerText.split('\n')) {
    if (line.startsWith(' ')) continue; // continuation of a multi-line header (gpgsig, mergetag)
    const space = line.indexOf(' ');
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? '' : line.slice(space + 1);
    // Only the first tree/author/committer counts, as in git's own parser.
    if (key === 'tree' && tree === null) tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author' && author === null) author = parseIdent(value, `author of commit ${oid}`);
    else if (key === 'committer' && committer === null) committer = parseIdent(value, `committer of commit ${oid}`);
  }
  if (tree === null) throw corrupt(`commit ${oid}`, 'no tree header');
  if (author === null || committer === null) throw corrupt(`commit ${oid}`, 'no author or committer header');
  return {
    oid,
    parents,
    tree,
    authorName: author.name,
    authorEmail: author.email,
    authorDate: isoStrictDate(author.timestamp, author.offsetMinutes),
    committerName: committer.name,
    committerEmail: committer.email,
    committerDate: isoStrictDate(committer.timestamp, committer.offsetMinutes),
    subject: subjectOf(message),
  };
}

/** One entry of a raw (binary) tree object. */
export interface RawTreeEntry {
  /** The mode as stored (`40000` for trees, without a leading zero). */
  readonly mode: string;
  readonly name: string;
  readonly oid: string;
}

/** Parse a raw tree object: repeated `<mode> <name>\0<binary id>`. */
export function parseTreeObject(oid: string, raw: Uint8Array, oidBytes: number): RawTreeEntry[] {
  assert(oidBytes === 20 || oidBytes === 32, 'object ids are 20 or 32 bytes');
  const buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const entries: RawTreeEntry[] = [];
  let cursor = 0;
  while (cursor < buffer.length) {
    const space = buffer.indexOf(0x20, cursor);
    const nul = space < 0 ? -1 : buffer.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + oidBytes > buffer.length) throw corrupt(`tree ${oid}`, `truncated entry at byte ${cursor}`);
    entries.push({
      mode: buffer.toString('latin1', cursor, space),
      name: buffer.toString('utf8', space + 1, nul),
      oid: buffer.toString('hex', nul + 1, nul + 1 + oidBytes),
    });
    cursor = nul + 1 + oidBytes;
  }
  return entries;
}

/** Split NUL-terminated output into UTF-8 strings, dropping the empty tail. */
export function splitNul(output: Buffer): string[] {
  const fields: string[] = [];
  let start = 0;
  while (start < output.length) {
    const nul = output.indexOf(0, start);
    const end = nul < 0 ? output.length : nul;
    fields.push(output.toString('utf8', start, end));
    start = end + 1;
  }
  return fields;
}

/** Parse `git ls-tree -z` output: `<mode> SP <type> SP <oid> TAB <path> NUL`. */
export function parseLsTree(output: Buffer): TreeEntry[] {
  return splitNul(output).map((record) => {
    const tab = record.indexOf('\t');
    const [mode, type, oid] = record.slice(0, tab).split(' ');
    assert(tab > 0, `ls-tree record has a path: ${JSON.stringify(record)}`);
    assert(mode !== undefined && oid !== undefined, 'ls-tree record has a mode and an id');
    assert(type === 'blob' || type === 'tree' || type === 'commit', `ls-tree type is known: ${String(type)}`);
    return { mode, type, oid, path: record.slice(tab + 1) };
  });
}

const nullOid = /^0+$/;

function toStatus(letter: string): ChangeStatus {
  switch (letter) {
    case 'A': case 'D': case 'M': case 'R': case 'T':
      return letter;
    default:
      // Copies are never asked for; U and X do not occur between two trees.
      assert(false, `unexpected diff-tree status ${JSON.stringify(letter)}`);
  }
}

/**
 * Parse the output of `git diff-tree --stdin -z -r --raw` fed with `<tree> <tree>` lines. Each
 * input line produces a header line `<tree> <tree>\n` (even when -z is given and even when the
 * trees are equal), followed by NUL-separated raw records; the headers split the output into one
 * change list per input pair.
 */
export function parseDiffTreeBatch(output: Buffer, pairCount: number): TreeChange[][] {
  const results: TreeChange[][] = [];
  let cursor = 0;
  const field = (): string => {
    const nul = output.indexOf(0, cursor);
    assert(nul >= 0, 'diff-tree record field is NUL-terminated');
    const value = output.toString('utf8', cursor, nul);
    cursor = nul + 1;
    return value;
  };
  while (cursor < output.length) {
    if (output[cursor] !== 0x3a /* ':' */) {
      const newline = output.indexOf(0x0a, cursor);
      assert(newline > cursor, 'diff-tree header line ends with a newline');
      results.push([]);
      cursor = newline + 1;
      continue;
    }
    const current = results[results.length - 1];
    assert(current !== undefined, 'diff-tree record follows a header');
    const [oldMode, newMode, oldOid, newOid, score] = field().slice(1).split(' ');
    assert(oldMode !== undefined && newMode !== undefined, 'raw record has modes');
    assert(oldOid !== undefined && newOid !== undefined && score !== undefined, 'raw record has ids and a status');
    const status = toStatus(score.slice(0, 1));
    const firstPath = field();
    const secondPath = status === 'R' ? field() : firstPath;
    current.push({
      status,
      oldPath: status === 'A' ? null : firstPath,
      newPath: status === 'D' ? null : secondPath,
      oldMode: status === 'A' ? null : oldMode,
      newMode: status === 'D' ? null : newMode,
      oldOid: status === 'A' || nullOid.test(oldOid) ? null : oldOid,
      newOid: status === 'D' || nullOid.test(newOid) ? null : newOid,
      similarity: status === 'R' ? Number(score.slice(1)) : null,
    });
  }
  assert(results.length === pairCount, `diff-tree answered ${results.length} of ${pairCount} pairs`);
  return results;
}
