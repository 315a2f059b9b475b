/**
 * Conflict-resolution policies: which resolution a replica votes for, for one conflict between two
 * candidates (sets of ACUs from two proposals). Pure: scores, site priorities, votes and elapsed
 * ticks come in; a choice and its reason come out. docs/policies.md describes them for users.
 */
import { AcuError, assertNever } from '../errors.js';

/** What a replica can vote for, per conflict. */
export type Resolution = 'keep-a' | 'keep-b' | 'keep-both' | 'defer';

/** The names policies are configured by (`git config acu.policy <name>`). */
export type PolicyName = 'score' | 'site-priority' | 'prefer-earlier' | 'vote';

/** A configured policy. */
export type Policy =
  | { readonly kind: 'score' }
  | { readonly kind: 'site-priority'; readonly sites: readonly string[] }
  | { readonly kind: 'prefer-earlier' }
  | { readonly kind: 'vote'; readonly timeoutTicks: number; readonly fallback: 'defer' | 'score' };

/** One side of a conflict. */
export interface Candidate {
  /** Ids of the candidate's ACUs, sorted. */
  readonly acuIds: readonly string[];
  /** The site that proposed it: the site of the cluster member that signed its records, never a claim. */
  readonly site: string;
  /** Its position in proposal order (lower = proposed earlier). */
  readonly sequence: number;
  /** Sum of its ACUs' risk scores. */
  readonly risk: number;
  /** Interference of its ACUs against the other candidate's (names it changes that the other uses). */
  readonly interference: number;
}

/** A conflict between two candidates. */
export interface PolicyConflict {
  /** A stable id (e.g. the digest of the two candidates' ACU ids). */
  readonly id: string;
  readonly a: Candidate;
  readonly b: Candidate;
  /** True when validation found both together sound (they commute after all): keep-both is allowed. */
  readonly bothValid: boolean;
}

/** What a person decided with `acu vote`, per conflict id. */
export type PersonVotes = ReadonlyMap<string, Resolution>;

/** A policy's answer: a resolution, or (vote policy) waiting for a person. */
export type PolicyChoice =
  | { readonly kind: 'choice'; readonly resolution: Resolution; readonly reason: string }
  | { readonly kind: 'pending'; readonly ticksLeft: number };

/** The default policy. */
export const defaultPolicy: Policy = { kind: 'score' };

/** Choose a resolution for one conflict. */
export function resolveConflict(policy: Policy, conflict: PolicyConflict, context: { readonly votes: PersonVotes; readonly elapsedTicks: number }): PolicyChoice {
  if (conflict.bothValid) return choice('keep-both', 'the candidates validate together');
  switch (policy.kind) {
    case 'score':
      return byScore(conflict);
    case 'site-priority':
      return bySite(policy.sites, conflict);
    case 'prefer-earlier':
      return byOrder(conflict) ?? byScore(conflict);
    case 'vote': {
      const vote = context.votes.get(conflict.id);
      if (vote !== undefined) return choice(vote, 'a person voted');
      if (context.elapsedTicks < policy.timeoutTicks) return { kind: 'pending', ticksLeft: policy.timeoutTicks - context.elapsedTicks };
      return policy.fallback === 'defer' ? choice('defer', 'no vote before the timeout') : byScore(conflict);
    }
    default:
      return assertNever(policy, 'policy');
  }
}

function choice(resolution: Resolution, reason: string): PolicyChoice {
  return { kind: 'choice', resolution, reason };
}

/** Lower risk wins; then lower interference; then earlier proposal; then the smaller first ACU id. */
function byScore(conflict: PolicyConflict): PolicyChoice {
  const { a, b } = conflict;
  if (a.risk !== b.risk) return choice(a.risk < b.risk ? 'keep-a' : 'keep-b', `lower risk (${Math.min(a.risk, b.risk)} < ${Math.max(a.risk, b.risk)})`);
  if (a.interference !== b.interference) return choice(a.interference < b.interference ? 'keep-a' : 'keep-b', 'lower interference');
  return byOrder(conflict) ?? byId(conflict);
}

function byOrder(conflict: PolicyConflict): PolicyChoice | null {
  const { a, b } = conflict;
  if (a.sequence === b.sequence) return null;
  return choice(a.sequence < b.sequence ? 'keep-a' : 'keep-b', 'proposed earlier');
}

function byId(conflict: PolicyConflict): PolicyChoice {
  const first = (c: Candidate): string => c.acuIds[0] ?? '';
  if (first(conflict.a) === first(conflict.b)) return choice('defer', 'the candidates cannot be told apart');
  return choice(first(conflict.a) < first(conflict.b) ? 'keep-a' : 'keep-b', 'smaller ACU id (tie-break)');
}

/** Sites earlier in the list win; unlisted sites rank after every listed one; ties go to the score. */
function bySite(sites: readonly string[], conflict: PolicyConflict): PolicyChoice {
  const rank = (site: string): number => {
    const at = sites.indexOf(site);
    return at === -1 ? sites.length : at;
  };
  const [ra, rb] = [rank(conflict.a.site), rank(conflict.b.site)];
  if (ra !== rb) return choice(ra < rb ? 'keep-a' : 'keep-b', `site priority (${ra < rb ? conflict.a.site : conflict.b.site})`);
  return byScore(conflict);
}

/** Settings as git config or the cluster document give them: `policy`, `sitePriority`, `voteTimeoutTicks`, `voteFallback`. */
export interface PolicySettings {
  readonly policy?: string | undefined;
  readonly sitePriority?: string | undefined;
  readonly voteTimeoutTicks?: string | undefined;
  readonly voteFallback?: string | undefined;
}

/** Default vote timeout: 600 ticks (a minute at the sync node's 100 ms tick). */
export const defaultVoteTimeoutTicks = 600;

/** Read a policy from settings; throws ERR_CONFIG naming the bad setting. */
export function policyFromSettings(settings: PolicySettings): Policy {
  const name = settings.policy ?? 'score';
  switch (name) {
    case 'score':
      return { kind: 'score' };
    case 'prefer-earlier':
      return { kind: 'prefer-earlier' };
    case 'site-priority': {
      const sites = (settings.sitePriority ?? '').split(',').map((site) => site.trim()).filter((site) => site !== '');
      if (sites.length === 0) throw configError('acu.sitePriority', 'site-priority needs a comma-separated list of sites');
      return { kind: 'site-priority', sites };
    }
    case 'vote': {
      const raw = settings.voteTimeoutTicks ?? String(defaultVoteTimeoutTicks);
      if (!/^[0-9]{1,9}$/.test(raw)) throw configError('acu.voteTimeoutTicks', `not a tick count: '${raw}'`);
      const fallback = settings.voteFallback ?? 'defer';
      if (fallback !== 'defer' && fallback !== 'score') throw configError('acu.voteFallback', `must be 'defer' or 'score', not '${fallback}'`);
      return { kind: 'vote', timeoutTicks: Number(raw), fallback };
    }
    default:
      throw configError('acu.policy', `unknown policy '${name}'`);
  }
}

function configError(key: string, detail: string): AcuError {
  return new AcuError('ERR_CONFIG', `${key}: ${detail}`, {
    hint: "policies are 'score' (default), 'site-priority', 'prefer-earlier' and 'vote'; see docs/policies.md",
    data: { key },
  });
}
