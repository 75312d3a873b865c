/**
 * Cancel by an external deadlock detector (spec §2.11; Linux's
 * `dlm_user_deadlock`, used by dlm_controld): the lock's request or
 * conversion is cancelled as by `unlock(lkid, CANCEL)`, but its completion
 * reports EDEADLK instead of ECANCEL, so the holder learns it was chosen as
 * a deadlock victim. The mark lives on the owner's copy; the cancel itself
 * travels as an ordinary CANCEL. A cancel that finds nothing to cancel (the
 * grant won the race) reports nothing, as a plain cancel does, and the mark
 * goes with the next completion.
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_, LKSTS as LKSTS_ } from './constants.ts';
import type { Lockspace } from './lockspace.ts';

const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;
const LKM = LKM_;
const LKSTS = LKSTS_;

/** Cancel `lkid` as a deadlock victim: 0 or a negative errno (as `unlock()` with CANCEL). */
export function cancelForDeadlock(ls: Lockspace, lkid: number): number {
  const lkb = ls.lockById(lkid);
  if (!lkb || lkb.endOfLife || lkb.masterCopy) return DLM_ERRNO.ENOENT;
  lkb.deadlockCancel = true;
  const rv = ls.unlock(lkid, LKF.CANCEL);
  // Refused, or nothing was in progress (no completion follows): no mark left behind.
  const idle = lkb.status === LKSTS.GRANTED && lkb.rqmode === LKM.IV && lkb.waitType === 'none' && lkb.secondary === 'none' && !lkb.overlapCancel;
  if (rv !== 0 || idle) lkb.deadlockCancel = false;
  return rv;
}

/** The status a completion reports: ECANCEL becomes EDEADLK for a deadlock victim. */
export function deadlockStatus(status: number): number {
  return status === DLM_ERRNO.ECANCEL ? DLM_ERRNO.EDEADLK : status;
}
