/**
 * Starting a sync node (node.ts): the real ports it runs on, opened from a clone, and where a node
 * without a log starts — after the agreed chain a new site cloned, once that chain verifies.
 */
import { join } from 'node:path';
import type { PersistedState, ReplicaConfig, Signer } from '../core/consensus/index.js';
import { AcuError, assert } from '../core/errors.js';
import type { Policy } from '../core/policy/index.js';
import { GitRepo } from '../git/index.js';
import { setUpLinks } from '../net/link.js';
import { WsTransport } from '../net/transport.js';
import type { ClusterDoc } from '../store/cluster.js';
import { clusterDocPath, readCluster } from '../store/cluster.js';
import type { NodeIdentity } from '../store/identity.js';
import { loadIdentity, loadNextIdentity, promoteNextIdentity } from '../store/identity.js';
import { configuredPolicy } from '../validate/policy-config.js';
import { clusterScoringChoice, selectNodeScoring } from '../validate/scoring/select.js';
import type { NodeScoring } from '../validate/scoring/select.js';
import { Validator } from '../validate/validate.js';
import { agreedRef, notesRef, readNoteChecked, recordsNotesRef } from './agreed.js';
import { GitChain } from './chain.js';
import type { Chain } from './chain.js';
import { replicaIndexOf } from './crypto.js';
import { nodeSocketPath } from './hook-run.js';
import type { RotationKeys } from './node-membership.js';
import { NodeLog } from './node-log.js';
import { decisionsKeptOf } from './node-types.js';
import type { NodeOptions } from './node-types.js';
import { systemClock } from './ports.js';
import type { Clock, OpenedLog, TransportFactory } from './ports.js';
import { recordVerifier } from './records.js';
import { clusterAtCommit } from './verify-chain.js';

/** Everything a node runs on: the ports, and what it was configured with. */
export interface NodeHost {
  readonly cluster: ClusterDoc;
  readonly identity: NodeIdentity;
  readonly opened: OpenedLog;
  readonly chain: Chain;
  readonly transport: TransportFactory;
  readonly clock: Clock;
  readonly policy: Policy;
  /** The local API's unix socket; null: no local API (the simulator). */
  readonly apiSocket: string | null;
  /**
   * The next key of a rotation (`acu cluster rotate-key`): read when a membership change takes
   * effect that lists it instead of the key in use, and then made the node key. Absent: no rotation.
   */
  readonly keys?: RotationKeys;
  /** The scoring backend its validations use (absent: none chosen, as in the simulator). */
  readonly scoring?: NodeScoring;
}

/**
 * The real ports of a node started in a clone: the repository, the log recovered, this node's
 * identity in the membership in force, its policy, TLS links and git chain. On success the caller
 * owns the log and the repository (the node closes them when it stops); on failure both are closed.
 */
export async function openNodeHost(options: NodeOptions): Promise<NodeHost> {
  const repo = await GitRepo.open(options.cwd);
  let opened: OpenedLog | null = null;
  let handedOver = false;
  try {
    if (repo.workTree === null) {
      throw new AcuError('ERR_CONFIG', 'a sync node needs a repository with a work tree (it reads .acu/cluster.json)', { hint: 'run it in a clone, not a bare repository' });
    }
    const workCluster = await readCluster(repo.workTree);
    // The membership in force is the one of the last agreed commit this node wrote, never the
    // work tree's (which may hold a change not agreed yet); before the first, the work tree's.
    const agreedTip = await repo.revParseCommit(agreedRef(workCluster.branch));
    const agreedCluster = agreedTip === null ? null : await documentAt(repo, agreedTip);
    const onSynced = options.observer?.logSynced?.bind(options.observer);
    opened = await NodeLog.open(join(repo.commonDir, 'acu', 'node.wal'), decisionsKeptOf(options), recordVerifier(agreedCluster ?? workCluster), onSynced === undefined ? {} : { onSynced });
    if (opened.memory.genesis === null) await refuseAgreedWithoutNotes(repo, workCluster.branch, options.genesis);
    const written = opened.memory.writtenCommit;
    const cluster = written === null ? workCluster : (await documentAt(repo, written)) ?? workCluster;
    let identity = await loadIdentity(repo.commonDir);
    if (replicaIndexOf(cluster, identity.id) < 0) {
      // A key rotation agreed while the node was down: the next key is the member now.
      const next = await loadNextIdentity(repo.commonDir);
      if (next !== null && replicaIndexOf(cluster, next.id) >= 0) identity = await promoteNextIdentity(repo.commonDir);
    }
    if (replicaIndexOf(cluster, identity.id) < 0) {
      throw new AcuError('ERR_CONFIG', `this node (${identity.id}) is not a member of the cluster${written === null ? '' : ` in force at its last agreed commit ${written.slice(0, 12)}`}`, {
        hint: `add it with 'acu cluster add ${identity.publicKey} ws://<host>:<port> --proof <proof>' (the proof from 'acu cluster proof') and have the change agreed`,
      });
    }
    const policy = await configuredPolicy(repo.workTree, cluster);
    const choice = clusterScoringChoice(cluster, clusterDocPath);
    const scoring = options.validation === 'typecheck' ? await selectNodeScoring(choice) : undefined;
    const validator = scoring === undefined ? null : new Validator(scoring.backend);
    const me = cluster.members[replicaIndexOf(cluster, identity.id)]!;
    const links = await setUpLinks({ ...options, gitCommonDir: repo.commonDir, cluster, self: me });
    const host: NodeHost = {
      cluster, identity, opened, policy, ...(scoring === undefined ? {} : { scoring }), clock: systemClock, apiSocket: nodeSocketPath(repo.commonDir),
      chain: new GitChain(repo, options.validation, validator, { identity, member: me }),
      transport: (events) => new WsTransport({ identity, members: cluster.members, listen: links.listen, tls: links.tls, security: links.security, events }),
      keys: { loadNext: () => loadNextIdentity(repo.commonDir), promote: () => promoteNextIdentity(repo.commonDir) },
    };
    handedOver = true;
    return host;
  } catch (error) {
    if (!handedOver) {
      await opened?.log.close();
      await repo.close();
    }
    throw error;
  }
}

/**
 * A node without a log starts after the agreed chain its clone holds, or, on a new cluster, at the
 * branch's tip. A clone whose branch is at an agreed commit but that has no certificate notes
 * (a plain `git pull` does not fetch them) looks like the second and would start a chain of its
 * own at height 0 that no peer follows: it is refused, with the fetch that fixes it.
 */
async function refuseAgreedWithoutNotes(repo: GitRepo, branch: string, genesis: string | undefined): Promise<void> {
  const start = (await repo.revParseCommit(agreedRef(branch))) ?? (await repo.revParseCommit(genesis ?? `refs/heads/${branch}`));
  if (start === null) return;
  const { subject } = await repo.commitInfo(start);
  if (!agreedSubject.test(subject) || (await readNoteChecked(repo, start)).status !== 'missing') return;
  throw new AcuError('ERR_CONFIG', `the node would start at ${start.slice(0, 12)} ('${subject}'), an agreed commit whose certificate note this clone does not have`, {
    hint: `fetch the cluster's notes first: git fetch origin ${notesRef}:${notesRef} ${recordsNotesRef}:${recordsNotesRef}`,
  });
}

/** The subject of an agreed commit (agreed.ts, agreedMessage). */
const agreedSubject = /^acu: height \d+, \d+ ACUs? from \d+ commits?$/;

/** The cluster document in a commit's tree, or null. */
async function documentAt(repo: GitRepo, commit: string): Promise<ClusterDoc | null> {
  const found = await clusterAtCommit(repo, commit);
  return 'cluster' in found ? found.cluster : null;
}

/**
 * A node without a log whose starting commit is an agreed commit (a new site cloned the shared
 * repository with its agreed history and notes) starts after it, once that chain verifies against
 * the membership history: its log then begins there, as if it had written that commit, and its
 * replica at the next height. Null: start at height 0 from the starting commit (a new cluster).
 */
export async function startAfterAgreed(host: NodeHost, options: NodeOptions, config: ReplicaConfig, signer: Signer): Promise<PersistedState | null> {
  const { memory, log } = host.opened;
  if (memory.genesis !== null || host.chain.agreedTip === undefined) return null;
  const rev = options.genesis ?? `refs/heads/${host.cluster.branch}`;
  const start = (await host.chain.revParse(agreedRef(host.cluster.branch))) ?? (await host.chain.revParse(rev));
  if (start === null) return null;
  const tip = await host.chain.agreedTip(start);
  if (tip === null) return null;
  const state = freshState(tip.height + 1, tip.valueId);
  assert(config.self === signer.self, 'startAfterAgreed: the signer is the configured replica');
  await log.append([{ k: 'genesis', commit: start }, { k: 'written', height: tip.height, commit: start, settled: [] }, { k: 'state', state }]);
  memory.genesis = start;
  memory.writtenHeight = tip.height;
  memory.writtenCommit = start;
  return state;
}

/** A replica state at round 0 of `height`, having signed nothing, building on the value `parent`. */
export function freshState(height: number, parent: string): PersistedState {
  return { v: 1, height, round: 0, parent, locked: null, valid: null, signed: [], enteredBy: [], decisions: [] };
}
