/**
 * Where the DLM runs deferred work: AST/BAST delivery (never inside lock() or
 * unlock()) and, in simulations, message delivery. The default runs tasks on
 * a microtask, in FIFO order; `ManualScheduler` runs them only when asked, so
 * a deterministic simulation decides when anything happens.
 */

export interface Scheduler {
  /** Run `task` later, after the current call returns; tasks run in FIFO order. */
  post(task: () => void): void;
}

/** FIFO on the microtask queue, batched: one microtask drains what is queued. */
export class MicrotaskScheduler implements Scheduler {
  readonly #tasks: (() => void)[] = [];
  #head = 0;
  #scheduled = false;
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  post(task: () => void): void {
    this.#tasks.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    // Tasks posted while draining run in the same drain, after the others.
    while (this.#head < this.#tasks.length) {
      const task = this.#tasks[this.#head]!;
      this.#tasks[this.#head++] = noop;
      try {
        task();
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#tasks.length = 0;
    this.#head = 0;
  };
}

function noop(): void {}

/** Tasks run only inside `runPending()` (and so inside a simulation's `settle()`). */
export class ManualScheduler implements Scheduler {
  readonly #tasks: (() => void)[] = [];
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

  /** Run tasks (and those they post) until none is left, at most `limit`; returns how many ran. */
  runPending(limit = 10_000_000): number {
    let ran = 0;
    while (this.#tasks.length > 0) {
      if (ran >= limit) throw new RangeError(`runPending: more than ${limit} tasks; something keeps posting work`);
      const batch = this.#tasks.splice(0, this.#tasks.length);
      for (const task of batch) {
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
