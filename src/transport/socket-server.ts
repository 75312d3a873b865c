/**
 * Shared listen logic of tcp, unix and tls: bind with typed errors and an
 * AbortSignal, tune accepted sockets, track them so `close()` leaves no handle
 * behind.
 */
import type net from 'node:net';
import { TransportError, abortError } from './errors.ts';
import type { SocketOptions } from './options.ts';
import { markLinkRole } from '../util/link-role.ts';

/** A listening transport. `close()` is idempotent; later calls await the first. */
export interface TransportServer<Address> {
  /** Where the server listens (with the real port when port 0 was asked). */
  address(): Address;
  /** Accepted connections not yet closed. */
  readonly connections: number;
  /**
   * Stop accepting and destroy every accepted connection still open (close
   * your links first for a graceful shutdown). Resolves once the listening
   * handle is closed.
   */
  close(): Promise<void>;
}

export interface ServeSpec<Address, Conn extends net.Socket> {
  readonly server: net.Server;
  /** 'connection' for net servers, 'secureConnection' for tls servers. */
  readonly readyEvent: 'connection' | 'secureConnection';
  readonly listen: net.ListenOptions;
  readonly what: string;
  readonly socket: Readonly<Required<SocketOptions>>;
  readonly signal: AbortSignal | undefined;
  readonly onConnection: (conn: Conn) => void;
  readonly onError: ((err: Error) => void) | undefined;
  readonly address: (server: net.Server) => Address;
  /** Accepted connections open at once; undefined: unlimited. */
  readonly maxConnections?: number | undefined;
}

export function tuneSocket(socket: net.Socket, o: Readonly<Required<SocketOptions>>): void {
  // No-ops on pipes (Unix sockets), which have no Nagle or keepalive.
  socket.setNoDelay(o.noDelay);
  socket.setKeepAlive(o.keepAlive, o.keepAliveInitialDelayMs);
}

export function serve<Address, Conn extends net.Socket>(spec: ServeSpec<Address, Conn>): Promise<TransportServer<Address>> {
  const { server, signal, what } = spec;
  const open = new Set<net.Socket>();
  if (spec.maxConnections !== undefined) {
    server.maxConnections = spec.maxConnections;
    // Node closes the connection itself and tells only this event.
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) =>
      spec.onError?.(new TransportError('CONNECTION_LIMIT', `${what}: refused a connection${data?.remoteAddress ? ` from ${data.remoteAddress}:${data.remotePort}` : ''}: maxConnections (${spec.maxConnections}) are open`)),
    );
  }

  server.on('connection', (raw: net.Socket) => {
    open.add(raw);
    raw.once('close', () => open.delete(raw));
    tuneSocket(raw, spec.socket);
  });
  server.on(spec.readyEvent, (conn: Conn) => {
    markLinkRole(conn, 'responder'); // we accepted: LNK_AUTH binds this role
    try {
      spec.onConnection(conn);
    } catch (err) {
      conn.destroy();
      spec.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  });
  if (spec.readyEvent === 'secureConnection') {
    // A failed handshake is the client's problem; report it, keep serving.
    // With a listener, Node leaves the socket open (a timed-out handshake
    // would hold its connection forever): close it here.
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      socket.destroy();
      spec.onError?.(err);
    });
  }

  let closing: Promise<void> | null = null;
  const handle: TransportServer<Address> = {
    address: () => spec.address(server),
    get connections() {
      return open.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
        open.clear();
      });
      return closing;
    },
  };

  return new Promise<TransportServer<Address>>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(`listen on ${what}`, signal));
      return;
    }
    const cleanup = (): void => {
      server.off('error', onBindError);
      server.off('listening', onListening);
      signal?.removeEventListener('abort', onAbort);
    };
    const onBindError = (err: Error): void => {
      cleanup();
      server.close();
      reject(new TransportError('LISTEN_FAILED', `listen on ${what} failed: ${err.message}`, { cause: err }));
    };
    const onListening = (): void => {
      cleanup();
      // Errors after the bind (rare: EMFILE on accept) must not crash the process.
      server.on('error', (err: Error) => spec.onError?.(err));
      resolve(handle);
    };
    const onAbort = (): void => {
      cleanup();
      server.close();
      reject(abortError(`listen on ${what}`, signal!));
    };
    server.once('error', onBindError);
    server.once('listening', onListening);
    signal?.addEventListener('abort', onAbort, { once: true });
    server.listen(spec.listen);
  });
}
