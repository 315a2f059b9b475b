/**
 * The conflict-resolution policy as configured: the cluster document's `policy` object when there
 * is one (it binds every node of the cluster), else git config (`acu.policy`, `acu.sitePriority`,
 * `acu.voteTimeoutTicks`, `acu.voteFallback`), else the default (score). docs/policies.md.
 */
import { runGit } from '../git/exec.js';
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
  const result = await runGit(['config', '--get-regexp', '^acu\\.'], { cwd, gitDir: null, okExitCodes: [0, 1] });
  const values = new Map<string, string>();
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) values.set(line.slice(0, space).toLowerCase(), line.slice(space + 1));
  }
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

/** The policy in force: the cluster document's section when present, else git config. */
export async function configuredPolicy(cwd: string, cluster: ClusterPolicySection | null = null): Promise<Policy> {
  if (cluster !== null) {
    return policyFromSettings({
      policy: cluster.policy,
      sitePriority: Array.isArray(cluster.sitePriority) ? cluster.sitePriority.join(',') : (cluster.sitePriority as string | undefined),
      voteTimeoutTicks: cluster.voteTimeoutTicks === undefined ? undefined : String(cluster.voteTimeoutTicks),
      voteFallback: cluster.voteFallback,
    });
  }
  return policyFromSettings(await gitPolicySettings(cwd));
}
