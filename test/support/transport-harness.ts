/**
 * What the transport tests over real sockets share: ports the kernel says are free, members that
 * listen on them, and a wait for a condition that the sockets' events make true.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ClusterMember } from '../../src/store/cluster.js';
import type { NodeIdentity } from '../../src/store/identity.js';

/** A port the kernel says is free on `host`, released again for a transport to listen on. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One member per identity, in their order: `ws://` on a free loopback port, site `s<i>`, priority i. */
export async function loopbackMembers(identities: readonly NodeIdentity[]): Promise<ClusterMember[]> {
  return await Promise.all(identities.map(async (id, i) => ({ id: id.id, publicKey: id.publicKey, address: `ws://127.0.0.1:${await freePort()}`, site: `s${i}`, priority: i })));
}

/** How long a wait may last before the test fails, and how often it looks. */
export interface WaitBounds {
  readonly timeoutMs: number;
  readonly everyMs: number;
}

/** Wait until `condition` holds; `what` names it in the failure. */
export type Until = (condition: () => boolean, what: string) => Promise<void>;

/** A wait that polls its condition every `everyMs` and fails after `timeoutMs`. */
export function untilWithin(bounds: WaitBounds): Until {
  // Polls an event-driven condition; the bound is a safety net for a hung test, not a timing assertion.
  return (condition, what) =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = (): void => {
        if (condition()) resolve();
        else if (Date.now() - started > bounds.timeoutMs) reject(new Error(`timed out waiting for ${what}`));
        else setTimeout(poll, bounds.everyMs);
      };
      poll();
    });
}
