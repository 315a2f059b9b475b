/**
 * `acu init` — give this repository's sync node its identity: an Ed25519 key in the git directory
 * (mode 0600) and the node id derived from it, and a TLS key (0600) with a self-signed certificate
 * whose pin goes into the cluster document. Idempotent: a second run prints the same identity (and
 * adds the TLS part to an identity made by an acu that had none).
 */
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { memberProofOf, readCluster } from '../store/cluster.js';
import { initIdentity, initTlsIdentity, keyPath, tlsCertPath, tlsKeyPath } from '../store/identity.js';
import type { Command } from './command.js';
import { parseCommandArgs, refusePositionals } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu init`. */
export interface InitOptions {
  readonly json: boolean;
  /** Where peers will dial this node: with it, the proof of possession a running cluster needs is printed too. */
  readonly address: string | null;
  /** The cluster's protected branch, for the proof (default: the work tree's cluster document's, else main). */
  readonly branch: string | null;
}

async function run(options: InitOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const { identity, created } = await initIdentity(repo.commonDir);
    const { tls, created: tlsCreated } = await initTlsIdentity(repo.commonDir, identity.id);
    const dir = repo.commonDir;
    const branch = options.branch ?? (repo.workTree === null ? null : await readCluster(repo.workTree).then((doc) => doc.branch, () => null)) ?? 'main';
    const proof = options.address === null ? null : memberProofOf(identity, branch, options.address);
    if (options.json) {
      io.stdout(`${JSON.stringify({ id: identity.id, publicKey: identity.publicKey, tlsPin: tls.pin, created, tlsCreated, key: keyPath(dir), tlsKey: tlsKeyPath(dir), tlsCert: tlsCertPath(dir), ...(proof === null ? {} : { address: options.address, branch, proof }) })}\n`);
      return ExitCode.ok;
    }
    io.stdout(`${created ? 'created' : 'this repository already has'} node ${identity.id}\n`);
    io.stdout(`public key ${identity.publicKey}\n`);
    io.stdout(`${tlsCreated ? 'created a' : 'its'} TLS certificate, pin ${tls.pin}\n`);
    if (proof !== null) {
      io.stdout(`proof of possession for ${options.address} on branch '${branch}': ${proof}\n`);
      io.stderr(`hint: to join a running cluster, ask a member to run\n`);
      io.stderr(`hint: 'acu cluster add ${identity.publicKey} ${options.address} --tls-pin ${tls.pin} --proof ${proof}'\n`);
      return ExitCode.ok;
    }
    io.stderr(`hint: start a cluster with 'acu cluster create --address wss://<host>:<port>', or ask a member to run\n`);
    io.stderr(`hint: 'acu cluster add ${identity.publicKey} wss://<host>:<port> --tls-pin ${tls.pin} --proof <proof>' and commit .acu/cluster.json\n`);
    io.stderr(`hint: the proof (needed once the cluster runs) is what 'acu init --address wss://<host>:<port>' or 'acu cluster proof' prints\n`);
    return ExitCode.ok;
  } finally {
    await repo.close();
  }
}

/** The `acu init` command. */
export const initCommand: Command<InitOptions> = {
  name: 'init',
  usage: 'init [--address <url>] [--branch <b>] [--json]',
  summary: "create this repository's sync-node identity (an Ed25519 key and a TLS certificate)",
  help: `Creates the node's Ed25519 key in the git directory (acu/node.key, mode 0600), its TLS key
(acu/tls.key, mode 0600) and a self-signed certificate for it (acu/tls.crt), and prints the node id,
the public key and the certificate's pin (SHA-256 of its public key) that go into the cluster
document. Running it again prints the same identity.

  --address <url>  where peers will dial this node (wss://host:port): also print the proof of
                   possession of its key that 'acu cluster add --proof' takes to add it to a
                   running cluster (the same as 'acu cluster proof --address <url>')
  --branch <b>     the cluster's protected branch, for the proof (default: the cluster
                   document's, else main)
  --json           print {id, publicKey, tlsPin, created, tlsCreated, key, tlsKey, tlsCert} as JSON
                   (and address, branch, proof with --address)`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('init', argv, { json: { type: 'boolean' }, address: { type: 'string' }, branch: { type: 'string' } });
    refusePositionals('init', positionals);
    const address = values.address === undefined ? null : /^wss?:\/\//.test(values.address) ? values.address : `wss://${values.address}`;
    return { json: values.json === true, address, branch: values.branch ?? null };
  },
  run,
};
