/**
 * The low-level calls of a lockspace (`dlm_lock()` / `dlm_unlock()`, §2.10):
 * argument checks (`validate.ts`), a new lock filed with its resource, a
 * conversion, an unlock or a cancel started — now, or deferred while locking
 * is stopped (recovery, a rejoin) or the gate is closed — with the kernel's
 * synchronous returns. `Lockspace.lock()` / `unlock()` call these with the
 * lockspace's own state (`LockCallState`); nothing here allocates per call
 * beyond the lock itself (closures only for deferred calls).
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKSTS as LKSTS_, type Mode } from './constants.ts';
import { latin1 as latin1_ } from './byte-key.ts';
import { takeCallbacks, type Lock, type AstFn, type BastFn, type Lksb } from './lock.ts';
import type { LockTable } from './lock-table.ts';
import type { Lockspace } from './lockspace.ts';
import { adoptOrphan, validOwner } from './orphans.ts';
import type { LockingGate } from './recovery/locking-gate.ts';
import { Resource } from './resource.ts';
import * as validate from './validate.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const { checkLockArgs, lockStateOf, validateConvert, validateUnlock, validateUnlockFlags } = validate;
const LKF = LKF_;
const LKSTS = LKSTS_;
const latin1 = latin1_;

const enc = new TextEncoder();

/** Every char below 0x80 (a loop: cheaper than a regular expression on a short name). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The lockspace's state the calls use (one object, made once per lockspace). */
export interface LockCallState {
  readonly table: LockTable;
  /** New requests made while locking is stopped (recovery, rejoin), not yet issued: a cancel ends them here. */
  readonly waiting: Set<Lock>;
  readonly locking: LockingGate;
}

/** API calls wait: locking is stopped or the gate is closed. */
export function deferring(g: LockingGate): boolean {
  return g.stopped || (g.gate !== null && g.blocked());
}

/**
 * `dlm_lock()`: 0 when accepted (exactly one completion AST follows), or a
 * negative errno (no AST). A new request writes `lksb.lkid` before
 * returning; a conversion (LKF.CONVERT) names its lock by `lksb.lkid`.
 * `owner` (a process id or the like; 0 = none) is who holds a new lock,
 * for `closeOwner()`, orphans and purge (orphans.ts).
 */
export function lockCall(ls: Lockspace, st: LockCallState, mode: number, lksb: Lksb, flags: number, name: Uint8Array | string | null, ast: AstFn, astarg: unknown, bast: BastFn | null | undefined, owner: number): number {
  if (ls.released || !validOwner(owner)) return DLM_ERRNO.EINVAL;
  // ASCII names (the common case) are their own map key: no encoding per call.
  const ascii = typeof name === 'string' && isAscii(name);
  const nameBytes = ascii ? null : typeof name === 'string' ? enc.encode(name) : (name ?? new Uint8Array(0));
  const rv = checkLockArgs(
    mode,
    flags,
    ascii ? (name as string).length : nameBytes!.length,
    typeof ast === 'function',
    typeof lksb === 'object' && lksb !== null,
    !!lksb?.lvb,
    lksb?.lkid ?? 0,
  );
  if (rv !== 0) return rv;
  if (flags & LKF.CONVERT) {
    const lkb = st.table.byId.get(lksb.lkid);
    if (!lkb || lkb.endOfLife) return DLM_ERRNO.ENOENT;
    const crv = validateConvert(mode, flags, lockStateOf(lkb, ls.ourNodeid));
    if (crv !== 0) return crv;
    lkb.sbflags = 0;
    takeRequest(lkb, mode as Mode, flags, lksb, ast, astarg, bast);
    // Mark it busy at once, so a second call sees EBUSY even while stopped.
    ls.runOrDefer(() => ls.convertLock(lkb));
    return 0;
  }
  if (flags & LKF.ORPHAN) return adoptOrphan(ls, ls.rsbs.get(ascii ? (name as string) : latin1(nameBytes!)), mode, lksb, ast, astarg, bast, owner);
  const lkb = st.table.newLock(false);
  lkb.ownpid = owner;
  lkb.user = owner !== 0;
  takeRequest(lkb, mode as Mode, flags, lksb, ast, astarg, bast);
  lksb.lkid = lkb.lkid;
  const r = rsbFor(ls, ascii ? (name as string) : latin1(nameBytes!), nameBytes);
  lkb.resource = r;
  r.locks.add(lkb);
  // Not through runOrDefer(closure): a call site of its own keeps requestLock
  // monomorphic (V8 inlines it) and costs no closure per call.
  if (deferring(st.locking)) {
    // Waits for locking (recovery, a rejoin: docs/dlm.md "Requests while recovering or rejoining").
    st.waiting.add(lkb);
    st.locking.deferred.push(() => {
      if (st.waiting.delete(lkb)) ls.requestLock(r, lkb);
    });
  } else ls.requestLock(r, lkb);
  return 0;
}

/**
 * `dlm_unlock()`: flags ⊆ {CANCEL, VALBLK, IVVALBLK, FORCEUNLOCK}. 0 when
 * accepted (one completion, EUNLOCK or ECANCEL, except a cancel that found
 * nothing to cancel), or a negative errno.
 */
export function unlockCall(ls: Lockspace, st: LockCallState, lkid: number, flags: number, astarg: unknown): number {
  if (ls.released) return DLM_ERRNO.EINVAL;
  if (flags === 0) {
    // A plain unlock of a granted lock with nothing in flight (the usual one): the checks below
    // would say 'proceed' (validateUnlock with no flags: not a master copy, not busy, no overlap,
    // not parked), without building the lock's state record.
    const lkb = st.table.byId.get(lkid);
    if (lkb !== undefined && idleGranted(lkb)) {
      lkb.sbflags = 0;
      lkb.astarg = astarg;
      if (deferring(st.locking)) st.locking.deferred.push(() => ls.unlockLock(lkb));
      else ls.unlockLock(lkb);
      return 0;
    }
  }
  const frv = validateUnlockFlags(flags);
  if (frv !== 0) return frv;
  const lkb = st.table.byId.get(lkid);
  if (!lkb || lkb.endOfLife) return DLM_ERRNO.ENOENT;
  if (st.waiting.size > 0 && flags & (LKF.CANCEL | LKF.FORCEUNLOCK) && st.waiting.delete(lkb)) {
    // A request still waiting for locking never leaves this node: it ends now (ECANCEL / EUNLOCK).
    lkb.astarg = astarg;
    ls.queueCast(lkb, flags & LKF.CANCEL ? DLM_ERRNO.ECANCEL : DLM_ERRNO.EUNLOCK, true);
    return 0;
  }
  const inFlight = lkb.waitType !== 'none' ? lkb.waitType : lkb.secondary;
  const onLookupList = lkb.resource!.lookupList.includes(lkb);
  const verdict = validateUnlock(flags, lockStateOf(lkb, ls.ourNodeid), onLookupList ? 'none' : inFlight);
  if (typeof verdict === 'number') return verdict;
  if (verdict === 'nothing') return 0;
  const cancel = (flags & LKF.CANCEL) !== 0;
  if (verdict === 'overlap') {
    if (onLookupList) {
      // Still parked behind another lock's lookup: it never left this node.
      const r = lkb.resource!;
      r.lookupList.splice(r.lookupList.indexOf(lkb), 1);
      lkb.astarg = astarg;
      ls.queueCast(lkb, cancel ? DLM_ERRNO.ECANCEL : DLM_ERRNO.EUNLOCK, true);
      return 0;
    }
    lkb.exflags |= flags;
    lkb.astarg = astarg;
    if (cancel) lkb.overlapCancel = true;
    else lkb.overlapUnlock = true;
    return 0;
  }
  lkb.exflags |= flags;
  lkb.sbflags = 0;
  lkb.astarg = astarg;
  if (deferring(st.locking)) st.locking.deferred.push(cancel ? () => ls.cancelLock(lkb) : () => ls.unlockLock(lkb));
  else if (cancel) ls.cancelLock(lkb);
  else ls.unlockLock(lkb);
  return 0;
}

/**
 * Granted, owned here, with no operation in flight, no overlap recorded and
 * nothing parked on its resource: a plain unlock of it proceeds
 * (`validateUnlock` returns 'proceed' for such a lock and flags 0).
 */
export function idleGranted(lkb: Lock): boolean {
  return (
    !lkb.endOfLife &&
    !lkb.masterCopy &&
    lkb.status === LKSTS.GRANTED &&
    lkb.waitType === 'none' &&
    lkb.secondary === 'none' &&
    !lkb.overlapUnlock &&
    !lkb.overlapCancel &&
    lkb.resource !== null &&
    lkb.resource.lookupList.length === 0
  );
}

/** What a request or a conversion asks of its lock: mode, flags, status block and callbacks (lvb: the caller's buffer). */
function takeRequest(lkb: Lock, mode: Mode, flags: number, lksb: Lksb, ast: AstFn, astarg: unknown, bast: BastFn | null | undefined): void {
  lkb.exflags = flags;
  lkb.rqmode = mode;
  takeCallbacks(lkb, lksb, ast, astarg, bast);
  lkb.lvb = lksb.lvb;
}

function rsbFor(ls: Lockspace, key: string, bytes: Uint8Array | null): Resource {
  let r = ls.rsbs.get(key);
  if (r) {
    ls.revive(r);
    return r;
  }
  const name = bytes ? bytes.slice() : enc.encode(key);
  r = new Resource(name, key, ls.host.hash(name) >>> 0);
  ls.rsbs.set(key, r);
  return r;
}
