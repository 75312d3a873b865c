/**
 * The two ways a lockspace forgets everything: `fence()` (this node was
 * excluded: every lock it owns completes with a status, locking stays
 * stopped, the next start joins fresh) and `release()`
 * (`dlm_release_lockspace`, with its force levels). `Lockspace.fence()` and
 * `release()` call these with the lockspace's state (`TeardownState`); the
 * API and its documentation are on the Lockspace.
 */
import type { CallbackHold } from './callback-hold.ts';
import { DLM_ERRNO, LKM } from './constants.ts';
import type { Lock } from './lock.ts';
import { announceUnusedMastered } from './lockspace-lifecycle.ts';
import type { Lockspace } from './lockspace.ts';
import { fenceLocks } from './recovery/fence.ts';
import type { LockingGate } from './recovery/locking-gate.ts';
import type { RecoveryDriver } from './recovery/recovery-driver.ts';
import type { Resource } from './resource.ts';
import type { RetirementQueue } from './retirement-queue.ts';
import type { LockIndex } from './lock-table.ts';

/** What fence and release reach of a lockspace's private state. */
export interface TeardownState {
  readonly locks: LockIndex;
  readonly recovery: RecoveryDriver;
  readonly locking: LockingGate;
  readonly callbacks: CallbackHold;
  readonly retirement: RetirementQueue<Resource>;
  readonly waiting: Set<Lock>;
  /** Replaces the member list. */
  setMembers(members: number[]): void;
  /** The lockspace is released from now on. */
  markReleased(): void;
}

/** `Lockspace.fence(status)` on a lockspace that is not released. */
export function fenceLockspace(ls: Lockspace, st: TeardownState, status: number): void {
  st.recovery.reset();
  st.locking.stopped = true;
  // Its completions are urgent: delivered even if the lockspace is stopped again at once (after what is held).
  st.callbacks.releaseAll();
  st.callbacks.urgent = true;
  try {
    fenceLocks(ls, [...st.locks.values()], status);
  } finally {
    st.callbacks.urgent = false;
  }
  for (const lkb of st.locks.values()) lkb.endOfLife = true;
  st.locks.clear();
  st.retirement.clear();
  ls.rsbs.clear();
  st.locking.clear();
  st.waiting.clear();
  st.setMembers([ls.ourNodeid]);
  // No recovery will finish for what was held: it is delivered, before the fence completions.
  st.callbacks.resume();
}

/** `Lockspace.release(force)`: 0 or a negative errno. */
export function releaseLockspace(ls: Lockspace, st: TeardownState, force: 0 | 1 | 2 | 3): number {
  if (force !== 0 && force !== 1 && force !== 2 && force !== 3) return DLM_ERRNO.EINVAL;
  if (ls.released) return 0;
  if (force === 0 && st.locks.size > 0) return DLM_ERRNO.EBUSY;
  if (force === 1) {
    for (const lkb of st.locks.values()) if (!lkb.masterCopy && lkb.grmode !== LKM.IV) return DLM_ERRNO.EBUSY;
  }
  st.markReleased();
  st.recovery.reset(); // a recovery in progress ends here (its timers with it)
  st.callbacks.clear();
  st.waiting.clear();
  if (force < 3 && !ls.nodir) announceUnusedMastered(ls);
  st.retirement.clear();
  ls.rsbs.clear();
  for (const lkb of st.locks.values()) lkb.endOfLife = true;
  st.locks.clear();
  return 0;
}
