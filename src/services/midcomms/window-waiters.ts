/**
 * `send()` calls waiting for room in the send window, first come first
 * served, each with an optional AbortSignal, at most `max` at once.
 */
import { MidcommsError } from './errors.ts';

export interface WindowWaiter {
  /** The caller's message (a copy: the caller may reuse its buffer meanwhile). */
  readonly message: Uint8Array;
  /** `sendAcked()`: resolve at the ACK, not at commit. */
  readonly acked: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Entry extends WindowWaiter {
  readonly cleanup: () => void;
}

export class WindowWaiters {
  #entries: Entry[] = [];

  get length(): number {
    return this.#entries.length;
  }

  /** Waits for its turn; rejects with ABORTED if `signal` fires first. */
  add(message: Uint8Array, acked: boolean, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#entries.indexOf(entry);
        if (i >= 0) this.#entries.splice(i, 1);
        reject(new MidcommsError('ABORTED', 'aborted while waiting for room in the window'));
      };
      const entry: Entry = { message, acked, resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#entries.push(entry);
    });
  }

  peek(): WindowWaiter | undefined {
    return this.#entries[0];
  }

  /** Takes the first waiter out of the line (its signal no longer matters). */
  shift(): WindowWaiter | undefined {
    const e = this.#entries.shift();
    e?.cleanup();
    return e;
  }

  rejectAll(err: Error): void {
    for (const e of this.#entries.splice(0)) {
      e.cleanup();
      e.reject(err);
    }
  }
}
