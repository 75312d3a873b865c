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
import { Fifo } from './fifo.ts';
import type { AstFn, Lksb } from './lock.ts';

/** One queued completion AST (a record CastDelivery reuses once delivered). */
export interface PendingCast {
  ast: AstFn | null;
  astarg: unknown;
  lksb: Lksb | null;
  status: number;
  sbflags: number;
  fence: number;
  /** Queued while recovery released held callbacks urgently (callback-hold.ts). */
  urgent: boolean;
}

/** The queue of PendingCast records (push at queueCast, shift at delivery). */
export class CastQueue extends Fifo<PendingCast> {}
