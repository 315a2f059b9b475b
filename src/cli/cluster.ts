/**
 * `acu cluster create|add|show` — manage `.acu/cluster.json`, the committed list of sync nodes
 * (ids, public keys, addresses, sites) and the branch they protect. `show` says what the cluster
 * can survive in plain words.
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { clusterPath, clusterSizes, describeCluster, readCluster, writeCluster } from '../store/cluster.js';
import type { ClusterDoc, ClusterMember } from '../store/cluster.js';
import { loadIdentity, loadTlsIdentity, nodeIdOf } from '../store/identity.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu cluster`. */
export type ClusterOptions =
  | { readonly action: 'create'; readonly branch: string; readonly address: string; readonly site: string; readonly priority: number }
  | { readonly action: 'add'; readonly publicKey: string | null; readonly address: string; readonly tlsPin: string | null; readonly site: string | null; readonly priority: number }
  | { readonly action: 'show'; readonly json: boolean };

const usageHint = "run 'acu cluster --help' for its usage";

function usage(message: string): AcuError {
  return new AcuError('ERR_USAGE', `cluster: ${message}`, { hint: usageHint });
}

function parse(argv: readonly string[]): ClusterOptions {
  const [action, ...rest] = argv;
  const { values, positionals } = parseCommandArgs('cluster', rest, {
    branch: { type: 'string' },
    address: { type: 'string' },
    site: { type: 'string' },
    priority: { type: 'string' },
    'tls-pin': { type: 'string' },
    json: { type: 'boolean' },
  });
  const priority = parseCount('cluster', 'priority', values.priority) ?? 0;
  if (action === undefined) throw usage('which action? create, add or show');
  switch (action) {
    case 'create':
      if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0] ?? ''}'`);
      if (values.address === undefined) throw usage('create needs --address wss://<host>:<port> (where peers reach this node)');
      if (values['tls-pin'] !== undefined) throw usage("create pins this node's own certificate: --tls-pin is for 'add'");
      return { action, branch: values.branch ?? 'main', address: addressOption(values.address), site: values.site ?? 'site-1', priority };
    case 'add': {
      if (positionals.length > 2) throw usage(`unexpected argument '${positionals[2] ?? ''}'`);
      const [publicKey, address] = positionals.length === 2 ? positionals : [null, positionals[0] ?? values.address];
      if (address === undefined) throw usage('add needs <public-key> <address>, or --address for this node itself');
      const tlsPin = values['tls-pin'] ?? null;
      if (tlsPin !== null && !/^[0-9a-f]{64}$/.test(tlsPin)) throw usage(`--tls-pin '${tlsPin}' is not a pin (64 hex digits, as 'acu init' prints it)`);
      return { action, publicKey: publicKey ?? null, address: addressOption(address), tlsPin, site: values.site ?? null, priority };
    }
    case 'show':
      if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0] ?? ''}'`);
      return { action, json: values.json === true };
    default:
      throw usage(`unknown action '${action}'`);
  }
}

/** An address as given: `host:port` means `wss://host:port` (TLS is the default). */
function addressOption(text: string): string {
  if (/^wss?:\/\//.test(text)) return text;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw usage(`'${text}': a member's address is wss://<host>:<port> (or ws:// on loopback)`);
  return `wss://${text}`;
}

/**
 * This node's pin for its own member entry: needed for a wss:// address (its TLS certificate, from
 * `acu init`); a plain ws:// address carries none.
 */
async function ownPin(address: string, commonDir: string): Promise<Pick<ClusterMember, 'tlsPin'>> {
  if (!address.startsWith('wss:')) return {};
  return { tlsPin: (await loadTlsIdentity(commonDir)).pin };
}

async function run(options: ClusterOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const workTree = repo.workTree;
    if (workTree === null) throw new AcuError('ERR_CONFIG', 'the cluster document lives in a work tree, and this repository is bare', { hint: 'run acu cluster in a clone with a work tree' });
    switch (options.action) {
      case 'create':
        return await create(options, workTree, repo.commonDir, io);
      case 'add':
        return await add(options, workTree, repo.commonDir, io);
      case 'show':
        return await show(options.json, workTree, io);
    }
  } finally {
    await repo.close();
  }
}

async function create(options: Extract<ClusterOptions, { action: 'create' }>, workTree: string, commonDir: string, io: Io): Promise<ExitCodeValue> {
  const exists = await readCluster(workTree).then(() => true, () => false);
  if (exists) throw new AcuError('ERR_CONFIG', `${clusterPath(workTree)} already exists`, { hint: "add members with 'acu cluster add', or look at it with 'acu cluster show'" });
  const self = await loadIdentity(commonDir);
  const doc: ClusterDoc = { version: 1, branch: options.branch, members: [{ id: self.id, publicKey: self.publicKey, address: options.address, ...(await ownPin(options.address, commonDir)), site: options.site, priority: options.priority }] };
  await writeCluster(workTree, doc);
  io.stdout(`created ${clusterPath(workTree)}: ${describeCluster(doc)}\n`);
  io.stderr("hint: commit it (git add .acu/cluster.json && git commit), then add members with 'acu cluster add <public-key> <address>'\n");
  return ExitCode.ok;
}

async function add(options: Extract<ClusterOptions, { action: 'add' }>, workTree: string, commonDir: string, io: Io): Promise<ExitCodeValue> {
  const doc = await readCluster(workTree);
  const publicKey = options.publicKey ?? (await loadIdentity(commonDir)).publicKey;
  if (!/^[0-9a-f]{64}$/.test(publicKey)) throw usage(`'${publicKey}' is not a public key (64 hex digits, as 'acu init' prints it)`);
  const site = options.site ?? `site-${doc.members.length + 1}`;
  const pin = options.tlsPin !== null ? { tlsPin: options.tlsPin } : options.publicKey === null ? await ownPin(options.address, commonDir) : {};
  if (options.address.startsWith('wss:') && pin.tlsPin === undefined && doc.members.some((m) => m.tlsPin !== undefined)) {
    throw usage(`add needs --tls-pin <pin> for a wss:// member: the pin 'acu init' printed on that node`);
  }
  const member: ClusterMember = { id: nodeIdOf(publicKey), publicKey, address: options.address, ...pin, site, priority: options.priority };
  if (doc.members.some((m) => m.id === member.id)) throw new AcuError('ERR_CONFIG', `node ${member.id} is already a member`, { hint: "see 'acu cluster show'" });
  const next: ClusterDoc = { ...doc, members: [...doc.members, member] };
  await writeCluster(workTree, next);
  io.stdout(`added node ${member.id} at ${member.address}: ${describeCluster(next)}\n`);
  io.stderr('hint: commit .acu/cluster.json so every node reads the same membership\n');
  return ExitCode.ok;
}

async function show(json: boolean, workTree: string, io: Io): Promise<ExitCodeValue> {
  const doc = await readCluster(workTree);
  const sizes = clusterSizes(doc);
  if (json) {
    io.stdout(`${JSON.stringify({ ...doc, ...sizes })}\n`);
    return ExitCode.ok;
  }
  io.stdout(`${describeCluster(doc)}\n`);
  doc.members.forEach((m, index) => io.stdout(`  replica ${index}  ${m.id}  ${m.address}  site ${m.site}, priority ${m.priority}${m.tlsPin === undefined ? '' : `, tls pin ${m.tlsPin.slice(0, 16)}…`}\n`));
  return ExitCode.ok;
}

/** The `acu cluster` command. */
export const clusterCommand: Command<ClusterOptions> = {
  name: 'cluster',
  usage: 'cluster (create --address <url> [--branch <b>] | add [<public-key>] <address> [--tls-pin <pin>] | show [--json]) [--site <name>] [--priority <n>]',
  summary: 'manage the cluster document (.acu/cluster.json): members, keys, addresses, protected branch',
  help: `  create --address wss://host:port [--branch main]  start a cluster with this node as its member
                                                     (its TLS pin from 'acu init' goes in with it)
  add <public-key> <address> --tls-pin <pin>         add a node (its key and pin as 'acu init' prints them)
  add --address wss://host:port                      add this node itself
  show [--json]                                      n, f and the quorum in plain words, and the members
  --site <name>, --priority <n>                      the member's site and its priority (lower wins)

An address is what peers dial: wss://host:port (TLS 1.3; host:port alone means this), IPv6 hosts in
brackets (wss://[2001:db8::7]:7401). Plain ws:// is for clusters all on loopback, or with 'acu node
start --insecure'. Every member of one cluster uses the same scheme.`,
  parse,
  run,
};
