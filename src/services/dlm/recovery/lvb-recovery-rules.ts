/**
 * The LVB and middle-conversion rules applied on a master after recovery
 * (spec §4.7), as pure functions over plain values so that they are tested
 * as tables (test/services/dlm/recovery/lvb-recovery-rules.test.ts).
 */
import { LKM, type Mode, type ModeOrIV } from '../constants.ts';

/** One surviving lock as the LVB rule sees it (grant queue first, then convert queue). */
export interface LvbCandidate {
  grmode: ModeOrIV;
  /** The lock carries an LVB (DLM_LKF_VALBLK). */
  valblk: boolean;
  lvbseq: number;
}

/** What a new master does with the resource LVB: copy it from `source` (an index into the candidates), or have none. */
export interface NewMasterLvb {
  source: number;
  /** Mark the LVB not valid (only NL/CR holders carried one). */
  valnotvalid: boolean;
}

/** `a` is after `b` in a wrapping u32 sequence (ties are not after). */
export function seqAfter(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/**
 * §4.7 "new master": the first candidate with VALBLK holding more than CR
 * gives the LVB (valid); else, among VALBLK candidates (NL/CR only), the
 * highest sequence gives it (wrap-safe; ties go to the later one) and it is
 * marked not valid; no VALBLK candidate: null (the resource has no LVB).
 */
export function newMasterLvb(candidates: readonly LvbCandidate[]): NewMasterLvb | null {
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c.valblk && c.grmode > LKM.CR) return { source: i, valnotvalid: false };
  }
  let best = -1;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (!c.valblk) continue;
    if (best < 0 || !seqAfter(candidates[best]!.lvbseq, c.lvbseq)) best = i;
  }
  return best < 0 ? null : { source: best, valnotvalid: true };
}

/** A purged lock of a departed node, as the surviving master saw it. */
export interface PurgedLock {
  grmode: ModeOrIV;
  valblk: boolean;
}

/**
 * §4.7 "master survived": the LVB is marked not valid when a purged lock
 * had VALBLK and held PW or EX (it may have written a newer value that the
 * master never saw). The contents stay as last written.
 */
export function purgeInvalidatesLvb(lock: PurgedLock): boolean {
  return lock.valblk && (lock.grmode === LKM.PW || lock.grmode === LKM.EX);
}

/** A PR<->CW conversion: the dead master may or may not have granted it (§4.4). */
export function isMiddleConversion(grmode: ModeOrIV, rqmode: ModeOrIV): boolean {
  return (grmode === LKM.PR && rqmode === LKM.CW) || (grmode === LKM.CW && rqmode === LKM.PR);
}

/**
 * §4.7 middle conversions: a converting lock whose granted mode was made
 * unknown takes the mode of the first granted lock holding PR or CW (the
 * lock must have held the same), else its requested mode.
 */
export function middleConversionGrmode(grantedModes: readonly ModeOrIV[], rqmode: Mode): Mode {
  for (const m of grantedModes) if (m === LKM.PR || m === LKM.CW) return m;
  return rqmode;
}
