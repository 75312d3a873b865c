/**
 * The callers an Iocom (iocom.ts) keeps waiting: ping() for the peer's
 * PING|REPLY, whenWritable() for the write queue to drain below its
 * high-water mark. Both end when the link ends.
 */
import { TransactionError } from './errors.ts';

interface PingWaiter {
  sent: number;
  resolve: (ms: number) => void;
  reject: (e: Error) => void;
}

/** ping() calls awaiting the peer's PING|REPLY, oldest first. */
export class PingWaiters {
  readonly #list: PingWaiter[] = [];

  /** Register a waiter (sent at `now()`), then `send` the PING; resolves with the round-trip time. */
  wait(now: () => number, signal: AbortSignal | undefined, send: () => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const waiter: PingWaiter = {
        sent: now(),
        resolve: (ms: number) => { signal?.removeEventListener('abort', onAbort); resolve(ms); },
        reject: (e: Error) => { signal?.removeEventListener('abort', onAbort); reject(e); },
      };
      const onAbort = (): void => {
        const i = this.#list.indexOf(waiter);
        if (i >= 0) this.#list.splice(i, 1);
        reject(new TransactionError('CANCELLED', 'ping() was aborted', 0, { cause: signal?.reason }));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#list.push(waiter);
      send();
    });
  }

  /** The peer's PING|REPLY arrived: the oldest waiter gets its round-trip time (the clock is read only if one waits). */
  answer(now: () => number): void {
    const w = this.#list.shift();
    if (w) w.resolve(now() - w.sent);
  }

  /** The link ended: every waiter is rejected with its own error. */
  rejectAll(errorOf: () => Error): void {
    for (const w of this.#list.splice(0)) w.reject(errorOf());
  }
}

/** whenWritable() calls awaiting the write queue to go below its high-water mark. */
export class WritableWaiters {
  readonly #set = new Set<() => void>();

  get size(): number {
    return this.#set.size;
  }

  wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.#set.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#set.delete(done);
        reject(new TransactionError('CANCELLED', 'whenWritable() was aborted', 0, { cause: signal?.reason }));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#set.add(done);
    });
  }

  /** Resolve every waiter (the queue drained, or the link ended). */
  wakeAll(): void {
    for (const w of [...this.#set]) w();
  }
}
