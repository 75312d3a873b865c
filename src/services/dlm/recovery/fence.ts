/**
 * Fencing a lockspace on this node (the contract's `fence(status)`): every
 * lock this node owns completes once with `status` and ends; the lockspace
 * then forgets all its state (done by `Lockspace.fence`).
 */
import { LKM } from '../constants.ts';
import type { Lock } from '../lock.ts';
import type { Lockspace } from '../lockspace.ts';

/** Complete every owned lock (local or process copy) with `status`, terminal. */
export function fenceLocks(ls: Lockspace, locks: readonly Lock[], status: number): void {
  for (const lkb of locks) {
    if (lkb.masterCopy || lkb.endOfLife) continue;
    lkb.waitType = 'none';
    lkb.secondary = 'none';
    lkb.overlapCancel = lkb.overlapUnlock = false;
    lkb.resend = null;
    lkb.sbflags = 0;
    lkb.grmode = lkb.rqmode = LKM.IV;
    ls.queueCast(lkb, status, true);
  }
}
