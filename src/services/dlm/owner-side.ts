/**
 * The owner side of remote locks (process copies): what the owner does with
 * the master's and directory's answers (REQUEST_REPLY, CONVERT_REPLY,
 * UNLOCK_REPLY, CANCEL_REPLY, GRANT, BAST, LOOKUP_REPLY), spec §2.9, §2.10,
 * §3.3. Every reply is matched to a process copy whose master is the sender;
 * anything else is counted and dropped.
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_, LKSTS as LKSTS_, SBF as SBF_, type Mode } from './constants.ts';
import type { Lock, WaitType } from './lock.ts';
import type { Lockspace } from './lockspace.ts';
import { peerFloor } from './fence-rules.ts';
import { userMismatch } from './user-lock.ts';
import { MSG, type DlmMessage } from './message.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;
const LKM = LKM_;
const LKSTS = LKSTS_;
const SBF = SBF_;

export function handleOwnerMessage(ls: Lockspace, from: number, m: DlmMessage): void {
  // The lock the message names (looked up once, for the handler too). The
  // resource may become unused only once a lookup or first request settles
  // (not when its last lock went): check after every reply.
  const named = ls.lockById(m.type === MSG.LOOKUP_REPLY ? m.lkid : m.remid);
  const r = named?.resource;
  ownerDispatch(ls, from, m, named);
  if (r) ls.checkUnusedSoon(r);
}

function ownerDispatch(ls: Lockspace, from: number, m: DlmMessage, named: Lock | undefined): void {
  switch (m.type) {
    case MSG.REQUEST_REPLY:
      return onRequestReply(ls, from, m, named);
    case MSG.CONVERT_REPLY:
      return onConvertReply(ls, from, m, named);
    case MSG.UNLOCK_REPLY:
    case MSG.CANCEL_REPLY:
      return onUnlockCancelReply(ls, from, m, named);
    case MSG.GRANT:
      return onGrant(ls, from, m, named);
    case MSG.BAST:
      return onBast(ls, from, m, named);
    case MSG.LOOKUP_REPLY:
      return onLookupReply(ls, from, m, named);
    default:
      ls.refuse('UNEXPECTED_TYPE');
  }
}

/** The process copy a reply/GRANT/BAST from `from` names (`lkb`: the lock of id m_remid), or undefined (counted). */
function processCopy(ls: Lockspace, from: number, m: DlmMessage, lkb: Lock | undefined, allowLookup: boolean): Lock | undefined {
  if (!lkb || lkb.endOfLife) {
    ls.stats.ignored++;
    return undefined;
  }
  if (lkb.masterCopy || (lkb.nodeid !== from && !(allowLookup && lkb.waitType === 'lookup'))) {
    ls.refuse('WRONG_LOCK');
    return undefined;
  }
  if (userMismatch(m, lkb.user)) {
    ls.refuse('USER_MISMATCH');
    return undefined;
  }
  return lkb;
}

function onRequestReply(ls: Lockspace, from: number, m: DlmMessage, named: Lock | undefined): void {
  const lkb = processCopy(ls, from, m, named, true);
  if (!lkb) return;
  if (lkb.waitType !== 'request' && lkb.waitType !== 'lookup') return ls.refuse('UNEXPECTED_REPLY');
  const r = lkb.resource!;
  const mstype = lkb.waitType;
  lkb.waitType = 'none';
  if (mstype === 'lookup') {
    // The directory node is the master and took our lookup as a request.
    r.master = from;
    lkb.nodeid = from;
  }
  const result = m.result;
  switch (result) {
    case DLM_ERRNO.EAGAIN:
      ls.queueCast(lkb, DLM_ERRNO.EAGAIN, true);
      ls.confirmMaster(r, result);
      break;
    case 0:
    case DLM_ERRNO.EINPROGRESS:
      lkb.remid = m.lkid;
      munge(lkb, m);
      if (result !== 0) r.add(lkb, LKSTS.WAITING);
      else {
        ls.grantProcessCopy(lkb, m);
        ls.queueCast(lkb, 0, false);
      }
      ls.confirmMaster(r, result);
      break;
    case DLM_ERRNO.EBADR:
    case DLM_ERRNO.ENOTBLK:
      // Not (or no longer) the master: forget it and look it up again.
      if (ls.dirNodeOf(r) !== ls.ourNodeid) r.master = 0;
      lkb.nodeid = 0;
      if (!(lkb.overlapCancel || lkb.overlapUnlock) && retryLater(ls, lkb)) return;
      if (lkb.overlapCancel || lkb.overlapUnlock) {
        const status = lkb.overlapUnlock ? DLM_ERRNO.EUNLOCK : DLM_ERRNO.ECANCEL;
        lkb.overlapCancel = lkb.overlapUnlock = false;
        ls.queueCast(lkb, status, true);
        ls.confirmMaster(r, result);
      } else {
        ls.requestLock(r, lkb);
        if (r.master === ls.ourNodeid) ls.masteredHere(r);
      }
      return;
    default:
      ls.refuse('BAD_RESULT');
      return;
  }
  if ((result === 0 || result === DLM_ERRNO.EINPROGRESS) && lkb.overlapUnlock) {
    lkb.overlapUnlock = lkb.overlapCancel = false;
    ls.sendLockOp(lkb, MSG.UNLOCK, 'unlock');
  } else if (result === DLM_ERRNO.EINPROGRESS && lkb.overlapCancel) {
    lkb.overlapCancel = false;
    ls.sendLockOp(lkb, MSG.CANCEL, 'cancel');
  } else {
    lkb.overlapUnlock = lkb.overlapCancel = false;
  }
}

function onLookupReply(ls: Lockspace, from: number, m: DlmMessage, lkb: Lock | undefined): void {
  if (!lkb || lkb.endOfLife || lkb.masterCopy) {
    ls.stats.ignored++;
    return;
  }
  const r = lkb.resource!;
  if (lkb.waitType !== 'lookup' || ls.dirNodeOf(r) !== from) return ls.refuse('UNEXPECTED_REPLY');
  lkb.waitType = 'none';
  const master = m.nodeid;
  if (master === 0xffffffff || master === 0 || !ls.members.includes(master)) {
    // The directory disagrees that it is the directory: look up again.
    r.master = 0;
    if (retryLater(ls, lkb)) return;
    r.firstLkid = 0;
    ls.requestLock(r, lkb);
    return;
  }
  r.master = master;
  // The directory's fencing floor: if we master it now, tokens continue above it.
  const floor = peerFloor(m, ls.generation);
  if (floor > r.fenceHigh) r.fenceHigh = floor;
  if (master === ls.ourNodeid) r.firstLkid = 0;
  if (lkb.overlapCancel || lkb.overlapUnlock) {
    const status = lkb.overlapUnlock ? DLM_ERRNO.EUNLOCK : DLM_ERRNO.ECANCEL;
    lkb.overlapCancel = lkb.overlapUnlock = false;
    ls.queueCast(lkb, status, true);
    r.firstLkid = 0;
    ls.processLookupList(r);
    return;
  }
  ls.requestLock(r, lkb);
  if (master === ls.ourNodeid) ls.processLookupList(r);
}

function onConvertReply(ls: Lockspace, from: number, m: DlmMessage, named: Lock | undefined): void {
  const lkb = processCopy(ls, from, m, named, false);
  if (!lkb) return;
  if (lkb.waitType !== 'convert') return ls.refuse('UNEXPECTED_REPLY');
  lkb.waitType = 'none';
  const r = lkb.resource!;
  switch (m.result) {
    case DLM_ERRNO.EAGAIN:
      lkb.rqmode = LKM.IV;
      ls.queueCast(lkb, DLM_ERRNO.EAGAIN, false);
      break;
    case DLM_ERRNO.EDEADLK:
      lkb.sbflags = m.sbflags;
      lkb.rqmode = LKM.IV;
      ls.queueCast(lkb, DLM_ERRNO.EDEADLK, false);
      break;
    case DLM_ERRNO.EINPROGRESS:
      lkb.sbflags = m.sbflags;
      if (m.sbflags & SBF.DEMOTED) lkb.grmode = LKM.NL;
      r.move(lkb, LKSTS.CONVERT);
      break;
    case 0:
      munge(lkb, m);
      ls.grantProcessCopy(lkb, m);
      ls.queueCast(lkb, 0, false);
      break;
    default:
      // A stub reply (the master had no such lock): nothing to complete.
      ls.refuse('BAD_RESULT');
      lkb.rqmode = LKM.IV;
  }
}

function onUnlockCancelReply(ls: Lockspace, from: number, m: DlmMessage, named: Lock | undefined): void {
  const lkb = processCopy(ls, from, m, named, false);
  if (!lkb) return;
  const want: WaitType = m.type === MSG.UNLOCK_REPLY ? 'unlock' : 'cancel';
  if (lkb.waitType === want) lkb.waitType = 'none';
  else if (lkb.secondary === want) lkb.secondary = 'none';
  else return ls.refuse('UNEXPECTED_REPLY');
  const r = lkb.resource!;
  if (m.type === MSG.UNLOCK_REPLY) {
    if (m.result !== DLM_ERRNO.EUNLOCK) return ls.refuse('BAD_RESULT');
    r.del(lkb);
    lkb.grmode = lkb.rqmode = LKM.IV;
    ls.queueCast(lkb, DLM_ERRNO.EUNLOCK, true);
    return;
  }
  if (m.result !== DLM_ERRNO.ECANCEL) return; // 0: the grant won the race; nothing to cancel
  lkb.rqmode = LKM.IV;
  let terminal = false;
  // A middle conversion queued by recovery learns its granted mode from the new master (§4.7).
  if (lkb.status === LKSTS.CONVERT && lkb.grmode === LKM.IV && m.grmode >= LKM.NL && m.grmode <= LKM.EX) lkb.grmode = m.grmode as Mode;
  if (lkb.status === LKSTS.CONVERT) r.move(lkb, LKSTS.GRANTED);
  else if (lkb.status === LKSTS.WAITING || lkb.grmode === LKM.IV) {
    r.del(lkb);
    lkb.grmode = LKM.IV;
    terminal = true;
  }
  ls.queueCast(lkb, DLM_ERRNO.ECANCEL, terminal);
}

function onGrant(ls: Lockspace, from: number, m: DlmMessage, named: Lock | undefined): void {
  const lkb = processCopy(ls, from, m, named, false);
  if (!lkb) return;
  if (lkb.status !== LKSTS.WAITING && lkb.status !== LKSTS.CONVERT) return ls.refuse('UNEXPECTED_GRANT');
  munge(lkb, m);
  ls.grantProcessCopy(lkb, m);
  ls.queueCast(lkb, 0, false);
}

function onBast(ls: Lockspace, from: number, m: DlmMessage, named: Lock | undefined): void {
  const lkb = processCopy(ls, from, m, named, false);
  if (!lkb) return;
  ls.queueBast(lkb, m.bastmode as Mode);
  lkb.highbast = m.bastmode;
}

/**
 * A lock sent elsewhere more than once in a row (a master that has not yet
 * heard that it is master, a directory that disagrees with our member list)
 * retries after a growing delay (10 ms doubling to 1 s) instead of spinning
 * on the network; the first redirect retries at once, as the kernel does.
 * The lock counts as looking up meanwhile, so unlock/cancel overlap it.
 */
function retryLater(ls: Lockspace, lkb: Lock): boolean {
  lkb.redirects++;
  if (lkb.redirects <= 1) return false;
  lkb.waitType = 'lookup';
  lkb.retryPending = true;
  lkb.resource!.firstLkid = lkb.lkid;
  const delay = Math.min(1000, 10 * 2 ** Math.min(7, lkb.redirects - 2));
  ls.host.clock.setTimeout(() => ls.retryRedirected(lkb), delay);
  return true;
}

/** Flags the master reported: ALTMODE picks the alternate mode, DEMOTED means NL. */
function munge(lkb: Lock, m: DlmMessage): void {
  lkb.sbflags = m.sbflags;
  if (m.sbflags & SBF.ALTMODE) lkb.rqmode = lkb.exflags & LKF.ALTPR ? LKM.PR : LKM.CW;
  if (m.sbflags & SBF.DEMOTED) lkb.grmode = LKM.NL;
}
