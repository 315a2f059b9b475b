/**
 * Webhook notifications (`acu node start --notify-url <url>`): what a person should hear about —
 * a conflict opened, a vote waiting for this site, an agreed commit, an ACU deferred or rejected
 * (with its author), a peer down, a peer's fault — posted as JSON, or as a Slack-compatible
 * `{"text": ...}` body (`--notify-format slack`).
 *
 * Never in consensus's way: {@link Notifier.onEvent} only turns an event into bodies and queues
 * them; delivery runs off the event path, a few at a time, each retried with exponential backoff
 * up to {@link notifyLimits}' attempts. The queue is bounded: when it is full the oldest waiting
 * notification is dropped. Every fate is counted (`acu_notifications_total{outcome}`).
 */
import { assert } from '../core/errors.js';
import type { NodeEvent, NodeStatus, OpenConflict } from '../sync/node-types.js';
import type { NotificationOutcome } from './metrics.js';

/** `--notify-format`. */
export type NotifyFormat = 'json' | 'slack';

/** What a notification is about. */
export type NotificationKind = 'conflict' | 'vote-waiting' | 'agreed' | 'deferred' | 'rejected' | 'peer-down' | 'fault' | 'concurrent-edit';

/** The JSON body of a notification (`--notify-format json`). */
export interface NotificationBody {
  readonly kind: NotificationKind;
  /** The timeline event it came from. */
  readonly event: NodeEvent['kind'];
  /** ISO 8601, UTC. */
  readonly time: string;
  readonly node: string;
  readonly site: string;
  /** One line for a person. */
  readonly text: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Bounds of delivery, with units in their names. */
export interface NotifyLimits {
  /** Deliveries waiting (first attempts and retries) before the oldest is dropped. */
  readonly queueMax: number;
  /** Attempts per delivery, the first included. */
  readonly attemptsMax: number;
  /** Delay before the first retry; it doubles each attempt, up to `retryDelayMsMax`. */
  readonly retryDelayMsMin: number;
  readonly retryDelayMsMax: number;
  /** Deliveries on their way at once. */
  readonly inFlightMax: number;
  /** How long one request may take. */
  readonly requestTimeoutMs: number;
}

/** Defaults: a receiver down for about a minute loses nothing. */
export const notifyLimits: NotifyLimits = {
  queueMax: 256, attemptsMax: 6, retryDelayMsMin: 500, retryDelayMsMax: 30_000, inFlightMax: 4, requestTimeoutMs: 10_000,
};

/** What a notifier is built with. */
export interface NotifierOptions {
  readonly urls: readonly string[];
  readonly format: NotifyFormat;
  /** This node's status (null before it is known): the sides of a conflict, whether its vote waits. */
  readonly status: () => NodeStatus | null;
  /** Counts each delivery's fate (metrics). */
  readonly onOutcome?: (outcome: NotificationOutcome) => void;
  readonly limits?: Partial<NotifyLimits>;
}

interface Delivery {
  readonly url: string;
  readonly body: string;
  attempts: number;
}

/** Sends the node's notifications to every configured URL. */
export class Notifier {
  private readonly limits: NotifyLimits;
  private readonly waiting: Delivery[] = [];
  private readonly retries = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private closed = false;

  constructor(private readonly options: NotifierOptions) {
    this.limits = { ...notifyLimits, ...options.limits };
    assert(options.urls.length > 0, 'Notifier: at least one URL');
    assert(this.limits.queueMax > 0 && this.limits.attemptsMax > 0 && this.limits.inFlightMax > 0, 'Notifier: positive limits');
  }

  /** Turn a timeline event into notifications, if it is one a person should hear about. Returns at once. */
  onEvent(event: NodeEvent, site: string): void {
    if (this.closed) return;
    if (event.kind === 'conflict') {
      // The conflict's sides and whether this site's policy voted are in the status once the
      // votes job has asked the policy, which it does right after announcing the conflicts.
      queueMicrotask(() => this.onConflict(event, site));
      return;
    }
    for (const [kind, text, data] of notificationsOf(event)) this.post(kind, event, site, text, data);
  }

  private onConflict(event: NodeEvent, site: string): void {
    const id = typeof event.data?.conflict === 'string' ? event.data.conflict : '';
    const conflict = this.options.status()?.conflicts.find((c) => c.id === id);
    const data = conflict === undefined ? { conflict: id } : conflictData(conflict);
    this.post('conflict', event, site, event.text, data);
    if (conflict?.vote === null) {
      this.post('vote-waiting', event, site, `conflict ${id} waits for a vote of ${site}: acu vote ${id} keep-a|keep-b|keep-both|defer (${conflict.a} of ${conflict.aSite} vs ${conflict.b} of ${conflict.bSite})`, data);
    }
  }

  private post(kind: NotificationKind, event: NodeEvent, site: string, text: string, data: Readonly<Record<string, unknown>>): void {
    const body: NotificationBody = { kind, event: event.kind, time: new Date(event.atMs).toISOString(), node: event.node, site, text, data };
    const encoded = JSON.stringify(this.options.format === 'slack' ? { text: slackText(body) } : body);
    for (const url of this.options.urls) this.enqueue({ url, body: encoded, attempts: 0 });
  }

  private enqueue(delivery: Delivery): void {
    if (this.waiting.length >= this.limits.queueMax) {
      this.waiting.shift();
      this.options.onOutcome?.('dropped');
    }
    this.waiting.push(delivery);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.limits.inFlightMax && this.waiting.length > 0) {
      const delivery = this.waiting.shift()!;
      this.inFlight += 1;
      void this.attempt(delivery).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async attempt(delivery: Delivery): Promise<void> {
    delivery.attempts += 1;
    const verdict = await send(delivery, this.limits.requestTimeoutMs);
    if (verdict === 'sent') {
      this.options.onOutcome?.('sent');
      return;
    }
    if (verdict === 'final' || delivery.attempts >= this.limits.attemptsMax || this.closed) {
      this.options.onOutcome?.('failed');
      return;
    }
    this.options.onOutcome?.('retried');
    const delayMs = Math.min(this.limits.retryDelayMsMax, this.limits.retryDelayMsMin * 2 ** (delivery.attempts - 1));
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      this.enqueue(delivery);
    }, delayMs);
    // A retry waiting does not keep a stopping node's process alive.
    timer.unref();
    this.retries.add(timer);
  }

  /** Stop: no new notifications or retries; what is on its way finishes (each within its timeout). */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    this.waiting.length = 0;
    const deadline = Date.now() + this.limits.requestTimeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Post one body. 2xx: sent. 408, 429 and 5xx, or no answer: worth another try. Any other answer
 * (a wrong URL, a refused token) will not change by retrying: final.
 */
async function send(delivery: Delivery, timeoutMs: number): Promise<'sent' | 'retry' | 'final'> {
  try {
    const response = await fetch(delivery.url, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: delivery.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error',
    });
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return 'sent';
    return response.status === 408 || response.status === 429 || response.status >= 500 ? 'retry' : 'final';
  } catch {
    return 'retry';
  }
}

/** The notifications an event makes, other than a conflict's (kind, text, data). */
function notificationsOf(event: NodeEvent): [NotificationKind, string, Readonly<Record<string, unknown>>][] {
  const data = event.data ?? {};
  if (event.kind === 'peer-down') return [['peer-down', event.text, data]];
  if (event.kind === 'fault' || event.kind === 'evidence') return [['fault', event.text, data]];
  if (event.kind === 'concurrent-edit') return [['concurrent-edit', event.text, data]];
  if (event.kind !== 'agreed') return [];
  const notApplied = Array.isArray(data.notApplied) ? (data.notApplied as Record<string, unknown>[]) : [];
  const { notApplied: _listed, ...agreed } = data;
  return [
    ['agreed', event.text, agreed],
    ...notApplied.map((acu): [NotificationKind, string, Record<string, unknown>] => {
      const outcome = acu.outcome === 'rejected' ? 'rejected' : 'deferred';
      const where = typeof acu.symbol === 'string' && acu.symbol !== '' ? `${String(acu.file)}#${acu.symbol}` : String(acu.file);
      return [outcome, `${outcome} at height ${String(data.height)}: ${where} by ${String(acu.author)} (${String(acu.site)}): ${String(acu.reason)}`, { height: data.height, ...acu }];
    }),
  ];
}

function conflictData(c: OpenConflict): Record<string, unknown> {
  return { conflict: c.id, a: c.a, b: c.b, aSite: c.aSite, bSite: c.bSite, file: c.file, message: c.message, vote: c.vote };
}

/** Slack's mrkdwn line: the site in bold, then what happened. */
function slackText(body: NotificationBody): string {
  const escaped = body.text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `*acu ${body.site}* ${body.kind}: ${escaped}`;
}
