/** Public API of the span layer: the Router (a mesh node) and its pure parts. */
export { Router, SERVICE_PEER_TYPE, DMSG_ERR_WITHDRAWN } from './router.ts';
export type { RouterOptions, SpanInfo, SpanEvent, AdvertiseOptions, Advertisement, RouterLink } from './router.ts';
export { SpanError } from './errors.ts';
export type { SpanErrorCode } from './errors.ts';
export { SPAN_DEFAULTS, resolveSpanOptions } from './options.ts';
export type { SpanOptions, ResolvedSpanOptions } from './options.ts';
export { serviceClusterId, SERVICE_NAMESPACE } from './service-id.ts';
export { encodePathRecord, decodePathRecord } from './path-record.ts';
export type { NodeId } from './path-record.ts';
export { SpanTable, compareLinks } from './span-table.ts';
export type { SpanFields, SpanLink, SpanNode, SpanCluster } from './span-table.ts';
export { planRelays, planRelaysForNode } from './relay-plan.ts';
export type { RelayPlan, RelaySpec } from './relay-plan.ts';
export { relayFilter } from './filters.ts';
export { runShellCommand } from './shell-client.ts';
export { SHELL_MAX_LINES, SHELL_MAX_LINE_BYTES } from './shell.ts';
