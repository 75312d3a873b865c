/** Unix-domain socket listen/connect. Node unlinks the path when the server closes. */
import net from 'node:net';
import { invalidArgument } from './errors.ts';
import { checkSignal, checkString, resolveBacklog, resolveConnectTimeout, resolveMaxConnections, resolveSocketOptions } from './options.ts';
import type { ConnectCommonOptions, ListenCommonOptions } from './options.ts';
import { dial } from './socket-connect.ts';
import { serve } from './socket-server.ts';
import type { TransportServer } from './socket-server.ts';

export interface UnixAddress {
  readonly transport: 'unix';
  readonly path: string;
}

export interface UnixListenOptions extends ListenCommonOptions {
  /** Filesystem path of the socket. It must not exist yet (stale sockets are not removed). */
  path: string;
  /** Errors that do not belong to one connection. */
  onError?: (err: Error) => void;
}

export interface UnixConnectOptions extends ConnectCommonOptions {
  path: string;
}

export type UnixServer = TransportServer<UnixAddress>;

/**
 * Listen on a Unix socket path. Rejects with
 * `TransportError('LISTEN_FAILED' | 'ABORTED' | 'INVALID_ARGUMENT')`.
 */
export async function listenUnix(
  options: UnixListenOptions,
  onConnection: (socket: net.Socket) => void,
): Promise<UnixServer> {
  const path = checkString('path', options.path);
  const socket = resolveSocketOptions(options);
  const signal = checkSignal('signal', options.signal);
  const server = net.createServer({ allowHalfOpen: socket.allowHalfOpen });
  return serve<UnixAddress, net.Socket>({
    server,
    readyEvent: 'connection',
    listen: { path, backlog: resolveBacklog(options.backlog) },
    what: `unix ${path}`,
    socket,
    signal,
    onConnection,
    onError: options.onError,
    maxConnections: resolveMaxConnections(options.maxConnections),
    address: (s) => {
      const a = s.address();
      if (typeof a !== 'string') throw invalidArgument('server is not listening on a Unix path');
      return Object.freeze({ transport: 'unix', path: a });
    },
  });
}

/**
 * Dial a Unix socket path. Rejects with
 * `TransportError('CONNECT_FAILED' | 'TIMEOUT' | 'ABORTED' | 'INVALID_ARGUMENT')`.
 */
export async function connectUnix(options: UnixConnectOptions): Promise<net.Socket> {
  const path = checkString('path', options.path);
  const socket = resolveSocketOptions(options);
  const signal = checkSignal('signal', options.signal);
  const timeoutMs = resolveConnectTimeout(options.timeoutMs);
  return dial({
    create: () => net.connect({ path, allowHalfOpen: socket.allowHalfOpen }),
    readyEvent: 'connect',
    what: `unix ${path}`,
    signal,
    timeoutMs,
    socket,
  });
}
