/** TCP listen/connect (IPv4 and IPv6) with TCP_NODELAY on by default. */
import net from 'node:net';
import { invalidArgument } from './errors.ts';
import {
  checkPort,
  checkSignal,
  checkString,
  resolveBacklog,
  resolveConnectTimeout,
  resolveMaxConnections,
  resolveSocketOptions,
} from './options.ts';
import type { ConnectCommonOptions, ListenCommonOptions } from './options.ts';
import { dial } from './socket-connect.ts';
import { serve } from './socket-server.ts';
import type { TransportServer } from './socket-server.ts';

export interface TcpAddress {
  readonly transport: 'tcp' | 'tls';
  readonly host: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

export interface TcpListenOptions extends ListenCommonOptions {
  /**
   * Address to bind. Loopback by default so nothing is exposed by accident;
   * pass '0.0.0.0' or '::' to listen on every interface.
   * @default '127.0.0.1'
   */
  host?: string;
  /** Port to bind; 0 picks a free one (read it back with `address()`). @default 0 */
  port?: number;
  /** Only IPv6 when `host` is '::'. @default false */
  ipv6Only?: boolean;
  /** Errors that do not belong to one connection (accept failures, TLS handshakes). */
  onError?: (err: Error) => void;
}

export interface TcpConnectOptions extends ConnectCommonOptions {
  /** Host name or address ('127.0.0.1', '::1', 'example.org'). */
  host: string;
  port: number;
}

export type TcpServer = TransportServer<TcpAddress>;

/** @internal shared with tls.ts */
export function tcpAddressOf(server: net.Server, transport: 'tcp' | 'tls'): TcpAddress {
  const a = server.address();
  if (a === null || typeof a === 'string') throw invalidArgument('server is not listening on TCP');
  const family = String(a.family) === '6' || a.family === 'IPv6' ? 'IPv6' : 'IPv4';
  return Object.freeze({ transport, host: a.address, port: a.port, family });
}

/** @internal shared with tls.ts */
export function resolveTcpListen(options: TcpListenOptions): net.ListenOptions {
  const host = checkString('host', options.host ?? '127.0.0.1');
  const port = checkPort('port', options.port ?? 0);
  return { host, port, backlog: resolveBacklog(options.backlog), ipv6Only: options.ipv6Only ?? false };
}

/** @internal shared with tls.ts */
export function resolveTcpTarget(options: TcpConnectOptions): { host: string; port: number; what: string } {
  const host = checkString('host', options.host);
  const port = checkInt1(options.port);
  return { host, port, what: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}` };
}

function checkInt1(port: unknown): number {
  const p = checkPort('port', port);
  if (p === 0) throw invalidArgument('port must be an integer in [1, 65535], got 0');
  return p;
}

/**
 * Listen for TCP connections; `onConnection` receives each accepted socket
 * (already tuned: TCP_NODELAY, keepalive). Rejects with
 * `TransportError('LISTEN_FAILED' | 'ABORTED' | 'INVALID_ARGUMENT')`.
 */
export async function listenTcp(
  options: TcpListenOptions,
  onConnection: (socket: net.Socket) => void,
): Promise<TcpServer> {
  const listen = resolveTcpListen(options);
  const socket = resolveSocketOptions(options);
  const signal = checkSignal('signal', options.signal);
  const server = net.createServer({ allowHalfOpen: socket.allowHalfOpen, pauseOnConnect: false });
  return serve<TcpAddress, net.Socket>({
    server,
    readyEvent: 'connection',
    listen,
    what: `tcp ${listen.host}:${listen.port}`,
    socket,
    signal,
    onConnection,
    onError: options.onError,
    maxConnections: resolveMaxConnections(options.maxConnections),
    address: (s) => tcpAddressOf(s, 'tcp'),
  });
}

/**
 * Dial a TCP peer. Resolves with the connected socket; rejects with
 * `TransportError('CONNECT_FAILED' | 'TIMEOUT' | 'ABORTED' | 'INVALID_ARGUMENT')`,
 * the OS error as `cause`.
 */
export async function connectTcp(options: TcpConnectOptions): Promise<net.Socket> {
  const { host, port, what } = resolveTcpTarget(options);
  const socket = resolveSocketOptions(options);
  const signal = checkSignal('signal', options.signal);
  const timeoutMs = resolveConnectTimeout(options.timeoutMs);
  return dial({
    create: () => net.connect({ host, port, allowHalfOpen: socket.allowHalfOpen, noDelay: socket.noDelay }),
    readyEvent: 'connect',
    what: `tcp ${what}`,
    signal,
    timeoutMs,
    socket,
  });
}
