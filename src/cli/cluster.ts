/**
 * `acu cluster create|add|remove|rotate-key|set-address|proof|show` — manage `.acu/cluster.json`,
 * the committed list of sync nodes (ids, public keys, addresses, sites) and the branch they
 * protect. `show` says what the cluster can survive in plain words. A change to a running
 * cluster's document is an ordinary commit that the cluster agrees on and that takes effect at the
 * next height (docs/sync.md, "Membership"): the verbs edit the document and stage it (or commit it
 * with `--commit`), and say what to do next.
 */
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { commitPaths, tryAddPaths } from '../git/workdir.js';
import { GitRepo } from '../git/index.js';
import { clusterDocPath, clusterPath, clusterSizes, describeCluster, memberProofHolds, memberProofOf, readCluster, writeCluster } from '../store/cluster.js';
import type { ClusterDoc, ClusterMember } from '../store/cluster.js';
import { initNextIdentity, loadIdentity, loadTlsIdentity, nextKeyPath, nodeIdOf } from '../store/identity.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';

/** Parsed options of `acu cluster`. */
export type ClusterOptions =
  | { readonly action: 'create'; readonly branch: string; readonly address: string; readonly site: string; readonly priority: number }
  | { readonly action: 'add'; readonly publicKey: string | null; readonly address: string; readonly tlsPin: string | null; readonly site: string | null; readonly priority: number; readonly proof: string | null; readonly commit: boolean }
  | { readonly action: 'remove'; readonly member: string; readonly commit: boolean }
  | { readonly action: 'rotate-key'; readonly commit: boolean }
  | { readonly action: 'set-address'; readonly member: string; readonly address: string; readonly commit: boolean }
  | { readonly action: 'proof'; readonly address: string | null; readonly branch: string | null; readonly json: boolean }
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
    proof: { type: 'string' },
    commit: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const priority = parseCount('cluster', 'priority', values.priority) ?? 0;
  const commit = values.commit === true;
  if (action === undefined) throw usage('which action? create, add, remove, rotate-key, set-address, proof or show');
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
      const proof = values.proof ?? null;
      if (proof !== null && !/^[0-9a-f]{128}$/.test(proof)) throw usage(`--proof '${proof}' is not a proof (128 hex digits, as 'acu cluster proof' prints it)`);
      return { action, publicKey: publicKey ?? null, address: addressOption(address), tlsPin, site: values.site ?? null, priority, proof, commit };
    }
    case 'remove':
      if (positionals.length !== 1) throw usage('remove needs one <id|site>');
      return { action, member: positionals[0]!, commit };
    case 'rotate-key':
      if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0] ?? ''}'`);
      return { action, commit };
    case 'set-address':
      if (positionals.length !== 2) throw usage('set-address needs <id|site> <address>');
      return { action, member: positionals[0]!, address: addressOption(positionals[1]!), commit };
    case 'proof':
      if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0] ?? ''}'`);
      return { action, address: values.address === undefined ? null : addressOption(values.address), branch: values.branch ?? null, json: values.json === true };
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
      case 'remove':
        return await remove(options, workTree, repo.commonDir, io);
      case 'rotate-key':
        return await rotateKey(options.commit, workTree, repo.commonDir, io);
      case 'set-address':
        return await setAddress(options, workTree, repo.commonDir, io);
      case 'proof':
        return await proof(options, workTree, repo.commonDir, io);
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
  const self = options.publicKey === null ? await loadIdentity(commonDir) : null;
  const proofOf = self !== null ? { proof: memberProofOf(self, doc.branch, options.address) } : options.proof !== null ? { proof: options.proof } : {};
  const member: ClusterMember = { id: nodeIdOf(publicKey), publicKey, address: options.address, ...pin, site, priority: options.priority, ...proofOf };
  if (doc.members.some((m) => m.id === member.id)) throw new AcuError('ERR_CONFIG', `node ${member.id} is already a member`, { hint: "see 'acu cluster show'" });
  if (member.proof !== undefined && !memberProofHolds(doc.branch, member)) {
    throw new AcuError('ERR_CONFIG', `the proof does not hold for node ${member.id} at ${member.address} on branch '${doc.branch}'`, {
      hint: `on the new site, run 'acu cluster proof --address ${member.address} --branch ${doc.branch}' and pass what it prints`,
    });
  }
  const next: ClusterDoc = { ...doc, members: [...doc.members, member] };
  await writeCluster(workTree, next);
  io.stdout(`added node ${member.id} (${member.site}) at ${member.address}: ${describeCluster(next)}\n`);
  if (member.proof === undefined) io.stderr("hint: without --proof this is only good for a cluster not running yet; a running cluster refuses a key without its proof ('acu cluster proof' on the new site)\n");
  return await stageOrCommit(`acu cluster: add ${member.site} (${member.id})`, options.commit, workTree, io, [
    `start the node on ${member.site} from a clone that holds this change (and refs/notes/acu), once it is agreed`,
  ]);
}

/** A member named by its node id or its site. */
function memberNamed(doc: ClusterDoc, name: string): ClusterMember {
  const found = doc.members.filter((m) => m.id === name || m.site === name);
  if (found.length === 0) throw new AcuError('ERR_CONFIG', `no member is named '${name}' (by node id or site)`, { hint: "see 'acu cluster show'" });
  if (found.length > 1) throw new AcuError('ERR_CONFIG', `'${name}' names ${found.length} members`, { hint: 'name it by its node id' });
  return found[0]!;
}

async function remove(options: Extract<ClusterOptions, { action: 'remove' }>, workTree: string, commonDir: string, io: Io): Promise<ExitCodeValue> {
  const doc = await readCluster(workTree);
  const gone = memberNamed(doc, options.member);
  if (doc.members.length === 1) throw new AcuError('ERR_CONFIG', 'a cluster keeps at least one member', { hint: 'add the member that replaces it first' });
  const next: ClusterDoc = { ...doc, members: doc.members.filter((m) => m.id !== gone.id) };
  await writeCluster(workTree, next);
  io.stdout(`removed node ${gone.id} (${gone.site}): ${describeCluster(next)}\n`);
  const self = await loadIdentity(commonDir).catch(() => null);
  return await stageOrCommit(`acu cluster: remove ${gone.site} (${gone.id})`, options.commit, workTree, io, [
    self?.id === gone.id ? 'this node stops proposing and voting once the change is agreed' : `once the change is agreed, ${gone.site}'s node stops voting; stop it there`,
  ]);
}

async function rotateKey(commit: boolean, workTree: string, commonDir: string, io: Io): Promise<ExitCodeValue> {
  const doc = await readCluster(workTree);
  const current = await loadIdentity(commonDir);
  const entry = doc.members.find((m) => m.id === current.id);
  if (entry === undefined) throw new AcuError('ERR_CONFIG', `this node (${current.id}) is not a member of the cluster document`, { hint: 'rotate the key on a member site' });
  const { identity: next, created } = await initNextIdentity(commonDir);
  const member: ClusterMember = { ...entry, id: next.id, publicKey: next.publicKey, proof: memberProofOf(next, doc.branch, entry.address) };
  const updated: ClusterDoc = { ...doc, members: [...doc.members.filter((m) => m.id !== current.id), member] };
  await writeCluster(workTree, updated);
  io.stdout(`${created ? 'created' : 'reusing'} the next key ${nextKeyPath(commonDir)}: node ${current.id} becomes ${next.id} (${entry.site})\n`);
  return await stageOrCommit(`acu cluster: rotate the key of ${entry.site} (${current.id} -> ${next.id})`, commit, workTree, io, [
    'the node keeps signing with its current key until the change is agreed, then switches to the next one by itself',
  ]);
}

async function setAddress(options: Extract<ClusterOptions, { action: 'set-address' }>, workTree: string, commonDir: string, io: Io): Promise<ExitCodeValue> {
  const doc = await readCluster(workTree);
  const entry = memberNamed(doc, options.member);
  const self = await loadIdentity(commonDir).catch(() => null);
  // The proof binds the address; a stale one is dropped (only a new key needs one), this node's own is signed afresh.
  const { proof: _stale, ...rest } = entry;
  const member: ClusterMember = { ...rest, address: options.address, ...(self?.id === entry.id ? { proof: memberProofOf(self, doc.branch, options.address) } : {}) };
  const next: ClusterDoc = { ...doc, members: doc.members.map((m) => (m.id === entry.id ? member : m)) };
  await writeCluster(workTree, next);
  io.stdout(`node ${entry.id} (${entry.site}) moves from ${entry.address} to ${options.address}\n`);
  return await stageOrCommit(`acu cluster: ${entry.site} moves to ${options.address}`, options.commit, workTree, io, [
    `peers dial the new address from the height after the change; ${entry.site}'s node must listen there by then (--listen)`,
  ]);
}

async function proof(options: Extract<ClusterOptions, { action: 'proof' }>, workTree: string, commonDir: string, io: Io): Promise<ExitCodeValue> {
  const doc = await readCluster(workTree).catch(() => null);
  const identity = await loadIdentity(commonDir);
  const address = options.address ?? doc?.members.find((m) => m.id === identity.id)?.address ?? null;
  if (address === null) throw usage('proof needs --address wss://<host>:<port> (where peers will dial this node)');
  const branch = options.branch ?? doc?.branch ?? 'main';
  const signature = memberProofOf(identity, branch, address);
  const tlsPin = await loadTlsIdentity(commonDir).then((tls) => tls.pin, () => null);
  if (options.json) {
    io.stdout(`${JSON.stringify({ id: identity.id, publicKey: identity.publicKey, address, branch, tlsPin, proof: signature })}\n`);
    return ExitCode.ok;
  }
  io.stdout(`${signature}\n`);
  io.stderr(`hint: hand this to a member, who runs 'acu cluster add ${identity.publicKey} ${address}${tlsPin === null ? '' : ` --tls-pin ${tlsPin}`} --proof ${signature}'\n`);
  return ExitCode.ok;
}

/** Stage the document (or commit it alone), and say what comes next. */
async function stageOrCommit(message: string, commit: boolean, workTree: string, io: Io, next: readonly string[]): Promise<ExitCodeValue> {
  const add = await tryAddPaths(workTree, [clusterDocPath]);
  if (add.exitCode !== 0) throw new AcuError('ERR_GIT_FAILED', `git add ${clusterDocPath} failed: ${add.stderr.trim()}`);
  if (!commit) {
    io.stderr(`hint: staged ${clusterDocPath}; commit it ('git commit -m "${message}"', or pass --commit) on the protected branch:\n`);
    io.stderr('hint: the cluster agrees on it like any change, and it takes effect at the height after its agreed commit\n');
    for (const line of next) io.stderr(`hint: ${line}\n`);
    return ExitCode.ok;
  }
  const result = await commitPaths(workTree, { message, paths: [clusterDocPath] });
  io.stderr(result.stderr);
  if (result.exitCode !== 0) throw new AcuError('ERR_GIT_FAILED', `git commit failed: ${result.stdout.trim()}`, { hint: 'commit .acu/cluster.json yourself' });
  io.stderr('hint: committed; the cluster agrees on it like any change, and it takes effect at the height after its agreed commit\n');
  for (const line of next) io.stderr(`hint: ${line}\n`);
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
  usage: 'cluster (create --address <url> [--branch <b>] | add [<public-key>] <address> [--tls-pin <pin>] [--proof <sig>] | remove <id|site> | rotate-key | set-address <id|site> <address> | proof [--address <url>] | show [--json]) [--site <name>] [--priority <n>] [--commit]',
  summary: 'manage the cluster document (.acu/cluster.json): members, keys, addresses, protected branch',
  help: `  create --address wss://host:port [--branch main]  start a cluster with this node as its member
                                                     (its TLS pin from 'acu init' goes in with it)
  add <public-key> <address> --tls-pin <pin>         add a node (its key and pin as 'acu init' prints them)
  add <public-key> <address> ... --proof <sig>       the same for a running cluster: the new node's proof of
                                                     possession of its key ('acu cluster proof' prints it there)
  add --address wss://host:port                      add this node itself (its proof goes in with it)
  remove <id|site>                                   remove a member
  rotate-key                                         this node: a new key beside the old one (acu/node.key.next)
                                                     and the member entry with it and its proof; the node
                                                     switches keys when the change is agreed
  set-address <id|site> <address>                    move a member to another address
  proof [--address <url>] [--branch <b>] [--json]    print this node's proof of possession for that address
  show [--json]                                      n, f and the quorum in plain words, and the members
  --commit                                           commit the change (only .acu/cluster.json) instead of
                                                     staging it
  --site <name>, --priority <n>                      the member's site and its priority (lower wins)

An address is what peers dial: wss://host:port (TLS 1.3; host:port alone means this), IPv6 hosts in
brackets (wss://[2001:db8::7]:7401). Plain ws:// is for clusters all on loopback, or with 'acu node
start --insecure'. Every member of one cluster uses the same scheme.

A change to a running cluster's document goes through consensus like any change and takes effect
at the height after its agreed commit; the membership in force must agree on it, it may not change
the protected branch or leave the cluster empty, and every key it brings in needs its proof.`,
  parse,
  run,
};
