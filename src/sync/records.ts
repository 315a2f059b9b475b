/**
 * ACU records: what the sync nodes pass around and agree on. A record is one ACU together with
 * where it came from (the commit, its parent, the site, the author), and its id is the SHA-256 of
 * the record's canonical encoding. The consensus orders record ids; peers ship record bodies to each
 * other, and since the id is the hash of the body, a peer cannot substitute one body for another.
 */
import { canonicalBytes } from '../core/acu/canonical.js';
import { decodeAcu, isSafePath } from '../core/acu/decode.js';
import type { Acu } from '../core/acu/model.js';
import type { AcuRef } from '../core/consensus/index.js';
import type { GitRepo } from '../git/index.js';
import { proposalFromCommit } from '../validate/git.js';
import { sha256Hex } from './crypto.js';

/** Where an ACU came from. */
export interface AcuOrigin {
  /** The commit it was extracted from, and that commit's first parent (the base it applies to). */
  readonly commit: string;
  readonly parent: string;
  /** The site of the node that proposed it. */
  readonly site: string;
  readonly authorName: string;
  readonly authorEmail: string;
  /** Author time, seconds since the epoch. */
  readonly authorTime: number;
  /** The commit's subject line. */
  readonly subject: string;
}

/** One ACU as the cluster agrees on it. */
export interface AcuRecord {
  readonly v: 1;
  readonly acu: Acu;
  readonly origin: AcuOrigin;
}

/** A record with its id. */
export interface IdentifiedRecord {
  readonly id: string;
  readonly record: AcuRecord;
}

/** The id of a record: SHA-256 of its canonical encoding. */
export function recordId(record: AcuRecord): string {
  return sha256Hex(canonicalBytes(record));
}

/** What the consensus sees of a record: its id is also its body hash. */
export function acuRefOf(item: IdentifiedRecord): AcuRef {
  return { id: item.id, bodyHash: item.id };
}

const textFieldCharsMax = 1024;

function isText(value: unknown, max = textFieldCharsMax): value is string {
  return typeof value === 'string' && value.length <= max && !value.includes('\n') && !value.includes('\0');
}

/** Decode a record from a peer's plain value; null for anything malformed (never throws). */
export function decodeRecord(value: unknown): IdentifiedRecord | null {
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const raw = value as Record<string, unknown>;
    if (raw.v !== 1 || Object.keys(raw).length !== 3) return null;
    const decoded = decodeAcu(raw.acu);
    if (!decoded.ok) return null;
    if (!isSafePath(decoded.acu.file)) return null;
    if (decoded.acu.level === 'file' && decoded.acu.fromFile !== null && !isSafePath(decoded.acu.fromFile)) return null;
    const o = raw.origin as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o) || Object.keys(o).length !== 7) return null;
    const hex = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
    if (typeof o.commit !== 'string' || !hex.test(o.commit) || typeof o.parent !== 'string' || !hex.test(o.parent)) return null;
    if (!isText(o.site, 64) || !isText(o.authorName) || !isText(o.authorEmail) || !isText(o.subject)) return null;
    if (!Number.isSafeInteger(o.authorTime) || (o.authorTime as number) < 0) return null;
    const record: AcuRecord = {
      v: 1,
      acu: decoded.acu,
      origin: {
        commit: o.commit, parent: o.parent, site: o.site, authorName: o.authorName, authorEmail: o.authorEmail,
        authorTime: o.authorTime as number, subject: o.subject,
      },
    };
    return { id: recordId(record), record };
  } catch {
    return null;
  }
}

/** Signature fields may not hold angle brackets or newlines (git's rule). */
function clean(text: string): string {
  return text.replace(/[<>\n\0]/g, '').slice(0, textFieldCharsMax);
}

/**
 * The records of one commit: its ACUs against its first parent, with its origin. A root commit
 * has no parent to apply to, so it yields none.
 */
export async function recordsOfCommit(repo: GitRepo, commit: string, site: string): Promise<IdentifiedRecord[]> {
  const info = await repo.commitInfo(commit);
  const parent = info.parents[0];
  if (parent === undefined) return [];
  const proposal = await proposalFromCommit(repo, { base: parent, commit: info.oid, site });
  const origin: AcuOrigin = {
    commit: info.oid, parent, site,
    authorName: clean(info.authorName), authorEmail: clean(info.authorEmail),
    authorTime: Math.floor(Date.parse(info.authorDate) / 1000), subject: clean(info.subject),
  };
  const out: IdentifiedRecord[] = [];
  const seen = new Set<string>();
  for (const { acu } of proposal.acus) {
    const record: AcuRecord = { v: 1, acu, origin };
    const id = recordId(record);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, record });
  }
  return out;
}
