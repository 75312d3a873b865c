/**
 * The retirement delay of unused resources (§3.5): a resource whose last
 * lock went waits `delayMs` before it is dropped (and its directory node
 * told). One timer per lockspace serves all of them: they retire in the
 * order they became unused (a Map keeps insertion order and the delay is
 * constant), so a lock/unlock cycle costs no timer call. A resource back in
 * use (`revive`) keeps its entry until the timer reaches it (then dropped,
 * or moved to the back if it became unused again meanwhile): a lock/unlock
 * cycle on a known resource costs one map lookup, no delete and insert.
 */
import type { Clock } from '../../util/clock.ts';

/** What the queue needs of a resource: its retirement time, null when not queued. */
export interface Retirable {
  toss: number | null;
}

export class RetirementQueue<R extends Retirable> {
  /** Entries in queue order with the time each was queued for (nondecreasing); `r.toss` is the truth (null: in use). */
  readonly #due = new Map<R, number>();
  #timer: unknown = null;
  readonly #clock: Clock;
  readonly #delayMs: number;
  readonly #paused: () => boolean;
  readonly #retire: (r: R) => void;

  /** `paused()`: no retirement while true (locking stopped); `resume()` restarts the timer. */
  constructor(clock: Clock, delayMs: number, paused: () => boolean, retire: (r: R) => void) {
    this.#clock = clock;
    this.#delayMs = delayMs;
    this.#paused = paused;
    this.#retire = retire;
  }

  /** Start `r`'s retirement delay now. */
  add(r: R): void {
    r.toss = this.#clock.now() + this.#delayMs;
    // Still queued from before it was revived: the timer moves it to the back.
    if (!this.#due.has(r)) this.#due.set(r, r.toss);
    if (this.#timer === null) this.#arm(this.#delayMs);
  }

  /** `r` is back in use: it will not retire (its entry goes when the timer reaches it). */
  revive(r: R): void {
    r.toss = null;
  }

  /** Take `r` out now (dropped). */
  remove(r: R): void {
    this.#due.delete(r);
    r.toss = null;
  }

  /** After a pause: arm the timer again if anything waits. */
  resume(): void {
    if (this.#due.size > 0 && this.#timer === null) this.#arm(this.#delayMs);
  }

  /** Forget everything and stop the timer. */
  clear(): void {
    this.#due.clear();
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #arm(delay: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      // Nothing retires while paused: resume() picks the queue up again.
      if (this.#paused()) return;
      const now = this.#clock.now();
      for (const [r, due] of this.#due) {
        const toss = r.toss;
        if (toss === null) {
          this.#due.delete(r); // back in use
          continue;
        }
        if (due > now) {
          this.#arm(due - now);
          return;
        }
        this.#due.delete(r);
        if (toss > now) this.#due.set(r, toss); // unused again since: to the back (visited again below)
        else this.#retire(r);
      }
    }, delay);
  }
}
