/**
 * `acu init` — give this repository's sync node its identity: an Ed25519 key in the git directory
 * (mode 0600) and the node id derived from it. Idempotent: a second run prints the same identity.
 */
import { ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { initIdentity, keyPath } from '../store/identity.js';
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
    if (options.json) {
      io.stdout(`${JSON.stringify({ id: identity.id, publicKey: identity.publicKey, created, key: keyPath(repo.commonDir) })}\n`);
      return ExitCode.ok;
    }
    io.stdout(`${created ? 'created' : 'this repository already has'} node ${identity.id}\n`);
    io.stdout(`public key ${identity.publicKey}\n`);
    io.stderr(`hint: start a cluster with 'acu cluster create --address ws://<host>:<port>', or ask a member to run\n`);
    io.stderr(`hint: 'acu cluster add ${identity.publicKey} ws://<host>:<port>' and commit .acu/cluster.json\n`);
    return ExitCode.ok;
  } finally {
    await repo.close();
  }
}

/** The `acu init` command. */
export const initCommand: Command<InitOptions> = {
  name: 'init',
  usage: 'init [--json]',
  summary: "create this repository's sync-node identity (an Ed25519 key, mode 0600)",
  help: `Creates the node's Ed25519 key in the git directory (acu/node.key, mode 0600) and prints the
node id and public key that go into the cluster document. Running it again prints the same identity.

  --json    print {id, publicKey, created, key} as JSON`,
  parse: (argv) => {
    const { values, positionals } = parseCommandArgs('init', argv, { json: { type: 'boolean' } });
    refusePositionals('init', positionals);
    return { json: values.json === true };
  },
  run,
};
