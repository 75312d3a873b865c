/**
 * The retirement delay of unused resources (§3.5): a resource whose last
 * lock went waits `delayMs` before it is dropped (and its directory node
 * told). One timer per lockspace serves all of them: they retire in the
 * order they became unused (a Map keeps insertion order and the delay is
 * constant), so a lock/unlock cycle costs no timer call.
 */
import type { Clock } from '../../util/clock.ts';

/** What the queue needs of a resource: its retirement time, null when not queued. */
export interface Retirable {
  toss: number | null;
}

export class RetirementQueue<R extends Retirable> {
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
    this.#due.set(r, r.toss);
    if (this.#timer === null) this.#arm(this.#delayMs);
  }

  /** Take `r` out (back in use, or dropped). */
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
        if (due > now) {
          this.#arm(due - now);
          return;
        }
        this.#due.delete(r);
        this.#retire(r);
      }
    }, delay);
  }
}
