/**
 * The conflict-resolution policy as configured: the cluster document's `policy` object when there
 * is one (it binds every node of the cluster), else git config (`acu.policy`, `acu.sitePriority`,
 * `acu.voteTimeoutTicks`, `acu.voteFallback`), else the default (score). docs/policies.md.
 */
import { readAcuConfig } from '../git/config.js';
import { policyFromSettings } from '../core/policy/index.js';
import type { Policy, PolicySettings } from '../core/policy/index.js';

const keys: Record<keyof PolicySettings, string> = {
  policy: 'acu.policy',
  sitePriority: 'acu.sitePriority',
  voteTimeoutTicks: 'acu.voteTimeoutTicks',
  voteFallback: 'acu.voteFallback',
};

/** Read the policy settings from git config in `cwd`'s repository. */
export async function gitPolicySettings(cwd: string): Promise<PolicySettings> {
  const values = new Map<string, string>();
  for (const { key, value } of await readAcuConfig(cwd)) values.set(key.toLowerCase(), value);
  const settings: Record<string, string | undefined> = {};
  for (const [field, key] of Object.entries(keys)) settings[field] = values.get(key.toLowerCase());
  return settings;
}

/** The cluster document's policy section, as the document stores it (strings or numbers). */
export interface ClusterPolicySection {
  readonly policy?: string;
  readonly sitePriority?: readonly string[] | string;
  readonly voteTimeoutTicks?: number | string;
  readonly voteFallback?: string;
}

/** What policies read of the cluster document (`.acu/cluster.json`): its policy section and its members' sites and priorities. */
export interface ClusterPolicySource {
  readonly policy?: ClusterPolicySection;
  readonly members?: ReadonlyArray<{ readonly site: string; readonly priority: number }>;
}

/** Sites by their members' priority (lower first), ties by name: the default site-priority order. */
export function sitesByPriority(members: ReadonlyArray<{ readonly site: string; readonly priority: number }>): string[] {
  const best = new Map<string, number>();
  for (const m of members) best.set(m.site, Math.min(best.get(m.site) ?? Number.MAX_SAFE_INTEGER, m.priority));
  return [...best].sort(([a, pa], [b, pb]) => pa - pb || (a < b ? -1 : a > b ? 1 : 0)).map(([site]) => site);
}

/**
 * The policy in force: the cluster document's policy section when it has one (it binds every
 * node), else git config. A site-priority policy without an explicit list of sites orders them by
 * the cluster members' priorities.
 */
export async function configuredPolicy(cwd: string, cluster: ClusterPolicySource | null = null): Promise<Policy> {
  const section = cluster?.policy;
  const settings: PolicySettings = section !== undefined
    ? {
        policy: section.policy,
        sitePriority: Array.isArray(section.sitePriority) ? section.sitePriority.join(',') : (section.sitePriority as string | undefined),
        voteTimeoutTicks: section.voteTimeoutTicks === undefined ? undefined : String(section.voteTimeoutTicks),
        voteFallback: section.voteFallback,
      }
    : await gitPolicySettings(cwd);
  const members = cluster?.members ?? [];
  if (settings.policy === 'site-priority' && (settings.sitePriority ?? '') === '' && members.length > 0) {
    return policyFromSettings({ ...settings, sitePriority: sitesByPriority(members).join(',') });
  }
  return policyFromSettings(settings);
}
