/**
 * A reconnecting dialer for outgoing links.
 *
 * It dials, hands each connected stream to `onConnection`, waits for that
 * stream to close, then dials again after an exponential backoff with full
 * jitter. A connection that stayed up for `resetAfterMs` resets the backoff.
 *
 * New connections are delivered to a plain callback rather than an async
 * iterator or Observable: the consumer (an iocom attach, a relay daemon)
 * reacts synchronously to each stream, needs no back-pressure on a stream of
 * connections (there is at most one at a time), and the transport layer stays
 * free of RxJS. Wrapping it is one line:
 * `new Observable(s => { const d = reconnectingDialer({ ..., onConnection: c => s.next(c) }); return () => d.stop(); })`.
 *
 * Time and randomness are injectable (`clock`, `random`) so tests are exact.
 */
import type { Duplex } from 'node:stream';
import { invalidArgument } from './errors.ts';
import { checkInt, resolveBackoffOptions, resolveReconnectTuning } from './options.ts';
import type { BackoffOptions, ReconnectTuning } from './options.ts';
import { systemClock, type Clock } from '../util/clock.ts';

export { systemClock, type Clock };

/** Upper bound (exclusive) of the delay before retry number `attempt` (0-based). */
export function backoffCeiling(attempt: number, options?: BackoffOptions): number {
  checkInt('attempt', attempt, 0, Number.MAX_SAFE_INTEGER);
  const o = resolveBackoffOptions(options);
  // factor^attempt overflows to Infinity for large attempts, which min() caps.
  return Math.min(o.maxMs, o.minMs * o.factor ** attempt);
}

/**
 * Delay in ms before retry number `attempt` (0-based): full jitter, i.e.
 * `floor(random() * min(maxMs, minMs * factor^attempt))`. Pure: same
 * inputs, same output. `random` must return a number in [0, 1).
 */
export function backoffDelay(attempt: number, options?: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt, options);
  const r = random();
  if (typeof r !== 'number' || !(r >= 0 && r < 1)) throw invalidArgument(`random() must return a number in [0, 1), got ${r}`);
  return Math.floor(r * ceiling);
}

export const RECONNECT_STATES = Object.freeze({
  DIALING: 'dialing',
  CONNECTED: 'connected',
  WAITING: 'waiting',
  STOPPED: 'stopped',
} as const);

export type ReconnectState = (typeof RECONNECT_STATES)[keyof typeof RECONNECT_STATES];

export interface ConnectionInfo {
  /** 1 for the first connection this dialer made, then 2, 3, ... */
  readonly connection: number;
  /** Consecutive failed or short-lived attempts before this one. */
  readonly failures: number;
}

export interface DialErrorInfo {
  /** Consecutive failures so far, this one included. */
  readonly failures: number;
  /** Milliseconds until the next attempt. */
  readonly delayMs: number;
}

export interface ReconnectOptions<S extends Duplex = Duplex> extends ReconnectTuning {
  /**
   * Makes one connection attempt, e.g. `signal => connectTcp({ host, port, signal })`.
   * Must honour `signal` (it fires on `stop()`).
   */
  dial: (signal: AbortSignal) => Promise<S>;
  /** Receives each connected stream; the dialer waits for its 'close' before redialling. */
  onConnection: (stream: S, info: ConnectionInfo) => void;
  /** Told about each failed attempt (for logs); not called after `stop()`. */
  onDialError?: (err: unknown, info: DialErrorInfo) => void;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
  /** Time and timers. @default systemClock */
  clock?: Clock;
}

export interface StopOptions {
  /** Also destroy the connection currently handed out, if any. @default false */
  destroyConnection?: boolean;
}

export interface ReconnectingDialer<S extends Duplex = Duplex> {
  readonly state: ReconnectState;
  /** Consecutive failed or short-lived attempts (0 after a long-lived connection). */
  readonly failures: number;
  /** Connections made so far. */
  readonly connections: number;
  /** The connection handed out and not yet closed, if any. */
  readonly current: S | null;
  /**
   * Stop for good: clears the retry timer, aborts a dial in flight (a stream
   * it still yields is destroyed), and stops watching the current
   * connection. Idempotent.
   */
  stop(options?: StopOptions): void;
}

class Dialer<S extends Duplex> implements ReconnectingDialer<S> {
  #state: ReconnectState = RECONNECT_STATES.WAITING;
  #failures = 0;
  #connections = 0;
  #current: S | null = null;
  #connectedAt = 0;
  #timer: unknown = undefined;
  #abort: AbortController | null = null;
  readonly #o: ReturnType<typeof resolveReconnectTuning>;
  readonly #dial: (signal: AbortSignal) => Promise<S>;
  readonly #onConnection: (stream: S, info: ConnectionInfo) => void;
  readonly #onDialError: ((err: unknown, info: DialErrorInfo) => void) | undefined;
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #onClose = (): void => this.#closed();

  constructor(options: ReconnectOptions<S>) {
    if (typeof options?.dial !== 'function') throw invalidArgument('reconnectingDialer needs a dial(signal) function');
    if (typeof options.onConnection !== 'function') throw invalidArgument('reconnectingDialer needs onConnection');
    this.#o = resolveReconnectTuning(options);
    this.#dial = options.dial;
    this.#onConnection = options.onConnection;
    this.#onDialError = options.onDialError;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
  }

  get state(): ReconnectState {
    return this.#state;
  }
  get failures(): number {
    return this.#failures;
  }
  get connections(): number {
    return this.#connections;
  }
  get current(): S | null {
    return this.#current;
  }

  /** Guarded transition (grpc-js style): no-op and false outside `from`. */
  #transition(from: readonly ReconnectState[], to: ReconnectState): boolean {
    if (!from.includes(this.#state)) return false;
    this.#state = to;
    return true;
  }

  start(): void {
    this.#attempt();
  }

  #attempt(): void {
    this.#timer = undefined;
    if (!this.#transition([RECONNECT_STATES.WAITING], RECONNECT_STATES.DIALING)) return;
    const abort = new AbortController();
    this.#abort = abort;
    let pending: Promise<S>;
    try {
      pending = this.#dial(abort.signal);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (stream) => this.#connected(stream, abort),
      (err: unknown) => {
        if (abort.signal.aborted || this.#state !== RECONNECT_STATES.DIALING) return;
        this.#abort = null;
        const delayMs = this.#nextDelay();
        this.#onDialError?.(err, { failures: this.#failures, delayMs });
        this.#wait(delayMs);
      },
    );
  }

  #connected(stream: S, abort: AbortController): void {
    if (abort.signal.aborted || !this.#transition([RECONNECT_STATES.DIALING], RECONNECT_STATES.CONNECTED)) {
      stream.destroy();
      return;
    }
    this.#abort = null;
    this.#current = stream;
    this.#connectedAt = this.#clock.now();
    this.#connections++;
    const info: ConnectionInfo = Object.freeze({ connection: this.#connections, failures: this.#failures });
    stream.once('close', this.#onClose);
    try {
      this.#onConnection(stream, info);
    } catch (err) {
      stream.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #closed(): void {
    const stream = this.#current;
    this.#current = null;
    stream?.off('close', this.#onClose);
    if (this.#state !== RECONNECT_STATES.CONNECTED) return;
    if (this.#clock.now() - this.#connectedAt >= this.#o.resetAfterMs) this.#failures = 0;
    this.#wait(this.#nextDelay());
  }

  /** Delay for the retry after the current failure count; counts this failure. */
  #nextDelay(): number {
    const delay = backoffDelay(this.#failures, this.#o.backoff, this.#random);
    this.#failures++;
    return delay;
  }

  #wait(delayMs: number): void {
    const from = [RECONNECT_STATES.DIALING, RECONNECT_STATES.CONNECTED] as const;
    if (!this.#transition(from, RECONNECT_STATES.WAITING)) return;
    this.#timer = this.#clock.setTimeout(() => this.#attempt(), delayMs);
  }

  stop(options?: StopOptions): void {
    if (this.#state === RECONNECT_STATES.STOPPED) return;
    this.#state = RECONNECT_STATES.STOPPED;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#abort?.abort(new Error('reconnecting dialer stopped'));
    this.#abort = null;
    const stream = this.#current;
    this.#current = null;
    if (stream !== null) {
      stream.off('close', this.#onClose);
      if (options?.destroyConnection === true) stream.destroy();
    }
  }
}

/**
 * Start dialling at once and keep one connection up until `stop()`.
 * Throws `TransportError('INVALID_ARGUMENT')` for bad options.
 */
export function reconnectingDialer<S extends Duplex>(options: ReconnectOptions<S>): ReconnectingDialer<S> {
  const dialer = new Dialer(options);
  dialer.start();
  return dialer;
}
