/**
 * The one gate for untrusted input (STYLE.md rule 4): an unknown value becomes a typed, signature-
 * checked {@link Message} or a coded issue. Nested certificates are checked here too, every vote's
 * signature included, so the replica core trusts what it is handed and only counts quorums.
 * Garbage is returned as an issue for the host to count, never thrown.
 */
import { verifyMessage } from './digest.js';
import type { Verifier } from './digest.js';
import { outcomeLengthCharsMax, outcomeLengthCharsMin } from './types.js';
import type {
  Batch, Choice, DecisionCert, Message, MessageType, PreparedCert, TallyVote, ValidationResult, Value,
} from './types.js';
import { tallyChoices } from './tally.js';

/** Limits on untrusted input, with their units in the names. */
export interface DecodeLimits {
  readonly replicas: number;
  readonly batchAcusMax: number;
  readonly conflictsMax: number;
  readonly idLengthCharsMax: number;
  readonly sigLengthCharsMax: number;
  /** Values (scalars, arrays, objects) in one message, nested certificates included. */
  readonly messageNodesMax: number;
}

/** Why a message was rejected. Stable codes: hosts count them per peer. */
export type DecodeIssue = 'not_object' | 'bad_version' | 'bad_type' | 'bad_header' | 'bad_body' | 'bad_signature';

/** The decoder's answer. */
export type DecodeResult = { readonly ok: true; readonly msg: Message } | { readonly ok: false; readonly issue: DecodeIssue };

const messageTypes: ReadonlySet<string> = new Set<MessageType>([
  'proposal', 'validate', 'vote', 'resolve', 'prepare', 'final', 'timeout', 'fetch', 'decision', 'cert',
]);
const choiceSet: ReadonlySet<string> = new Set<Choice>(['keep_a', 'keep_b', 'keep_both', 'defer_both']);

const outcomePattern = /^[0-9a-f]+$/;

/**
 * True when `x` is a well-formed outcome: lowercase hex, {@link outcomeLengthCharsMin} to
 * {@link outcomeLengthCharsMax} characters. One spelling only, so one outcome has one value id.
 */
export function isOutcome(x: unknown): x is string {
  return typeof x === 'string' && x.length >= outcomeLengthCharsMin && x.length <= outcomeLengthCharsMax && outcomePattern.test(x);
}

/** Nesting depth of certificates inside messages: a timeout in a cert in... is refused past this. */
const nestingDepthMax = 3;

type Obj = Record<string, unknown>;

/** Decode and verify one untrusted message. */
export function decodeMessage(raw: unknown, limits: DecodeLimits, verifier: Verifier): DecodeResult {
  // Canonical encoding asserts on floats, undefined and cycles; a peer must not be able to trip
  // our assertions, so anything that is not plain, bounded data is refused before it is encoded.
  if (!isPlainData(raw, { nodesLeft: limits.messageNodesMax }, 0)) return fail('not_object');
  return decodeAt(raw, limits, verifier, 0);
}

const plainDepthMax = 24;

function isPlainData(x: unknown, budget: { nodesLeft: number }, depth: number): boolean {
  budget.nodesLeft -= 1;
  if (budget.nodesLeft < 0 || depth > plainDepthMax) return false;
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return true;
  if (typeof x === 'number') return Number.isSafeInteger(x);
  if (Array.isArray(x)) {
    // An index loop, not every(): every() skips holes, and a hole encodes as undefined.
    for (let i = 0; i < x.length; i += 1) if (!isPlainData(x[i], budget, depth + 1)) return false;
    return true;
  }
  if (!isObj(x)) return false;
  return Object.values(x).every((item) => isPlainData(item, budget, depth + 1));
}

function decodeAt(raw: unknown, limits: DecodeLimits, verifier: Verifier, depth: number): DecodeResult {
  if (!isObj(raw)) return fail('not_object');
  if (raw.v !== 1) return fail('bad_version');
  if (typeof raw.type !== 'string' || !messageTypes.has(raw.type)) return fail('bad_type');
  if (!isReplica(raw.from, limits) || !isCount(raw.height) || !isCount(raw.round)) return fail('bad_header');
  if (!isString(raw.sig, limits.sigLengthCharsMax)) return fail('bad_header');
  if (depth > nestingDepthMax || !bodyOk(raw.type as MessageType, raw.body, limits, verifier, depth)) {
    return fail('bad_body');
  }
  const msg = raw as unknown as Message;
  if (!verifyMessage(verifier, msg)) return fail('bad_signature');
  return { ok: true, msg };
}

function bodyOk(type: MessageType, body: unknown, limits: DecodeLimits, verifier: Verifier, depth: number): boolean {
  if (!isObj(body)) return false;
  const id = (x: unknown): boolean => isString(x, limits.idLengthCharsMax);
  switch (type) {
    case 'proposal':
      return batchOk(body.batch, limits) && isInt(body.validRound) && body.validRound >= -1 &&
        (body.prepared === null || preparedOk(body.prepared, limits, verifier, depth));
    case 'validate':
      return id(body.batchDigest) && id(body.validationDigest) && resultOk(body.result, limits);
    case 'vote':
      return id(body.batchDigest) && id(body.validationDigest) && choicesOk(body.choices, limits);
    case 'resolve':
      return votesOk(body.validates, 'validate', limits, verifier, depth) && votesOk(body.votes, 'vote', limits, verifier, depth);
    case 'prepare':
    case 'final':
      return id(body.valueId);
    case 'timeout':
      return body.prepared === null || preparedOk(body.prepared, limits, verifier, depth);
    case 'fetch':
      return isCount(body.fromHeight);
    case 'decision':
      return decisionOk(body.cert, limits, verifier, depth);
    case 'cert':
      return votesOk(body.votes, null, limits, verifier, depth);
  }
}

function preparedOk(raw: unknown, limits: DecodeLimits, verifier: Verifier, depth: number): raw is PreparedCert {
  return isObj(raw) && isCount(raw.round) && valueOk(raw.value, limits) &&
    votesOk(raw.prepares, 'prepare', limits, verifier, depth);
}

function decisionOk(raw: unknown, limits: DecodeLimits, verifier: Verifier, depth: number): raw is DecisionCert {
  return isObj(raw) && isCount(raw.height) && isCount(raw.round) && valueOk(raw.value, limits) &&
    votesOk(raw.finals, 'final', limits, verifier, depth);
}

function votesOk(raw: unknown, type: MessageType | null, limits: DecodeLimits, verifier: Verifier, depth: number): boolean {
  if (!Array.isArray(raw) || raw.length > 2 * limits.replicas) return false;
  for (const item of raw) {
    const decoded = decodeAt(item, limits, verifier, depth + 1);
    if (!decoded.ok) return false;
    const t = decoded.msg.type;
    if (type !== null && t !== type) return false;
    if (type === null && t !== 'validate' && t !== 'vote' && t !== 'prepare' && t !== 'final' && t !== 'timeout') return false;
  }
  return true;
}

function valueOk(raw: unknown, limits: DecodeLimits): raw is Value {
  return isObj(raw) && batchOk(raw.batch, limits) && resultOk(raw.validation, limits) &&
    choicesOk(raw.resolution, limits) && raw.resolution.length === (raw.validation).conflicts.length &&
    isOutcome(raw.outcome) && tallyOk(raw, limits);
}

/**
 * A value's tally, when it has one: only with conflicts, one vote per replica, in replica order,
 * each covering every conflict, that tallies to the value's resolution (protocol.md L18). A value
 * with conflicts and no tally is one an older acu decided (its notes stay readable); a replica of
 * this version never prepares one, since it prepares only drafts it made itself (L21).
 */
function tallyOk(raw: Obj, limits: DecodeLimits): boolean {
  const conflicts = (raw.resolution as Choice[]).length;
  if (raw.tally === undefined) return true;
  const tally = raw.tally;
  if (conflicts === 0 || !Array.isArray(tally) || tally.length === 0 || tally.length > limits.replicas) return false;
  const wellFormed = tally.every((vote: unknown, i) => isObj(vote) && Object.keys(vote).length === 2 && isReplica(vote.from, limits) &&
    choicesOk(vote.choices, limits) && vote.choices.length === conflicts && (i === 0 || (tally[i - 1] as TallyVote).from < vote.from));
  if (!wellFormed) return false;
  const tallied = tallyChoices(tally as TallyVote[], conflicts);
  return tallied.every((choice, i) => choice === (raw.resolution as Choice[])[i]);
}

function batchOk(raw: unknown, limits: DecodeLimits): raw is Batch {
  if (!isObj(raw) || !isCount(raw.height)) return false;
  if (!isString(raw.parent, limits.idLengthCharsMax) || !isString(raw.bodyDigest, limits.idLengthCharsMax)) return false;
  if (!Array.isArray(raw.acuIds) || raw.acuIds.length > limits.batchAcusMax) return false;
  return raw.acuIds.every((x) => isString(x, limits.idLengthCharsMax));
}

function resultOk(raw: unknown, limits: DecodeLimits): raw is ValidationResult {
  if (!isObj(raw) || typeof raw.ok !== 'boolean' || !isString(raw.detailDigest, limits.idLengthCharsMax)) return false;
  if (!Array.isArray(raw.conflicts) || raw.conflicts.length > limits.conflictsMax) return false;
  return raw.conflicts.every((c: unknown) => isObj(c) && isString(c.a, limits.idLengthCharsMax) &&
    isString(c.b, limits.idLengthCharsMax) && Object.keys(c).length === 2) &&
    Object.keys(raw).length === 3;
}

function choicesOk(raw: unknown, limits: DecodeLimits): raw is Choice[] {
  return Array.isArray(raw) && raw.length <= limits.conflictsMax &&
    raw.every((c) => typeof c === 'string' && choiceSet.has(c));
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
}
function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x);
}
function isCount(x: unknown): x is number {
  return isInt(x) && x >= 0;
}
function isReplica(x: unknown, limits: DecodeLimits): x is number {
  return isCount(x) && x < limits.replicas;
}
function isString(x: unknown, lengthMax: number): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= lengthMax;
}
function fail(issue: DecodeIssue): DecodeResult {
  return { ok: false, issue };
}
