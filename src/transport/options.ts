/**
 * Options of the transport layer: interfaces, frozen defaults and resolvers.
 * Only the resolvers apply defaults; they return new objects (never mutate the
 * input) and throw `TransportError('INVALID_ARGUMENT')` saying what was
 * expected and what came.
 */
import { invalidArgument } from './errors.ts';

// ---------------------------------------------------------------- checks

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/** An integer in [min, max] (both inclusive). */
export function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidArgument(`${name} must be an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

/** A finite number in [min, max]. */
export function checkNumber(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw invalidArgument(`${name} must be a finite number in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalidArgument(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}

export function checkString(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw invalidArgument(`${name} must be a non-empty string, got ${describe(v)}`);
  }
  return v;
}

export function checkSignal(name: string, v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof AbortSignal)) throw invalidArgument(`${name} must be an AbortSignal, got ${describe(v)}`);
  return v;
}

/** Reject keys that were renamed, with a hint (undici style). */
function rejectRenamed(where: string, input: object, renamed: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(input)) {
    const hint = renamed[key];
    if (hint !== undefined) throw invalidArgument(`${where}: unsupported option ${key}, use ${hint} instead`);
  }
}

function checkObject(name: string, v: unknown): object {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw invalidArgument(`${name} must be an options object, got ${describe(v)}`);
  }
  return v;
}

// ---------------------------------------------------------------- memory pair

export interface MemoryPairOptions {
  /**
   * Bytes each end buffers per direction before `write()` returns false
   * (used for both the writable and the readable side of each end).
   * @default 65536
   */
  highWaterMark?: number;
  /**
   * Keep the writable side open after the readable side ended, like
   * `net.Socket`'s option of the same name.
   * @default false
   */
  allowHalfOpen?: boolean;
}

export const MEMORY_PAIR_DEFAULTS: Readonly<Required<MemoryPairOptions>> = Object.freeze({
  highWaterMark: 64 * 1024,
  allowHalfOpen: false,
});

export function resolveMemoryPairOptions(input?: MemoryPairOptions): Readonly<Required<MemoryPairOptions>> {
  const o = checkObject('memoryPair options', input) as MemoryPairOptions;
  return Object.freeze({
    highWaterMark: checkInt('highWaterMark', o.highWaterMark ?? MEMORY_PAIR_DEFAULTS.highWaterMark, 1, 1 << 30),
    allowHalfOpen: checkBool('allowHalfOpen', o.allowHalfOpen ?? MEMORY_PAIR_DEFAULTS.allowHalfOpen),
  });
}

// ---------------------------------------------------------------- sockets

/** Socket tuning shared by tcp, unix and tls, for both listen and connect. */
export interface SocketOptions {
  /**
   * Disable Nagle's algorithm (TCP_NODELAY). DMSG writes whole frames, so
   * delaying small writes only adds latency. Ignored for Unix sockets.
   * @default true
   */
  noDelay?: boolean;
  /**
   * Enable TCP keepalive probes so a silently dead peer is found eventually.
   * Ignored for Unix sockets.
   * @default true
   */
  keepAlive?: boolean;
  /**
   * Idle time before the first keepalive probe, in milliseconds.
   * @default 30000
   */
  keepAliveInitialDelayMs?: number;
  /**
   * Keep the writable side open after the peer ended its side.
   * @default false
   */
  allowHalfOpen?: boolean;
}

export const SOCKET_DEFAULTS: Readonly<Required<SocketOptions>> = Object.freeze({
  noDelay: true,
  keepAlive: true,
  keepAliveInitialDelayMs: 30_000,
  allowHalfOpen: false,
});

export function resolveSocketOptions(o: SocketOptions): Readonly<Required<SocketOptions>> {
  return Object.freeze({
    noDelay: checkBool('noDelay', o.noDelay ?? SOCKET_DEFAULTS.noDelay),
    keepAlive: checkBool('keepAlive', o.keepAlive ?? SOCKET_DEFAULTS.keepAlive),
    keepAliveInitialDelayMs: checkInt(
      'keepAliveInitialDelayMs',
      o.keepAliveInitialDelayMs ?? SOCKET_DEFAULTS.keepAliveInitialDelayMs,
      0,
      2 ** 31 - 1,
    ),
    allowHalfOpen: checkBool('allowHalfOpen', o.allowHalfOpen ?? SOCKET_DEFAULTS.allowHalfOpen),
  });
}

/** Options every `connect*()` call accepts. */
export interface ConnectCommonOptions extends SocketOptions {
  /** Cancels the attempt; the promise rejects with `TransportError('ABORTED')`. */
  signal?: AbortSignal;
  /**
   * Give up if the connection (and TLS handshake) is not up after this many
   * milliseconds; rejects with `TransportError('TIMEOUT')`. 0 disables.
   * @default 10000
   */
  timeoutMs?: number;
}

export const CONNECT_DEFAULTS = Object.freeze({ timeoutMs: 10_000 });

export function resolveConnectTimeout(v: unknown): number {
  return checkInt('timeoutMs', v ?? CONNECT_DEFAULTS.timeoutMs, 0, 2 ** 31 - 1);
}

/** Options every `listen*()` call accepts. */
export interface ListenCommonOptions extends SocketOptions {
  /** Cancels the bind; the promise rejects with `TransportError('ABORTED')`. */
  signal?: AbortSignal;
  /**
   * Pending-connection queue length passed to `listen(2)`.
   * @default 511
   */
  backlog?: number;
  /**
   * Accepted connections open at once (Node's `server.maxConnections`): one
   * more is closed as soon as it is accepted, before any handshake or
   * protocol work. Counts TLS connections still in their handshake.
   * @default unlimited
   */
  maxConnections?: number;
}

export function resolveBacklog(v: unknown): number {
  return checkInt('backlog', v ?? 511, 1, 65535);
}

/** undefined: unlimited. */
export function resolveMaxConnections(v: unknown): number | undefined {
  return v === undefined ? undefined : checkInt('maxConnections', v, 1, 1 << 24);
}

export function checkPort(name: string, v: unknown): number {
  return checkInt(name, v, 0, 65535);
}

// ---------------------------------------------------------------- backoff

export interface BackoffOptions {
  /**
   * Cap of the first delay, in milliseconds. With full jitter the delay of
   * attempt n is uniform in [0, min(maxMs, minMs * factor^n)).
   * @default 100
   */
  minMs?: number;
  /**
   * Largest delay, in milliseconds.
   * @default 30000
   */
  maxMs?: number;
  /**
   * Growth of the cap per consecutive failure.
   * @default 2
   */
  factor?: number;
}

export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> = Object.freeze({
  minMs: 100,
  maxMs: 30_000,
  factor: 2,
});

const BACKOFF_RENAMED = Object.freeze({
  min: 'minMs',
  max: 'maxMs',
  initialDelay: 'minMs',
  initialDelayMs: 'minMs',
  maxDelay: 'maxMs',
  maxDelayMs: 'maxMs',
  multiplier: 'factor',
});

export function resolveBackoffOptions(input?: BackoffOptions): Readonly<Required<BackoffOptions>> {
  const o = checkObject('backoff options', input) as BackoffOptions;
  rejectRenamed('backoff', o, BACKOFF_RENAMED);
  const minMs = checkInt('minMs', o.minMs ?? BACKOFF_DEFAULTS.minMs, 1, 2 ** 31 - 1);
  const maxMs = checkInt('maxMs', o.maxMs ?? BACKOFF_DEFAULTS.maxMs, 1, 2 ** 31 - 1);
  if (maxMs < minMs) throw invalidArgument(`maxMs must be >= minMs (${minMs}), got ${maxMs}`);
  const factor = checkNumber('factor', o.factor ?? BACKOFF_DEFAULTS.factor, 1, 1000);
  return Object.freeze({ minMs, maxMs, factor });
}

// ---------------------------------------------------------------- reconnect

export interface ReconnectTuning {
  /** Delay policy between attempts. */
  backoff?: BackoffOptions;
  /**
   * A connection that stayed up at least this long resets the backoff, so
   * the next redial starts from `minMs` again, in milliseconds.
   * @default 10000
   */
  resetAfterMs?: number;
}

export const RECONNECT_DEFAULTS = Object.freeze({ resetAfterMs: 10_000 });

export function resolveReconnectTuning(o: ReconnectTuning): {
  readonly backoff: Readonly<Required<BackoffOptions>>;
  readonly resetAfterMs: number;
} {
  rejectRenamed('reconnect', o, Object.freeze({ resetAfter: 'resetAfterMs', minMs: 'backoff.minMs', maxMs: 'backoff.maxMs' }));
  return Object.freeze({
    backoff: resolveBackoffOptions(o.backoff),
    resetAfterMs: checkInt('resetAfterMs', o.resetAfterMs ?? RECONNECT_DEFAULTS.resetAfterMs, 0, 2 ** 31 - 1),
  });
}
