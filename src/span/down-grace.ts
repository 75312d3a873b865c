/**
 * Down grace: a span whose last path was lost is not reported `down` at once
 * when a repair may still come; it is held for a bounded time, and reported
 * `changed` if a path returns in time, `down` if none does.
 *
 * Why: after a lost link, the routers next to the cut sometimes have nothing
 * left for a moment although they stay reachable: their only ways round run
 * through their own neighbours, which offered them nothing before the cut
 * (a "valley"). Those neighbours find the long way round a few messages
 * later. No local rule tells a router that a neighbour will still find a
 * path (that would need a "done searching" message on every link), so
 * discovery waits, on the router's clock, before it believes the loss.
 *
 * Only a loss is held. Discovery reports `down` at once when it is sure: the
 * originator withdrew the advertisement, the instance was our own, or this
 * router has no live link left (nothing can come back through anyone).
 *
 * DownGrace keeps the held spans and one timer each; discovery decides.
 */
import type { Clock } from '../util/clock.ts';

/** How long a lost span is held before `down` by default (ms): twice the repair-hold bound (REPAIR_HOLD_MS). */
export const DOWN_GRACE_MS = 4000;

export interface DownGraceOptions<K, V> {
  readonly clock: Clock;
  /** 0: no grace (the caller reports `down` at once). */
  readonly graceMs: number;
  /** The grace of `key` ended without a path: `last` is what was held. */
  readonly onExpire: (key: K, last: V) => void;
}

/** The spans held between losing their last path and `down`. */
export class DownGrace<K, V> {
  readonly #held = new Map<K, { readonly last: V; readonly timer: unknown }>();
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #onExpire: (key: K, last: V) => void;
  #expired = 0;
  #returned = 0;

  constructor(options: DownGraceOptions<K, V>) {
    this.#clock = options.clock;
    this.#graceMs = options.graceMs;
    this.#onExpire = options.onExpire;
  }

  /** Is a grace configured (graceMs > 0)? */
  get enabled(): boolean {
    return this.#graceMs > 0;
  }

  /** Spans held now. */
  get size(): number {
    return this.#held.size;
  }

  /** Graces that ended in `down` (no path came back in time). */
  get expired(): number {
    return this.#expired;
  }

  /** Graces that ended because a path came back (one `changed` instead of `down` and `up`). */
  get returned(): number {
    return this.#returned;
  }

  isHeld(key: K): boolean {
    return this.#held.has(key);
  }

  /** Hold `key`, last seen as `last`; a span already held keeps its first timer (the bound is from the first loss). */
  hold(key: K, last: V): void {
    if (!this.enabled || this.#held.has(key)) return;
    const timer = this.#clock.setTimeout(() => {
      const h = this.#held.get(key);
      if (h === undefined || h.timer !== timer) return;
      this.#held.delete(key);
      this.#expired++;
      this.#onExpire(key, h.last);
    }, this.#graceMs);
    this.#held.set(key, { last, timer });
  }

  /** A path came back: end the grace of `key`; returns whether it was held. */
  returnedPath(key: K): boolean {
    if (!this.#end(key)) return false;
    this.#returned++;
    return true;
  }

  /** End the grace of `key` without counting it (a sure down, reported by the caller). */
  drop(key: K): boolean {
    return this.#end(key);
  }

  /** Forget every held span and stop the timers (the router is closing). */
  clearAll(): void {
    for (const key of [...this.#held.keys()]) this.#end(key);
  }

  #end(key: K): boolean {
    const h = this.#held.get(key);
    if (h === undefined) return false;
    this.#held.delete(key);
    this.#clock.clearTimeout(h.timer);
    return true;
  }
}
