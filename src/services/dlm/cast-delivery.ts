/**
 * How a lockspace's callbacks reach the caller (§2.7): completion ASTs as
 * records in a FIFO (`cast-queue.ts`) delivered by one bound task, BASTs as
 * one task each, both through the node's scheduler and held while the
 * lockspace is stopped or recovering (`callback-hold.ts`). A callback that
 * throws is counted (`stats.callbackErrors`) and reported to the host; it
 * never escapes into the lockspace.
 */
import type { CallbackHold } from './callback-hold.ts';
import { CastQueue, type PendingCast } from './cast-queue.ts';
import { LKM as LKM_, type Mode } from './constants.ts';
import { deadlockStatus } from './deadlock-cancel.ts';
import { skipBast } from './grant-rules.ts';
import type { Lock } from './lock.ts';
import type { LockspaceHost } from './lockspace-host.ts';
import type { LockspaceStats } from './lockspace-stats.ts';

// A local copy: a transpiler may turn imported bindings into getters on hot paths.
const LKM = LKM_;

/** Delivered completion records kept for reuse, at most (a burst beyond allocates). */
const MAX_FREE = 64;

export class CastDelivery {
  /** Completion ASTs queued, in order (delivered by #castTask). */
  readonly #casts = new CastQueue();
  /** ASTs/BASTs held while recovering (the lockspace's, shared). */
  readonly #held: CallbackHold;
  readonly #stats: LockspaceStats;
  readonly #host: LockspaceHost;
  /** Delivered records for push() to reuse (at most MAX_FREE). */
  readonly #free: PendingCast[] = [];

  constructor(held: CallbackHold, stats: LockspaceStats, host: LockspaceHost) {
    this.#held = held;
    this.#stats = stats;
    this.#host = host;
  }

  /** Records `lkb`'s completion AST with the values it has now; `post()` then schedules its delivery. */
  push(lkb: Lock, status: number): void {
    if (lkb.deadlockCancel) {
      lkb.deadlockCancel = false;
      status = deadlockStatus(status);
    }
    lkb.lastCastMode = lkb.grmode;
    lkb.lastCbMode = lkb.grmode;
    lkb.lastCbWasBast = false;
    // A record and the one bound task, not closures (cast-queue.ts); a record delivered before is reused.
    const rec = this.#free.pop();
    if (rec === undefined) {
      this.#casts.push({
        ast: lkb.ast,
        astarg: lkb.astarg,
        lksb: lkb.lksb,
        status,
        sbflags: lkb.sbflags,
        fence: lkb.grmode >= LKM.PW ? lkb.fence : 0,
        urgent: this.#held.urgent,
      });
      return;
    }
    rec.ast = lkb.ast;
    rec.astarg = lkb.astarg;
    rec.lksb = lkb.lksb;
    rec.status = status;
    rec.sbflags = lkb.sbflags;
    rec.fence = lkb.grmode >= LKM.PW ? lkb.fence : 0;
    rec.urgent = this.#held.urgent;
    this.#casts.push(rec);
  }

  /** Posts the delivery task for the record `push()` queued. */
  post(): void {
    this.#host.scheduler.post(this.#castTask);
  }

  /** The oldest queued completion AST: delivered now, or held (callback-hold.ts). */
  readonly #castTask = (): void => {
    const cast = this.#casts.shift();
    if (cast !== undefined) this.#castOrHold(cast);
  };

  #castOrHold(cast: PendingCast): void {
    const held = this.#held;
    if (cast.urgent ? held.pending : held.holding) {
      held.hold(() => this.#castOrHold(cast), cast.urgent);
      return;
    }
    const lksb = cast.lksb;
    if (lksb) {
      lksb.status = cast.status;
      lksb.flags = cast.sbflags;
      lksb.fence = cast.fence;
    }
    this.#stats.callbacks++;
    const ast = cast.ast;
    const astarg = cast.astarg;
    // Delivered: nothing refers to the record any more (a held one is referred to by its hold
    // closure until it comes back here). Emptied, so it keeps nothing alive, and reused by push().
    cast.ast = null;
    cast.astarg = undefined;
    cast.lksb = null;
    if (this.#free.length < MAX_FREE) this.#free.push(cast);
    if (ast === null || ast === undefined) return;
    try {
      ast(astarg);
    } catch (err) {
      this.#stats.callbackErrors++;
      this.#host.callbackError(err);
    }
  }

  /** Queues a BAST for `lkb` (unless the grant rules skip it, §2.7). */
  queueBast(lkb: Lock, mode: Mode): void {
    const bast = lkb.bast;
    if (!bast || skipBast(lkb, mode)) return;
    lkb.lastCbMode = mode;
    lkb.lastCbWasBast = true;
    const astarg = lkb.astarg;
    const held = this.#held;
    const task = (): void => {
      if (held.holding) return held.hold(task);
      this.#stats.callbacks++;
      this.#call(() => bast(astarg, mode));
    };
    this.#host.scheduler.post(task);
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#stats.callbackErrors++;
      this.#host.callbackError(err);
    }
  }
}
