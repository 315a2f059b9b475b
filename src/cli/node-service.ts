/**
 * `acu node service [--user] [--print] [--install] [-- <node start options>]` — a systemd unit that
 * runs this repository's sync node (`acu node start`, in the foreground, logging to the journal,
 * restarted on failure). It prints the unit, or with `--install --user` writes it into the user's
 * systemd directory; it never calls systemctl.
 *
 * This module also carries the `acu node` command as the CLI registers it: `service` is handled
 * here, every other action goes to `src/cli/node.ts` unchanged, so the unit's code loads only for
 * `acu node` and node.ts needs no edit.
 */
import { userInfo } from 'node:os';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { AcuError, ExitCode, assert } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { launcherPath } from '../git/launcher.js';
import { setUpLinks } from '../net/link.js';
import { clusterPath, readCluster } from '../store/cluster.js';
import type { ClusterDoc, ClusterMember } from '../store/cluster.js';
import { loadIdentity } from '../store/identity.js';
import { callNode } from '../sync/api.js';
import { nodeSocketPath } from '../sync/hook-run.js';
import type { Command } from './command.js';
import { parseCommandArgs, refusePositionals } from './command.js';
import type { Io } from './io.js';
import { nodeCommand } from './node.js';
import type { NodeCommandOptions } from './node.js';

/** Parsed options of `acu node service`. */
export interface NodeServiceOptions {
  /** A unit for the user's own service manager (`systemctl --user`) rather than the system's. */
  readonly user: boolean;
  /** Print the unit on stdout (the default when not installing). */
  readonly print: boolean;
  /** Write the unit into `$XDG_CONFIG_HOME/systemd/user/` (needs `--user`). */
  readonly install: boolean;
  /** What follows `--`: options for `acu node start`, as given. */
  readonly startArgs: readonly string[];
  /** The same, as `acu node start`'s parser read them (so a usage error shows before anything else). */
  readonly start: Extract<NodeCommandOptions, { action: 'start' }>;
}

/** Parsed options of `acu node` as the CLI registers it: the service action, or node.ts's actions. */
export type NodeWithServiceOptions =
  | { readonly action: 'service'; readonly service: NodeServiceOptions }
  | { readonly action: 'other'; readonly node: NodeCommandOptions };

/** Where the unit runs the node, and as whom: everything the unit text is computed from. */
export interface ServiceUnitSpec {
  readonly scope: 'user' | 'system';
  /** The unit's file name, `acu-node-<site>.service`. */
  readonly name: string;
  readonly site: string;
  readonly nodeId: string;
  /** The work tree: the unit's working directory. */
  readonly workTree: string;
  /** Directories the node writes besides the work tree: the git directory and the common one. */
  readonly gitDirs: readonly string[];
  /** The command line: node's absolute path, the launcher's, `node start` and its options. */
  readonly execArgs: readonly string[];
  /** PATH for the node's git calls; null keeps the service manager's default. */
  readonly path: string | null;
  /** The account a system unit runs as (ignored for a user unit). */
  readonly account: { readonly user: string; readonly group: string };
}

/** Seconds between a failure and the restart: long enough not to spin, short enough to rejoin soon. */
const restartDelaySeconds = 5;
/** Restarts allowed per interval before systemd gives up (a node that cannot start says why each time). */
const startLimitBurstCount = 10;
const startLimitIntervalSeconds = 600;
/** How long a stop may take: the node finishes its durable work (log append, git write) first. */
const stopTimeoutSeconds = 60;
/** How long to ask whether a node already runs here. */
const statusProbeTimeoutMs = 1_000;

/** The first line of every unit acu writes; `--install` replaces only a unit that starts with it. */
function headerLine(workTree: string): string {
  return `# acu node service for ${workTree}`;
}

function usage(message: string): AcuError {
  return new AcuError('ERR_USAGE', `node service: ${message}`, { hint: "run 'acu node --help' for its usage" });
}

/** `acu node start`'s options, checked by its parser now rather than in a restart loop later. */
function checkedStartOptions(args: readonly string[]): Extract<NodeCommandOptions, { action: 'start' }> {
  if (args.includes('--detach')) throw usage('--detach: systemd runs the node and watches it; a detached node would leave the unit at once');
  const parsed = nodeCommand.parse(['start', ...args]);
  assert(parsed.action === 'start', 'checkedStartOptions: parsed as start');
  return parsed;
}

function parseService(argv: readonly string[]): NodeServiceOptions {
  const { values, positionals, afterDashDash } = parseCommandArgs('node service', argv, {
    user: { type: 'boolean' },
    print: { type: 'boolean' },
    install: { type: 'boolean' },
  });
  refusePositionals('node service', positionals);
  const install = values.install === true;
  if (install && values.user !== true) {
    throw usage('--install writes a user unit (with --user); a system unit goes in /etc/systemd/system, which needs root');
  }
  const start = checkedStartOptions(afterDashDash);
  return { user: values.user === true, print: values.print === true || !install, install, startArgs: afterDashDash, start };
}

function parse(argv: readonly string[]): NodeWithServiceOptions {
  if (argv[0] === 'service') return { action: 'service', service: parseService(argv.slice(1)) };
  return { action: 'other', node: nodeCommand.parse(argv) };
}

/** Whether a word may stand in a unit file unquoted (no space, quote, backslash, `$` or `%`). */
function isPlainWord(word: string): boolean {
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(word);
}

/**
 * One word of a unit setting, quoted the way systemd splits them: `%` doubled (specifiers), and,
 * inside double quotes, backslash and quote escaped; `$` doubled where systemd expands variables.
 */
export function unitWord(word: string, options: { readonly expandsVariables: boolean }): string {
  assert(!/[\n\r\0]/.test(word), 'unitWord: the caller refuses line breaks');
  if (isPlainWord(word)) return word;
  let text = word.replace(/%/g, '%%').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  if (options.expandsVariables) text = text.replace(/\$/g, '$$$$');
  return `"${text}"`;
}

/** A path as a whole-line setting value (WorkingDirectory=): taken literally, only `%` escaped. */
function unitPath(path: string): string {
  assert(isAbsolute(path), 'unitPath: an absolute path');
  assert(!/[\n\r\0]/.test(path), 'unitPath: the caller refuses line breaks');
  return path.replace(/%/g, '%%');
}

/** A site name as it may appear in a unit's file name and syslog identifier. */
export function unitNameOf(site: string): string {
  const safe = site.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[-.]+/, '');
  return `acu-node-${safe === '' ? 'site' : safe}.service`;
}

function unitSection(spec: ServiceUnitSpec): string[] {
  return [
    '[Unit]',
    `Description=${`acu sync node, site ${spec.site} (${spec.nodeId}), in ${spec.workTree}`.replace(/%/g, '%%')}`,
    // The user manager has no network-online.target; a node that starts before the network dials
    // again on its own, and one that cannot listen yet exits and is restarted.
    ...(spec.scope === 'system' ? ['Wants=network-online.target', 'After=network-online.target'] : []),
    `StartLimitIntervalSec=${startLimitIntervalSeconds}`,
    `StartLimitBurst=${startLimitBurstCount}`,
  ];
}

function serviceSection(spec: ServiceUnitSpec): string[] {
  const lines = ['[Service]', 'Type=simple'];
  if (spec.scope === 'system') lines.push(`User=${spec.account.user}`, `Group=${spec.account.group}`);
  lines.push(`WorkingDirectory=${unitPath(spec.workTree)}`);
  if (spec.path !== null) lines.push(`Environment=${unitWord(`PATH=${spec.path}`, { expandsVariables: false })}`);
  lines.push(
    `ExecStart=${spec.execArgs.map((word) => unitWord(word, { expandsVariables: true })).join(' ')}`,
    'Restart=on-failure',
    `RestartSec=${restartDelaySeconds}s`,
    // 129 is a usage error: the unit's own command line is wrong, and restarting cannot fix it.
    'RestartPreventExitStatus=129',
    // SIGTERM to the node alone: it stops cleanly and waits for its own git processes, which a
    // signal to the whole group would cut off mid-write. Whatever is left after the timeout is killed.
    'KillMode=mixed',
    `TimeoutStopSec=${stopTimeoutSeconds}s`,
    'StandardOutput=journal',
    'StandardError=journal',
    `SyslogIdentifier=${spec.name.replace(/\.service$/, '')}`,
  );
  return [...lines, ...hardening(spec)];
}

/**
 * Hardening that leaves git and the node working. Not MemoryDenyWriteExecute: V8's JIT needs
 * writable code pages. The file-system options need a system manager: in a user manager they
 * switch on user namespaces, which many kernels refuse, and the unit would not start at all.
 */
function hardening(spec: ServiceUnitSpec): string[] {
  const anyManager = [
    'NoNewPrivileges=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    // AF_NETLINK: Node lists the machine's interfaces through it (is the --listen address ours?).
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
  ];
  if (spec.scope === 'user') return ['# Hardening (a user manager allows only these; see acu node --help)', ...anyManager];
  const writable = [spec.workTree, ...spec.gitDirs.filter((dir) => !dir.startsWith(`${spec.workTree}/`))];
  return [
    '# Hardening: the system is read-only but for the repository, which the node writes',
    '# (objects, refs, notes and acu/ in the git directory).',
    ...anyManager,
    'ProtectSystem=full',
    'ProtectHome=read-only',
    `ReadWritePaths=${[...new Set(writable)].map((dir) => unitWord(dir, { expandsVariables: false })).join(' ')}`,
    // A private /tmp would hide a repository that lives in /tmp or /var/tmp.
    ...(writable.some((dir) => /^\/(var\/)?tmp(\/|$)/.test(dir)) ? [] : ['PrivateTmp=yes']),
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
  ];
}

/** The unit file's text, from its spec alone (pure: tests parse it line by line). */
export function serviceUnitText(spec: ServiceUnitSpec): string {
  assert(spec.execArgs.length >= 2, 'serviceUnitText: node and the launcher at least');
  assert(spec.execArgs.every((word) => !/[\n\r\0]/.test(word)), 'serviceUnitText: no line breaks in the command line');
  const lines = [
    headerLine(spec.workTree),
    "# Written by 'acu node service'. Run it again rather than editing this file.",
    ...unitSection(spec),
    '',
    ...serviceSection(spec),
    '',
    '[Install]',
    `WantedBy=${spec.scope === 'system' ? 'multi-user.target' : 'default.target'}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Refuse a path a unit file cannot hold (a line break would end the setting). */
function refuseLineBreaks(what: string, value: string): void {
  if (!/[\n\r\0]/.test(value)) return;
  throw new AcuError('ERR_CONFIG', `${what} contains a line break, which a systemd unit cannot hold: ${JSON.stringify(value)}`, {
    hint: 'move the repository (or the file) to a path without line breaks',
  });
}

const pathFlags = new Set(['--tls-cert', '--tls-key', '--tls-ca']);

/**
 * `acu node start`'s options as the unit runs them, where the working directory is the work tree
 * and every start is a fresh one: file paths made absolute, `--genesis` a commit id (a name such as
 * HEAD would mean another commit after the next commit).
 */
async function startArgsForUnit(args: readonly string[], cwd: string, repo: GitRepo): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = flag !== arg;
    if (!pathFlags.has(flag) && flag !== '--genesis') {
      out.push(arg);
      continue;
    }
    const value = inline ? arg.slice(eq + 1) : args[i + 1];
    assert(value !== undefined, "startArgsForUnit: node start's parser has checked every flag has its value");
    if (!inline) i += 1;
    out.push(flag, flag === '--genesis' ? await repo.resolveCommit(value) : resolve(cwd, value));
  }
  assert(out.length >= args.length, 'startArgsForUnit: rewrites values, drops nothing');
  return out;
}

/** This node's member entry; every situation where a unit makes no sense is an error with a hint. */
async function memberOfCluster(repo: GitRepo, workTree: string): Promise<{ cluster: ClusterDoc; self: ClusterMember }> {
  const documentPath = clusterPath(workTree);
  if (!(await access(documentPath).then(() => true, () => false))) {
    throw new AcuError('ERR_CONFIG', `there is no cluster document at ${documentPath}: a service runs the node of a cluster member`, {
      hint: "pull the committed .acu/cluster.json, or start a cluster with 'acu cluster create'",
    });
  }
  const cluster = await readCluster(workTree);
  const identity = await loadIdentity(repo.commonDir);
  const self = cluster.members.find((member) => member.id === identity.id);
  if (self === undefined) {
    throw new AcuError('ERR_CONFIG', `this node (${identity.id}) is not a member of the cluster document: its node could not start`, {
      hint: `ask a member to run 'acu cluster add ${identity.publicKey} wss://<host>:<port> --tls-pin <pin>' (the pin 'acu init' prints), commit and push .acu/cluster.json, and pull it here`,
    });
  }
  return { cluster, self };
}

/** Check everything `acu node start` would refuse (except binding the port), and make the spec. */
async function planUnit(options: NodeServiceOptions, repo: GitRepo, io: Io): Promise<ServiceUnitSpec> {
  const workTree = repo.workTree;
  if (workTree === null) {
    throw new AcuError('ERR_CONFIG', 'a sync node needs a repository with a work tree (it reads .acu/cluster.json)', {
      hint: 'run acu node service in the clone the node runs in, not in a bare repository',
    });
  }
  refuseLineBreaks('the repository path', workTree);
  const { cluster, self } = await memberOfCluster(repo, workTree);
  const start = options.start;
  const startArgs = await startArgsForUnit(options.startArgs, io.cwd, repo);
  startArgs.forEach((arg) => refuseLineBreaks('an option for acu node start', arg));
  const operatorTls = start.operatorTls === undefined ? undefined : { cert: resolve(io.cwd, start.operatorTls.cert), key: resolve(io.cwd, start.operatorTls.key), ca: resolve(io.cwd, start.operatorTls.ca) };
  // The same checks node start makes (scheme, pins, this node's certificate, operator files).
  await setUpLinks({
    gitCommonDir: repo.commonDir, cluster, self, insecure: start.insecure,
    ...(start.listen === undefined ? {} : { listen: start.listen }),
    ...(start.port === undefined ? {} : { port: start.port }),
    ...(operatorTls === undefined ? {} : { operatorTls }),
  });
  const account = userInfo();
  const path = io.env.PATH ?? null;
  if (path !== null) refuseLineBreaks('PATH', path);
  return {
    scope: options.user ? 'user' : 'system',
    name: unitNameOf(self.site),
    site: self.site,
    nodeId: self.id,
    workTree,
    gitDirs: [...new Set([repo.gitDir, repo.commonDir].map((dir) => resolve(dir)))],
    execArgs: [process.execPath, launcherPath(), 'node', 'start', ...startArgs],
    path,
    // systemd takes a group's number as well as its name; the number needs no lookup.
    account: { user: account.username, group: String(account.gid) },
  };
}

/** `$XDG_CONFIG_HOME/systemd/user`, or `~/.config/systemd/user` (an XDG path must be absolute). */
export function userUnitDirectory(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'systemd', 'user');
  const home = env.HOME;
  if (home === undefined || !isAbsolute(home)) {
    throw new AcuError('ERR_CONFIG', 'neither XDG_CONFIG_HOME nor HOME names a directory for user units', {
      hint: "set HOME, or print the unit with 'acu node service --user' and save it yourself",
    });
  }
  return join(home, '.config', 'systemd', 'user');
}

/** Write the unit, replacing only a unit acu wrote for this same repository. */
async function installUnit(spec: ServiceUnitSpec, text: string, io: Io): Promise<{ path: string; changed: boolean }> {
  const path = join(userUnitDirectory(io.env), spec.name);
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing === text) return { path, changed: false };
  if (existing !== null && existing.split('\n')[0] !== headerLine(spec.workTree)) {
    throw new AcuError('ERR_CONFIG', `${path} exists and is not acu's unit for this repository`, {
      hint: `move it aside, or run acu node service --user and save the unit under another name`,
    });
  }
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, text, { mode: 0o644 });
  await rename(temporary, path);
  return { path, changed: true };
}

async function warnIfRunning(commonDir: string, io: Io): Promise<void> {
  if ((await callNode(nodeSocketPath(commonDir), { type: 'status' }, statusProbeTimeoutMs)) === null) return;
  io.stderr("warning: a sync node is running here now; stop it with 'acu node stop' before starting the service\n");
}

function printHints(spec: ServiceUnitSpec, installed: string | null, io: Io): void {
  const name = spec.name;
  if (spec.scope === 'system') {
    io.stderr(`hint: save it as /etc/systemd/system/${name} (run this command again, piped into 'sudo tee' that file),\n`);
    io.stderr(`hint: then 'sudo systemctl daemon-reload && sudo systemctl enable --now ${name}'; logs: 'journalctl -u ${name}'\n`);
    return;
  }
  if (installed === null) io.stderr(`hint: 'acu node service --user --install' writes it to $XDG_CONFIG_HOME/systemd/user/${name} (~/.config)\n`);
  io.stderr(`hint: 'systemctl --user daemon-reload && systemctl --user enable --now ${name}'; logs: 'journalctl --user -u ${name}'\n`);
  io.stderr(`hint: 'loginctl enable-linger ${spec.account.user}' keeps it running while nobody is logged in\n`);
}

async function runService(options: NodeServiceOptions, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  try {
    const spec = await planUnit(options, repo, io);
    const text = serviceUnitText(spec);
    if (options.print) io.stdout(text);
    let installed: string | null = null;
    if (options.install) {
      const { path, changed } = await installUnit(spec, text, io);
      installed = path;
      io.stderr(`${changed ? 'wrote' : 'unchanged:'} ${path}\n`);
    }
    if (spec.account.user === 'root') io.stderr('warning: the node would run as root; run acu node service as the account that owns the repository\n');
    await warnIfRunning(repo.commonDir, io);
    printHints(spec, installed, io);
    return ExitCode.ok;
  } finally {
    await repo.close();
  }
}

const serviceHelp = `
service prints a systemd unit that runs this node ('acu node start' in the work tree, in the
foreground: systemd restarts it on failure and its timeline goes to the journal). It refuses where
a node could not start: not a repository, no cluster document, this node not a member, a
certificate that is not the pinned one. Options after -- are passed to 'acu node start' (checked
now; file paths made absolute, --genesis resolved to a commit):

  acu node service --user --install -- --listen 0.0.0.0:7401

  --user      a unit for your own service manager (systemctl --user); without it, a system unit
              (User= this account, the file system read-only but for the repository)
  --print     print the unit on stdout (the default without --install)
  --install   with --user: write it to $XDG_CONFIG_HOME/systemd/user/acu-node-<site>.service
              (~/.config/systemd/user); it replaces only a unit acu wrote for this repository
Hardening in a user unit is what a user manager allows without user namespaces: no new
privileges, restricted address families, personality, realtime and set-uid bits.`;

/** The `acu node` command as the CLI registers it: `acu node service` here, the rest from node.ts. */
export const nodeWithServiceCommand: Command<NodeWithServiceOptions> = {
  name: 'node',
  usage: `${nodeCommand.usage} | node service [--user] [--print] [--install] [-- <node start options>]`,
  summary: "run this repository's sync node (start [--detach], stop), or print its systemd unit (service)",
  help: `${nodeCommand.help}\n${serviceHelp}`,
  parse,
  run: async (options, io) => (options.action === 'service' ? await runService(options.service, io) : await nodeCommand.run(options.node, io)),
};
