/** Public API of the transport layer: makes Duplex streams, knows nothing of DMSG. */
export { TransportError, TRANSPORT_ERROR_CODES, isTransportError } from './errors.ts';
export type { TransportErrorCode } from './errors.ts';
export {
  BACKOFF_DEFAULTS,
  CONNECT_DEFAULTS,
  MEMORY_PAIR_DEFAULTS,
  RECONNECT_DEFAULTS,
  SOCKET_DEFAULTS,
  resolveBackoffOptions,
  resolveMemoryPairOptions,
  resolveSocketOptions,
} from './options.ts';
export type {
  BackoffOptions,
  ConnectCommonOptions,
  ListenCommonOptions,
  MemoryPairOptions,
  ReconnectTuning,
  SocketOptions,
} from './options.ts';
export { MemoryDuplex, createMemoryLink, memoryPair } from './memory.ts';
export type { MemoryDirection, MemoryLink } from './memory.ts';
export type { TransportServer } from './socket-server.ts';
export { connectTcp, listenTcp } from './tcp.ts';
export type { TcpAddress, TcpConnectOptions, TcpListenOptions, TcpServer } from './tcp.ts';
export { connectUnix, listenUnix } from './unix.ts';
export type { UnixAddress, UnixConnectOptions, UnixListenOptions, UnixServer } from './unix.ts';
export { connectTls, listenTls } from './tls.ts';
export type { TlsConnectOptions, TlsCredentials, TlsListenOptions, TlsServer } from './tls.ts';
export { RECONNECT_STATES, backoffCeiling, backoffDelay, reconnectingDialer, systemClock } from './reconnect.ts';
export type {
  Clock,
  ConnectionInfo,
  DialErrorInfo,
  ReconnectOptions,
  ReconnectState,
  ReconnectingDialer,
  StopOptions,
} from './reconnect.ts';
