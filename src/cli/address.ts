/**
 * Endpoint strings of the command line: `HOST:PORT`, `[V6]:PORT`,
 * `tcp:HOST:PORT`, `tls:HOST:PORT` and `unix:/path`. A parsed endpoint
 * formats back to the same text, so what `dmsg relay` prints as its bound
 * address can be passed to `--connect` or to the client commands as is.
 */
import net from 'node:net';
import { UsageError } from './command.ts';

export type Endpoint =
  | { readonly kind: 'tcp' | 'tls'; readonly host: string; readonly port: number; readonly explicit: boolean }
  | { readonly kind: 'unix'; readonly path: string };

/**
 * Parse an endpoint. `role` 'listen' allows port 0 (pick a free one);
 * 'connect' needs a real port. Throws UsageError naming `what` (e.g. `--listen`).
 */
export function parseEndpoint(text: string, role: 'listen' | 'connect', what: string, command?: string): Endpoint {
  const bad = (why: string): never => {
    throw new UsageError(`${what} ${JSON.stringify(text)}: ${why}; expected HOST:PORT, [IPV6]:PORT, tls:HOST:PORT or unix:/PATH`, command);
  };
  if (typeof text !== 'string' || text.trim() === '') return bad('empty address');
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (path === '') return bad('empty socket path');
    return { kind: 'unix', path };
  }
  let kind: 'tcp' | 'tls' = 'tcp';
  let rest = text;
  let explicit = false;
  const scheme = /^(tcp|tls):(?!\d+$)/.exec(text);
  if (scheme) {
    kind = scheme[1] as 'tcp' | 'tls';
    rest = text.slice(scheme[0].length);
    explicit = true;
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
    if (!net.isIPv6(host)) return bad(`'${host}' is not an IPv6 address`);
  } else {
    const i = rest.lastIndexOf(':');
    if (i < 0) return bad('missing port');
    host = rest.slice(0, i);
    portText = rest.slice(i + 1);
    if (host.includes(':')) return bad('put an IPv6 address in brackets');
  }
  if (host === '') return bad('missing host');
  if (!/^\d{1,5}$/.test(portText)) return bad(`port '${portText}' is not a number`);
  const port = Number(portText);
  const min = role === 'listen' ? 0 : 1;
  if (port < min || port > 65535) return bad(`port must be in [${min}, 65535]`);
  return { kind, host, port, explicit };
}

/** The endpoint as text (the form `parseEndpoint` reads back). */
export function formatEndpoint(e: Endpoint): string {
  if (e.kind === 'unix') return `unix:${e.path}`;
  const hp = net.isIPv6(e.host) ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
  return e.kind === 'tls' ? `tls:${hp}` : hp;
}
