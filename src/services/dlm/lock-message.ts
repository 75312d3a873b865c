/**
 * A lock message (§2.10) with the fields every lock operation and reply
 * carries, filled from the lock (the owner's copy or the master copy): the
 * caller sets what its message type adds (name, LVB, fence, bast mode).
 */
import type { Lock } from './lock.ts';
import type { Lockspace } from './lockspace.ts';
import type { DlmMessage, MsgType } from './message.ts';
import { userFlags } from './user-lock.ts';

/** The lockspace's outgoing record (`Lockspace.outMessage`) filled from `lkb`: pass it to `sendMessage()` at once. */
export function lockMessage(ls: Lockspace, type: MsgType, lkb: Lock): DlmMessage {
  const m = ls.outMessage(type);
  m.nodeid = ls.ourNodeid;
  m.pid = lkb.ownpid;
  m.flags = userFlags(lkb.user);
  m.lkid = lkb.lkid;
  m.remid = lkb.remid;
  m.exflags = lkb.exflags;
  m.sbflags = lkb.sbflags;
  m.lvbseq = lkb.lvbseq;
  m.hash = lkb.resource!.hash;
  m.status = lkb.status;
  m.grmode = lkb.grmode;
  m.rqmode = lkb.rqmode;
  m.asts = (lkb.ast ? 1 : 0) | (lkb.hasBast ? 2 : 0);
  return m;
}
