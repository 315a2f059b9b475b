/**
 * `acu node start|stop` — run this repository's sync node in the foreground (its timeline on
 * stdout), or in the background with `--detach` (its log in the git directory), and stop it.
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AcuError, ExitCode } from '../core/errors.js';
import type { ExitCodeValue } from '../core/errors.js';
import { GitRepo } from '../git/index.js';
import { parseListen } from '../net/link.js';
import type { ListenAddress, OperatorTlsFiles } from '../net/link.js';
import { launcherPath } from '../git/launcher.js';
import { askNode, callNode } from '../sync/api.js';
import { nodeSocketPath } from '../sync/hook-run.js';
import type { Command } from './command.js';
import { parseCommandArgs, parseCount } from './command.js';
import type { Io } from './io.js';
import { parseHttpAddress } from '../ops/http.js';
import type { LogFormat } from '../ops/log-format.js';
import type { NodeOps } from '../ops/node-ops.js';
import type { NotifyFormat } from '../ops/notify.js';
import type { StatusPage } from '../ops/page.js';
import type { NodeEvent, SyncNode } from '../sync/node.js';

/** Parsed options of `acu node`. */
export type NodeCommandOptions =
  | {
      readonly action: 'start';
      readonly port: number | undefined;
      readonly listen: ListenAddress | undefined;
      readonly insecure: boolean;
      readonly operatorTls: OperatorTlsFiles | undefined;
      readonly detach: boolean;
      readonly validation: 'parse' | 'typecheck';
      readonly tickMs: number;
      readonly batchMs: number;
      /** Hidden, for tests: decisions retained for peers catching up. */
      readonly decisionsKept: number | undefined;
      /** Hidden, for tests: most ACUs in one batch (1: each commit its own height). */
      readonly batchAcusMax: number | undefined;
      readonly genesis: string | undefined;
      readonly fastForward: boolean;
      readonly json: boolean;
      /** `--http`: where to serve /metrics (null: not served). */
      readonly http: ListenAddress | null;
      readonly logFormat: LogFormat;
      readonly notifyUrls: readonly string[];
      readonly notifyFormat: NotifyFormat;
      readonly argv: readonly string[];
    }
  | { readonly action: 'stop'; readonly json: boolean }
  | { readonly action: 'page'; readonly json: boolean };

function usage(message: string): AcuError {
  return new AcuError('ERR_USAGE', `node: ${message}`, { hint: "run 'acu node --help' for its usage" });
}

function parse(argv: readonly string[]): NodeCommandOptions {
  const [action, ...rest] = argv;
  if (action === 'stop' || action === 'page') {
    const { values, positionals } = parseCommandArgs('node', rest, { json: { type: 'boolean' } });
    if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0] ?? ''}'`);
    return { action, json: values.json === true };
  }
  if (action !== 'start') throw usage(action === undefined ? 'which action? start, stop or page' : `unknown action '${action}'`);
  const { values, positionals } = parseCommandArgs('node', rest, {
    port: { type: 'string' },
    listen: { type: 'string' },
    insecure: { type: 'boolean' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' },
    detach: { type: 'boolean' },
    validation: { type: 'string' },
    'tick-ms': { type: 'string' },
    'batch-ms': { type: 'string' },
    'decisions-kept': { type: 'string' },
    'batch-acus-max': { type: 'string' },
    genesis: { type: 'string' },
    'fast-forward': { type: 'boolean' },
    json: { type: 'boolean' },
    http: { type: 'string' },
    'log-format': { type: 'string' },
    'notify-url': { type: 'string', multiple: true },
    'notify-format': { type: 'string' },
  });
  if (positionals.length > 0) throw usage(`unexpected argument '${positionals[0] ?? ''}'`);
  const validation = values.validation ?? 'typecheck';
  if (validation !== 'parse' && validation !== 'typecheck') throw usage(`--validation is 'parse' or 'typecheck', not '${validation}'`);
  const port = parseCount('node', 'port', values.port);
  if (port !== undefined && port > 65535) throw usage(`--port ${port} is not a port`);
  const listen = listenOption(values.listen);
  if (listen !== undefined && port !== undefined) throw usage('give --listen <host>:<port> or --port <p>, not both');
  const operatorTls = operatorTlsOption(values['tls-cert'], values['tls-key'], values['tls-ca']);
  const tickMs = parseCount('node', 'tick-ms', values['tick-ms']) ?? 100;
  if (tickMs < 5 || tickMs > 10_000) throw usage('--tick-ms is between 5 and 10000');
  const batchMs = parseCount('node', 'batch-ms', values['batch-ms']) ?? 0;
  if (batchMs > 60_000) throw usage('--batch-ms is at most 60000');
  const decisionsKept = parseCount('node', 'decisions-kept', values['decisions-kept']);
  if (decisionsKept !== undefined && (decisionsKept < 4 || decisionsKept > 1_000_000)) throw usage('--decisions-kept is between 4 and 1000000');
  const batchAcusMax = parseCount('node', 'batch-acus-max', values['batch-acus-max']);
  if (batchAcusMax !== undefined && (batchAcusMax < 1 || batchAcusMax > 64)) throw usage('--batch-acus-max is between 1 and 64');
  const ops = opsOptions(values.http, values['log-format'], values['notify-url'] ?? [], values['notify-format']);
  if (ops.logFormat !== 'text' && values.json === true) throw usage('give --json (the raw events) or --log-format, not both');
  return {
    ...ops,
    action: 'start', port, listen, insecure: values.insecure === true, operatorTls, detach: values.detach === true, validation, tickMs, batchMs, decisionsKept, batchAcusMax, genesis: values.genesis,
    fastForward: values['fast-forward'] === true, json: values.json === true, argv: rest.filter((arg) => arg !== '--detach'),
  };
}

/**
 * `--listen host:port`. A malformed address is the same situation as one that cannot be listened
 * on (ERR_CONFIG, exit 128): the operator named an address this node cannot use.
 */
function listenOption(text: string | undefined): ListenAddress | undefined {
  if (text === undefined) return undefined;
  const listen = parseListen(text);
  if (listen === null) {
    throw new AcuError('ERR_CONFIG', `--listen '${text}' is not an address to listen on`, {
      hint: 'write <host>:<port>: 0.0.0.0:7401 (every IPv4 interface), 192.0.2.7:7401, [::]:7401 or [2001:db8::7]:7401 (IPv6 in brackets)',
    });
  }
  return listen;
}

/** `--http`, `--log-format`, `--notify-url` (repeatable) and `--notify-format`. */
function opsOptions(http: string | undefined, logFormat: string | undefined, notifyUrls: readonly string[], notifyFormat: string | undefined): {
  http: ListenAddress | null; logFormat: LogFormat; notifyUrls: readonly string[]; notifyFormat: NotifyFormat;
} {
  const address = http === undefined ? null : parseHttpAddress(http);
  if (http !== undefined && address === null) {
    throw new AcuError('ERR_CONFIG', `--http '${http}' is not an address to listen on`, {
      hint: 'write <port> (loopback: 127.0.0.1:<port>), or <host>:<port>: 0.0.0.0:9464 (every IPv4 interface), [::1]:9464',
    });
  }
  const format = logFormat ?? 'text';
  if (format !== 'text' && format !== 'json') throw usage(`--log-format is 'text' or 'json', not '${format}'`);
  const notify = notifyFormat ?? 'json';
  if (notify !== 'json' && notify !== 'slack') throw usage(`--notify-format is 'json' or 'slack', not '${notify}'`);
  for (const url of notifyUrls) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw usage(`--notify-url '${url}' is not an http:// or https:// URL`);
  }
  if (notifyFormat !== undefined && notifyUrls.length === 0) throw usage('--notify-format goes with --notify-url');
  return { http: address, logFormat: format, notifyUrls, notifyFormat: notify };
}

/** `--tls-cert`, `--tls-key` and `--tls-ca` go together. */
function operatorTlsOption(cert: string | undefined, key: string | undefined, ca: string | undefined): OperatorTlsFiles | undefined {
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined || ca === undefined) throw usage("an operator's PKI needs all three of --tls-cert, --tls-key and --tls-ca");
  return { cert, key, ca };
}

async function startForeground(options: Extract<NodeCommandOptions, { action: 'start' }>, io: Io): Promise<ExitCodeValue> {
  const { SyncNode: nodeClass } = await import('../sync/node.js');
  const { NodeOps: opsClass } = await import('../ops/node-ops.js');
  const ops = await opsClass.open({
    http: options.http, logFormat: options.json ? 'events' : options.logFormat, notifyUrls: options.notifyUrls, notifyFormat: options.notifyFormat,
    print: (line) => io.stdout(line),
  });
  let node: SyncNode;
  let page: StatusPage | null = null;
  try {
    node = await startNode(nodeClass, options, io, ops, (event) => page?.onEvent(event));
  } catch (error) {
    await ops.close();
    throw error;
  }
  let closePage = (): Promise<void> => Promise.resolve();
  if (ops.server !== null) {
    const { serveStatusPage } = await import('../ops/page-source.js');
    const served = await serveStatusPage(node, ops.server, io.cwd);
    page = served.page;
    closePage = () => served.close();
    io.stderr(`serving metrics on ${ops.server.url}/metrics\n`);
    io.stderr(`serving the status page on ${ops.server.url}/ (to vote from it: acu node page)\n`);
  }
  if (node.status().links?.insecure === true) {
    io.stderr('warning: --insecure: peer links are plain ws://, neither encrypted nor bound to a TLS session; anyone on the path can read and alter them\n');
  }
  // The CLI's own SIGINT handler exits at once; a node finishes its durable work first.
  process.removeAllListeners('SIGINT');
  const stop = (): void => void node.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await node.stoppedPromise;
  await closePage();
  await ops.close();
  return ExitCode.ok;
}

/** Start the node with the operator's flags, its events and observation going to `ops`. */
function startNode(
  start: typeof SyncNode, options: Extract<NodeCommandOptions, { action: 'start' }>, io: Io, ops: NodeOps, alsoEvent: (event: NodeEvent) => void,
): Promise<SyncNode> {
  return start.start({
    cwd: io.cwd,
    validation: options.validation,
    tickMs: options.tickMs,
    batchMs: options.batchMs,
    fastForward: options.fastForward,
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.listen === undefined ? {} : { listen: options.listen }),
    ...(options.operatorTls === undefined ? {} : { operatorTls: options.operatorTls }),
    insecure: options.insecure,
    ...(options.genesis === undefined ? {} : { genesis: options.genesis }),
    ...(options.decisionsKept === undefined ? {} : { decisionsKept: options.decisionsKept }),
    ...(options.batchAcusMax === undefined ? {} : { replica: { batchAcusMax: options.batchAcusMax } }),
    onEvent: (event) => {
      ops.onEvent(event);
      alsoEvent(event);
    },
    observer: ops.observer,
  });
}

async function startDetached(options: Extract<NodeCommandOptions, { action: 'start' }>, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  const commonDir = repo.commonDir;
  await repo.close();
  const socket = nodeSocketPath(commonDir);
  if ((await callNode(socket, { type: 'status' }, 2_000)) !== null) {
    throw new AcuError('ERR_NODE', 'a sync node is already running for this repository', { hint: "see it with 'acu status'; stop it with 'acu node stop'" });
  }
  const logPath = join(commonDir, 'acu', 'node.log');
  const log = await open(logPath, 'a');
  const child = spawn(process.execPath, [launcherPath(), 'node', 'start', ...options.argv], { cwd: io.cwd, detached: true, stdio: ['ignore', log.fd, log.fd] });
  child.unref();
  await log.close();
  const deadline = Date.now() + 30_000;
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? 1;
  });
  while (Date.now() < deadline && exited === null) {
    if ((await callNode(socket, { type: 'status' }, 1_000)) !== null) {
      io.stdout(`started the sync node (pid ${child.pid ?? '?'}); its log is ${logPath}\n`);
      return ExitCode.ok;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-8).join('\n');
  throw new AcuError('ERR_NODE', `the sync node did not start${exited === null ? ' in 30 s' : ` (exit ${String(exited)})`}; the end of its log:\n${tail}`, { hint: `read ${logPath}` });
}

async function stop(json: boolean, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  const socket = nodeSocketPath(repo.commonDir);
  await repo.close();
  await askNode(socket, { type: 'stop' });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (await callNode(socket, { type: 'status' }, 500)) !== null) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  io.stdout(json ? `${JSON.stringify({ stopped: true })}\n` : 'stopped the sync node\n');
  return ExitCode.ok;
}

/**
 * `acu node page`: the status page's link for this site's operator, with the token that lets it
 * vote (in the fragment, which the browser never sends in a request).
 */
async function pageLink(json: boolean, io: Io): Promise<ExitCodeValue> {
  const repo = await GitRepo.open(io.cwd);
  const commonDir = repo.commonDir;
  await repo.close();
  const { pageUrlPath } = await import('../ops/page-source.js');
  const { ensurePageToken, pageTokenPath } = await import('../ops/page.js');
  const url = (await readFile(pageUrlPath(commonDir), 'utf8').catch(() => '')).trim();
  if (url === '' || (await callNode(nodeSocketPath(commonDir), { type: 'status' }, 2_000)) === null) {
    throw new AcuError('ERR_NO_NODE', 'no sync node serves a status page for this repository', {
      hint: "start the node with an HTTP listener: 'acu node start --http <port>'",
    });
  }
  const token = await ensurePageToken(pageTokenPath(commonDir));
  const link = `${url}#token=${token}`;
  io.stdout(json ? `${JSON.stringify({ url, link })}\n` : `${link}\n`);
  return ExitCode.ok;
}

/** The `acu node` command. */
export const nodeCommand: Command<NodeCommandOptions> = {
  name: 'node',
  usage: 'node start [--listen <host>:<port> | --port <p>] [--tls-cert <f> --tls-key <f> --tls-ca <f>] [--insecure] [--detach] [--validation parse|typecheck] [--tick-ms <ms>] [--batch-ms <ms>] [--genesis <rev>] [--fast-forward] [--json | --log-format text|json] [--http [<host>:]<port>] [--notify-url <url>]... [--notify-format json|slack] | node stop [--json] | node page [--json]',
  summary: "run this repository's sync node (start [--detach], stop, page)",
  help: `start runs the sync node: it connects to every member of .acu/cluster.json, takes the
commits the post-commit hook queues, agrees with its peers on them, and writes each decision as a
commit on refs/acu/<branch> with its certificate as a git note (refs/notes/acu). It stops cleanly
on SIGTERM or Ctrl-C, and resumes from its write-ahead log (acu/node.wal in the git directory).

  --listen <host>:<port>   listen here: 0.0.0.0:7401, [::]:7401, 192.0.2.7:7401 (default: the host
                           and port of this node's address in the cluster document, which is
                           what peers dial)
  --port <p>               listen on this port of the default host
  --tls-cert <file>        this node's certificate from an operator's PKI (PEM), with
  --tls-key <file>         its key, and
  --tls-ca <file>          the CA that signs every member's certificate: peers are checked by
                           chain and host name instead of the tlsPin pins of the cluster document
  --insecure               allow plain ws:// links on a cluster not all on loopback (unencrypted;
                           'acu status' shows it)
  --detach                 run in the background; the log goes to acu/node.log in the git directory
  --validation <mode>      typecheck (default): compose, type-check and score each batch;
                           parse: compose and parse-check only
  --tick-ms <ms>           consensus tick (default 100; a round times out after 24 ticks at first)
  --batch-ms <ms>          hold new ACUs this long before proposing, so that commits made close
                           together are agreed in one batch (default 0)
  --genesis <rev>          where the agreed chain starts (default: the protected branch's tip)
  --fast-forward           also move the protected branch to each agreed commit when it is not
                           checked out here and the move is a fast-forward
  --json                   print events as JSON lines, as the node emits them (for scripts)
  --log-format <f>         text (default): one line per event for a person; json: one JSON object
                           per line for a log shipper: time, level, event, node, site, message, data
  --http [<host>:]<port>   serve Prometheus metrics at http://<host>:<port>/metrics and the status
                           page at http://<host>:<port>/ (a port alone: 127.0.0.1, this machine
                           only; 0.0.0.0:<port> to be reached from elsewhere). Off unless given.
                           See docs/operations.md
  --notify-url <url>       post a JSON notification here when a conflict opens, a vote waits for
                           this site, a commit is agreed, an ACU is deferred or rejected, a peer
                           goes down or a peer's fault is seen; retried with backoff, never holding
                           the node up (repeat the flag for several receivers)
  --notify-format <f>      json (default), or slack: a Slack-compatible {"text": ...} body

stop asks the running node to stop, and waits until it has (--json: prints {stopped: true}).

page prints the status page's link for this site's operator. It carries the token (kept in
acu/page-token in the git directory, readable by its owner only) that lets the page vote on open
conflicts for this site; anyone else who opens the page reads it without voting.`,
  parse,
  run: async (options, io) => {
    if (options.action === 'stop') return await stop(options.json, io);
    if (options.action === 'page') return await pageLink(options.json, io);
    return options.detach ? await startDetached(options, io) : await startForeground(options, io);
  },
};
