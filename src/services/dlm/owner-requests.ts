/**
 * The owner side of a lock's operations (§2.10, §3.3): set_master() and
 * the lookup that finds a resource's master (locks parked behind it,
 * confirm_master()), request / convert / unlock / cancel done here when the
 * master is local or sent to the master, and grant_lock_pc() (the owner's
 * copy follows a grant). Functions of the lockspace they act on; the
 * `Lockspace` methods of the same names call them (owner-side.ts and
 * recovery/ call those). What the owner does with the master's replies is
 * `owner-side.ts`.
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_, LKSTS as LKSTS_ } from './constants.ts';
import { fenceOnOwnerGrant, fenceOutOfRange, writeFence } from './fence-rules.ts';
import type { Lock, WaitType } from './lock.ts';
import { lockMessage } from './lock-message.ts';
import type { Lockspace } from './lockspace.ts';
import { MSG, type DlmMessage, type MsgType } from './message.ts';
import { isDownConversion, lvbOperation } from './modes.ts';
import type { Resource } from './resource.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;
const LKM = LKM_;
const LKSTS = LKSTS_;

/** @internal (owner-side.ts) */
export function requestLock(ls: Lockspace, r: Resource, lkb: Lock): void {
  if (!setMaster(ls, r, lkb)) return;
  if (r.master === ls.ourNodeid) {
    const result = r.doRequest(lkb, ls);
    r.doRequestEffects(lkb, result, ls);
    ls.checkUnused(r);
  } else {
    sendRequest(ls, r, lkb, MSG.REQUEST, r.master);
  }
}

/** set_master(): true to go on (master known), false when a lookup is in flight or the lock is parked. */
function setMaster(ls: Lockspace, r: Resource, lkb: Lock): boolean {
  if (ls.nodir) {
    // Static mastering: the hash node, never looked up (recovery remasters when it changes).
    const master = ls.dirNodeOf(r);
    r.master = master;
    r.uncertain = false;
    r.firstLkid = 0;
    lkb.nodeid = master === ls.ourNodeid ? 0 : master;
    return true;
  }
  if (r.uncertain) {
    r.uncertain = false;
    // A cached remote master, maybe stale: this lock goes first and its reply confirms it.
    // Recovery may have made the master this node (or unknown) since: then nothing is uncertain
    // (a local master is lkb.nodeid 0, never our own id: messages to ourselves are refused).
    if (r.master !== 0 && r.master !== ls.ourNodeid) {
      r.firstLkid = lkb.lkid;
      lkb.nodeid = r.master;
      return true;
    }
  }
  if (r.firstLkid !== 0 && r.firstLkid !== lkb.lkid) {
    r.lookupList.push(lkb);
    return false;
  }
  if (r.master === ls.ourNodeid) {
    lkb.nodeid = 0;
    return true;
  }
  if (r.master !== 0) {
    lkb.nodeid = r.master;
    return true;
  }
  const dir = ls.dirNodeOf(r);
  if (dir === ls.ourNodeid) {
    r.master = ls.ourNodeid;
    r.firstLkid = 0;
    lkb.nodeid = 0;
    return true;
  }
  r.firstLkid = lkb.lkid;
  sendRequest(ls, r, lkb, MSG.LOOKUP, dir);
  return false;
}

/** confirm_master(): the first lock's request settled; release or re-drive the parked locks. @internal (owner-side.ts) */
export function confirmMaster(ls: Lockspace, r: Resource, result: number): void {
  if (r.firstLkid === 0) return;
  if (result === 0 || result === DLM_ERRNO.EINPROGRESS) {
    r.firstLkid = 0;
    processLookupList(ls, r);
  } else {
    requestNextParked(ls, r);
  }
}

/**
 * The resource's first lock failed or ended without queueing at the master
 * (EAGAIN, EBADR, ...): the next parked lock becomes the first lock and is
 * requested; its own reply then releases the rest (Linux's confirm_master
 * sets res_first_lkid to it; left at 0, an EINPROGRESS reply would release
 * nothing and the other parked locks would never leave this node).
 * @internal (recovery/waiters.ts)
 */
export function requestNextParked(ls: Lockspace, r: Resource): void {
  r.firstLkid = 0;
  const next = r.lookupList.shift();
  if (!next) return;
  r.firstLkid = next.lkid;
  requestLock(ls, r, next);
  // Mastered here now (no reply will come): release the others at once.
  if (r.master === ls.ourNodeid) masteredHere(ls, r);
}

/** A redirected request's delay ran out: look the master up again (or finish an overlap). @internal (owner-side.ts) */
export function retryRedirected(ls: Lockspace, lkb: Lock): void {
  if (ls.released || lkb.endOfLife || lkb.waitType !== 'lookup') return;
  ls.runOrDefer(() => {
    if (lkb.endOfLife || lkb.waitType !== 'lookup') return;
    lkb.retryPending = false;
    lkb.waitType = 'none';
    const r = lkb.resource!;
    if (lkb.overlapCancel || lkb.overlapUnlock) {
      const status = lkb.overlapUnlock ? DLM_ERRNO.EUNLOCK : DLM_ERRNO.ECANCEL;
      lkb.overlapCancel = lkb.overlapUnlock = false;
      ls.queueCast(lkb, status, true);
      confirmMaster(ls, r, DLM_ERRNO.EBADR);
    } else {
      requestLock(ls, r, lkb);
      if (r.master === ls.ourNodeid) masteredHere(ls, r);
    }
    ls.checkUnused(r);
  });
}

/**
 * A re-driven request found this node the master: release every lock parked
 * behind a lookup. (confirmMaster(r, 0) does nothing when set_master's
 * "the directory is us" branch already cleared firstLkid, which left them
 * parked for ever.) @internal (owner-side.ts, recovery/waiters.ts)
 */
export function masteredHere(ls: Lockspace, r: Resource): void {
  r.firstLkid = 0;
  processLookupList(ls, r);
}

/** @internal (owner-side.ts) */
export function processLookupList(ls: Lockspace, r: Resource): void {
  // Nothing parked (a confirmed first lock's usual case): no splice (it allocates an array).
  if (r.lookupList.length === 0) return;
  const parked = r.lookupList.splice(0, r.lookupList.length);
  for (const lkb of parked) requestLock(ls, r, lkb);
}

/** @internal (recovery/waiters.ts) */
export function convertLock(ls: Lockspace, lkb: Lock): void {
  const r = lkb.resource!;
  if (r.master === ls.ourNodeid) {
    const result = r.doConvert(lkb, ls);
    r.doConvertEffects(lkb, result, ls);
    return;
  }
  const down = isDownConversion(lkb.grmode, lkb.rqmode) && !(lkb.exflags & LKF.QUECVT);
  sendLockOp(ls, lkb, MSG.CONVERT, down ? 'none' : 'convert');
  if (down) {
    // Down-conversions complete on the owner at once; the master sends no reply (§2.10).
    grantProcessCopy(ls, lkb, null);
    ls.queueCast(lkb, 0, false);
  }
}

/** @internal (recovery/waiters.ts) */
export function unlockLock(ls: Lockspace, lkb: Lock): void {
  const r = lkb.resource!;
  if (r.master === ls.ourNodeid && !lkb.masterCopy && lkb.nodeid === 0) {
    r.doUnlock(lkb, ls);
    r.doUnlockEffects(ls);
    lastLockGoneHere(ls, r);
    return;
  }
  sendLockOp(ls, lkb, MSG.UNLOCK, 'unlock');
}

/** @internal (recovery/waiters.ts) */
export function cancelLock(ls: Lockspace, lkb: Lock): void {
  const r = lkb.resource!;
  if (r.master === ls.ourNodeid && lkb.nodeid === 0) {
    const result = r.doCancel(lkb, ls);
    r.doCancelEffects(result, ls);
    lastLockGoneHere(ls, r);
    return;
  }
  sendLockOp(ls, lkb, MSG.CANCEL, 'cancel');
}

/**
 * After a local unlock or cancel on a resource mastered here: if that was
 * its last lock, the LVB goes at once (§1.7 "LVB lifetime": a lock taken in
 * the unlock's AST reads zeros), and the retirement check runs after the
 * pending callbacks (unused-soon.ts: a lock taken again from the AST or its
 * continuation finds the resource in use, no retirement entry). The check
 * itself discards the LVB too (`checkUnused`); here it only goes earlier.
 */
function lastLockGoneHere(ls: Lockspace, r: Resource): void {
  if (r.unused && r.master === ls.ourNodeid && r.toss === null) r.discardLvb();
  ls.checkUnusedSoon(r);
}

function sendRequest(ls: Lockspace, r: Resource, lkb: Lock, type: typeof MSG.REQUEST | typeof MSG.LOOKUP, to: number): void {
  lkb.waitType = type === MSG.LOOKUP ? 'lookup' : 'request';
  if (type === MSG.REQUEST) lkb.nodeid = to;
  const m = lockMessage(ls, type, lkb);
  m.extra = r.name;
  if (type === MSG.REQUEST) writeFence(m, Math.max(ls.fenceFloor, r.fenceHigh));
  ls.sendMessage(to, m);
}

/** CONVERT / UNLOCK / CANCEL to the master; `wait` is what the lock then awaits. @internal (owner-side.ts) */
export function sendLockOp(ls: Lockspace, lkb: Lock, type: MsgType, wait: WaitType): void {
  if (wait !== 'none') {
    if (lkb.waitType === 'none') lkb.waitType = wait;
    else lkb.secondary = wait as 'unlock' | 'cancel';
  }
  const m = lockMessage(ls, type, lkb);
  if ((type === MSG.CONVERT || type === MSG.UNLOCK) && lkb.lvb && lkb.exflags & LKF.VALBLK) m.extra = lkb.lvb.subarray(0, ls.lvblen);
  ls.sendMessage(lkb.nodeid, m);
}

/** grant_lock_pc(): the owner's copy follows a grant the master made; LVB per the table. @internal (owner-side.ts) */
export function grantProcessCopy(ls: Lockspace, lkb: Lock, m: DlmMessage | null): void {
  if (m && lkb.lvb && lkb.exflags & LKF.VALBLK && lvbOperation(lkb.grmode, lkb.rqmode) === 'read') {
    lkb.lvb.fill(0);
    lkb.lvb.set(m.extra.subarray(0, lkb.lvb.length));
    lkb.lvbseq = m.lvbseq;
  }
  if (m && fenceOutOfRange(m)) ls.refuse('FENCE_RANGE');
  lkb.fence = fenceOnOwnerGrant(m, lkb.grmode, lkb.rqmode, lkb.fence);
  lkb.grmode = lkb.rqmode;
  const r = lkb.resource!;
  if (lkb.status === LKSTS.NONE) r.add(lkb, LKSTS.GRANTED);
  else r.move(lkb, LKSTS.GRANTED);
  lkb.rqmode = LKM.IV;
  lkb.highbast = 0;
}
