/**
 * The node's operations listener (`acu node start --http`): plain HTTP for scrapers and browsers on
 * the operator's side, separate from the peer port. It serves routes by exact path: `/metrics`
 * today (metrics.ts); a status page, its JSON and an event stream are added as more routes. A
 * handler owns its response, so a long-lived one (server-sent events) is as easy as a short one;
 * {@link OpsServer.close} ends every connection still open.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AcuError, assert } from '../core/errors.js';
import { formatListen, parseListen } from '../net/link.js';
import type { ListenAddress } from '../net/link.js';

/** The host `--http <port>` listens on: loopback, so metrics and the page are not exposed unasked. */
export const httpHostDefault = '127.0.0.1';
/** Connections the listener holds at once (scrapers, browsers, event streams). */
export const httpConnectionsMax = 64;
/** How long a request's headers may take to arrive. */
const headersTimeoutMs = 10_000;
/** How long a whole request may take (not the response: an event stream stays open). */
const requestTimeoutMs = 30_000;

/** Answers one request on its path; it must end the response, now or later. */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** A route: its handler, and the methods it answers (default GET and HEAD). */
export interface Route {
  readonly methods?: readonly string[];
  readonly handler: RouteHandler;
}

/**
 * `--http` as given: `<port>` or `:<port>` (loopback), `<host>:<port>`, `[<ipv6>]:<port>`. Null:
 * not an address.
 */
export function parseHttpAddress(text: string): ListenAddress | null {
  if (/^:?\d{1,5}$/.test(text)) return parseListen(`${httpHostDefault}:${text.replace(/^:/, '')}`);
  return parseListen(text);
}

/** The operations listener, with its routes. */
export class OpsServer {
  private readonly routes = new Map<string, Route>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly address: ListenAddress) {}

  /**
   * Listen on `at` (port 0: a free one). An address that cannot be listened on is the operator's
   * to fix: ERR_CONFIG (exit 128), saying why, as for `--listen`.
   */
  static async listen(at: ListenAddress): Promise<OpsServer> {
    const server = createServer();
    server.headersTimeout = headersTimeoutMs;
    server.requestTimeout = requestTimeoutMs;
    server.maxConnections = httpConnectionsMax;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      throw listenError(at, error as NodeJS.ErrnoException);
    });
    const bound = server.address() as AddressInfo;
    const ops = new OpsServer(server, { host: at.host, port: bound.port });
    server.on('connection', (socket) => {
      ops.sockets.add(socket);
      socket.once('close', () => ops.sockets.delete(socket));
    });
    server.on('request', (request, response) => ops.serve(request, response));
    return ops;
  }

  /** Serve `path` (exact, without the query) with `route`; one route per path. */
  route(path: string, route: Route | RouteHandler): void {
    assert(path.startsWith('/'), 'OpsServer.route: a path starts with /');
    assert(!this.routes.has(path), `OpsServer.route: one route for ${path}`);
    this.routes.set(path, typeof route === 'function' ? { handler: route } : route);
  }

  /** `http://host:port`, for messages and the timeline. */
  get url(): string {
    return `http://${formatListen(this.address)}`;
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const route = this.routes.get(path);
    if (route === undefined) {
      answer(response, 404, `not found: ${path}\nroutes: ${[...this.routes.keys()].sort().join(' ')}\n`);
      return;
    }
    const methods = route.methods ?? ['GET', 'HEAD'];
    if (!methods.includes(request.method ?? '')) {
      response.setHeader('allow', methods.join(', '));
      answer(response, 405, `${path} answers ${methods.join(', ')}\n`);
      return;
    }
    // A handler's failure is a 500 for that request, never the node's end: the listener only
    // reads the node.
    Promise.resolve()
      .then(() => route.handler(request, response))
      .catch((error: unknown) => {
        if (!response.headersSent) answer(response, 500, `${error instanceof Error ? error.message : String(error)}\n`);
        else response.destroy();
      });
  }

  /** Stop listening and end every open connection (event streams included). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

function answer(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(text);
}

function listenError(at: ListenAddress, error: NodeJS.ErrnoException): AcuError {
  const where = `--http ${formatListen(at)}`;
  const hint = 'pass --http <host>:<port> with a free port of an address of this machine (--http <port> listens on loopback)';
  switch (error.code ?? '') {
    case 'EADDRINUSE':
      return new AcuError('ERR_CONFIG', `cannot serve ${where}: the port is in use`, { hint: `stop what listens there (another sync node?), or ${hint}`, cause: error });
    case 'EADDRNOTAVAIL':
      return new AcuError('ERR_CONFIG', `cannot serve ${where}: no interface of this machine has that address`, { hint, cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new AcuError('ERR_CONFIG', `cannot serve ${where}: the host name does not resolve`, { hint, cause: error });
    case 'EACCES':
      return new AcuError('ERR_CONFIG', `cannot serve ${where}: not allowed (ports below 1024 need privileges)`, { hint, cause: error });
    default:
      return new AcuError('ERR_CONFIG', `cannot serve ${where}: ${error.message}`, { hint, cause: error });
  }
}
