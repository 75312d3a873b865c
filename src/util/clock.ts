/**
 * The one time source every layer takes by injection: iocom keepalive and link
 * timeouts, the router's memories, the reconnecting dialer, and the services'
 * timers. `systemClock` is real time; `ManualClock` is virtual time for tests
 * and deterministic simulations (timers fire only inside `advance()`).
 */

/** Time and timers. `now()` is in milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time: `Date.now()` and the host's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * Virtual time. Timers fire only inside `advance()` / `runAll()`, in due
 * order (ties in the order they were set); a timer set by a firing timer fires
 * in the same `advance()` if it falls due before its end.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const seq = ++this.#seq;
    this.#timers.set(seq, { due: this.#now + Math.max(0, ms), seq, fn });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.#timers.delete(handle);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Due times of the pending timers, relative to now, soonest first. */
  get delays(): number[] {
    return [...this.#timers.values()].map((t) => t.due - this.#now).sort((a, b) => a - b);
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be >= 0, got ${ms}`);
    const end = this.#now + ms;
    for (;;) {
      const next = this.#next(end);
      if (next === undefined) break;
      this.#timers.delete(next.seq);
      this.#now = next.due;
      next.fn();
    }
    this.#now = end;
  }

  /** Fire timers until none is pending (at most `limit` of them); returns how many fired. */
  runAll(limit = 100_000): number {
    let fired = 0;
    for (; fired < limit; fired++) {
      const next = this.#next(Number.POSITIVE_INFINITY);
      if (next === undefined) return fired;
      this.#timers.delete(next.seq);
      this.#now = Math.max(this.#now, next.due);
      next.fn();
    }
    throw new RangeError(`runAll: more than ${limit} timers fired; a timer keeps re-arming itself`);
  }

  #next(end: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers.values()) {
      if (t.due > end) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
