/**
 * Lock rebuild (spec §4.2 phase 5c): for every resource with a new master
 * other than this node, send every lock this node owns on it (grant,
 * convert and wait queues) with RCOM LOCK; the new master adds a master
 * copy (or finds the one an aborted run made: -EEXIST) and returns its id.
 * -EBADR (the new master does not know it yet) is re-sent after a delay.
 * The new master's side is `answerLock`.
 */
import { DLM_ERRNO, LKF, LKM, LKSTS, type LockStatus, type ModeOrIV } from '../constants.ts';
import type { Lock } from '../lock.ts';
import type { Lockspace } from '../lockspace.ts';
import { RCOM } from '../message.ts';
import type { Resource } from '../resource.ts';
import { RF } from './resource-flags.ts';
import { decodeRcomLock, encodeRcomLock, type RcomLock } from './rcom-payloads.ts';
import { LOCK_RETRY_MS, POLL_MAX_MS } from './recovery-status.ts';
import type { RecoveryRun } from './recovery-run.ts';
import { staticMasterRsb } from './nodir.ts';

/** This node's own locks on `r` that sit on a queue. */
function ownQueued(r: Resource): Lock[] {
  const out: Lock[] = [];
  for (const q of [r.grant, r.convert, r.wait]) for (const lkb of q) if (!lkb.masterCopy) out.push(lkb);
  return out;
}

/**
 * Point this node's locks on a remastered resource at the new master (local
 * copies when it is this node), and drop master copies an aborted run left
 * here when the master is now someone else.
 */
export function adoptNewMaster(ls: Lockspace, r: Resource): void {
  const self = r.master === ls.ourNodeid;
  for (const lkb of [...r.locks]) {
    if (lkb.masterCopy) {
      if (!self) ls.destroyLock(lkb);
      continue;
    }
    lkb.nodeid = self ? 0 : r.master;
    if (self) lkb.remid = 0;
  }
}

/** Phase 5c: `done` once the new masters accepted every lock. */
export function rebuildLocks(run: RecoveryRun, done: () => void): void {
  const ls = run.ls;
  const sends: { r: Resource; lkb: Lock }[] = [];
  for (const r of [...ls.rsbs.values()]) {
    if (!(r.rflags & RF.NEW_MASTER) || r.master === 0) continue;
    adoptNewMaster(ls, r);
    if (r.master === ls.ourNodeid) continue;
    for (const lkb of ownQueued(r)) sends.push({ r, lkb });
  }
  let left = sends.length;
  if (left === 0) return done();
  for (const { r, lkb } of sends) {
    let delay = LOCK_RETRY_MS;
    const send = (): void => {
      run.request(
        r.master,
        RCOM.LOCK,
        encodeRcomLock(packLock(ls, r, lkb)),
        (rc) => {
          if (rc.result === DLM_ERRNO.EBADR) {
            run.after(delay, send);
            delay = Math.min(POLL_MAX_MS, delay * 2);
            return;
          }
          if (rc.result === 0 || rc.result === DLM_ERRNO.EEXIST) {
            try {
              const back = decodeRcomLock(rc.buf);
              if (!lkb.endOfLife) lkb.remid = back.remid;
              ls.stats.recovery.rebuilt++;
            } catch {
              ls.stats.recovery.rcomIgnored++;
            }
          } else {
            ls.refuse('RCOM_LOCK_REFUSED');
          }
          if (--left === 0) done();
        },
        0,
      );
    };
    send();
  }
}

function packLock(ls: Lockspace, r: Resource, lkb: Lock): RcomLock {
  const valblk = (lkb.exflags & LKF.VALBLK) !== 0 && lkb.lvb !== null && ls.lvblen > 0;
  return {
    ownpid: 0,
    lkid: lkb.lkid,
    remid: lkb.remid,
    exflags: lkb.exflags,
    flags: 0,
    lvbseq: lkb.lvbseq,
    result: 0,
    // A granted lock's requested mode is not carried: an up-conversion in flight is re-sent after recovery.
    rqmode: lkb.status === LKSTS.GRANTED ? LKM.IV : lkb.rqmode,
    grmode: lkb.grmode,
    status: lkb.status,
    asts: (lkb.ast ? 1 : 0) | (lkb.hasBast ? 2 : 0),
    waitType: 0,
    name: r.name,
    lvb: valblk ? lkb.lvb!.subarray(0, ls.lvblen) : new Uint8Array(0),
  };
}

/**
 * The new master's side of RCOM LOCK: add (or find) the master copy.
 * Returns the reply's result and the rcom_lock to echo.
 */
export function answerLock(ls: Lockspace, from: number, buf: Uint8Array): { result: number; echo: RcomLock | null } {
  let l: RcomLock;
  try {
    l = decodeRcomLock(buf);
  } catch {
    ls.stats.recovery.rcomIgnored++;
    return { result: DLM_ERRNO.EINVAL, echo: null };
  }
  const r = ls.nodir ? staticMasterRsb(ls, l.name) : ls.findRsbByName(l.name);
  if (!r || r.master !== ls.ourNodeid) return { result: DLM_ERRNO.EBADR, echo: l };
  for (const lkb of r.locks) {
    if (lkb.masterCopy && lkb.nodeid === from && lkb.remid === l.lkid) return { result: DLM_ERRNO.EEXIST, echo: { ...l, remid: lkb.lkid } };
  }
  ls.revive(r);
  const lkb = ls.newMasterCopy();
  lkb.nodeid = from;
  lkb.remid = l.lkid;
  lkb.exflags = l.exflags;
  lkb.grmode = l.grmode as ModeOrIV;
  lkb.rqmode = l.rqmode as ModeOrIV;
  lkb.hasBast = (l.asts & 2) !== 0;
  lkb.lvbseq = l.lvbseq;
  if (lkb.exflags & LKF.VALBLK && ls.lvblen > 0) {
    lkb.lvb = new Uint8Array(ls.lvblen);
    lkb.lvb.set(l.lvb.subarray(0, ls.lvblen));
  }
  lkb.resource = r;
  r.locks.add(lkb);
  r.add(lkb, l.status as LockStatus);
  if (l.status === LKSTS.CONVERT && lkb.grmode === LKM.IV) r.rflags |= RF.RECOVER_CONVERT;
  if (l.status !== LKSTS.GRANTED) r.rflags |= RF.RECOVER_GRANT;
  return { result: 0, echo: { ...l, remid: lkb.lkid } };
}
