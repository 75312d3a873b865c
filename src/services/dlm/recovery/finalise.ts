/**
 * Finalising mastered resources (spec §4.2 phase 5d, §4.7) and the
 * recovery grant pass (phase 9): middle conversions get a granted mode,
 * the LVB is recovered or invalidated, and queued locks are re-evaluated
 * with the recovery rule (queued conversions may be granted out of order).
 */
import { LKF, LKM, type Mode } from '../constants.ts';
import type { Lock } from '../lock.ts';
import type { Lockspace } from '../lockspace.ts';
import type { Resource } from '../resource.ts';
import { middleConversionGrmode, newMasterLvb } from './lvb-recovery-rules.ts';
import { RF } from './resource-flags.ts';

/** Phase 5d on every resource. */
export function finaliseResources(ls: Lockspace): void {
  for (const r of ls.rsbs.values()) {
    if (r.master !== ls.ourNodeid) {
      r.valnotvalid = false;
      continue;
    }
    if (r.rflags & RF.RECOVER_CONVERT) recoverConversions(r);
    if (r.rflags & RF.NEW_MASTER) {
      recoverLvbNewMaster(ls, r);
      r.rflags |= RF.RECOVER_GRANT;
    } else if (r.rflags & RF.INVALIDATE_LVB) {
      r.valnotvalid = true;
    }
  }
}

function recoverConversions(r: Resource): void {
  const granted = r.grant.map((l) => l.grmode);
  for (const lkb of r.convert) {
    if (lkb.grmode !== LKM.IV) continue;
    lkb.grmode = middleConversionGrmode(granted, lkb.rqmode as Mode);
  }
  r.rflags |= RF.RECOVER_GRANT;
}

function recoverLvbNewMaster(ls: Lockspace, r: Resource): void {
  const locks: Lock[] = [...r.grant, ...r.convert];
  const pick = newMasterLvb(locks.map((l) => ({ grmode: l.grmode, valblk: (l.exflags & LKF.VALBLK) !== 0 && l.lvb !== null, lvbseq: l.lvbseq })));
  if (!pick) {
    r.lvb = null;
    r.lvbseq = 0;
    r.valnotvalid = false;
    return;
  }
  const src = locks[pick.source]!;
  r.lvb = new Uint8Array(ls.lvblen);
  r.lvb.set(src.lvb!.subarray(0, ls.lvblen));
  r.lvbseq = src.lvbseq;
  r.valnotvalid = pick.valnotvalid;
}

/** Phase 9: the grant pass on every flagged resource this node masters; clears the recovery flags. */
export function recoveryGrantPass(ls: Lockspace): void {
  for (const r of [...ls.rsbs.values()]) {
    const flags = r.rflags;
    r.rflags = 0;
    if (flags & RF.RECOVER_GRANT && r.master === ls.ourNodeid) r.grantPendingLocks(ls, true);
    ls.checkUnused(r);
  }
}
