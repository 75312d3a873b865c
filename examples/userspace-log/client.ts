/**
 * The kernel side of dm-log-userspace (dm-log-userspace-transfer.c,
 * `consult_userspace`, spec §6.4), over any unreliable channel:
 *
 * - every (re)send gets a new sequence number from one counter and its own
 *   waiter; a reply is matched by sequence number only, so a late reply to
 *   an abandoned sequence finds no waiter and is dropped (counted as stale);
 * - no reply within `timeoutMs` (15 s in the kernel): resend with a new seq;
 * - a reply with error -EAGAIN: resend with a new seq;
 * - a send that fails returns its error, without retrying;
 * - many requests may be outstanding at once; sending is serialised (one
 *   synchronous send call at a time).
 *
 * Timers use the injected Clock (src/util/clock.ts), so tests drive timeouts
 * with ManualClock.advance().
 */
import type { Clock } from 'dmsg-mesh';
import { systemClock } from 'dmsg-mesh';
import { ERRNO, ULOG_MAX_DATA, decodeRequest, encodeRequest } from './request.ts';

/** Where requests go and replies come from (a netlink connector in Linux; a span here). */
export interface UlogChannel {
  /** Send one encoded request; throws (or returns a negative errno) when it cannot be sent. */
  send(bytes: Uint8Array): number | void;
  /** Register the reply receiver (called with each reply's bytes). */
  onReply(fn: (bytes: Uint8Array) => void): void;
}

export interface UlogClientOptions {
  clock?: Clock;
  /** Wait for a reply before resending (the kernel's 15 s). @default 15000 */
  timeoutMs?: number;
  /** Resends (timeout or EAGAIN) before giving up with ETIMEDOUT; the kernel retries forever. @default 100 */
  maxAttempts?: number;
}

export class UlogError extends Error {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super(message);
    this.name = 'UlogError';
    this.errno = errno;
  }
}

interface Waiter {
  resolve: (r: { error: number; data: Uint8Array }) => void;
}

export interface UlogClientStats {
  sent: number;
  timeouts: number;
  eagain: number;
  /** Replies that matched no waiter (late, duplicated or unknown sequence). */
  stale: number;
  /** Bytes that did not decode as a reply. */
  malformed: number;
}

export class UlogClient {
  readonly #channel: UlogChannel;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #waiters = new Map<number, Waiter>();
  #seq = 0;
  readonly stats: UlogClientStats = { sent: 0, timeouts: 0, eagain: 0, stale: 0, malformed: 0 };

  constructor(channel: UlogChannel, options: UlogClientOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const maxAttempts = options.maxAttempts ?? 100;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
    this.#channel = channel;
    this.#clock = options.clock ?? systemClock;
    this.#timeoutMs = timeoutMs;
    this.#maxAttempts = maxAttempts;
    channel.onReply((bytes) => this.#onReply(bytes));
  }

  /** Sequence numbers waiting for a reply now. */
  get outstanding(): number[] {
    return [...this.#waiters.keys()];
  }

  /**
   * One request (`consult_userspace`): resolves with the reply's data, or
   * rejects with a UlogError carrying the negative errno (the server's
   * error, EINVAL for too much data, ENOSPC for a reply larger than
   * `replyCapacity`, the channel's send error, ETIMEDOUT after maxAttempts).
   */
  async request(luid: bigint, uuid: string, type: number, data: Uint8Array = new Uint8Array(0), replyCapacity = ULOG_MAX_DATA): Promise<Uint8Array> {
    if (data.length > ULOG_MAX_DATA) throw new UlogError(ERRNO.EINVAL, `request data of ${data.length} bytes exceeds ${ULOG_MAX_DATA}`);
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      const seq = this.#seq;
      this.#seq = (this.#seq + 1) >>> 0;
      const reply = new Promise<{ error: number; data: Uint8Array } | 'timeout'>((resolve) => {
        const timer = this.#clock.setTimeout(() => {
          this.#waiters.delete(seq);
          resolve('timeout');
        }, this.#timeoutMs);
        this.#waiters.set(seq, {
          resolve: (r) => {
            this.#clock.clearTimeout(timer);
            resolve(r);
          },
        });
      });
      let rv: number | void;
      try {
        rv = this.#channel.send(encodeRequest({ luid, uuid, error: 0, seq, type, data }));
      } catch (err) {
        rv = err instanceof UlogError ? err.errno : ERRNO.EIO;
      }
      if (typeof rv === 'number' && rv < 0) {
        this.#waiters.get(seq)?.resolve({ error: rv, data: new Uint8Array(0) });
        this.#waiters.delete(seq);
        throw new UlogError(rv, `send of request ${type} (seq ${seq}) failed: ${rv}`);
      }
      this.stats.sent++;
      const r = await reply;
      if (r === 'timeout') {
        this.stats.timeouts++;
        continue;
      }
      if (r.error === ERRNO.EAGAIN) {
        this.stats.eagain++;
        continue;
      }
      if (r.error !== 0) throw new UlogError(r.error, `request ${type} (seq ${seq}): error ${r.error}`);
      if (r.data.length > replyCapacity) throw new UlogError(ERRNO.ENOSPC, `reply of ${r.data.length} bytes exceeds the buffer of ${replyCapacity}`);
      return r.data;
    }
    throw new UlogError(ERRNO.ETIMEDOUT, `request ${type}: no answer after ${this.#maxAttempts} attempts`);
  }

  #onReply(bytes: Uint8Array): void {
    const r = decodeRequest(bytes);
    if (!r) {
      this.stats.malformed++;
      return;
    }
    const w = this.#waiters.get(r.seq);
    if (!w) {
      this.stats.stale++;
      return;
    }
    this.#waiters.delete(r.seq);
    w.resolve({ error: r.error, data: r.data });
  }
}
