/**
 * In-flight operations across recovery (spec §4.4): phase 4 fixes the
 * operations waiting for a reply from a departed node (`fixWaiters`), and
 * phase 8 re-drives the ones it marked (`resendWaiters`), following the
 * rule tables of `waiter-rules.ts`.
 */
import { DLM_ERRNO, LKM, LKSTS } from '../constants.ts';
import type { Lock } from '../lock.ts';
import type { Lockspace } from '../lockspace.ts';
import { RF } from './resource-flags.ts';
import type { RecoveryRun } from './recovery-run.ts';
import { fakeCancel, resendAction, waiterFix } from './waiter-rules.ts';

/** Phase 4 over this node's own locks. */
export function fixWaiters(run: RecoveryRun, locks: readonly Lock[]): void {
  const ls = run.ls;
  for (const lkb of locks) {
    if (lkb.masterCopy || lkb.endOfLife) continue;
    // NODIR: every master copy is purged and rebuilt, so a reply from any node will not come (§4.4).
    const targetGone = lkb.nodeid !== 0 && (ls.nodir || run.isGone(lkb.nodeid));
    const fix = waiterFix({ waitType: lkb.waitType, grmode: lkb.grmode, rqmode: lkb.rqmode, targetGone, retryPending: lkb.retryPending, secondary: lkb.secondary });
    switch (fix) {
      case 'none':
        break;
      case 'resend':
        lkb.resend = lkb.waitType === 'convert' ? 'convert' : 'request';
        break;
      case 'queued-middle': {
        // As if the master had answered "queued": granted mode unknown until the new master resolves it.
        const r = lkb.resource!;
        lkb.waitType = 'none';
        lkb.grmode = LKM.IV;
        r.move(lkb, LKSTS.CONVERT);
        r.rflags |= RF.RECOVER_CONVERT;
        if (lkb.secondary !== 'none') lkb.resend = 'middle';
        break;
      }
      case 'fake-unlock':
        fakeUnlock(ls, lkb);
        break;
      case 'fake-cancel': {
        lkb.waitType = 'none';
        // The CANCEL may be the overlapping one (§2.9), its conversion already answered.
        if (lkb.secondary === 'cancel') lkb.secondary = 'none';
        const r = lkb.resource!;
        lkb.rqmode = LKM.IV;
        const what = fakeCancel(lkb.status);
        if (what === 'to-granted') {
          r.move(lkb, LKSTS.GRANTED);
          ls.queueCast(lkb, DLM_ERRNO.ECANCEL, false);
        } else if (what === 'destroy') {
          if (lkb.status !== LKSTS.NONE) r.del(lkb);
          lkb.grmode = LKM.IV;
          ls.queueCast(lkb, DLM_ERRNO.ECANCEL, true);
        }
        // A force unlock sent after the cancel went to the same departed node.
        if (!lkb.endOfLife && lkb.secondary === 'unlock') fakeUnlock(ls, lkb);
        break;
      }
    }
  }
}

function fakeUnlock(ls: Lockspace, lkb: Lock): void {
  const r = lkb.resource!;
  lkb.waitType = 'none';
  lkb.secondary = 'none';
  if (lkb.status !== LKSTS.NONE) r.del(lkb);
  lkb.grmode = lkb.rqmode = LKM.IV;
  ls.queueCast(lkb, DLM_ERRNO.EUNLOCK, true);
}

/** Phase 8: re-drive each marked lock still waiting (a replayed reply may have completed it). */
export function resendWaiters(ls: Lockspace, locks: readonly Lock[]): void {
  for (const lkb of locks) {
    const op = lkb.resend;
    if (op === null) continue;
    lkb.resend = null;
    if (lkb.endOfLife) continue;
    const stillWaiting = op === 'request' ? lkb.waitType === 'lookup' || lkb.waitType === 'request' : op === 'convert' ? lkb.waitType === 'convert' : lkb.secondary !== 'none';
    if (!stillWaiting) continue;
    ls.stats.recovery.resent++;
    const r = lkb.resource!;
    const action = resendAction({ op, overlapUnlock: lkb.overlapUnlock, overlapCancel: lkb.overlapCancel, secondary: lkb.secondary });
    lkb.overlapUnlock = lkb.overlapCancel = false;
    lkb.secondary = 'none';
    lkb.redirects = 0;
    switch (action) {
      case 'request':
        lkb.waitType = 'none';
        ls.requestLock(r, lkb);
        if (r.master === ls.ourNodeid) ls.masteredHere(r);
        break;
      case 'ast-unlock':
      case 'ast-cancel-destroy':
        lkb.waitType = 'none';
        if (r.firstLkid === lkb.lkid) ls.requestNextParked(r);
        lkb.grmode = lkb.rqmode = LKM.IV;
        ls.queueCast(lkb, action === 'ast-unlock' ? DLM_ERRNO.EUNLOCK : DLM_ERRNO.ECANCEL, true);
        break;
      case 'convert':
        lkb.waitType = 'none';
        ls.convertLock(lkb);
        break;
      case 'ast-cancel-keep':
        lkb.waitType = 'none';
        lkb.rqmode = LKM.IV;
        ls.queueCast(lkb, DLM_ERRNO.ECANCEL, false);
        break;
      case 'unlock':
        lkb.waitType = 'none';
        ls.unlockLock(lkb);
        break;
      case 'cancel':
        ls.cancelLock(lkb);
        break;
      case 'none':
        break;
    }
    ls.checkUnused(r);
  }
}
