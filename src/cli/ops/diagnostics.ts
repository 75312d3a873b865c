/**
 * `node:diagnostics_channel` events for embedders, published by the relay
 * observer (the daemon layer) for every Router it watches. Each message
 * names the router (`router`: its name, `nodeId`) because channels are
 * process-wide and one process may run several routers.
 *
 * | channel                 | message                                                         |
 * |-------------------------|-----------------------------------------------------------------|
 * | `dmsg:link:up`          | `{ router, nodeId, connId, transport, direction }`              |
 * | `dmsg:link:down`        | `{ router, nodeId, connId, peerName, reason, code }`            |
 * | `dmsg:span:up`          | `{ router, nodeId, service, instance, dist, via, path }`        |
 * | `dmsg:span:down`        | same as span:up                                                 |
 * | `dmsg:span:changed`     | same as span:up (the best path changed)                         |
 * | `dmsg:protocol-error`   | `{ router, nodeId, connId, code, message }`                     |
 *
 * Every publish is guarded by `hasSubscribers`: without a subscriber no
 * message object is built.
 */
import diagnostics from 'node:diagnostics_channel';

export const CHANNELS = {
  linkUp: 'dmsg:link:up',
  linkDown: 'dmsg:link:down',
  spanUp: 'dmsg:span:up',
  spanDown: 'dmsg:span:down',
  spanChanged: 'dmsg:span:changed',
  protocolError: 'dmsg:protocol-error',
} as const;

export interface LinkUpMessage {
  readonly router: string;
  readonly nodeId: string;
  readonly connId: string;
  readonly transport: string;
  readonly direction: 'in' | 'out' | 'unknown';
}

export interface LinkDownMessage {
  readonly router: string;
  readonly nodeId: string;
  readonly connId: string;
  readonly peerName: string | null;
  /** 'closed' (we closed it), 'peer-closed', or 'error'. */
  readonly reason: 'closed' | 'peer-closed' | 'error';
  /** The error's code (e.g. BAD_HDR_CRC, KEEPALIVE_TIMEOUT) when reason is 'error'. */
  readonly code: string | null;
}

export interface SpanEventMessage {
  readonly router: string;
  readonly nodeId: string;
  readonly service: string;
  readonly instance: string;
  readonly dist: number;
  readonly via: string | null;
  readonly path: readonly string[];
}

export interface ProtocolErrorMessage {
  readonly router: string;
  readonly nodeId: string;
  readonly connId: string;
  readonly code: string;
  readonly message: string;
}

export const linkUpChannel = diagnostics.channel(CHANNELS.linkUp);
export const linkDownChannel = diagnostics.channel(CHANNELS.linkDown);
export const spanUpChannel = diagnostics.channel(CHANNELS.spanUp);
export const spanDownChannel = diagnostics.channel(CHANNELS.spanDown);
export const spanChangedChannel = diagnostics.channel(CHANNELS.spanChanged);
export const protocolErrorChannel = diagnostics.channel(CHANNELS.protocolError);

/** Publish `make()` on `channel` if anyone listens; a subscriber that throws is its own problem (Node reports it asynchronously). */
export function publish<T>(channel: diagnostics.Channel, make: () => T): void {
  if (!channel.hasSubscribers) return;
  channel.publish(make());
}
