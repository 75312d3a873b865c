/**
 * The master and directory side of a lockspace: the messages a master or a
 * directory node answers (REQUEST, CONVERT, UNLOCK, CANCEL, LOOKUP, REMOVE),
 * on master copies. Each handler checks that the message names a lock the
 * sender owns (§3.7 receiver validation) and replies before running the
 * operation's effects, so a GRANT/reply always precedes the BASTs it causes
 * on each link (§2.7).
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_ } from './constants.ts';
import { peerFloor, writeFence } from './fence-rules.ts';
import type { Lock } from './lock.ts';
import { receivePurge } from './orphans.ts';
import { MSG_FLAG_USER, userFlags, userMismatch } from './user-lock.ts';
import type { Lockspace } from './lockspace.ts';
import { emptyMessage, MSG, type DlmMessage, type MsgType } from './message.ts';
import { isDownConversion } from './modes.ts';
import type { Resource } from './resource.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;

/** Handle a master/directory-side message; false when it is for the owner side. */
export function handleMasterMessage(ls: Lockspace, from: number, m: DlmMessage): boolean {
  switch (m.type) {
    case MSG.REQUEST:
      onRequest(ls, from, m);
      return true;
    case MSG.LOOKUP:
      onLookup(ls, from, m);
      return true;
    case MSG.CONVERT:
      onConvert(ls, from, m);
      return true;
    case MSG.UNLOCK:
      onUnlock(ls, from, m);
      return true;
    case MSG.CANCEL:
      onCancel(ls, from, m);
      return true;
    case MSG.REMOVE:
      onRemove(ls, from, m);
      return true;
    case MSG.PURGE:
      receivePurge(ls, m);
      return true;
    default:
      return false;
  }
}

function reply(ls: Lockspace, to: number, type: MsgType, lkb: Lock | null, remid: number, result: number, r: Resource | null): void {
  const m = ls.outMessage(type);
  m.nodeid = ls.ourNodeid;
  m.result = result;
  m.remid = remid;
  if (lkb) {
    m.lkid = lkb.lkid;
    m.flags = userFlags(lkb.user);
    m.exflags = lkb.exflags;
    m.sbflags = lkb.sbflags;
    m.lvbseq = lkb.lvbseq;
    m.status = lkb.status;
    m.grmode = lkb.grmode;
    m.rqmode = lkb.rqmode;
    if ((type === MSG.REQUEST_REPLY || type === MSG.CONVERT_REPLY) && lkb.lvb && lkb.exflags & LKF.VALBLK) m.extra = lkb.lvb;
    if (type === MSG.REQUEST_REPLY || type === MSG.CONVERT_REPLY) writeFence(m, lkb.fence);
  }
  if (r) m.hash = r.hash;
  ls.sendMessage(to, m);
}

/**
 * Who may master a resource named in a REQUEST from `from` (§3.5 races):
 * the master itself; the directory node for a name it has no master for;
 * anyone asked by the directory node. Otherwise EBADR (no such resource
 * here) or ENOTBLK (another node masters it).
 */
function masterFor(ls: Lockspace, from: number, name: Uint8Array): Resource | number {
  const r = ls.findRsbByName(name);
  if (r && r.master === ls.ourNodeid) return r;
  const dir = ls.dirNodeOfName(name);
  if ((!r || r.master === 0) && (dir === ls.ourNodeid || from === dir)) {
    const created = r ?? ls.createRsb(name);
    created.master = ls.ourNodeid;
    created.uncertain = false;
    return created;
  }
  return r ? DLM_ERRNO.ENOTBLK : DLM_ERRNO.EBADR;
}

/** A REQUEST (or a LOOKUP the directory answers as master: same fields, same reply). */
function onRequest(ls: Lockspace, from: number, m: DlmMessage): void {
  const found = masterFor(ls, from, m.extra);
  if (typeof found === 'number') {
    reply(ls, from, MSG.REQUEST_REPLY, null, m.lkid, found, null);
    return;
  }
  const r = found;
  ls.revive(r);
  const floor = peerFloor(m, ls.generation);
  if (floor > r.fenceHigh) r.fenceHigh = floor;
  const lkb = ls.newMasterCopy();
  lkb.nodeid = from;
  lkb.remid = m.lkid;
  lkb.ownpid = m.pid;
  lkb.user = (m.flags & MSG_FLAG_USER) !== 0;
  lkb.userKnown = true;
  lkb.exflags = m.exflags;
  lkb.sbflags = 0;
  lkb.rqmode = m.rqmode as Lock['rqmode'];
  lkb.hasBast = (m.asts & 2) !== 0;
  if (lkb.exflags & LKF.VALBLK && ls.lvblen > 0) lkb.lvb = new Uint8Array(ls.lvblen);
  lkb.resource = r;
  r.locks.add(lkb);
  const result = r.doRequest(lkb, ls);
  reply(ls, from, MSG.REQUEST_REPLY, lkb, m.lkid, result, r);
  r.doRequestEffects(lkb, result, ls);
  if (result === DLM_ERRNO.EAGAIN) ls.destroyLock(lkb);
  ls.checkUnused(r);
}

function onLookup(ls: Lockspace, from: number, m: DlmMessage): void {
  if (ls.dirNodeOfName(m.extra) !== ls.ourNodeid) {
    // Not the directory node by our member list: say so (-1), the asker retries.
    const out = emptyMessage(MSG.LOOKUP_REPLY);
    out.lkid = m.lkid;
    out.nodeid = 0xffffffff;
    ls.sendMessage(from, out);
    return;
  }
  const r = ls.findRsbByName(m.extra) ?? ls.createRsb(m.extra);
  if (r.master === ls.ourNodeid) {
    // The directory is the master: it takes the LOOKUP as a REQUEST (§3.3 step 4).
    onRequest(ls, from, m);
    return;
  }
  // Nobody masters it yet: the first node that asks becomes master (§3.2).
  if (r.master === 0) r.master = from;
  const master = r.master;
  ls.checkUnused(r);
  const out = emptyMessage(MSG.LOOKUP_REPLY);
  out.lkid = m.lkid;
  out.nodeid = master;
  out.hash = r.hash;
  writeFence(out, Math.max(ls.fenceFloor, r.fenceHigh));
  ls.sendMessage(from, out);
}

function onRemove(ls: Lockspace, from: number, m: DlmMessage): void {
  // Keep the retiring master's fencing high mark, even when the REMOVE is ignored.
  ls.raiseFenceFloor(peerFloor(m, ls.generation));
  const r = ls.findRsbByName(m.extra);
  if (!r) return ls.refuse('REMOVE_UNKNOWN');
  if (ls.dirNodeOf(r) !== ls.ourNodeid) return ls.refuse('REMOVE_NOT_DIR');
  // In use right now (an expected race) or mastered by someone else: ignore.
  if (!r.unused || r.master !== from) return;
  ls.forgetRsb(r);
}

/** The master copy a CONVERT/UNLOCK/CANCEL names, checked against the sender. */
function masterCopy(ls: Lockspace, from: number, m: DlmMessage): Lock | undefined {
  const lkb = ls.lockById(m.remid);
  if (!lkb || lkb.endOfLife || !lkb.masterCopy || lkb.nodeid !== from || lkb.remid !== m.lkid) return undefined;
  if (lkb.userKnown && userMismatch(m, lkb.user)) {
    ls.refuse('USER_MISMATCH');
    return undefined;
  }
  return lkb;
}

function receiveLvb(ls: Lockspace, lkb: Lock, m: DlmMessage): void {
  if (!(lkb.exflags & LKF.VALBLK) || ls.lvblen === 0) return;
  if (!lkb.lvb) lkb.lvb = new Uint8Array(ls.lvblen);
  lkb.lvb.fill(0);
  lkb.lvb.set(m.extra.subarray(0, ls.lvblen));
}

function onConvert(ls: Lockspace, from: number, m: DlmMessage): void {
  const lkb = masterCopy(ls, from, m);
  const down = m.rqmode < m.grmode && !(m.exflags & LKF.QUECVT) && isDownConversion(m.grmode as Lock['grmode'], m.rqmode as Lock['rqmode']);
  if (!lkb) {
    ls.refuse('UNKNOWN_LOCK');
    if (!down) reply(ls, from, MSG.CONVERT_REPLY, null, m.lkid, DLM_ERRNO.ENOENT, null);
    return;
  }
  const r = lkb.resource!;
  lkb.exflags = m.exflags;
  lkb.sbflags = 0;
  // A conversion may bring a new BAST callback (or drop it).
  lkb.hasBast = (m.asts & 2) !== 0;
  receiveLvb(ls, lkb, m);
  lkb.rqmode = m.rqmode as Lock['rqmode'];
  const noReply = isDownConversion(lkb.grmode, lkb.rqmode) && !(lkb.exflags & LKF.QUECVT);
  const result = r.doConvert(lkb, ls);
  if (!noReply) reply(ls, from, MSG.CONVERT_REPLY, lkb, lkb.remid, result, r);
  r.doConvertEffects(lkb, result, ls);
}

function onUnlock(ls: Lockspace, from: number, m: DlmMessage): void {
  const lkb = masterCopy(ls, from, m);
  if (!lkb) {
    ls.refuse('UNKNOWN_LOCK');
    reply(ls, from, MSG.UNLOCK_REPLY, null, m.lkid, DLM_ERRNO.ENOENT, null);
    return;
  }
  const r = lkb.resource!;
  lkb.exflags = m.exflags;
  receiveLvb(ls, lkb, m);
  const result = r.doUnlock(lkb, ls);
  reply(ls, from, MSG.UNLOCK_REPLY, lkb, lkb.remid, result, r);
  ls.destroyLock(lkb);
  r.doUnlockEffects(ls);
  ls.checkUnused(r);
}

function onCancel(ls: Lockspace, from: number, m: DlmMessage): void {
  const lkb = masterCopy(ls, from, m);
  if (!lkb) {
    // Raced with the end of the lock: answer with a stub so the owner stops waiting.
    ls.stats.ignored++;
    reply(ls, from, MSG.CANCEL_REPLY, null, m.lkid, DLM_ERRNO.ENOENT, null);
    return;
  }
  const r = lkb.resource!;
  const wasWaiting = lkb.grmode === -1;
  const result = r.doCancel(lkb, ls);
  reply(ls, from, MSG.CANCEL_REPLY, lkb, lkb.remid, result, r);
  if (result !== 0 && wasWaiting) ls.destroyLock(lkb);
  r.doCancelEffects(result, ls);
  ls.checkUnused(r);
}
