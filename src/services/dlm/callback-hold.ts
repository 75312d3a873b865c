/**
 * Callback delivery suspended during recovery (spec §2.7 last bullet, §4.2
 * steps 1 and 7): from `stop()` until recovery finishes, every AST/BAST of
 * the lockspace that comes up for delivery is held here instead, in the
 * order it came (so per lock in order); `resume()` releases them in
 * batches of `CALLBACK_BATCH` (the kernel's MAX_CB_QUEUE, 25), one batch
 * per scheduler task with a 0 ms timer of the injected clock between
 * batches, so a long release never stalls the event loop. Callbacks that
 * come up while held ones are still being released queue behind them. An
 * aborted recovery (a new `stop()`) keeps them held until a later one
 * finishes.
 *
 * The check is made when a callback task runs (not when it is posted), so
 * the order is the scheduler's FIFO order even for a task posted before
 * `stop()` that runs after it. One boolean test per callback while nothing
 * is held.
 *
 * Urgent callbacks (`fence()`'s completions, queued while `urgent` is set)
 * are never held back by a suspension: they still come after what is held
 * (order per lock), but they and everything before them are released even
 * if the lockspace is stopped again at once (a fenced node that waits to
 * rejoin must learn at once that its locks are gone).
 */
import type { Clock } from '../../util/clock.ts';
import type { Scheduler } from './scheduler.ts';

/** Held callbacks released per scheduler task (Linux's MAX_CB_QUEUE). */
export const CALLBACK_BATCH = 25;

export class CallbackHold {
  #suspended = false;
  /** Inside a release batch: the tasks it runs are delivered, not held again. */
  #releasing = false;
  #held: (() => void)[] = [];
  #head = 0;
  /** Held entries below this index are released even while suspended (up to the last urgent one). */
  #urgentUpTo = 0;
  /** Set while callbacks being queued are urgent (fence completions). */
  urgent = false;
  /** A release step is posted or its timer armed. */
  #scheduled = false;
  /** Bumped by clear(): a release step armed before it does nothing. */
  #epoch = 0;
  readonly #scheduler: Scheduler;
  readonly #clock: Clock;
  readonly #onError: (err: unknown) => void;

  constructor(scheduler: Scheduler, clock: Clock, onError: (err: unknown) => void) {
    this.#scheduler = scheduler;
    this.#clock = clock;
    this.#onError = onError;
  }

  /** A callback task about to run must call `hold(itself)` and return instead. */
  get holding(): boolean {
    // Inside a release batch the batch decides (it stops at what must stay held).
    return !this.#releasing && (this.#suspended || this.#head < this.#held.length);
  }

  /** An urgent callback task about to run must be held (behind older ones) instead. */
  get pending(): boolean {
    return !this.#releasing && this.#head < this.#held.length;
  }

  /** Callbacks held now (suspended, or not yet released). */
  get count(): number {
    return this.#held.length - this.#head;
  }

  get suspended(): boolean {
    return this.#suspended;
  }

  hold(task: () => void, urgent = false): void {
    this.#held.push(task);
    if (urgent) {
      this.#urgentUpTo = this.#held.length;
      this.#schedule(false);
    }
  }

  /** Release everything held now even if suspended (fence: no recovery will finish for it). */
  releaseAll(): void {
    this.#urgentUpTo = this.#held.length;
    this.#schedule(false);
  }

  /** §4.2 step 1 (here: from stop()): hold every callback that comes up. */
  suspend(): void {
    this.#suspended = true;
  }

  /** §4.2 step 7: release what is held, in order, `CALLBACK_BATCH` per task. */
  resume(): void {
    this.#suspended = false;
    this.#schedule(false);
  }

  /** Forget what is held (the lockspace was released: no AST follows). */
  clear(): void {
    this.#held = [];
    this.#head = 0;
    this.#urgentUpTo = 0;
    this.#epoch++;
    this.#scheduled = false;
  }

  #schedule(yieldFirst: boolean): void {
    if (this.#scheduled || this.#head >= this.#held.length) return;
    if (this.#suspended && this.#head >= this.#urgentUpTo) return;
    this.#scheduled = true;
    const epoch = this.#epoch;
    const step = (): void => {
      if (epoch === this.#epoch) this.#release();
    };
    if (yieldFirst) this.#clock.setTimeout(() => this.#scheduler.post(step), 0);
    else this.#scheduler.post(step);
  }

  #release(): void {
    this.#scheduled = false;
    this.#releasing = true;
    try {
      for (let n = 0; n < CALLBACK_BATCH && this.#head < this.#held.length; n++) {
        // Suspended again (a new stop() from a callback): the rest stays held, in order (but urgent ones).
        if (this.#suspended && this.#head >= this.#urgentUpTo) return;
        const task = this.#held[this.#head]!;
        this.#held[this.#head++] = noop;
        try {
          task();
        } catch (err) {
          this.#onError(err);
        }
      }
    } finally {
      this.#releasing = false;
      if (this.#head >= this.#held.length) {
        this.#held = [];
        this.#head = 0;
        this.#urgentUpTo = 0;
      }
    }
    this.#schedule(true);
  }
}

function noop(): void {}
