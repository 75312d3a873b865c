/**
 * Completion ASTs queued by a lockspace and not yet delivered, in order.
 *
 * `queueCast` records what the AST needs (the values at the time it was
 * queued) here and posts the lockspace's one bound delivery task to the
 * scheduler; each run of that task takes the oldest record. The scheduler
 * runs tasks in FIFO order (its contract), so the n-th run takes the n-th
 * record, and ASTs keep their order among themselves and among the other
 * tasks posted meanwhile. No closure per lock operation: one small record
 * instead of two closures and their contexts.
 */
import type { AstFn, Lksb } from './lock.ts';

/** One queued completion AST. */
export interface PendingCast {
  readonly ast: AstFn | null;
  readonly astarg: unknown;
  readonly lksb: Lksb | null;
  readonly status: number;
  readonly sbflags: number;
  readonly fence: number;
  /** Queued while recovery released held callbacks urgently (callback-hold.ts). */
  readonly urgent: boolean;
}

/** A FIFO of PendingCast records (an array with a moving head; no shift() per take). */
export class CastQueue {
  #items: PendingCast[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(cast: PendingCast): void {
    this.#items.push(cast);
  }

  /** The oldest record, or undefined when none waits. */
  take(): PendingCast | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const cast = items[this.#head]!;
    if (++this.#head === items.length) {
      // Drained: start again at 0 (the usual case, one or a few per tick).
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      // A long backlog: drop the taken prefix now and then.
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return cast;
  }
}
