/**
 * Public API of the span layer: the Router (a mesh node), its service API,
 * and its pure parts. Services (src/services/<name>/) import only this file
 * (and src/util/): everything they need is re-exported here.
 */
export { Router, SERVICE_PEER_TYPE, DMSG_ERR_WITHDRAWN } from './router.ts';
export type {
  RouterOptions, SpanInfo, SpanEvent, AdvertiseOptions, Advertisement, RouterLink,
  RouteOptions, Member, MemberEvent, ServeOptions, Service, ServiceCall, ServiceHandler,
} from './router.ts';
export { compareByDistance } from './discovery.ts';
export type { WaitOptions } from './discovery.ts';
export { SpanError } from './errors.ts';
export type { SpanErrorCode } from './errors.ts';
export { SPAN_DEFAULTS, resolveSpanOptions } from './options.ts';
export type { SpanOptions, ResolvedSpanOptions } from './options.ts';
export { serviceClusterId, SERVICE_NAMESPACE } from './service-id.ts';
export { DMSG_PROTO_SVC, SVC_CODE_BASE, SVC_CMD, svcCmd, isSvcCmd } from './service-protocol.ts';
export { encodePathRecord, decodePathRecord } from './path-record.ts';
export type { NodeId, SpanOrigin } from './path-record.ts';
export { SpanTable, compareLinks } from './span-table.ts';
export type { SpanFields, SpanLink, SpanNode, SpanCluster } from './span-table.ts';
export { planRelays, planRelaysForNode } from './relay-plan.ts';
export type { RelayPlan, RelaySpec } from './relay-plan.ts';
export { relayFilter } from './filters.ts';
export { runShellCommand } from './shell-client.ts';
export { SHELL_MAX_LINES, SHELL_MAX_LINE_BYTES } from './shell.ts';

// What a service needs from the layers below, so it imports nothing else.
export { Iocom } from '../iocom/iocom.ts';
export type { OpenOptions, OneWayOptions } from '../iocom/iocom.ts';
export { Transaction } from '../iocom/transaction.ts';
export type { SendOptions } from '../iocom/transaction.ts';
export { TransactionError, LinkError } from '../iocom/errors.ts';
export type { TransactionErrorCode } from '../iocom/errors.ts';
export type { LinkCloseReason } from '../iocom/errors.ts';
export type { IocomOptions } from '../iocom/options.ts';
export type { Message } from '../wire/message.ts';
export { copyMessage } from '../wire/message.ts';
export { DMSG, DMSGF, DMSG_ERR, DMSG_PEER } from '../wire/constants.ts';
export { DmsgError, InvalidArgumentError, ProtocolError } from '../wire/errors.ts';
export { systemClock, ManualClock } from '../util/clock.ts';
export type { Clock } from '../util/clock.ts';
