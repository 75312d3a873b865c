/**
 * The master's grant rules as pure functions over plain queue snapshots
 * (spec §2.2, §2.3, §2.5, §2.6, §2.7). The engine (`resource.ts`) applies
 * their verdicts; nothing here mutates a lock.
 */
import { LKF as LKF_, LKM as LKM_, type ModeOrIV } from './constants.ts';
import { compatible } from './modes.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const LKF = LKF_;
const LKM = LKM_;

/** What the rules read of a lock. */
export interface RuleLock {
  grmode: ModeOrIV;
  rqmode: ModeOrIV;
  exflags: number;
  /** Highest BAST mode sent since the last grant (0 after a grant). */
  highbast: number;
  /** Whether the owner gave a blocking callback. */
  hasBast: boolean;
}

/** A resource's three queues, front first. */
export interface RuleQueues<L extends RuleLock = RuleLock> {
  readonly grant: readonly L[];
  readonly convert: readonly L[];
  readonly wait: readonly L[];
}

function queueConflict<L extends RuleLock>(queue: readonly L[], lock: L, rqmode: ModeOrIV): boolean {
  for (const other of queue) {
    if (other !== lock && !compatible(other.grmode, rqmode)) return true;
  }
  return false;
}

/**
 * The grant predicate of §2.2, rules 1-11, evaluated for `lock` asking for
 * `rqmode` (default its own requested mode; the ALT modes pass another).
 * `now`: first evaluation (inside the request/convert); `recovering`: the
 * post-recovery grant pass on a resource flagged RECOVER_GRANT.
 */
export function grantable<L extends RuleLock>(
  q: RuleQueues<L>,
  lock: L,
  now: boolean,
  recovering: boolean,
  rqmode: ModeOrIV = lock.rqmode,
): boolean {
  const conv = lock.grmode !== LKM.IV;
  const flags = lock.exflags;
  if (flags & LKF.EXPEDITE) return true;
  if (queueConflict(q.grant, lock, rqmode)) return false;
  if (queueConflict(q.convert, lock, rqmode)) return false;
  if (conv && recovering) return true;
  if (now && conv && !(flags & LKF.QUECVT)) return true;
  if (now && conv && flags & LKF.QUECVT) return q.convert.length === 0;
  if (flags & LKF.NOORDER) return true;
  if (!now && conv && q.convert[0] === lock) return true;
  if (now && !conv && q.convert.length === 0 && q.wait.length === 0) return true;
  if (!now && !conv && q.convert.length === 0 && q.wait[0] === lock) return true;
  return false;
}

/**
 * Conversion deadlock (§2.3): `lock`'s granted mode blocks a conversion queued
 * ahead of it (all of the queue when it is not on it yet), or it and one
 * behind it block each other.
 */
export function conversionDeadlock<L extends RuleLock>(q: RuleQueues<L>, lock: L): boolean {
  let ahead = true;
  for (const other of q.convert) {
    if (other === lock) {
      ahead = false;
      continue;
    }
    const blocksOther = !compatible(lock.grmode, other.rqmode);
    if (ahead) {
      if (blocksOther) return true;
    } else if (blocksOther && !compatible(other.grmode, lock.rqmode)) {
      return true;
    }
  }
  return false;
}

/** The verdict of `canBeGranted`. */
export interface GrantVerdict {
  grant: boolean;
  /** The mode to grant (the requested one, or the ALT mode). */
  mode: ModeOrIV;
  /** ALTPR/ALTCW chose `mode`: the grant carries SBF_ALTMODE. */
  altmode: boolean;
  /** A conversion deadlock was found (and the lock has no CONVDEADLK). */
  deadlock: boolean;
  /** CONVDEADLK: demote the lock's granted mode to NL (SBF_DEMOTED); not granted now. */
  demote: boolean;
}

/**
 * The wrapper of §2.2: the predicate, then conversion deadlock detection
 * (for a queueable conversion), then the ALT modes.
 */
export function canBeGranted<L extends RuleLock>(q: RuleQueues<L>, lock: L, now: boolean, recovering: boolean): GrantVerdict {
  if (grantable(q, lock, now, recovering)) return { grant: true, mode: lock.rqmode, altmode: false, deadlock: false, demote: false };
  return canBeGrantedOtherwise(q, lock, now);
}

/**
 * `canBeGranted`'s verdict for a lock the predicate refused as asked
 * (`grantable(q, lock, now, recovering)` is false): the deadlock check,
 * then the ALT modes. A caller that tests `grantable` first makes no
 * verdict object for the usual grant.
 */
export function canBeGrantedOtherwise<L extends RuleLock>(q: RuleQueues<L>, lock: L, now: boolean): GrantVerdict {
  const conv = lock.grmode !== LKM.IV;
  if (conv && !(lock.exflags & LKF.NOQUEUE) && conversionDeadlock(q, lock)) {
    const demote = (lock.exflags & LKF.CONVDEADLK) !== 0;
    return { grant: false, mode: lock.rqmode, altmode: false, deadlock: !demote, demote };
  }
  let alt: ModeOrIV = LKM.IV;
  if (lock.rqmode !== LKM.PR && lock.exflags & LKF.ALTPR) alt = LKM.PR;
  else if (lock.rqmode !== LKM.CW && lock.exflags & LKF.ALTCW) alt = LKM.CW;
  if (alt !== LKM.IV && grantable(q, lock, now, false, alt)) return { grant: true, mode: alt, altmode: true, deadlock: false, demote: false };
  return { grant: false, mode: lock.rqmode, altmode: false, deadlock: false, demote: false };
}

/**
 * Rule A (§2.6): does holder `g` get a BAST because a lock asking `rqmode`
 * was just queued (or failed with NOQUEUEBAST)? The BAST mode is `rqmode`.
 */
export function ruleARequiresBast(g: RuleLock, rqmode: ModeOrIV): boolean {
  if ((g.grmode === LKM.PR && rqmode === LKM.CW) || (g.grmode === LKM.CW && rqmode === LKM.PR)) return g.highbast < LKM.EX;
  return g.highbast < rqmode && !compatible(g.grmode, rqmode);
}

/**
 * Rule B (§2.5 step 3): after a grant pass left locks blocked, with `high` the
 * highest blocked requested mode and `cw` whether one of them asks CW, the
 * BAST mode holder `g` gets, or undefined for none. The kernel's
 * lock_requires_bast also treats a CW holder against high PR as the PR/CW pair.
 */
export function ruleBBastMode(g: RuleLock, high: ModeOrIV, cw: boolean): ModeOrIV | undefined {
  if (high === LKM.IV) return undefined;
  let requires: boolean;
  if ((g.grmode === LKM.PR && cw) || (g.grmode === LKM.CW && high === LKM.PR)) requires = g.highbast < LKM.EX;
  else requires = g.highbast < high && !compatible(g.grmode, high);
  if (!requires) return undefined;
  return cw && high === LKM.PR && g.grmode === LKM.PR ? LKM.CW : high;
}

/** What the owner remembers of the callbacks it queued for one lock. */
export interface CallbackMemory {
  /** Granted mode carried by the last completion, IV if none yet. */
  lastCastMode: ModeOrIV;
  /** Mode of the last queued callback, IV if none yet. */
  lastCbMode: ModeOrIV;
  /** Whether the last queued callback was a BAST. */
  lastCbWasBast: boolean;
}

/**
 * BAST suppression when queueing (§2.7): skip a BAST compatible with the mode
 * of the last completion, or following a BAST of the same mode or of a higher
 * mode above PR.
 */
export function skipBast(mem: CallbackMemory, mode: ModeOrIV): boolean {
  if (mem.lastCastMode !== LKM.IV && compatible(mode, mem.lastCastMode)) return true;
  if (mem.lastCbMode !== LKM.IV && mem.lastCbWasBast) {
    const prev = mem.lastCbMode;
    if (prev === mode || (prev > mode && prev > LKM.PR)) return true;
  }
  return false;
}
