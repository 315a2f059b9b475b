/**
 * `acu init` — give this repository's sync node its identity: an Ed25519 key in the git directory
 * (mode 0600) and the node id derived from it, and a TLS key (0600) with a self-signed certificate
 * whose pin goes into the cluster document. Idempotent: a second run prints the same identity (and
 * adds the TLS part to an identity made by an acu that had none).
 */
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { initIdentity, initTlsIdentity, keyPath, tlsCertPath, tlsKeyPath } from '../store/identity.js';
import type { Command } from './command.js';
import { parseCommandArgs, refusePositionals } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu init`. */
export interface InitOptions {
  readonly json: boolean;
}

async function run(options: InitOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const { identity, created } = await initIdentity(repo.commonDir);
    const { tls, created: tlsCreated } = await initTlsIdentity(repo.commonDir, identity.id);
    const dir = repo.commonDir;
    if (options.json) {
      io.stdout(`${JSON.stringify({ id: identity.id, publicKey: identity.publicKey, tlsPin: tls.pin, created, tlsCreated, key: keyPath(dir), tlsKey: tlsKeyPath(dir), tlsCert: tlsCertPath(dir) })}\n`);
      return ExitCode.ok;
    }
    io.stdout(`${created ? 'created' : 'this repository already has'} node ${identity.id}\n`);
    io.stdout(`public key ${identity.publicKey}\n`);
    io.stdout(`${tlsCreated ? 'created a' : 'its'} TLS certificate, pin ${tls.pin}\n`);
    io.stderr(`hint: start a cluster with 'acu cluster create --address wss://<host>:<port>', or ask a member to run\n`);
    io.stderr(`hint: 'acu cluster add ${identity.publicKey} wss://<host>:<port> --tls-pin ${tls.pin}' and commit .acu/cluster.json\n`);
    return ExitCode.ok;
  } finally {
    await repo.close();
  }
}

/** The `acu init` command. */
export const initCommand: Command<InitOptions> = {
  name: 'init',
  usage: 'init [--json]',
  summary: "create this repository's sync-node identity (an Ed25519 key and a TLS certificate)",
  help: `Creates the node's Ed25519 key in the git directory (acu/node.key, mode 0600), its TLS key
(acu/tls.key, mode 0600) and a self-signed certificate for it (acu/tls.crt), and prints the node id,
the public key and the certificate's pin (SHA-256 of its public key) that go into the cluster
document. Running it again prints the same identity.

  --json    print {id, publicKey, tlsPin, created, tlsCreated, key, tlsKey, tlsCert} as JSON`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('init', argv, { json: { type: 'boolean' } });
    refusePositionals('init', positionals);
    return { json: values.json === true };
  },
  run,
};
