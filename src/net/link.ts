/**
 * How a node's peer links are secured and where it listens, decided once at start from the
 * cluster document and the operator's flags:
 *
 * - `wss://` addresses (the default): TLS 1.3 only, both sides present certificates. By default
 *   each side accepts the other's certificate by its pin in the cluster document (SHA-256 of its
 *   SubjectPublicKeyInfo), with no certificate authority; `--tls-cert/--tls-key/--tls-ca` use an
 *   operator's PKI instead (chain verification against the CA, and the certificate must name the
 *   member's host).
 * - `ws://` addresses: plain WebSocket, allowed only when every member's host is loopback, or
 *   with an explicit `--insecure` (shown in `acu status`, and warned about at start).
 *
 * The address in the cluster document is what peers dial; the node listens on its host and port
 * unless `--listen` says otherwise (`0.0.0.0:7401`, `[::]:7401` behind a NAT or a load balancer).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { AcuError, assert } from '../core/errors.js';
import type { ClusterDoc, ClusterMember } from '../store/cluster.js';
import { loadTlsIdentity } from '../store/identity.js';

/**
 * TLS material of a transport (PEM): this node's key and certificate, and the operator's CA. With
 * `ca` null, peers' certificates are accepted by their pins in the cluster document.
 */
export interface TransportTls {
  readonly key: string;
  readonly cert: string;
  readonly ca: string | null;
}

/** Where a node listens. `host` is bare (IPv6 without brackets). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** How the links of a node are secured, as `acu status` shows it. */
export interface LinkSecurity {
  /** The scheme peers dial. */
  readonly scheme: 'wss' | 'ws';
  /** How a peer's certificate is checked: by its pin, by the operator's CA, or not at all (plain). */
  readonly verify: 'pinned' | 'ca' | 'none';
  /** Plain links on a cluster that is not all loopback, allowed by `--insecure`. */
  readonly insecure: boolean;
  /** Where this node listens: `host:port` (IPv6 in brackets). */
  readonly listen: string;
}

/** Operator PKI files (PEM): this node's certificate and key, and the CA that signs every member's. */
export interface OperatorTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** What decides a node's links, from its options. */
export interface LinkOptions {
  readonly gitCommonDir: string;
  readonly cluster: ClusterDoc;
  readonly self: ClusterMember;
  /** `--listen`; default: the host and port of `self.address`. */
  readonly listen?: ListenAddress;
  /** `--port`: the default host with another port (not with `listen`). */
  readonly port?: number;
  readonly insecure?: boolean;
  readonly operatorTls?: OperatorTlsFiles;
}

/** A node's links: where to listen, the TLS material for the transport (null: plain), and the summary. */
export interface LinkSetup {
  readonly listen: ListenAddress;
  readonly tls: TransportTls | null;
  readonly security: LinkSecurity;
}

/** Largest port number. */
const portMax = 65_535;

/**
 * Parse `host:port`, `[v6]:port` or `0.0.0.0:port`. Null when it is not of that form (no port, a
 * port out of range, an unbracketed IPv6 address).
 */
export function parseListen(text: string): ListenAddress | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^[\]:\s/]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > portMax) return null;
  if (match[1] !== undefined && isIP(host) !== 6) return null;
  return { host, port };
}

/** `host:port` with IPv6 hosts in brackets. */
export function formatListen(listen: ListenAddress): string {
  return isIP(listen.host) === 6 ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
}

/** The host and port a member's address names (the scheme's port when it names none). */
export function listenOfAddress(address: string): ListenAddress {
  const url = new URL(address);
  assert(url.protocol === 'ws:' || url.protocol === 'wss:', 'listenOfAddress: a ws:// or wss:// address');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'wss:' ? 443 : 80) : Number(url.port);
  return { host, port };
}

/** Whether a host is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1. No DNS is asked. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(bare);
  return false;
}

/** Decide a node's links; a cluster or flags that do not fit together is ERR_CONFIG with a hint. */
export async function setUpLinks(options: LinkOptions): Promise<LinkSetup> {
  const { cluster, self } = options;
  const own = listenOfAddress(self.address);
  const listen = options.listen ?? { host: own.host, port: options.port ?? own.port };
  const scheme = self.address.startsWith('wss:') ? 'wss' : 'ws';
  assert(cluster.members.every((m) => m.address.startsWith(`${scheme}:`)), 'setUpLinks: one scheme per cluster document');
  const at = formatListen(listen);
  if (scheme === 'ws') {
    if (options.operatorTls !== undefined) {
      throw new AcuError('ERR_CONFIG', "--tls-cert, --tls-key and --tls-ca need the cluster's addresses to be wss://", { hint: 'change the addresses in .acu/cluster.json to wss://host:port' });
    }
    const loopback = cluster.members.every((m) => isLoopbackHost(listenOfAddress(m.address).host));
    if (!loopback && options.insecure !== true) {
      throw new AcuError('ERR_CONFIG', "the cluster's addresses are plain ws:// and not all on loopback: links would cross the network in clear text", {
        hint: "use wss:// addresses with each member's tlsPin (acu init prints it), or pass --insecure to run unencrypted anyway",
      });
    }
    return { listen, tls: null, security: { scheme, verify: 'none', insecure: options.insecure === true, listen: at } };
  }
  if (options.insecure === true) {
    throw new AcuError('ERR_CONFIG', "--insecure: the cluster's addresses are wss://, so links use TLS", { hint: 'drop --insecure, or give every member a ws:// address' });
  }
  if (options.operatorTls !== undefined) {
    const tls = await readOperatorTls(options.operatorTls);
    return { listen, tls, security: { scheme, verify: 'ca', insecure: false, listen: at } };
  }
  const unpinned = cluster.members.filter((m) => m.tlsPin === undefined);
  if (unpinned.length > 0) {
    throw new AcuError('ERR_CONFIG', `members without a tlsPin in the cluster document: ${unpinned.map((m) => `${m.id} (${m.site})`).join(', ')}`, {
      hint: "add each member's pin (acu init prints it) with 'acu cluster add ... --tls-pin <pin>', or use an operator's PKI with --tls-cert, --tls-key and --tls-ca",
    });
  }
  const mine = await loadTlsIdentity(options.gitCommonDir);
  if (mine.pin !== self.tlsPin) {
    throw new AcuError('ERR_CONFIG', `this node's TLS certificate (pin ${mine.pin}) is not the one the cluster document pins for it (${self.tlsPin ?? ''})`, {
      hint: 'put this pin in .acu/cluster.json (and commit it), or restore the acu/tls.key and acu/tls.crt the document pins',
    });
  }
  return { listen, tls: { key: mine.key, cert: mine.cert, ca: null }, security: { scheme, verify: 'pinned', insecure: false, listen: at } };
}

async function readOperatorTls(files: OperatorTlsFiles): Promise<TransportTls> {
  const read = async (flag: string, path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (cause) {
      throw new AcuError('ERR_CONFIG', `${flag}: cannot read ${path}`, { hint: 'give the path of a PEM file this user can read', cause });
    }
  };
  return { cert: await read('--tls-cert', files.cert), key: await read('--tls-key', files.key), ca: await read('--tls-ca', files.ca) };
}
