/**
 * `shutdown()` calls waiting for the session to reach CLOSED (§5.8), and the
 * one timer (`shutdownTimeoutMs`) that bounds their wait.
 */
import type { Clock } from '../../util/clock.ts';

export interface ShutdownWaiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export class ShutdownWaiters {
  readonly #clock: Clock;
  #timer: unknown = null;
  #waiters: ShutdownWaiter[] = [];

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Waits for `wake()`. The first waiter starts the timer; when it fires
   * (unless woken first) `onTimeout` runs.
   */
  wait(timeoutMs: number, onTimeout: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (this.#timer === null) {
        this.#timer = this.#clock.setTimeout(() => {
          this.#timer = null;
          onTimeout();
        }, timeoutMs);
      }
    });
  }

  /** Takes every waiter out of the line (the caller settles them). */
  take(): ShutdownWaiter[] {
    const waiters = this.#waiters;
    this.#waiters = [];
    return waiters;
  }

  /** Stops the timer; resolves every waiter, or rejects them with `error`. */
  wake(error: Error | null): void {
    if (this.#timer !== null) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    for (const w of this.take()) {
      if (error === null) w.resolve();
      else w.reject(error);
    }
  }
}
