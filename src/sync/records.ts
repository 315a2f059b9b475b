/**
 * ACU records: what the sync nodes pass around and agree on. A record is one ACU together with
 * where it came from (the commit, its parent, the proposing node and its site, the author), signed
 * by the proposing node's key; its id is the SHA-256 of the record's canonical encoding, signature
 * included. The consensus orders record ids; peers ship record bodies to each other, and since the
 * id is the hash of the body, a peer cannot substitute one body for another.
 *
 * Origin facts are authenticated, not claimed: a record decodes only when its signature verifies
 * against the key of the cluster member it names (`origin.node`), and only when its `origin.site`
 * is that member's site in the cluster document. Policies (site priority), the agreed commit's
 * message and note, and `acu log` read `origin.site`, so they see the signer's site; a member
 * cannot relay records that claim another site, and the Co-authored-by trailers of an agreed
 * commit come only from author lines a member signed for.
 *
 * The site stays on the wire (rather than being looked up from the signer at every reader) so a
 * record, a note and the node log remain readable on their own; the decoder's check makes it equal
 * to the signer's site.
 */
import { canonicalBytes } from '../core/acu/canonical.js';
import { decodeAcu, isSafePath } from '../core/acu/decode.js';
import type { Acu } from '../core/acu/model.js';
import type { AcuRef } from '../core/consensus/index.js';
import { assert } from '../core/errors.js';
import type { GitRepo } from '../git/index.js';
import type { ClusterDoc, ClusterMember } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { signBytes, verifyBytes } from '../store/identity.js';
import { proposalFromCommit } from '../validate/git.js';
import { sha256Hex } from './crypto.js';

/** Where an ACU came from. */
export interface AcuOrigin {
  /** The commit it was extracted from, and that commit's first parent (the base it applies to). */
  readonly commit: string;
  readonly parent: string;
  /** The node id of the cluster member that proposed it and signed the record. */
  readonly node: string;
  /** The site of that member in the cluster document (a record claiming another site is refused). */
  readonly site: string;
  readonly authorName: string;
  readonly authorEmail: string;
  /** Author time, seconds since the epoch. */
  readonly authorTime: number;
  /** The commit's subject line. */
  readonly subject: string;
}

/** The record format version: 2 since records are signed by their origin node. */
export const recordVersion = 2;

/** One ACU as the cluster agrees on it. */
export interface AcuRecord {
  readonly v: typeof recordVersion;
  readonly acu: Acu;
  readonly origin: AcuOrigin;
  /** Ed25519 signature by `origin.node` over {@link recordSigningBytes}, 128 hex digits. */
  readonly sig: string;
}

/** A record before it is signed. */
export type UnsignedRecord = Omit<AcuRecord, 'sig'>;

/** A record with its id. */
export interface IdentifiedRecord {
  readonly id: string;
  readonly record: AcuRecord;
}

/** The id of a record: SHA-256 of its canonical encoding, signature included. */
export function recordId(record: AcuRecord): string {
  return sha256Hex(canonicalBytes(record));
}

/** What the consensus sees of a record: its id is also its body hash. */
export function acuRefOf(item: IdentifiedRecord): AcuRef {
  return { id: item.id, bodyHash: item.id };
}

/**
 * Domain separation: record signatures are over these bytes followed by the canonical encoding, so
 * no record signature can pass for a consensus message signature (or the other way round).
 */
const recordSigningPrefix = new TextEncoder().encode('acu/record/v2\n');

/** The bytes a record's signature covers: the prefix, then the canonical encoding without `sig`. */
export function recordSigningBytes(record: UnsignedRecord): Uint8Array {
  const body = canonicalBytes({ v: record.v, acu: record.acu, origin: record.origin });
  const bytes = new Uint8Array(recordSigningPrefix.length + body.length);
  bytes.set(recordSigningPrefix, 0);
  bytes.set(body, recordSigningPrefix.length);
  return bytes;
}

/** The node that signs the records it proposes: its identity and its entry in the cluster document. */
export interface RecordSigner {
  readonly identity: NodeIdentity;
  readonly member: ClusterMember;
}

/**
 * Sign a record as `signer`: fills in `origin.node` and `origin.site` from the member entry.
 * Ed25519 signatures are deterministic, so the id is still a function of the content.
 */
export function signRecord(signer: RecordSigner, acu: Acu, origin: Omit<AcuOrigin, 'node' | 'site'>): IdentifiedRecord {
  assert(signer.member.id === signer.identity.id, 'signRecord: the member entry is the signing node');
  assert(signer.member.publicKey === signer.identity.publicKey, 'signRecord: the member key is the node key');
  const unsigned: UnsignedRecord = { v: recordVersion, acu, origin: { ...origin, node: signer.member.id, site: signer.member.site } };
  const record: AcuRecord = { ...unsigned, sig: signBytes(signer.identity, recordSigningBytes(unsigned)) };
  return { id: recordId(record), record };
}

/** Ids a verifier remembers as verified, at most (then it starts over: re-verifying is only slower). */
const verifiedIdsMax = 65_536;

/**
 * Checks records against one cluster document's members (keys parsed once, by identity.ts's key
 * cache). It remembers the ids it has verified, so a record a peer sends again costs a hash, not a
 * signature check: the id covers the signature and every signed byte, and the member and site
 * checks still run every time.
 */
export class RecordVerifier {
  private readonly members: ReadonlyMap<string, ClusterMember>;
  private readonly verified = new Set<string>();
  /** Ed25519 verifications done so far (a record seen again costs none). */
  signatureChecks = 0;

  constructor(cluster: ClusterDoc) {
    this.members = new Map(cluster.members.map((member) => [member.id, member]));
    assert(this.members.size === cluster.members.length, 'RecordVerifier: member ids are distinct');
  }

  /**
   * True when the record's `origin.node` is a member, `origin.site` is that member's site, and
   * `sig` is that member's signature of the record; `id` must be {@link recordId} of the record.
   */
  check(id: string, record: AcuRecord): boolean {
    const member = this.members.get(record.origin.node);
    if (member === undefined) return false;
    if (member.site !== record.origin.site) return false;
    if (this.verified.has(id)) return true;
    this.signatureChecks += 1;
    if (!verifyBytes(member.publicKey, recordSigningBytes(record), record.sig)) return false;
    if (this.verified.size >= verifiedIdsMax) this.verified.clear();
    this.verified.add(id);
    return true;
  }
}

const verifiers = new WeakMap<ClusterDoc, RecordVerifier>();

/** The record verifier of a cluster document: one per document object, so callers need not keep it. */
export function recordVerifier(cluster: ClusterDoc): RecordVerifier {
  let verifier = verifiers.get(cluster);
  if (verifier === undefined) {
    verifier = new RecordVerifier(cluster);
    verifiers.set(cluster, verifier);
  }
  return verifier;
}

const textFieldCharsMax = 1024;

function isText(value: unknown, max = textFieldCharsMax): value is string {
  return typeof value === 'string' && value.length <= max && !value.includes('\n') && !value.includes('\0');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The origin of a peer's plain value, or null when it is malformed. */
function decodeOrigin(value: unknown): AcuOrigin | null {
  if (!isPlainObject(value) || Object.keys(value).length !== 8) return null;
  const o = value;
  const hex = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
  if (typeof o.commit !== 'string' || !hex.test(o.commit) || typeof o.parent !== 'string' || !hex.test(o.parent)) return null;
  if (typeof o.node !== 'string' || !/^n[0-9a-f]{16}$/.test(o.node)) return null;
  if (!isText(o.site, 64) || !isText(o.authorName) || !isText(o.authorEmail) || !isText(o.subject)) return null;
  if (!Number.isSafeInteger(o.authorTime) || (o.authorTime as number) < 0) return null;
  return {
    commit: o.commit, parent: o.parent, node: o.node, site: o.site, authorName: o.authorName, authorEmail: o.authorEmail,
    authorTime: o.authorTime as number, subject: o.subject,
  };
}

/**
 * Decode a record from a peer's plain value (or the node's log), checked against the cluster's
 * members: null for anything malformed, an older format, a missing or bad signature, a signer that
 * is not a member, or a site other than the signer's. Never throws.
 */
export function decodeRecord(value: unknown, verifier: RecordVerifier): IdentifiedRecord | null {
  try {
    if (!isPlainObject(value)) return null;
    const raw = value;
    if (raw.v !== recordVersion || Object.keys(raw).length !== 4) return null;
    if (typeof raw.sig !== 'string' || !/^[0-9a-f]{128}$/.test(raw.sig)) return null;
    const decoded = decodeAcu(raw.acu);
    if (!decoded.ok) return null;
    if (!isSafePath(decoded.acu.file)) return null;
    if (decoded.acu.level === 'file' && decoded.acu.fromFile !== null && !isSafePath(decoded.acu.fromFile)) return null;
    const origin = decodeOrigin(raw.origin);
    if (origin === null) return null;
    const record: AcuRecord = { v: recordVersion, acu: decoded.acu, origin, sig: raw.sig };
    const id = recordId(record);
    return verifier.check(id, record) ? { id, record } : null;
  } catch {
    return null;
  }
}

/** Signature fields may not hold angle brackets or newlines (git's rule). */
function clean(text: string): string {
  return text.replace(/[<>\n\0]/g, '').slice(0, textFieldCharsMax);
}

/**
 * The records of one commit: its ACUs against its first parent, with its origin, signed by
 * `signer` (the proposing node: its site is its member entry's). A root commit has no parent to
 * apply to, so it yields none.
 */
export async function recordsOfCommit(repo: GitRepo, commit: string, signer: RecordSigner): Promise<IdentifiedRecord[]> {
  const info = await repo.commitInfo(commit);
  const parent = info.parents[0];
  if (parent === undefined) return [];
  const proposal = await proposalFromCommit(repo, { base: parent, commit: info.oid, site: signer.member.site });
  const origin = {
    commit: info.oid, parent,
    authorName: clean(info.authorName), authorEmail: clean(info.authorEmail),
    authorTime: Math.floor(Date.parse(info.authorDate) / 1000), subject: clean(info.subject),
  };
  const out: IdentifiedRecord[] = [];
  const seen = new Set<string>();
  for (const { acu } of proposal.acus) {
    const item = signRecord(signer, acu, origin);
    if (seen.has(item.id)) continue;
    seen.add(item.id);
    out.push(item);
  }
  return out;
}
