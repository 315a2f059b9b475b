/**
 * What `acu node start` adds around a sync node for its operators: the timeline printed as text or
 * JSON lines, the HTTP listener with `/metrics`, and webhook notifications. The node itself knows
 * none of it: it is handed an observer and an event callback (NodeOptions), and this module fans
 * them out.
 */
import type { ListenAddress } from '../net/link.js';
import type { NodeEvent, NodeObserver, NodeStatus, ObservedNode } from '../sync/node-types.js';
import { OpsServer } from './http.js';
import type { LogFormat } from './log-format.js';
import { jsonLogLine, textLogLine } from './log-format.js';
import { NodeMetrics } from './metrics.js';
import { Notifier } from './notify.js';
import type { NotifyFormat } from './notify.js';

/** The operator's choices (flags of `acu node start`). */
export interface NodeOpsOptions {
  /** `--http`: where to serve `/metrics`; null: no listener. */
  readonly http: ListenAddress | null;
  /** `--log-format`; `events`: the node's events as they are, one JSON object a line (`--json`, for scripts and tests). */
  readonly logFormat: LogFormat | 'events';
  readonly notifyUrls: readonly string[];
  readonly notifyFormat: NotifyFormat;
  /** Where timeline lines go (stdout). */
  readonly print: (line: string) => void;
}

/** The operations side of a running node. */
export class NodeOps {
  private node: ObservedNode | null = null;
  private site = '';
  readonly metrics: NodeMetrics | null;
  private readonly notifier: Notifier | null;

  private constructor(private readonly options: NodeOpsOptions, readonly server: OpsServer | null) {
    this.metrics = server === null ? null : new NodeMetrics();
    this.notifier = options.notifyUrls.length === 0 ? null : new Notifier({
      urls: options.notifyUrls, format: options.notifyFormat, status: () => this.status(),
      ...(this.metrics === null ? {} : { onOutcome: (outcome) => this.metrics?.notification(outcome) }),
    });
    if (server !== null && this.metrics !== null) {
      const metrics = this.metrics;
      server.route('/metrics', async (_request, response) => {
        const text = await metrics.text();
        response.writeHead(200, { 'content-type': metrics.contentType });
        response.end(text);
      });
    }
  }

  /**
   * Open what the options ask for. The listener is bound before the node starts, so a busy or
   * wrong `--http` address fails the start (ERR_CONFIG) before any peer sees this node.
   */
  static async open(options: NodeOpsOptions): Promise<NodeOps> {
    const server = options.http === null ? null : await OpsServer.listen(options.http);
    return new NodeOps(options, server);
  }

  /** The observer to give the node (NodeOptions.observer). */
  get observer(): NodeObserver {
    const metrics = this.metrics;
    return {
      attached: (node) => {
        this.node = node;
        this.site = node.status().site;
        metrics?.attached(node);
      },
      ...(metrics === null ? {} : {
        stepped: (at, nowMs) => metrics.stepped(at, nowMs),
        logSynced: (seconds) => metrics.logSynced(seconds),
        agreedWritten: (seconds) => metrics.agreedWritten(seconds),
      }),
    };
  }

  /** The node's event callback (NodeOptions.onEvent): print, count, notify. */
  onEvent(event: NodeEvent): void {
    // A membership change may move this node to another site name (a rotated member keeps its site).
    if (event.kind === 'membership' && this.node !== null) this.site = this.node.status().site;
    this.options.print(`${lineOf(event, this.site, this.options.logFormat)}\n`);
    this.metrics?.onEvent(event);
    this.notifier?.onEvent(event, this.site);
  }

  private status(): NodeStatus | null {
    return this.node?.status() ?? null;
  }

  /** Close the listener and let notifications on their way finish. */
  async close(): Promise<void> {
    await this.server?.close();
    await this.notifier?.close();
  }
}

function lineOf(event: NodeEvent, site: string, format: LogFormat | 'events'): string {
  switch (format) {
    case 'text':
      return textLogLine(event);
    case 'json':
      return jsonLogLine(event, site);
    case 'events':
      return JSON.stringify(event);
  }
}
