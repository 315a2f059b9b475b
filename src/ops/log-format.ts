/**
 * How `acu node start` prints its timeline (`--log-format`): the human text it always printed, or
 * one JSON object per line for a log shipper (Loki, Elasticsearch, journald's JSON). The event
 * names are the timeline's own (NodeEvent kinds), so a query, an alert and the status page name
 * the same thing.
 */
import { assertNever } from '../core/errors.js';
import type { NodeEvent } from '../sync/node-types.js';

/** `--log-format`. */
export type LogFormat = 'text' | 'json';

/** Severity of a line, as log shippers name it. */
export type LogLevel = 'info' | 'warn' | 'error';

/** One line of `--log-format json`. */
export interface JsonLogLine {
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  readonly level: LogLevel;
  /** The event's name (NodeEvent kind). */
  readonly event: NodeEvent['kind'];
  /** The node's id and its site. */
  readonly node: string;
  readonly site: string;
  readonly message: string;
  /** The event's own fields, when it has any. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/** The level of an event: what an operator is paged for, looks at, or only reads back. */
export function levelOf(kind: NodeEvent['kind']): LogLevel {
  switch (kind) {
    case 'error':
    case 'write-failed':
      return 'error';
    case 'peer-down':
    case 'evidence':
    case 'fault':
    case 'skipped':
    case 'removed':
    case 'concurrent-edit':
      return 'warn';
    case 'started':
    case 'recovered':
    case 'peer-up':
    case 'queued':
    case 'proposed':
    case 'validated':
    case 'conflict':
    case 'voted':
    case 'decided':
    case 'agreed':
    case 'stopping':
    case 'catch-up':
    case 'membership':
      return 'info';
    default:
      return assertNever(kind, 'event kind');
  }
}

/** One event as a JSON line (no newline). */
export function jsonLogLine(event: NodeEvent, site: string): string {
  const line: JsonLogLine = {
    time: new Date(event.atMs).toISOString(), level: levelOf(event.kind), event: event.kind, node: event.node, site, message: event.text,
    ...(event.data === undefined ? {} : { data: event.data }),
  };
  return JSON.stringify(line);
}

/** One event as the human line the timeline always printed (no newline). */
export function textLogLine(event: NodeEvent): string {
  return `${new Date(event.atMs).toISOString().slice(11, 23)} ${event.kind.padEnd(9)} ${event.text}`;
}
