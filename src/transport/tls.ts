/**
 * TLS over TCP. Secure defaults: the client verifies the server's certificate
 * and name, TLS 1.2 is the minimum, and a server that asks for client
 * certificates (`requestCert`) rejects clients without a valid one.
 */
import tls from 'node:tls';
import { invalidArgument } from './errors.ts';
import { checkBool, checkInt, checkSignal, resolveConnectTimeout, resolveMaxConnections, resolveSocketOptions } from './options.ts';
import { dial } from './socket-connect.ts';
import { serve } from './socket-server.ts';
import type { TransportServer } from './socket-server.ts';
import { resolveTcpListen, resolveTcpTarget, tcpAddressOf } from './tcp.ts';
import type { TcpAddress, TcpConnectOptions, TcpListenOptions } from './tcp.ts';

/** Key material and protocol limits, passed to `tls.createSecureContext()` as given. */
export type TlsCredentials = Pick<
  tls.SecureContextOptions,
  'key' | 'cert' | 'ca' | 'pfx' | 'passphrase' | 'crl' | 'ciphers' | 'minVersion' | 'maxVersion'
>;

export interface TlsListenOptions extends TcpListenOptions, TlsCredentials {
  /** Ask clients for a certificate (mutual TLS). @default false */
  requestCert?: boolean;
  /**
   * With `requestCert`, refuse clients whose certificate does not verify
   * against `ca`. Turning this off is for tests only.
   * @default true
   */
  rejectUnauthorized?: boolean;
  /**
   * A client that has not finished its handshake after this many ms is
   * dropped (Node's default is 120 s: a slow-handshake peer would hold a
   * connection that long).
   * @default 10000
   */
  handshakeTimeoutMs?: number;
}

export interface TlsConnectOptions extends TcpConnectOptions, TlsCredentials {
  /** Name to send in SNI and to check the certificate against. @default host, if not an IP */
  servername?: string;
  /** Refuse servers whose certificate does not verify. @default true */
  rejectUnauthorized?: boolean;
  /** Replace Node's host-name check (e.g. to pin a certificate). */
  checkServerIdentity?: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;
}

export type TlsServer = TransportServer<TcpAddress>;

const TLS_MIN_VERSION: tls.SecureVersion = 'TLSv1.2';

function credentials(o: TlsCredentials): TlsCredentials {
  const c: TlsCredentials = { minVersion: o.minVersion ?? TLS_MIN_VERSION };
  if (o.key !== undefined) c.key = o.key;
  if (o.cert !== undefined) c.cert = o.cert;
  if (o.ca !== undefined) c.ca = o.ca;
  if (o.pfx !== undefined) c.pfx = o.pfx;
  if (o.passphrase !== undefined) c.passphrase = o.passphrase;
  if (o.crl !== undefined) c.crl = o.crl;
  if (o.ciphers !== undefined) c.ciphers = o.ciphers;
  if (o.maxVersion !== undefined) c.maxVersion = o.maxVersion;
  return c;
}

/**
 * Listen for TLS connections; `onConnection` receives each socket after its
 * handshake. Failed handshakes go to `onError`. Rejects with
 * `TransportError('LISTEN_FAILED' | 'ABORTED' | 'INVALID_ARGUMENT')`.
 */
export async function listenTls(
  options: TlsListenOptions,
  onConnection: (socket: tls.TLSSocket) => void,
): Promise<TlsServer> {
  if ((options.key === undefined || options.cert === undefined) && options.pfx === undefined) {
    throw invalidArgument('listenTls needs key and cert (or pfx)');
  }
  const listen = resolveTcpListen(options);
  const socket = resolveSocketOptions(options);
  const signal = checkSignal('signal', options.signal);
  const requestCert = checkBool('requestCert', options.requestCert ?? false);
  const rejectUnauthorized = checkBool('rejectUnauthorized', options.rejectUnauthorized ?? true);
  const handshakeTimeout = checkInt('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 10_000, 1, 2 ** 31 - 1);
  let server: tls.Server;
  try {
    server = tls.createServer({
      ...credentials(options),
      requestCert,
      rejectUnauthorized,
      handshakeTimeout,
      allowHalfOpen: socket.allowHalfOpen,
    });
  } catch (err) {
    throw invalidArgument(`listenTls: bad key material: ${(err as Error).message}`);
  }
  return serve<TcpAddress, tls.TLSSocket>({
    server,
    readyEvent: 'secureConnection',
    listen,
    what: `tls ${listen.host}:${listen.port}`,
    socket,
    signal,
    onConnection,
    onError: options.onError,
    maxConnections: resolveMaxConnections(options.maxConnections),
    address: (s) => tcpAddressOf(s, 'tls'),
  });
}

/**
 * Dial a TLS peer; resolves after the handshake (and certificate checks).
 * Rejects with `TransportError('CONNECT_FAILED' | 'TIMEOUT' | 'ABORTED' | 'INVALID_ARGUMENT')`;
 * a certificate failure is a CONNECT_FAILED whose `cause.code` names it.
 */
export async function connectTls(options: TlsConnectOptions): Promise<tls.TLSSocket> {
  const { host, port, what } = resolveTcpTarget(options);
  const socket = resolveSocketOptions(options);
  const signal = checkSignal('signal', options.signal);
  const timeoutMs = resolveConnectTimeout(options.timeoutMs);
  const rejectUnauthorized = checkBool('rejectUnauthorized', options.rejectUnauthorized ?? true);
  // allowHalfOpen is honoured by tls.connect (passed to the TLSSocket) but missing from @types/node.
  const connectOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    ...credentials(options),
    host,
    port,
    rejectUnauthorized,
    allowHalfOpen: socket.allowHalfOpen,
  };
  if (options.servername !== undefined) connectOptions.servername = options.servername;
  if (options.checkServerIdentity !== undefined) connectOptions.checkServerIdentity = options.checkServerIdentity;
  return dial({
    create: () => tls.connect(connectOptions),
    readyEvent: 'secureConnect',
    what: `tls ${what}`,
    signal,
    timeoutMs,
    socket,
  });
}
