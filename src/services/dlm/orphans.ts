/**
 * Owners, orphans and purge (spec §2.11, the kernel's userspace locks):
 * every lock has an `owner` (the kernel's `ownpid`: a process id, or any
 * number the application uses for "who holds this"; 0 = the lockspace
 * handle itself, never closed on its own).
 *
 * - `closeOwner(owner)`: the owner went away (a process closed its handle
 *   or exited). Its locks stop calling back. Non-PERSISTENT locks are
 *   force-unlocked with IVVALBLK (an EX/PW holder that dies therefore
 *   invalidates the LVB). PERSISTENT locks become *orphans*: an in-progress
 *   request or conversion is cancelled, the granted mode is kept (a
 *   request never granted just goes).
 * - adoption: `lock(mode, lksb, LKF.ORPHAN, name, ...)` takes over an orphan
 *   on the same resource with the same granted mode: 0 with its lkid in
 *   `lksb.lkid` and a completion AST of status 0; ENOENT when there is no
 *   orphan on the resource here, EAGAIN when orphans exist only in other
 *   modes (both synchronous, no AST).
 * - `purge(nodeid, pid)`: force-unlock (with IVVALBLK) the orphans of owner
 *   `pid` (0 = all orphans) on node `nodeid` (0 or ours = here; another
 *   member gets a PURGE message carrying `m_nodeid`/`m_pid`).
 *
 * Orphans are a property of the owner's node (its local and process
 * copies); a master elsewhere sees an ordinary granted lock.
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_ } from './constants.ts';
import { takeCallbacks, type AstFn, type BastFn, type Lksb, type Lock } from './lock.ts';
import type { Lockspace } from './lockspace.ts';
import { emptyMessage, MSG, type DlmMessage } from './message.ts';
import type { Resource } from './resource.ts';

const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;
const LKM = LKM_;

/** Owner ids are 32-bit like the kernel's pid field on the wire. */
export function validOwner(owner: number): boolean {
  return Number.isInteger(owner) && owner >= 0 && owner <= 0xffffffff;
}

/** Locks owned here (not master copies) that are still alive. */
function ownedLocks(ls: Lockspace): Lock[] {
  const out: Lock[] = [];
  for (const lkb of ls.allLocks()) if (!lkb.masterCopy && !lkb.endOfLife) out.push(lkb);
  return out;
}

/** The unlock a departing owner's lock and a purged orphan get. */
const FORCE_INVALIDATE = LKF.FORCEUNLOCK | LKF.IVVALBLK;

/**
 * The owner went away: PERSISTENT locks become orphans, the others are
 * force-unlocked with IVVALBLK. No callback reaches the owner afterwards.
 */
export function closeOwner(ls: Lockspace, owner: number): { orphaned: number; unlocked: number } {
  let orphaned = 0;
  let unlocked = 0;
  if (!validOwner(owner) || owner === 0) return { orphaned, unlocked };
  for (const lkb of ownedLocks(ls)) {
    if (lkb.ownpid !== owner || lkb.orphan) continue;
    lkb.ast = null;
    lkb.bast = null;
    lkb.lksb = null;
    if (lkb.exflags & LKF.PERSISTENT) {
      const inProgress = lkb.rqmode !== LKM.IV || lkb.waitType !== 'none';
      if (lkb.grmode !== LKM.IV) {
        lkb.orphan = true;
        orphaned++;
      }
      if (inProgress) ls.unlock(lkb.lkid, LKF.CANCEL);
    } else {
      ls.unlock(lkb.lkid, FORCE_INVALIDATE);
      unlocked++;
    }
  }
  return { orphaned, unlocked };
}

/** The orphans on this node (for dumps and tests). */
export function orphans(ls: Lockspace): Lock[] {
  return ownedLocks(ls).filter((lkb) => lkb.orphan);
}

/** lock() with LKF.ORPHAN: adopt an orphan of resource `r` in `mode` (see the header). */
export function adoptOrphan(ls: Lockspace, r: Resource | undefined, mode: number, lksb: Lksb, ast: AstFn, astarg: unknown, bast: BastFn | null | undefined, owner: number): number {
  if (!r) return DLM_ERRNO.ENOENT;
  let otherMode = false;
  for (const lkb of r.locks) {
    if (!lkb.orphan || lkb.endOfLife || lkb.masterCopy) continue;
    if (lkb.grmode !== mode) {
      otherMode = true;
      continue;
    }
    lkb.orphan = false;
    lkb.ownpid = owner;
    takeCallbacks(lkb, lksb, ast, astarg, bast);
    if (lksb.lvb) {
      if (lkb.lvb && lkb.lvb !== lksb.lvb) lksb.lvb.set(lkb.lvb.subarray(0, lksb.lvb.length));
      lkb.lvb = lksb.lvb;
    }
    lksb.lkid = lkb.lkid;
    ls.queueCast(lkb, 0, false);
    return 0;
  }
  return otherMode ? DLM_ERRNO.EAGAIN : DLM_ERRNO.ENOENT;
}

/** Force-unlock this node's orphans of `pid` (0 = all); the number purged. */
export function purgeHere(ls: Lockspace, pid: number): number {
  let n = 0;
  for (const lkb of orphans(ls)) {
    if (pid !== 0 && lkb.ownpid !== pid) continue;
    lkb.orphan = false;
    if (ls.unlock(lkb.lkid, FORCE_INVALIDATE) === 0) n++;
  }
  return n;
}

/** `dlm_purge(nodeid, pid)`: here, or a PURGE message to that member. 0 or a negative errno. */
export function purge(ls: Lockspace, nodeid: number, pid: number): number {
  if (!validOwner(nodeid) || !validOwner(pid)) return DLM_ERRNO.EINVAL;
  if (nodeid === 0 || nodeid === ls.ourNodeid) {
    purgeHere(ls, pid);
    return 0;
  }
  if (!ls.members.includes(nodeid)) return DLM_ERRNO.EINVAL;
  const m = emptyMessage(MSG.PURGE);
  m.nodeid = nodeid;
  m.pid = pid;
  ls.sendMessage(nodeid, m);
  return 0;
}

/** A PURGE from a member: purge our orphans of `m_pid` (one naming another node is counted and dropped). */
export function receivePurge(ls: Lockspace, m: DlmMessage): void {
  if (m.nodeid !== ls.ourNodeid) return ls.refuse('PURGE_NOT_US');
  purgeHere(ls, m.pid);
}
