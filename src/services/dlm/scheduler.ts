/**
 * Where the DLM runs deferred work: AST/BAST delivery (never inside lock() or
 * unlock()) and, in simulations, message delivery. The default runs tasks on
 * a microtask, in FIFO order; `ManualScheduler` runs them only when asked, so
 * a deterministic simulation decides when anything happens.
 */
import { Fifo } from './fifo.ts';

export interface Scheduler {
  /** Run `task` later, after the current call returns; tasks run in FIFO order. */
  post(task: () => void): void;
}

/**
 * The drain goes on a resolved promise, not `queueMicrotask`: Node's
 * queueMicrotask makes an AsyncResource and a bound function per call. The
 * drain never throws (each task's error goes to `onError`).
 */
const TICK: Promise<void> = Promise.resolve();

/** FIFO on the microtask queue, batched: one microtask drains what is queued. */
export class MicrotaskScheduler implements Scheduler {
  readonly #tasks = new Fifo<() => void>();
  #scheduled = false;
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  post(task: () => void): void {
    this.#tasks.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      void TICK.then(this.#drain);
    }
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    // Tasks posted while draining run in the same drain, after the others.
    for (let task = this.#tasks.shift(); task !== undefined; task = this.#tasks.shift()) {
      try {
        task();
      } catch (err) {
        this.#onError(err);
      }
    }
  };
}

/** Tasks run only inside `runPending()` (and so inside a simulation's `settle()`). */
export class ManualScheduler implements Scheduler {
  readonly #tasks = new Fifo<() => void>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void = (err) => {
    throw err;
  }) {
    this.#onError = onError;
  }

  post(task: () => void): void {
    this.#tasks.push(task);
  }

  get pending(): number {
    return this.#tasks.length;
  }

  /**
   * Run tasks (and those they post) until none is left, at most `limit`
   * (checked between batches: what was queued, then what that posted, ...);
   * returns how many ran.
   */
  runPending(limit = 10_000_000): number {
    const tasks = this.#tasks;
    let ran = 0;
    while (tasks.length > 0) {
      if (ran >= limit) throw new RangeError(`runPending: more than ${limit} tasks; something keeps posting work`);
      // This batch: what is queued now (a task that runs runPending itself may take some first).
      for (let n = tasks.length; n > 0; n--) {
        const task = tasks.shift();
        if (task === undefined) break;
        ran++;
        try {
          task();
        } catch (err) {
          this.#onError(err);
        }
      }
    }
    return ran;
  }
}
