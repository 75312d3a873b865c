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

/** What `lock()`/`unlock()` tell a scheduler (see `MicrotaskScheduler.beginCall`). */
export interface CallGuard {
  beginCall(): void;
  endCall(): void;
}

/** For schedulers that never run a callback at a receive's end (nothing to guard). */
export const NO_CALL_GUARD: CallGuard = Object.freeze({ beginCall() {}, endCall() {} });

/**
 * FIFO on the microtask queue, batched: one microtask drains what is queued.
 *
 * Received messages (`beginReceive()` / `endReceive()`, called by the node
 * around each message an endpoint delivers from the event loop): tasks
 * posted while a message is handled run at the end of its handling, in the
 * same FIFO, instead of on a later microtask. The handling of a received
 * message is never inside `lock()`/`unlock()` (§2.6), so a completion AST
 * may run there; the unlock it issues goes out before the receive stack
 * unwinds, and no microtask is spent on it.
 */
export class MicrotaskScheduler implements Scheduler, CallGuard {
  readonly #tasks = new Fifo<() => void>();
  /** A microtask drain is queued. */
  #scheduled = false;
  /** Tasks are running now (a drain in progress runs what is posted meanwhile). */
  #draining = false;
  /** Received messages being handled (nested: a transport that delivers synchronously). */
  #receiving = 0;
  /** `lock()`/`unlock()` calls in progress (`beginCall()`/`endCall()`): no drain at a receive's end inside one (§2.6). */
  #calls = 0;
  readonly #onError: (err: unknown) => void;
  /** Tasks for after the pending ones (`postAfter`). */
  readonly #after = new Fifo<() => void>();
  /** A microtask running the `postAfter` tasks is queued. */
  #afterScheduled = false;

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /**
   * Run `task` on a microtask queued once the tasks pending now have run:
   * at the end of the received message's delivery or of the drain in
   * progress (so after the microtasks its callbacks queued, e.g. the
   * continuation of a promise an AST resolved), at once when nothing is
   * pending. It never runs before a post() task posted before it (nor
   * before one posted while it waits: those run first, in their drain). For bookkeeping that must not delay what a callback sends (a
   * resource's retirement check, lockspace.ts); never inside a DLM call's
   * stack. A task's error goes to `onError`.
   */
  postAfter(task: () => void): void {
    this.#after.push(task);
    if (!this.#draining && !this.#scheduled && this.#receiving === 0) this.#flushAfter();
  }

  #flushAfter(): void {
    if (this.#afterScheduled || this.#after.length === 0) return;
    this.#afterScheduled = true;
    void TICK.then(this.#onAfter);
  }

  readonly #onAfter = (): void => {
    this.#afterScheduled = false;
    // post() tasks are pending (queued after this microtask, or left by a receive): the postAfter
    // tasks wait for them, as postAfter() promises; the drain's end queues this again.
    if (this.#tasks.length > 0 || this.#scheduled) {
      if (!this.#scheduled && !this.#draining && this.#receiving === 0) {
        this.#scheduled = true;
        void TICK.then(this.#onTick);
      }
      return;
    }
    // What these tasks post for after runs on the next such microtask.
    for (let n = this.#after.length; n > 0; n--) {
      const task = this.#after.shift()!;
      try {
        task();
      } catch (err) {
        try {
          this.#onError(err);
        } catch {
          // The error handler's own failure: nowhere left to report it, and a rejected
          // microtask must not take the process down; the other tasks still run.
        }
      }
    }
    this.#flushAfter();
  };

  post(task: () => void): void {
    this.#tasks.push(task);
    // While a drain runs or a received message is handled, the task runs at their end.
    if (!this.#scheduled && !this.#draining && this.#receiving === 0) {
      this.#scheduled = true;
      void TICK.then(this.#onTick);
    }
  }

  /** A received message is being handled: what is posted now runs at `endReceive()`. */
  beginReceive(): void {
    this.#receiving++;
  }

  /**
   * The received message was handled: run what is queued now (and what
   * that posts), unless this is a nested receive or a drain is already
   * running (it runs them). A task's error goes to `onError`; only what
   * `onError` itself throws leaves here (the tasks left then run on a
   * microtask). Call only where no DLM call (`lock()`, `unlock()`, ...) is
   * on the stack.
   */
  endReceive(): void {
    if (--this.#receiving > 0 || this.#draining) return;
    if (this.#tasks.length === 0) {
      this.#flushAfter();
      return;
    }
    if (this.#calls > 0) {
      // Received inside lock()/unlock() (a transport that delivered synchronously): never run callbacks there.
      if (!this.#scheduled) {
        this.#scheduled = true;
        void TICK.then(this.#onTick);
      }
      return;
    }
    this.#run();
  }

  /** A `lock()`/`unlock()` call starts (the lockspace calls this): callbacks never run until it ends. */
  beginCall(): void {
    this.#calls++;
  }

  /** The call ended. */
  endCall(): void {
    this.#calls--;
  }

  readonly #onTick = (): void => {
    this.#scheduled = false;
    if (!this.#draining) this.#run();
  };

  #run(): void {
    this.#draining = true;
    try {
      // Tasks posted while draining run in the same drain, after the others.
      for (let task = this.#tasks.shift(); task !== undefined; task = this.#tasks.shift()) {
        try {
          task();
        } catch (err) {
          this.#onError(err);
        }
      }
    } finally {
      this.#draining = false;
      // Left over only when onError threw: the rest runs on a microtask.
      if (this.#tasks.length > 0 && !this.#scheduled) {
        this.#scheduled = true;
        void TICK.then(this.#onTick);
      }
      if (!this.#scheduled) this.#flushAfter();
    }
  }
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
