/**
 * What the queue rules' decisions (resource.ts) become on this node: the
 * bodies of the Lockspace's ResourceSink. For a lock owned here, a
 * completion, a later grant or a blocking callback is queued for its caller
 * (cast-delivery.ts, §2.7). For a master copy of another node's lock, a
 * later grant becomes a GRANT message and a blocking callback a BAST
 * message to its owner; a completion decided inside an operation travels in
 * that operation's reply instead (master-side.ts). Grants, BASTs and waits
 * are counted in the lockspace's stats.
 *
 * `Lockspace.cast/grantPending/bast/queued` (lockspace.ts) call these.
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_, type Mode } from './constants.ts';
import { writeFence } from './fence-rules.ts';
import type { Lock } from './lock.ts';
import { lockMessage } from './lock-message.ts';
import type { Lockspace } from './lockspace.ts';
import { MSG } from './message.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;
const LKM = LKM_;

/** ResourceSink.cast: a completion decided inside an operation (master copies ignore it: their reply carries it). */
export function sinkCast(ls: Lockspace, lock: Lock, status: number): void {
  if (status === 0) ls.stats.grants++;
  if (lock.masterCopy) return; // its reply carries the result
  const terminal = status === DLM_ERRNO.EUNLOCK || (lock.grmode === LKM.IV && status !== 0);
  ls.queueCast(lock, status, terminal);
}

/** ResourceSink.grantPending: a queued lock granted later by the grant pass (local: AST 0; master copy: GRANT). */
export function sinkGrantPending(ls: Lockspace, lock: Lock): void {
  ls.stats.grants++;
  if (lock.masterCopy) {
    const m = lockMessage(ls, MSG.GRANT, lock);
    m.lkid = lock.lkid;
    m.remid = lock.remid;
    if (lock.lvb && lock.exflags & LKF.VALBLK) m.extra = lock.lvb;
    writeFence(m, lock.fence);
    ls.sendMessage(lock.nodeid, m);
    return;
  }
  ls.queueCast(lock, 0, false);
}

/** ResourceSink.bast: a blocking callback for a holder (local: BAST; master copy: a BAST message if it asked for one). */
export function sinkBast(ls: Lockspace, lock: Lock, mode: Mode): void {
  ls.stats.basts++;
  if (lock.masterCopy) {
    if (!lock.hasBast) return;
    const m = lockMessage(ls, MSG.BAST, lock);
    m.bastmode = mode;
    ls.sendMessage(lock.nodeid, m);
    return;
  }
  ls.queueBast(lock, mode);
}
