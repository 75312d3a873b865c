/**
 * One resource (the kernel's rsb): its three queues, its LVB, and the four
 * master operations with their effects (spec §2.4, §2.5), run synchronously
 * and one at a time, so a resource's operations are serialised by
 * construction. What a decision does to the world (ASTs, GRANT and BAST
 * messages) goes through the `ResourceSink` the lockspace provides.
 */
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_, LKSTS as LKSTS_, SBF as SBF_, type LockStatus, type Mode, type ModeOrIV } from './constants.ts';
import { fenceOnGrant, type FenceContext } from './fence-rules.ts';
import { canBeGrantedOtherwise, grantable, ruleARequiresBast, ruleBBastMode } from './grant-rules.ts';
import type { Lock } from './lock.ts';
import { lvbOperation } from './modes.ts';
import { ResourceLocks } from './resource-locks.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const LKF = LKF_;
const LKM = LKM_;
const LKSTS = LKSTS_;
const SBF = SBF_;

/** `#canBeGranted`'s verdict for a lock grantable as asked (shared: nobody writes it). */
const GRANTED: { readonly grant: boolean; readonly deadlock: boolean } = Object.freeze({ grant: true, deadlock: false });

export interface ResourceSink extends FenceContext {
  /** A completion decided inside an operation (master copies ignore it: their reply carries it). */
  cast(lock: Lock, status: number): void;
  /** A queued lock granted later by the grant pass (local: AST 0; master copy: GRANT). */
  grantPending(lock: Lock): void;
  /** A blocking callback for a holder (local: BAST; master copy: BAST message). */
  bast(lock: Lock, mode: Mode): void;
  /** A request or conversion that could not be granted at once was queued (counted). */
  queued(lock: Lock): void;
}

export class Resource {
  readonly name: Uint8Array;
  /** The name as a map key. */
  readonly key: string;
  readonly hash: number;
  readonly grant: Lock[] = [];
  readonly convert: Lock[] = [];
  readonly wait: Lock[] = [];
  /** The resource LVB, null when none was written (or it was discarded). */
  lvb: Uint8Array | null = null;
  lvbseq = 0;
  valnotvalid = false;
  /** Master node id, 0 when unknown. */
  master = 0;
  /** Revived from the inactive cache with a remote master that may be stale (§3.3). */
  uncertain = false;
  /** The lock whose lookup/uncertain request is in flight (0 = none). */
  firstLkid = 0;
  /** Locks parked until the first lock's lookup settles the master. */
  readonly lookupList: Lock[] = [];
  /** Every lock on this resource known here, in any role (its use count). */
  readonly locks = new ResourceLocks();
  /** When an unused resource retires (clock ms), or null while in use. */
  toss: number | null = null;
  /** Kept only as a directory record (this node is the dir node, master elsewhere). */
  dirRecord = false;
  /** Recovery flags (`recovery/resource-flags.ts`), 0 outside recovery. */
  rflags = 0;
  /** The highest fencing token issued for it here (fence-rules.ts). */
  fenceHigh = 0;

  constructor(name: Uint8Array, key: string, hash: number) {
    this.name = name;
    this.key = key;
    this.hash = hash;
  }

  /** No lock on any queue, none owned here, none waiting for a lookup. */
  get unused(): boolean {
    return this.grant.length === 0 && this.convert.length === 0 && this.wait.length === 0 && this.locks.size === 0 && this.lookupList.length === 0 && this.firstLkid === 0;
  }

  // --- queues -------------------------------------------------------------

  queueOf(status: LockStatus): Lock[] | undefined {
    return status === LKSTS.GRANTED ? this.grant : status === LKSTS.CONVERT ? this.convert : status === LKSTS.WAITING ? this.wait : undefined;
  }

  /** Put a lock on a queue: grant queue at the head (the kernel's newest-first quirk), others FIFO, HEADQUE at the head. */
  add(lock: Lock, status: LockStatus): void {
    const q = this.queueOf(status)!;
    lock.status = status;
    q.push(lock); // (on an empty queue the head is the tail)
    if (q.length > 1 && (status === LKSTS.GRANTED || lock.exflags & LKF.HEADQUE)) {
      // To the head by hand: unshift() is a builtin call costing several times these moves.
      for (let k = q.length - 1; k > 0; k--) q[k] = q[k - 1]!;
      q[0] = lock;
    }
  }

  del(lock: Lock): void {
    const q = this.queueOf(lock.status);
    if (q) {
      const i = q.indexOf(lock);
      if (i >= 0) {
        // Close the gap by hand and pop(): splice() allocates an array of what it removed
        // (a master's grant queue has the newest lock at its head, the kernel's order).
        const last = q.length - 1;
        for (let k = i; k < last; k++) q[k] = q[k + 1]!;
        q.pop();
      }
    }
    lock.status = LKSTS.NONE;
  }

  move(lock: Lock, status: LockStatus): void {
    this.del(lock);
    this.add(lock, status);
  }

  // --- LVB ----------------------------------------------------------------

  /** The grant-time LVB step (§1.7), before the granted mode changes. */
  #lvbOnGrant(lock: Lock): void {
    if ((lock.exflags & (LKF.VALBLK | LKF.IVVALBLK)) === 0) {
      // Neither flag (the usual grant): a read or a write below has nothing to do; only the flag.
      if (this.valnotvalid) lock.sbflags |= SBF.VALNOTVALID;
      return;
    }
    const op = lvbOperation(lock.grmode, lock.rqmode);
    const valblk = (lock.exflags & LKF.VALBLK) !== 0;
    if (op === 'read') {
      if (lock.lvb && valblk) {
        // Spec choice: no resource LVB reads as zeros, on local and remote masters alike.
        if (this.lvb) lock.lvb.set(this.lvb.subarray(0, lock.lvb.length));
        else lock.lvb.fill(0);
        lock.lvbseq = this.lvbseq;
      }
    } else if (op === 'write') {
      if (lock.exflags & LKF.IVVALBLK) {
        this.valnotvalid = true;
        return;
      }
      if (lock.lvb && valblk) this.#writeLvb(lock);
    }
    if (this.valnotvalid) lock.sbflags |= SBF.VALNOTVALID;
  }

  #writeLvb(lock: Lock): void {
    const src = lock.lvb!;
    if (!this.lvb || this.lvb.length !== src.length) this.lvb = new Uint8Array(src.length);
    this.lvb.set(src);
    this.lvbseq = (this.lvbseq + 1) >>> 0;
    lock.lvbseq = this.lvbseq;
    this.valnotvalid = false;
  }

  /** The unlock-time LVB step (§1.7). */
  #lvbOnUnlock(lock: Lock): void {
    if (lock.grmode < LKM.PW) return;
    if (lock.exflags & LKF.IVVALBLK) this.valnotvalid = true;
    else if (lock.lvb && lock.exflags & LKF.VALBLK) this.#writeLvb(lock);
  }

  /** The last lock went: the LVB goes with it (§1.7 "LVB lifetime"). */
  discardLvb(): void {
    this.lvb = null;
    this.valnotvalid = false;
  }

  // --- grants -------------------------------------------------------------

  #grant(lock: Lock, sink: ResourceSink): void {
    this.#lvbOnGrant(lock);
    lock.fence = fenceOnGrant(this, lock.grmode, lock.rqmode, lock.fence, sink);
    lock.grmode = lock.rqmode;
    this.move(lock, LKSTS.GRANTED);
    lock.rqmode = LKM.IV;
    lock.highbast = 0;
  }

  /**
   * can_be_granted with its side effects applied: ALT mode chosen, CONVDEADLK
   * demotion. Returns whether to grant and whether a deadlock was reported.
   */
  #canBeGranted(lock: Lock, now: boolean, recovering: boolean): { grant: boolean; deadlock: boolean } {
    // Grantable as asked (the usual case): canBeGranted's first verdict, without making it.
    if (grantable(this, lock, now, recovering)) return GRANTED;
    const v = canBeGrantedOtherwise(this, lock, now);
    if (v.grant && v.altmode) {
      lock.rqmode = v.mode;
      lock.sbflags |= SBF.ALTMODE;
    }
    if (v.demote) {
      lock.grmode = LKM.NL;
      lock.sbflags |= SBF.DEMOTED;
    }
    return { grant: v.grant, deadlock: v.deadlock };
  }

  // --- the four master operations (§2.4) -----------------------------------

  /** do_request: 0 granted, EINPROGRESS queued, EAGAIN refused (the lock is to be destroyed). */
  doRequest(lock: Lock, sink: ResourceSink): number {
    if (this.#canBeGranted(lock, true, false).grant) {
      this.#grant(lock, sink);
      sink.cast(lock, 0);
      return 0;
    }
    if (!(lock.exflags & LKF.NOQUEUE)) {
      this.add(lock, LKSTS.WAITING);
      sink.queued(lock);
      return DLM_ERRNO.EINPROGRESS;
    }
    sink.cast(lock, DLM_ERRNO.EAGAIN);
    return DLM_ERRNO.EAGAIN;
  }

  doRequestEffects(lock: Lock, result: number, sink: ResourceSink): void {
    if (result === DLM_ERRNO.EINPROGRESS) this.#sendBlockingAsts(lock, false, sink);
    else if (result === DLM_ERRNO.EAGAIN && lock.exflags & LKF.NOQUEUEBAST) this.#sendBlockingAsts(lock, true, sink);
  }

  /** do_convert: 0 granted, EINPROGRESS queued, EAGAIN refused, EDEADLK deadlock (lock keeps its granted mode). */
  doConvert(lock: Lock, sink: ResourceSink): number {
    const v = this.#canBeGranted(lock, true, false);
    if (v.grant) {
      this.#grant(lock, sink);
      sink.cast(lock, 0);
      return 0;
    }
    if (v.deadlock && !(lock.exflags & LKF.NODLCKWT)) {
      lock.rqmode = LKM.IV;
      sink.cast(lock, DLM_ERRNO.EDEADLK);
      return DLM_ERRNO.EDEADLK;
    }
    if (lock.sbflags & SBF.DEMOTED) {
      // The demotion may let others (and then this lock) be granted: the
      // kernel runs the convert pass once, then retries this lock.
      this.#grantPendingConvert(sink, false);
      if (grantable(this, lock, true, false)) {
        this.#grant(lock, sink);
        sink.cast(lock, 0);
        return 0;
      }
    }
    if (!(lock.exflags & LKF.NOQUEUE)) {
      this.move(lock, LKSTS.CONVERT);
      sink.queued(lock);
      return DLM_ERRNO.EINPROGRESS;
    }
    sink.cast(lock, DLM_ERRNO.EAGAIN);
    return DLM_ERRNO.EAGAIN;
  }

  doConvertEffects(lock: Lock, result: number, sink: ResourceSink): void {
    if (result === 0) this.grantPendingLocks(sink);
    else if (result === DLM_ERRNO.EINPROGRESS) this.#sendBlockingAsts(lock, false, sink);
    else if (result === DLM_ERRNO.EAGAIN) {
      if (lock.exflags & LKF.NOQUEUEBAST) this.#sendBlockingAsts(lock, true, sink);
      lock.rqmode = LKM.IV;
    }
  }

  /** do_unlock: LVB step, off every queue, AST EUNLOCK. */
  doUnlock(lock: Lock, sink: ResourceSink): number {
    this.#lvbOnUnlock(lock);
    this.del(lock);
    lock.grmode = LKM.IV;
    lock.rqmode = LKM.IV;
    sink.cast(lock, DLM_ERRNO.EUNLOCK);
    return DLM_ERRNO.EUNLOCK;
  }

  doUnlockEffects(sink: ResourceSink): void {
    this.grantPendingLocks(sink);
  }

  /** do_cancel: ECANCEL when a conversion or request was cancelled, 0 (no AST) when nothing was pending. */
  doCancel(lock: Lock, sink: ResourceSink): number {
    if (lock.status === LKSTS.CONVERT && lock.grmode === lock.rqmode && lock.grmode !== LKM.IV) {
      // Recovery (§4.7) resolved a middle conversion to its requested mode: it is complete. The cancel
      // finds nothing (the grant wins the race), or the owner would get ECANCEL with the new mode kept.
      this.#grant(lock, sink);
      sink.cast(lock, 0);
      return 0;
    }
    lock.rqmode = LKM.IV;
    if (lock.status === LKSTS.CONVERT) {
      this.move(lock, LKSTS.GRANTED);
    } else if (lock.status === LKSTS.WAITING) {
      this.del(lock);
      lock.grmode = LKM.IV;
    } else {
      return 0;
    }
    sink.cast(lock, DLM_ERRNO.ECANCEL);
    return DLM_ERRNO.ECANCEL;
  }

  doCancelEffects(result: number, sink: ResourceSink): void {
    if (result !== 0) this.grantPendingLocks(sink);
  }

  // --- grant_pending_locks (§2.5) ------------------------------------------

  /** Re-evaluate the convert then the wait queue; BAST the holders blocking what is left. */
  grantPendingLocks(sink: ResourceSink, recovering = false): void {
    // Nothing queued (an uncontended unlock): nothing to grant, no BAST (high stays IV).
    if (this.convert.length === 0 && this.wait.length === 0) return;
    const c = this.#grantPendingConvert(sink, recovering);
    let high = c.high;
    let cw = c.cw;
    for (const lock of [...this.wait]) {
      if (this.#canBeGranted(lock, false, false).grant) {
        this.#grant(lock, sink);
        sink.grantPending(lock);
      } else {
        if (lock.rqmode > high) high = lock.rqmode;
        if (lock.rqmode === LKM.CW) cw = true;
      }
    }
    if (high === LKM.IV) return;
    for (const g of [...this.grant]) {
      if (!g.hasBast) continue;
      const mode = ruleBBastMode(g, high, cw);
      if (mode === undefined) continue;
      sink.bast(g, mode as Mode);
      g.highbast = high;
    }
  }

  #grantPendingConvert(sink: ResourceSink, recovering: boolean): { high: ModeOrIV; cw: boolean } {
    let quit = false;
    for (;;) {
      let grantRestart = false;
      let demoteRestart = false;
      let high: ModeOrIV = LKM.IV;
      let cw = false;
      for (const lock of [...this.convert]) {
        const demoted = (lock.sbflags & SBF.DEMOTED) !== 0;
        const v = this.#canBeGranted(lock, false, recovering);
        if (v.grant) {
          this.#grant(lock, sink);
          sink.grantPending(lock);
          grantRestart = true;
          continue;
        }
        if (!demoted && lock.sbflags & SBF.DEMOTED) {
          demoteRestart = true;
          continue;
        }
        if (v.deadlock) {
          // Only NODLCKWT locks stay queued deadlocked; they get a BAST of
          // their own requested mode as a hint to back off.
          if (lock.exflags & LKF.NODLCKWT && lock.highbast < lock.rqmode) {
            sink.bast(lock, lock.rqmode as Mode);
            lock.highbast = lock.rqmode;
          }
          continue;
        }
        if (lock.rqmode > high) high = lock.rqmode;
        if (lock.rqmode === LKM.CW) cw = true;
      }
      if (grantRestart) continue;
      if (demoteRestart && !quit) {
        quit = true;
        continue;
      }
      return { high, cw };
    }
  }

  /** Rule A to the grant queue, plus the convert queue for NOQUEUEBAST (§2.6). */
  #sendBlockingAsts(lock: Lock, all: boolean, sink: ResourceSink): void {
    this.#bastQueue(this.grant, lock, sink);
    if (all) this.#bastQueue(this.convert, lock, sink);
  }

  #bastQueue(queue: readonly Lock[], lock: Lock, sink: ResourceSink): void {
    for (const g of [...queue]) {
      if (g === lock || !g.hasBast) continue;
      if (ruleARequiresBast(g, lock.rqmode)) {
        sink.bast(g, lock.rqmode as Mode);
        g.highbast = lock.rqmode;
      }
    }
  }
}
