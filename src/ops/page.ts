/**
 * The node's status page (docs/operations.md, "The status page"), served on the node's HTTP
 * listener beside `/metrics`: members and their health, height, round, phase and leader, the latest
 * agreed commits with their ACUs and signers, open conflicts with both sides' text and the votes so
 * far, and the node's timeline. The page updates itself from a server-sent event stream; the site's
 * operator votes from it with a token only this site's file system holds (`acu node page` prints a
 * link that carries it). Reading needs no token: the listener is on loopback unless the operator
 * chose otherwise, and nothing on the page is secret from the team.
 *
 * Everything here reads the node through {@link PageSource}, so the page never reaches into the
 * replica or the repository on its own.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { AcuError } from '../core/errors.js';
import type { LogEntry } from '../cli/log.js';
import type { NodeEvent, NodeStatus } from '../sync/node-types.js';
import { pageHtml } from './page-html.js';

/** One side of an open conflict, as the page shows it. */
export interface ConflictSideText {
  /** `file#symbol`, or the file for a file-level change. */
  readonly where: string;
  readonly site: string;
  /** The declaration's text before the change (null: it was added). */
  readonly before: string | null;
  /** Its text after the change (null: removed). For a file-level change, a summary of the change. */
  readonly after: string | null;
}

/** What the page reads from and asks of a running node. */
export interface PageSource {
  status(): NodeStatus;
  /** Both sides of open conflict `id` (`<height>.<index>`), or null when the node does not hold them. */
  conflictSides(id: string): { readonly a: ConflictSideText; readonly b: ConflictSideText } | null;
  /** The conflict votes the node has seen in its current round, by member site. */
  roundVotes(): readonly { readonly site: string; readonly choices: readonly string[] }[];
  /** The newest agreed commits, newest first. */
  agreed(limit: number): Promise<readonly LogEntry[]>;
  /** A person's vote, exactly as `acu vote` casts it. */
  vote(conflict: string, choice: string): Promise<unknown>;
}

/** The page's view of the node, as `/api/state` answers and the event stream pushes. */
export interface PageState {
  readonly status: NodeStatus;
  readonly conflicts: readonly (NodeStatus['conflicts'][number] & {
    readonly sides: { readonly a: ConflictSideText; readonly b: ConflictSideText } | null;
    readonly votes: readonly { readonly site: string; readonly choice: string }[];
  })[];
  readonly recent: readonly LogEntry[];
  readonly events: readonly NodeEvent[];
}

/** Agreed commits the page lists. */
const recentAgreedMax = 10;
/** Timeline events the page keeps. */
const eventsKeptMax = 50;
/** Updates pushed to one stream per second, at most: a burst of events becomes one update. */
const streamUpdatesPerSecondMax = 4;
/** A comment line on an idle stream this often, so proxies and the browser keep it open. */
const streamKeepAliveMs = 15_000;
/** Open event streams, at most; more are refused (503). */
const streamsMax = 64;
/** A vote request's body, at most. */
const voteBodyBytesMax = 4096;

/** Where the operator's page token lives: beside the node's log, readable by its owner only. */
export function pageTokenPath(gitCommonDir: string): string {
  return `${gitCommonDir}/acu/page-token`;
}

/** The operator's page token: read, or made (256 random bits, mode 0600) on first use. */
export async function ensurePageToken(path: string): Promise<string> {
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (token.length >= 32) return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('base64url');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return token;
}

/** The status page's routes. `handle` answers the requests it knows and returns false for the rest. */
export class StatusPage {
  private readonly events: NodeEvent[] = [];
  private readonly streams = new Set<ServerResponse>();
  private pushTimer: NodeJS.Timeout | null = null;
  private lastPushMs = 0;
  private readonly keepAlive: NodeJS.Timeout;
  /** Votes refused for a missing or wrong token. */
  votesRefused = 0;

  constructor(private readonly source: PageSource, private readonly token: string) {
    this.keepAlive = setInterval(() => {
      for (const stream of this.streams) stream.write(': keep-alive\n\n');
    }, streamKeepAliveMs);
    this.keepAlive.unref();
  }

  /** A node event: kept for the timeline, and an update is pushed to every open stream. */
  onEvent(event: NodeEvent): void {
    this.events.push(event);
    if (this.events.length > eventsKeptMax) this.events.shift();
    this.schedulePush();
  }

  /** Answer `request` if it is the page's; false: not a page route. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const path = new URL(request.url ?? '/', 'http://page').pathname;
    if (path === '/' && request.method === 'GET') {
      send(response, 200, 'text/html; charset=utf-8', pageHtml);
      return true;
    }
    if (path === '/api/state' && request.method === 'GET') {
      send(response, 200, 'application/json', JSON.stringify(await this.state()));
      return true;
    }
    if (path === '/api/events' && request.method === 'GET') {
      await this.openStream(response);
      return true;
    }
    if (path === '/api/vote') {
      if (request.method !== 'POST') {
        send(response, 405, 'application/json', JSON.stringify({ error: 'POST a vote' }));
        return true;
      }
      await this.onVote(request, response);
      return true;
    }
    return false;
  }

  /** Close every stream (the node is stopping). */
  close(): void {
    clearInterval(this.keepAlive);
    if (this.pushTimer !== null) clearTimeout(this.pushTimer);
    for (const stream of this.streams) stream.end();
    this.streams.clear();
  }

  /** What the page shows now. */
  async state(): Promise<PageState> {
    const status = this.source.status();
    const votes = this.source.roundVotes();
    const conflicts = status.conflicts.map((conflict) => {
      const index = Number(conflict.id.split('.')[1]);
      return {
        ...conflict,
        sides: this.source.conflictSides(conflict.id),
        votes: votes.flatMap((v) => (v.choices[index] === undefined ? [] : [{ site: v.site, choice: v.choices[index] }])),
      };
    });
    const recent = await this.source.agreed(recentAgreedMax).catch(() => []);
    return { status, conflicts, recent, events: [...this.events] };
  }

  private async openStream(response: ServerResponse): Promise<void> {
    if (this.streams.size >= streamsMax) {
      send(response, 503, 'application/json', JSON.stringify({ error: 'too many open event streams' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    this.streams.add(response);
    response.on('close', () => this.streams.delete(response));
    response.write(`event: state\ndata: ${JSON.stringify(await this.state())}\n\n`);
  }

  private schedulePush(): void {
    if (this.pushTimer !== null || this.streams.size === 0) return;
    const gapMs = 1000 / streamUpdatesPerSecondMax;
    const waitMs = Math.max(0, this.lastPushMs + gapMs - Date.now());
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      this.lastPushMs = Date.now();
      void this.state().then((state) => {
        const frame = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
        for (const stream of this.streams) stream.write(frame);
      }, () => undefined);
    }, waitMs);
    this.pushTimer.unref();
  }

  private async onVote(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!this.authorized(request.headers.authorization)) {
      this.votesRefused += 1;
      send(response, 403, 'application/json', JSON.stringify({ error: 'voting needs this site\'s page token', hint: "open the link 'acu node page' prints on this site" }));
      return;
    }
    let body: { conflict?: unknown; choice?: unknown };
    try {
      body = JSON.parse(await readBody(request, voteBodyBytesMax)) as typeof body;
    } catch {
      send(response, 400, 'application/json', JSON.stringify({ error: 'the vote is not a JSON object of at most 4096 bytes' }));
      return;
    }
    if (typeof body !== 'object' || body === null || typeof body.conflict !== 'string' || typeof body.choice !== 'string') {
      send(response, 400, 'application/json', JSON.stringify({ error: 'a vote names a conflict and a choice' }));
      return;
    }
    try {
      const answer = await this.source.vote(body.conflict, body.choice);
      send(response, 200, 'application/json', JSON.stringify(answer));
      this.schedulePush();
    } catch (error) {
      const known = error instanceof AcuError;
      send(response, known ? 400 : 500, 'application/json', JSON.stringify({ error: error instanceof Error ? error.message : String(error), hint: known ? error.hint ?? null : null }));
    }
  }

  private authorized(header: string | undefined): boolean {
    const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    if (given === undefined) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

function send(response: ServerResponse, code: number, type: string, body: string): void {
  response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  response.end(body);
}

function readBody(request: IncomingMessage, bytesMax: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bytesMax) {
        reject(new Error('body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
