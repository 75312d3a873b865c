/**
 * dmsg-mesh: DragonFly BSD's DMSG (iocom) protocol for Node.js.
 *
 * The public API, as a named list per layer (wire, iocom, transport, span,
 * the relay daemon). What is not listed here (byte helpers, the state-rule
 * table, the span table and relay planner, option resolvers ...) is reachable
 * from `dmsg-mesh/internal`, without a stability promise.
 *
 * Adding a public name: export it from its layer's index.ts, then add it to
 * that layer's list below (test/index.test.ts checks the list).
 */

// ---------------------------------------------------------------- wire: constants, errors, codec
export {
  DMSG,
  DMSGF,
  DMSG_ERR,
  DMSG_PEER,
  DMSG_PFSTYPE,
  DMSG_PROTO,
  DMSG_HDR_SIZE,
  DMSG_HDR_MAX,
  DMSG_AUX_MAX,
  DMSG_LISTEN_PORT,
  DmsgError,
  ProtocolError,
  InvalidArgumentError,
  isProtocolError,
  makeCmd,
  parseCmd,
  cmdName,
  describeCmd,
  describeHeader,
  copyMessage,
  FrameDecoder,
  FRAME_DECODER_DEFAULTS,
  encodeMessage,
  concatBytes,
  byteLength,
  crc32c,
} from './wire/index.ts';
export type { ProtocolErrorCode, CmdParts, Header, Message, MessageInput, FrameDecoderOptions } from './wire/index.ts';

// Extended headers a service or a tool reads and writes.
export {
  encodeLnkConn,
  decodeLnkConn,
  encodeLnkSpan,
  decodeLnkSpan,
  encodeBlkOpen,
  decodeBlkOpen,
  encodeBlkRw,
  decodeBlkRw,
  encodeBlkError,
  decodeBlkError,
  DMSG_BLKOPEN,
} from './wire/ext/index.ts';
export type { LnkConn, LnkConnLayout, LnkSpan, BlkOpen, BlkRw, BlkError } from './wire/ext/index.ts';

// ---------------------------------------------------------------- iocom: one link, transactions
export { Iocom, Transaction, IOCOM_DEFAULTS, TransactionError, LinkError, rawPublicKey, keyFingerprint } from './iocom/index.ts';
export type { IocomOptions, OpenOptions, OneWayOptions, IocomStats, SendOptions, TransactionErrorCode, LinkErrorCode, LinkCloseReason } from './iocom/index.ts';
// Daemon-wide budgets shared by every link of a process (docs/limits.md).
export { Budget, BUDGET_DEFAULTS } from './iocom/index.ts';
export type { BudgetOptions, BudgetStats } from './iocom/index.ts';
// LNK_AUTH: which end of a connection a stream is (docs/auth.md).
export { markLinkRole, linkRoleOf } from './iocom/index.ts';
export type { LinkRole } from './iocom/index.ts';

// ---------------------------------------------------------------- transport: streams
export {
  TransportError,
  isTransportError,
  connectTcp,
  listenTcp,
  connectUnix,
  listenUnix,
  connectTls,
  listenTls,
  memoryPair,
  reconnectingDialer,
  BACKOFF_DEFAULTS,
  CONNECT_DEFAULTS,
  SOCKET_DEFAULTS,
  MEMORY_PAIR_DEFAULTS,
  RECONNECT_DEFAULTS,
} from './transport/index.ts';
export type {
  TransportErrorCode,
  TransportServer,
  TcpAddress,
  TcpConnectOptions,
  TcpListenOptions,
  TcpServer,
  UnixAddress,
  UnixConnectOptions,
  UnixListenOptions,
  UnixServer,
  TlsConnectOptions,
  TlsCredentials,
  TlsListenOptions,
  TlsServer,
  ConnectCommonOptions,
  ListenCommonOptions,
  SocketOptions,
  MemoryPairOptions,
  BackoffOptions,
  ReconnectOptions,
  ReconnectTuning,
  ReconnectState,
  ReconnectingDialer,
  ConnectionInfo,
  DialErrorInfo,
  StopOptions,
} from './transport/index.ts';

// ---------------------------------------------------------------- time (every timer takes a Clock)
export { systemClock, ManualClock } from './util/clock.ts';
export type { Clock } from './util/clock.ts';

// ---------------------------------------------------------------- span: the mesh router
export { Router, SpanError, SPAN_DEFAULTS, SERVICE_PEER_TYPE, SERVICE_NAMESPACE, DMSG_ERR_WITHDRAWN, serviceClusterId, compareByDistance } from './span/index.ts';
export type { RouterOptions, RouterLink, SpanOptions, SpanInfo, SpanEvent, SpanErrorCode, AdvertiseOptions, Advertisement, NodeId, SpanOrigin, WaitOptions } from './span/index.ts';
// The service API: serve, open by service/instance/node, membership, command codes.
export { DMSG_PROTO_SVC, SVC_CMD, svcCmd, isSvcCmd, runShellCommand } from './span/index.ts';
export type { RouteOptions, Member, MemberEvent, ServeOptions, Service, ServiceCall, ServiceHandler } from './span/index.ts';

// ---------------------------------------------------------------- the relay daemon, embeddable
export { startRelay, parseServiceSpec } from './cli/relay-daemon.ts';
export type { RelayConfig, RelayHandle, RelayPeer, ServiceSpec, TlsFiles } from './cli/relay-daemon.ts';
export { serveEcho, echoTransaction } from './cli/echo-service.ts';
// Operability of an embedded relay: metrics registry, diagnostics_channel names, JSON logs (docs/operability.md).
export { MetricsRegistry } from './cli/ops/metrics-registry.ts';
export type { Collector } from './cli/ops/metrics-registry.ts';
export type { MetricFamily, Sample, MetricType, Labels } from './cli/ops/exposition.ts';
export { CHANNELS as DIAGNOSTICS_CHANNELS } from './cli/ops/diagnostics.ts';
export type { LinkUpMessage, LinkDownMessage, SpanEventMessage, ProtocolErrorMessage } from './cli/ops/diagnostics.ts';
export { EventLog, LOG_LEVELS, LOG_FORMATS } from './cli/ops/event-log.ts';
export type { LogLevel, LogFormat, LogRecord, EventLogOptions } from './cli/ops/event-log.ts';
export { RelayObserver } from './cli/ops/relay-observer.ts';
export { midcommsCollector } from './cli/ops/midcomms-metrics.ts';

// ---------------------------------------------------------------- services: midcomms (reliable sessions between nodes)
export { midcomms, Midcomms, MidcommsError, encodeDlmMessage, DLM_CMD, DLM_VERSION, MC_STATE, MIDCOMMS_DEFAULTS } from './services/midcomms/index.ts';
export type { MidcommsServiceOptions, MidcommsOptions, MidcommsErrorCode, Session as MidcommsSession, SessionStatsSnapshot as MidcommsStats } from './services/midcomms/index.ts';

// ---------------------------------------------------------------- services: the DLM (Linux fs/dlm semantics over midcomms; docs/dlm.md)
// The TypeScript API (join, lock, convert, unlock, bast$) and its errors.
export { Dlm, DlmSim, DlmLockspace, DlmLock, DlmError, isDlmError, statusName, DLM_DEFAULTS, LOCKSPACE_DEFAULTS } from './services/dlm/index.ts';
export type { LockOptions, DlmErrorCode, DlmOptions, LockspaceOptions } from './services/dlm/index.ts';
// Modes, flags and statuses; the low-level lksb API (ports of Linux programs).
export { LKM, LKF, SBF, DLM_ERRNO, MODE_NAMES, modeName, parseMode, newLksb, Lockspace as DlmRawLockspace, formatLockdump } from './services/dlm/index.ts';
export type { Mode, ModeName, LkfName, Lksb, AstFn, BastFn, LockspaceStats, DumpResource, DumpLock, RecoveryOps, DlmSlot, StartOptions } from './services/dlm/index.ts';
// On the mesh: the midcomms transport and lockspace membership from spans.
export { MidcommsEndpoint, joinOverSpans, lockspaceService, startDlmNode, DLM_ADMIN_SERVICE } from './services/dlm/index.ts';
export type { SpanMembership, DlmNode, DlmNodeOptions, LocksReport, LockspaceReport } from './services/dlm/index.ts';
