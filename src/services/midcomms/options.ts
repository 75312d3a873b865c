/**
 * Options of a midcomms session engine: one interface, frozen defaults, one
 * validating resolver (the other layers' pattern).
 */
import { systemClock } from '../../util/clock.ts';
import type { Clock } from '../../util/clock.ts';
import { DLM_VERSION, THRESHOLD } from './constants.ts';
import { MidcommsError } from './errors.ts';

export interface MidcommsOptions {
  /**
   * Our DLM node id (`h_nodeid` of everything we send); a u32, not 0.
   * @default on a Router (`midcomms(router)`): FNV-1a of the router's node id;
   * required for a bare Session
   */
  nodeid?: number;
  /**
   * The protocol generation we speak: 0x00030002 (midcomms) or 0x00030001
   * (bare messages, no sequence, no FIN).
   * @default 0x00030002
   */
  version?: number;
  /**
   * This node's incarnation, a non-zero u32; a restarted node must use a new
   * one. Tests pass fixed values.
   * @default a random non-zero u32
   */
  incarnation?: number;
  /**
   * Unacknowledged messages a session may hold (the send window, in messages).
   * `send()` past it waits.
   * @default 1024
   */
  windowMessages?: number;
  /**
   * Unacknowledged bytes (encoded frames) a session may hold.
   * @default 1048576 (1 MiB)
   */
  windowBytes?: number;
  /**
   * `send()` calls that may wait for room at once per session; more are
   * refused with TOO_MANY_WAITERS, so a caller that does not await cannot
   * grow memory without bound.
   * @default 1024
   */
  maxWaiters?: number;
  /**
   * Received messages held for a paused or absent reader, in messages and
   * bytes. They are not acknowledged until read, so a peer within its window
   * never exceeds a buffer at least as large as that window.
   * @default 1024
   */
  maxInboundMessages?: number;
  /** @default 1048576 (1 MiB) */
  maxInboundBytes?: number;
  /**
   * ACK timer: a delivered message is acknowledged within this many ms even on
   * a quiet pair (not in Linux, §5.12 item 6). 0 turns the timer off.
   * @default 50
   */
  ackDelayMs?: number;
  /**
   * Transmit threshold: ACK before sending when more deliveries than this are
   * unacknowledged (Linux: 32).
   * @default 32
   */
  txAckThreshold?: number;
  /**
   * Receive threshold: ACK on receipt when more deliveries than this are
   * unacknowledged (Linux: 256).
   * @default 256
   */
  rxAckThreshold?: number;
  /**
   * How long an active close (`shutdown()`) waits for CLOSED (Linux: 5 s).
   * @default 5000
   */
  shutdownTimeoutMs?: number;
  /**
   * First retry delay after a channel could not be opened or broke without
   * carrying anything; doubles on each further failure.
   * @default 10
   */
  reconnectMinMs?: number;
  /** Longest retry delay. @default 1000 */
  reconnectMaxMs?: number;
  /**
   * First sequence number of every session, both directions (Linux: 0). Both
   * nodes must use the same value; tests set it near 2^32 to cross the wrap.
   * @default 0
   */
  initialSeq?: number;
  /** Time source for every timer. @default systemClock */
  clock?: Clock;
}

export type ResolvedMidcommsOptions = Readonly<Required<Omit<MidcommsOptions, 'nodeid'>>> & { readonly nodeid: number };

export const MIDCOMMS_DEFAULTS = Object.freeze({
  version: DLM_VERSION.V3_2 as number,
  windowMessages: 1024,
  windowBytes: 1 << 20,
  maxWaiters: 1024,
  maxInboundMessages: 1024,
  maxInboundBytes: 1 << 20,
  ackDelayMs: 50,
  txAckThreshold: THRESHOLD.TX as number,
  rxAckThreshold: THRESHOLD.RX as number,
  shutdownTimeoutMs: 5000,
  reconnectMinMs: 10,
  reconnectMaxMs: 1000,
  initialSeq: 0,
});

const RANGES: Record<string, readonly [number, number]> = {
  nodeid: [1, 0xffffffff],
  incarnation: [1, 0xffffffff],
  windowMessages: [1, 1 << 24],
  windowBytes: [4096, 2 ** 40],
  maxWaiters: [0, 1 << 24],
  maxInboundMessages: [1, 1 << 24],
  maxInboundBytes: [4096, 2 ** 40],
  ackDelayMs: [0, 3_600_000],
  txAckThreshold: [0, 1 << 24],
  rxAckThreshold: [0, 1 << 24],
  shutdownTimeoutMs: [0, 3_600_000],
  reconnectMinMs: [0, 3_600_000],
  reconnectMaxMs: [0, 3_600_000],
  initialSeq: [0, 0xffffffff],
};

function randomIncarnation(): number {
  const a = new Uint32Array(1);
  do crypto.getRandomValues(a);
  while (a[0] === 0);
  return a[0]!;
}

/** Returns a new, frozen, validated options object; throws MidcommsError INVALID_ARGUMENT. */
export function resolveMidcommsOptions(options: MidcommsOptions = {}, defaultNodeid?: number): ResolvedMidcommsOptions {
  const known = new Set([...Object.keys(RANGES), 'version', 'clock']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new MidcommsError('INVALID_ARGUMENT', `unknown midcomms option ${JSON.stringify(key)}`);
  }
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const v = (options as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new MidcommsError('INVALID_ARGUMENT', `${key} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  }
  const version = options.version ?? MIDCOMMS_DEFAULTS.version;
  if (version !== DLM_VERSION.V3_1 && version !== DLM_VERSION.V3_2) {
    throw new MidcommsError('INVALID_ARGUMENT', `version must be 0x00030001 or 0x00030002, got 0x${version.toString(16)}`);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new MidcommsError('INVALID_ARGUMENT', 'clock must have now(), setTimeout() and clearTimeout()');
  }
  const nodeid = options.nodeid ?? defaultNodeid;
  if (nodeid === undefined) throw new MidcommsError('INVALID_ARGUMENT', 'nodeid is required (a u32, not 0)');
  const resolved = {
    ...MIDCOMMS_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    version,
    clock,
    nodeid,
    incarnation: options.incarnation ?? randomIncarnation(),
  } as ResolvedMidcommsOptions;
  if (resolved.reconnectMaxMs < resolved.reconnectMinMs) {
    throw new MidcommsError('INVALID_ARGUMENT', `reconnectMaxMs (${resolved.reconnectMaxMs}) must be >= reconnectMinMs (${resolved.reconnectMinMs})`);
  }
  return Object.freeze(resolved);
}
