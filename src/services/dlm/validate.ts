/**
 * Argument validation of lock() and unlock() with the kernel's synchronous
 * errors (spec §1.3), as pure functions of the arguments and of what the
 * caller knows of the lock. 0 = accepted.
 */
import { DLM_ERRNO as DLM_ERRNO_, DLM_RESNAME_MAXLEN as DLM_RESNAME_MAXLEN_, LKF as LKF_, LKF_ALL as LKF_ALL_, LKF_UNLOCK_ALLOWED as LKF_UNLOCK_ALLOWED_, LKSTS as LKSTS_, type LockStatus, type ModeOrIV } from './constants.ts';
import type { Lock } from './lock.ts';
import { quecvtAllowed } from './modes.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const DLM_RESNAME_MAXLEN = DLM_RESNAME_MAXLEN_;
const LKF = LKF_;
const LKF_ALL = LKF_ALL_;
const LKF_UNLOCK_ALLOWED = LKF_UNLOCK_ALLOWED_;
const LKSTS = LKSTS_;

export interface LockArgs {
  mode: number;
  flags: number;
  /** Resource name length (ignored for conversions). */
  nameLength: number;
  hasAst: boolean;
  hasLksb: boolean;
  /** Whether the lksb carries an LVB buffer. */
  hasLvb: boolean;
  /** lksb.lkid (conversions name the lock by it). */
  lkid: number;
}

/** Checks that need no lock (the kernel's set_lock_args). */
export function validateLockArgs(a: LockArgs): number {
  return checkLockArgs(a.mode, a.flags, a.nameLength, a.hasAst, a.hasLksb, a.hasLvb, a.lkid);
}

/** `validateLockArgs` with the fields as arguments (lock(): no record per call). */
export function checkLockArgs(mode: number, f: number, nameLength: number, hasAst: boolean, hasLksb: boolean, hasLvb: boolean, lkid: number): number {
  const EINVAL = DLM_ERRNO.EINVAL;
  if (!Number.isInteger(f) || f < 0 || (f & ~LKF_ALL) !== 0) return EINVAL;
  if (!Number.isInteger(mode) || mode < 0 || mode > 5) return EINVAL;
  // A new request's name: 1..64 bytes. Linux checks only the upper bound, but an empty name cannot
  // travel: its LOOKUP/REQUEST is refused on receipt (message.ts) and recovery's NAMES records end
  // a chunk at length 0 (§3.8), so it is refused here, on every node alike (docs/dlm.md, differences).
  if (!(f & LKF.CONVERT) && (nameLength === 0 || nameLength > DLM_RESNAME_MAXLEN)) return EINVAL;
  if (f & LKF.CANCEL) return EINVAL;
  if (f & LKF.QUECVT && !(f & LKF.CONVERT)) return EINVAL;
  if (f & LKF.CONVDEADLK && !(f & LKF.CONVERT)) return EINVAL;
  if (f & LKF.CONVDEADLK && f & LKF.NOQUEUE) return EINVAL;
  if (f & LKF.EXPEDITE && f & (LKF.CONVERT | LKF.QUECVT | LKF.NOQUEUE)) return EINVAL;
  if (f & LKF.EXPEDITE && mode !== 0) return EINVAL;
  if (!hasAst || !hasLksb) return EINVAL;
  if (f & LKF.VALBLK && !hasLvb) return EINVAL;
  if (f & LKF.CONVERT && lkid === 0) return EINVAL;
  return 0;
}

/** What validation reads of an existing lock. */
export interface LockState {
  status: LockStatus;
  grmode: ModeOrIV;
  /** A master copy (the master's record of a remote owner's lock). */
  masterCopy: boolean;
  /** A remote operation (lookup, request, convert, unlock, cancel) awaits its reply. */
  busy: boolean;
  /** An overlapping unlock or cancel is recorded. */
  overlap: boolean;
  /** The lock waits for another lock's directory lookup. */
  onLookupList: boolean;
  /** Which of CANCEL / FORCEUNLOCK (or a plain unlock) is outstanding. */
  cancelOutstanding: boolean;
  unlockOutstanding: boolean;
}

/** What validation needs to know of `lkb` (a lock with a resource) on node `ourNodeid`. */
export function lockStateOf(lkb: Lock, ourNodeid: number): LockState {
  const r = lkb.resource!;
  return {
    status: lkb.status,
    grmode: lkb.grmode,
    masterCopy: lkb.masterCopy,
    busy: lkb.waitType !== 'none' || lkb.secondary !== 'none' || (r.firstLkid === lkb.lkid && r.master !== ourNodeid && lkb.status === LKSTS.NONE),
    overlap: lkb.overlapCancel || lkb.overlapUnlock,
    onLookupList: r.lookupList.includes(lkb),
    cancelOutstanding: lkb.overlapCancel || lkb.waitType === 'cancel' || lkb.secondary === 'cancel',
    unlockOutstanding: lkb.overlapUnlock || lkb.waitType === 'unlock' || lkb.secondary === 'unlock',
  };
}

/** Checks of a conversion against the lock (the kernel's validate_lock_args). */
export function validateConvert(mode: number, flags: number, lk: LockState): number {
  if (lk.status !== LKSTS.GRANTED || lk.busy || lk.overlap || lk.onLookupList) return DLM_ERRNO.EBUSY;
  if (lk.masterCopy) return DLM_ERRNO.EINVAL;
  if (flags & LKF.QUECVT && !quecvtAllowed(lk.grmode, mode as ModeOrIV)) return DLM_ERRNO.EINVAL;
  return 0;
}

/** Flag checks of unlock() that need no lock. */
export function validateUnlockFlags(flags: number): number {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~LKF_UNLOCK_ALLOWED) !== 0) return DLM_ERRNO.EINVAL;
  if (flags & LKF.CANCEL && flags & LKF.FORCEUNLOCK) return DLM_ERRNO.EINVAL;
  return 0;
}

/**
 * What unlock() does with a lock (the kernel's validate_unlock_args):
 * 'proceed' runs it now; 'overlap' records it to finish when the in-flight
 * reply arrives (returns 0); 'nothing' is a cancel with nothing to cancel
 * (returns 0, no AST); a negative number is the synchronous error.
 */
export type UnlockVerdict = 'proceed' | 'overlap' | 'nothing' | number;

export function validateUnlock(flags: number, lk: LockState, inFlight: 'none' | 'lookup' | 'request' | 'convert' | 'unlock' | 'cancel'): UnlockVerdict {
  if (lk.masterCopy) return DLM_ERRNO.EINVAL;
  const cancel = (flags & LKF.CANCEL) !== 0;
  const force = (flags & LKF.FORCEUNLOCK) !== 0;
  if (cancel) {
    if (lk.cancelOutstanding) return DLM_ERRNO.EINVAL;
    if (lk.unlockOutstanding) return DLM_ERRNO.EINVAL;
    if (lk.onLookupList) return 'overlap';
    if (inFlight === 'lookup' || inFlight === 'request') return 'overlap';
    if (inFlight === 'unlock' || inFlight === 'cancel') return DLM_ERRNO.EINVAL;
    if (lk.status === LKSTS.GRANTED && inFlight === 'none') return 'nothing';
    return 'proceed';
  }
  if (force) {
    if (lk.unlockOutstanding) return DLM_ERRNO.EINVAL;
    if (lk.onLookupList) return 'overlap';
    if (inFlight === 'lookup' || inFlight === 'request') return 'overlap';
    if (inFlight === 'unlock') return DLM_ERRNO.EINVAL;
    return 'proceed';
  }
  if (lk.busy || lk.overlap || lk.onLookupList) return DLM_ERRNO.EBUSY;
  return 'proceed';
}
