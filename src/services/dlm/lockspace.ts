/**
 * A lockspace on one node: the faithful low-level API (`lock()`/`unlock()`
 * with the kernel's synchronous returns and lksb), the owner side of every
 * lock (local and process copies), mastering by directory lookup (§3), and
 * the callback queue (§2.7). The master side (master copies, the messages a
 * master answers) lives in `master-side.ts`; the queue rules in `resource.ts`.
 * Around it: `lockspace-host.ts` (what it needs from its node),
 * `lockspace-stats.ts` (counters), `lockspace-dump.ts` (`dump()`),
 * `lockspace-lifecycle.ts` (member checks, REMOVE on release/retirement),
 * `retirement-queue.ts` (the retirement delay of unused resources),
 * `message-observe.ts` (the observe hook), `byte-key.ts` (name keys),
 * `validate.ts` (argument checks), `callback-hold.ts` (callbacks held while
 * stopped or recovering, §2.7) and `recovery/` (stop/start, §4: the phase
 * driver `recovery-driver.ts`, RCOM, waiters, fence, `slots.ts` and
 * `recovery-ops.ts` (slots, recover_prep/slot/done), `nodir.ts` (NODIR
 * mastering)). What stays here of those: the hooks that call them.
 */
import { CallbackHold } from './callback-hold.ts';
import { CastQueue, type PendingCast } from './cast-queue.ts';
import { DLM_ERRNO as DLM_ERRNO_, LKF as LKF_, LKM as LKM_, LKSTS as LKSTS_, type Mode } from './constants.ts';
import { DlmError } from './errors.ts';
import { skipBast } from './grant-rules.ts';
import { directoryNode } from './hash.ts';
import { dumpResources, type DumpResource } from './lockspace-dump.ts';
import type { LockspaceHost } from './lockspace-host.ts';
import { countMasterCopies, countPendingOperations, type LockspaceStats } from './lockspace-stats.ts';
import { latin1 as latin1_ } from './byte-key.ts';
import { observeMessage } from './message-observe.ts';
import { announceUnusedMastered, sendRemove, normalizeMembers } from './lockspace-lifecycle.ts';
import { fenceOnOwnerGrant, fenceOutOfRange, writeFence } from './fence-rules.ts';
import { Lock, type AstFn, type BastFn, type Lksb, type WaitType } from './lock.ts';
import { handleMasterMessage } from './master-side.ts';
import { adoptOrphan, closeOwner, orphans, purge, validOwner } from './orphans.ts';
import { userFlags } from './user-lock.ts';
import { cancelForDeadlock, deadlockStatus } from './deadlock-cancel.ts';
import { handleOwnerMessage } from './owner-side.ts';
import { DLM_CMD, DLM_VERSION, decodeLockMessage, emptyMessage, encodeMessage, headerNodeid, MSG, type DlmHeader, type DlmMessage, type MsgType } from './message.ts';
import { fenceLocks } from './recovery/fence.ts';
import { receiveRcom } from './recovery/rcom-receive.ts';
import { LockingGate } from './recovery/locking-gate.ts';
import { RecoveryDriver, type StartOptions } from './recovery/recovery-driver.ts';
import type { RecoveryOps } from './recovery/recovery-ops.ts';
import type { DlmSlot } from './recovery/slots.ts';
import { newRecoveryStats } from './recovery/recovery-status.ts';
import { isDownConversion, lvbOperation } from './modes.ts';
import { Resource, type ResourceSink } from './resource.ts';
import { RetirementQueue } from './retirement-queue.ts';
import * as validate from './validate.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const { lockStateOf, validateConvert, validateLockArgs, validateUnlock, validateUnlockFlags } = validate;
const LKF = LKF_;
const LKM = LKM_;
const LKSTS = LKSTS_;
const latin1 = latin1_;

export type { LockspaceHost } from './lockspace-host.ts';
export type { LockspaceStats } from './lockspace-stats.ts';
export type { DumpLock, DumpResource } from './lockspace-dump.ts';
export type { StartOptions } from './recovery/recovery-driver.ts';
export type { RecoveryOps } from './recovery/recovery-ops.ts';
export type { DlmSlot } from './recovery/slots.ts';
export type { RecoveryStats } from './recovery/recovery-status.ts';

const enc = new TextEncoder();
const ASCII = /^[\x00-\x7f]*$/;
export class Lockspace implements ResourceSink {
  readonly name: string;
  readonly globalId: number;
  readonly lvblen: number;
  readonly host: LockspaceHost;
  readonly ourNodeid: number;
  #members: number[];
  readonly #locks = new Map<number, Lock>();
  readonly rsbs = new Map<string, Resource>();
  #nextLkid = 1;
  /** Lock ids wrapped past 0xffffffff once: a new id may be in use, so it is checked. */
  #lkidsWrapped = false;
  #released = false;
  readonly #retirement: RetirementQueue<Resource>;
  readonly #recovery: RecoveryDriver;
  readonly #locking: LockingGate;
  /** The header of every lock message sent (one object, not one per message). */
  readonly #header: Omit<DlmHeader, 'cmd'>;
  /** ASTs/BASTs held while recovering (§2.7, callback-hold.ts). */
  readonly #callbacks: CallbackHold;
  /** Completion ASTs queued, in order (delivered by #castTask). */
  readonly #casts = new CastQueue();
  /** New requests made while locking is stopped (recovery, rejoin), not yet issued: a cancel ends them here. */
  readonly #waiting = new Set<Lock>();
  /** The highest fencing token of any resource this node forgot or was told of (fence-rules.ts). */
  fenceFloor = 0;
  readonly stats: LockspaceStats = { sent: 0, received: 0, refused: {}, ignored: 0, callbacks: 0, callbackErrors: 0, grants: 0, waits: 0, basts: 0, recovery: newRecoveryStats() };

  /**
   * NODIR (§3.1, §3.2, §4.2 5b): the master of a resource is its hash
   * (directory) node; no LOOKUP/REMOVE; recovery purges and rebuilds every
   * master copy (recovery/nodir.ts).
   */
  readonly nodir: boolean;

  constructor(host: LockspaceHost, name: string, globalId: number, lvblen: number, members: number[], nodir = false) {
    this.nodir = nodir;
    this.host = host;
    this.name = name;
    this.globalId = globalId;
    this.lvblen = lvblen;
    this.ourNodeid = host.nodeid;
    this.#header = Object.freeze({ version: DLM_VERSION, lockspace: globalId, nodeid: host.nodeid });
    this.#members = members;
    // No REMOVE while locking is stopped: retirement resumes with locking (the gate's resume).
    this.#retirement = new RetirementQueue(host.clock, host.tossMs, () => this.#locking.stopped, (r) => this.#retire(r));
    this.#locking = new LockingGate(
      (m) => this.receive(m.from, m.bytes),
      () => this.#retirement.resume(),
      (err) => host.callbackError(err),
    );
    this.#callbacks = new CallbackHold(host.scheduler, host.clock, (err) => host.callbackError(err));
    this.#recovery = new RecoveryDriver(this, {
      setMembers: (m) => void (this.#members = [...m]),
      locks: () => [...this.#locks.values()],
      saved: () => this.#locking.saved,
      // §4.2 step 7: callbacks resume (held ones first), then locking.
      resume: (after) => {
        this.#callbacks.resume();
        this.#locking.resume(after);
      },
    });
  }

  get members(): readonly number[] {
    return this.#members;
  }

  get stopped(): boolean {
    return this.#locking.stopped;
  }

  /** Locks known here (any role), for tests and release checks. */
  get lockCount(): number {
    return this.#locks.size;
  }

  lockById(lkid: number): Lock | undefined {
    return this.#locks.get(lkid);
  }

  /** Every lock known here, any role (orphans.ts, dumps). */
  allLocks(): IterableIterator<Lock> {
    return this.#locks.values();
  }

  /** The owner went away: PERSISTENT locks become orphans, the others are force-unlocked (orphans.ts, §2.11). */
  closeOwner(owner: number): { orphaned: number; unlocked: number } {
    return closeOwner(this, owner);
  }

  /** `dlm_purge()`: force-unlock the orphans of `pid` (0 = all) on node `nodeid` (0 = here). 0 or a negative errno. */
  purge(nodeid: number, pid: number): number {
    return purge(this, nodeid, pid);
  }

  /** Cancel as a deadlock detector: like unlock(lkid, CANCEL), the completion reports EDEADLK (deadlock-cancel.ts, §2.11). */
  cancelDeadlock(lkid: number): number {
    return cancelForDeadlock(this, lkid);
  }

  /** Orphan locks on this node (owned here, PERSISTENT, their owner gone). */
  get orphans(): Lock[] {
    return orphans(this);
  }

  dirNodeOf(r: Resource): number {
    return directoryNode(r.hash, this.#members);
  }

  dirNodeOfName(name: Uint8Array): number {
    return directoryNode(this.host.hash(name) >>> 0, this.#members);
  }

  // ===================================================================
  // Low-level API
  // ===================================================================

  /**
   * `dlm_lock()`: 0 when accepted (exactly one completion AST follows), or a
   * negative errno (no AST). A new request writes `lksb.lkid` before
   * returning; a conversion (LKF.CONVERT) names its lock by `lksb.lkid`.
   * `owner` (a process id or the like; 0 = none) is who holds a new lock,
   * for `closeOwner()`, orphans and purge (orphans.ts).
   */
  lock(mode: number, lksb: Lksb, flags: number, name: Uint8Array | string | null, ast: AstFn, astarg?: unknown, bast?: BastFn | null, owner = 0): number {
    if (this.#released || !validOwner(owner)) return DLM_ERRNO.EINVAL;
    // ASCII names (the common case) are their own map key: no encoding per call.
    const ascii = typeof name === 'string' && ASCII.test(name);
    const nameBytes = ascii ? null : typeof name === 'string' ? enc.encode(name) : (name ?? new Uint8Array(0));
    const rv = validateLockArgs({
      mode,
      flags,
      nameLength: ascii ? (name as string).length : nameBytes!.length,
      hasAst: typeof ast === 'function',
      hasLksb: typeof lksb === 'object' && lksb !== null,
      hasLvb: !!lksb?.lvb,
      lkid: lksb?.lkid ?? 0,
    });
    if (rv !== 0) return rv;
    if (flags & LKF.CONVERT) {
      const lkb = this.#locks.get(lksb.lkid);
      if (!lkb || lkb.endOfLife) return DLM_ERRNO.ENOENT;
      const crv = validateConvert(mode, flags, lockStateOf(lkb, this.ourNodeid));
      if (crv !== 0) return crv;
      lkb.exflags = flags;
      lkb.sbflags = 0;
      lkb.ast = ast;
      lkb.bast = bast ?? null;
      lkb.hasBast = typeof bast === 'function';
      lkb.astarg = astarg;
      lkb.lksb = lksb;
      lkb.lvb = lksb.lvb;
      lkb.rqmode = mode as Mode;
      // Mark it busy at once, so a second call sees EBUSY even while stopped.
      this.#run(() => this.convertLock(lkb));
      return 0;
    }
    if (flags & LKF.ORPHAN) return adoptOrphan(this, this.rsbs.get(ascii ? (name as string) : latin1(nameBytes!)), mode, lksb, ast, astarg, bast, owner);
    const lkb = this.#newLock(false);
    lkb.ownpid = owner;
    lkb.user = owner !== 0;
    lkb.exflags = flags;
    lkb.rqmode = mode as Mode;
    lkb.ast = ast;
    lkb.bast = bast ?? null;
    lkb.hasBast = typeof bast === 'function';
    lkb.astarg = astarg;
    lkb.lksb = lksb;
    lkb.lvb = lksb.lvb;
    lksb.lkid = lkb.lkid;
    const r = this.#rsbFor(ascii ? (name as string) : latin1(nameBytes!), nameBytes);
    lkb.resource = r;
    r.locks.add(lkb);
    // Not through #run(closure): a call site of its own keeps requestLock
    // monomorphic (V8 inlines it) and costs no closure per call.
    if (this.#deferring()) {
      // Waits for locking (recovery, a rejoin: docs/dlm.md "Requests while recovering or rejoining").
      this.#waiting.add(lkb);
      this.#locking.deferred.push(() => {
        if (this.#waiting.delete(lkb)) this.requestLock(r, lkb);
      });
    } else this.requestLock(r, lkb);
    return 0;
  }

  /**
   * `dlm_unlock()`: flags ⊆ {CANCEL, VALBLK, IVVALBLK, FORCEUNLOCK}. 0 when
   * accepted (one completion, EUNLOCK or ECANCEL, except a cancel that found
   * nothing to cancel), or a negative errno.
   */
  unlock(lkid: number, flags: number, _lksb?: Lksb | null, astarg?: unknown): number {
    if (this.#released) return DLM_ERRNO.EINVAL;
    const frv = validateUnlockFlags(flags);
    if (frv !== 0) return frv;
    const lkb = this.#locks.get(lkid);
    if (!lkb || lkb.endOfLife) return DLM_ERRNO.ENOENT;
    if (this.#waiting.size > 0 && flags & (LKF.CANCEL | LKF.FORCEUNLOCK) && this.#waiting.delete(lkb)) {
      // A request still waiting for locking never leaves this node: it ends now (ECANCEL / EUNLOCK).
      lkb.astarg = astarg;
      this.queueCast(lkb, flags & LKF.CANCEL ? DLM_ERRNO.ECANCEL : DLM_ERRNO.EUNLOCK, true);
      return 0;
    }
    const inFlight = lkb.waitType !== 'none' ? lkb.waitType : lkb.secondary;
    const onLookupList = lkb.resource!.lookupList.includes(lkb);
    const verdict = validateUnlock(flags, lockStateOf(lkb, this.ourNodeid), onLookupList ? 'none' : inFlight);
    if (typeof verdict === 'number') return verdict;
    if (verdict === 'nothing') return 0;
    const cancel = (flags & LKF.CANCEL) !== 0;
    if (verdict === 'overlap') {
      if (onLookupList) {
        // Still parked behind another lock's lookup: it never left this node.
        const r = lkb.resource!;
        r.lookupList.splice(r.lookupList.indexOf(lkb), 1);
        lkb.astarg = astarg;
        this.queueCast(lkb, cancel ? DLM_ERRNO.ECANCEL : DLM_ERRNO.EUNLOCK, true);
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
    if (this.#deferring()) this.#locking.deferred.push(cancel ? () => this.cancelLock(lkb) : () => this.unlockLock(lkb));
    else if (cancel) this.cancelLock(lkb);
    else this.unlockLock(lkb);
    return 0;
  }

  /** Run now, or after start() while locking is stopped (the kernel makes callers sleep) or the gate is closed. */
  #run(fn: () => void): void {
    if (this.#deferring()) this.#locking.deferred.push(fn);
    else fn();
  }

  /** API calls wait: locking is stopped or the gate is closed. */
  #deferring(): boolean {
    const g = this.#locking;
    return g.stopped || (g.gate !== null && g.blocked());
  }

  // ===================================================================
  // Locks and resources
  // ===================================================================

  #newLock(masterCopy: boolean): Lock {
    for (;;) {
      const id = this.#nextLkid;
      if (id >= 0xffffffff) {
        this.#nextLkid = 1;
        this.#lkidsWrapped = true;
      } else this.#nextLkid = id + 1;
      // Before the first wrap every id is new: no lookup per lock.
      if (!this.#lkidsWrapped || !this.#locks.has(id)) {
        const lkb = new Lock(id, masterCopy);
        this.#locks.set(id, lkb);
        return lkb;
      }
    }
  }

  /** The lock's life ended: its lkid is unknown from now on. */
  destroyLock(lkb: Lock): void {
    lkb.endOfLife = true;
    this.#locks.delete(lkb.lkid);
    const r = lkb.resource;
    if (r) {
      if (lkb.status !== LKSTS.NONE) r.del(lkb);
      r.locks.delete(lkb);
      this.checkUnused(r);
    }
  }

  newMasterCopy(): Lock {
    return this.#newLock(true);
  }

  /** Find a resource; revive it from the inactive cache; create it when `create`. */
  #findRsb(name: Uint8Array, create: boolean): Resource | undefined {
    const key = latin1(name);
    let r = this.rsbs.get(key);
    if (r) {
      this.revive(r);
      return r;
    }
    if (!create) return undefined;
    r = new Resource(name.slice(), key, this.host.hash(name) >>> 0);
    this.rsbs.set(key, r);
    return r;
  }

  #rsbFor(key: string, bytes: Uint8Array | null): Resource {
    let r = this.rsbs.get(key);
    if (r) {
      this.revive(r);
      return r;
    }
    const name = bytes ? bytes.slice() : enc.encode(key);
    r = new Resource(name, key, this.host.hash(name) >>> 0);
    this.rsbs.set(key, r);
    return r;
  }

  findRsbByName(name: Uint8Array): Resource | undefined {
    return this.rsbs.get(latin1(name));
  }

  createRsb(name: Uint8Array): Resource {
    return this.#findRsb(name, true)!;
  }

  /** Back in use: stop its retirement; a cached remote master may be stale (§3.5). */
  revive(r: Resource): void {
    if (r.toss !== null) {
      this.#retirement.revive(r);
      if (r.master !== 0 && r.master !== this.ourNodeid && this.dirNodeOf(r) !== this.ourNodeid) r.uncertain = true;
    }
    r.dirRecord = false;
  }

  /** The last lock went: discard the LVB on the master and start the retirement delay (§3.5). */
  checkUnused(r: Resource): void {
    if (!r.unused || r.toss !== null || r.dirRecord) return;
    if (r.master === this.ourNodeid) r.discardLvb();
    if (r.master !== this.ourNodeid && r.master !== 0 && this.dirNodeOf(r) === this.ourNodeid) {
      // A directory record for a remote master stays until that master sends REMOVE.
      r.dirRecord = true;
      r.uncertain = false;
      return;
    }
    this.#retirement.add(r);
  }

  /** Drop a resource from the table (and from the retirement queue). */
  forgetRsb(r: Resource): void {
    this.raiseFenceFloor(r.fenceHigh);
    this.#retirement.remove(r);
    if (this.rsbs.get(r.key) === r) this.rsbs.delete(r.key);
  }

  /** Keep a forgotten resource's (or a peer's) fencing high mark: later tokens start above it. */
  raiseFenceFloor(token: number): void {
    if (token > this.fenceFloor) this.fenceFloor = token;
  }

  #retire(r: Resource): void {
    r.toss = null;
    if (!r.unused || this.rsbs.get(r.key) !== r) return;
    const dir = this.dirNodeOf(r);
    if (r.master === this.ourNodeid && dir !== this.ourNodeid && !this.nodir) {
      sendRemove(this, r, dir);
    }
    this.raiseFenceFloor(r.fenceHigh);
    this.rsbs.delete(r.key);
  }

  // ===================================================================
  // Owner side: request / convert / unlock / cancel (§2.10, §3.3)
  // ===================================================================

  /** @internal (owner-side.ts) */
  requestLock(r: Resource, lkb: Lock): void {
    if (!this.#setMaster(r, lkb)) return;
    if (r.master === this.ourNodeid) {
      const result = r.doRequest(lkb, this);
      r.doRequestEffects(lkb, result, this);
      this.checkUnused(r);
    } else {
      this.#sendRequest(r, lkb, MSG.REQUEST, r.master);
    }
  }

  /** set_master(): true to go on (master known), false when a lookup is in flight or the lock is parked. */
  #setMaster(r: Resource, lkb: Lock): boolean {
    if (this.nodir) {
      // Static mastering: the hash node, never looked up (recovery remasters when it changes).
      const master = this.dirNodeOf(r);
      r.master = master;
      r.uncertain = false;
      r.firstLkid = 0;
      lkb.nodeid = master === this.ourNodeid ? 0 : master;
      return true;
    }
    if (r.uncertain) {
      r.uncertain = false;
      // A cached remote master, maybe stale: this lock goes first and its reply confirms it.
      // Recovery may have made the master this node (or unknown) since: then nothing is uncertain
      // (a local master is lkb.nodeid 0, never our own id: messages to ourselves are refused).
      if (r.master !== 0 && r.master !== this.ourNodeid) {
        r.firstLkid = lkb.lkid;
        lkb.nodeid = r.master;
        return true;
      }
    }
    if (r.firstLkid !== 0 && r.firstLkid !== lkb.lkid) {
      r.lookupList.push(lkb);
      return false;
    }
    if (r.master === this.ourNodeid) {
      lkb.nodeid = 0;
      return true;
    }
    if (r.master !== 0) {
      lkb.nodeid = r.master;
      return true;
    }
    const dir = this.dirNodeOf(r);
    if (dir === this.ourNodeid) {
      r.master = this.ourNodeid;
      r.firstLkid = 0;
      lkb.nodeid = 0;
      return true;
    }
    r.firstLkid = lkb.lkid;
    this.#sendRequest(r, lkb, MSG.LOOKUP, dir);
    return false;
  }

  /** confirm_master(): the first lock's request settled; release or re-drive the parked locks. @internal (owner-side.ts) */
  confirmMaster(r: Resource, result: number): void {
    if (r.firstLkid === 0) return;
    if (result === 0 || result === DLM_ERRNO.EINPROGRESS) {
      r.firstLkid = 0;
      this.processLookupList(r);
    } else {
      this.requestNextParked(r);
    }
  }

  /**
   * The resource's first lock failed or ended without queueing at the master
   * (EAGAIN, EBADR, ...): the next parked lock becomes the first lock and is
   * requested; its own reply then releases the rest (Linux's confirm_master
   * sets res_first_lkid to it; left at 0, an EINPROGRESS reply would release
   * nothing and the other parked locks would never leave this node).
   * @internal (recovery/waiters.ts)
   */
  requestNextParked(r: Resource): void {
    r.firstLkid = 0;
    const next = r.lookupList.shift();
    if (!next) return;
    r.firstLkid = next.lkid;
    this.requestLock(r, next);
    // Mastered here now (no reply will come): release the others at once.
    if (r.master === this.ourNodeid) this.masteredHere(r);
  }

  /** A redirected request's delay ran out: look the master up again (or finish an overlap). @internal (owner-side.ts) */
  retryRedirected(lkb: Lock): void {
    if (this.#released || lkb.endOfLife || lkb.waitType !== 'lookup') return;
    this.#run(() => {
      if (lkb.endOfLife || lkb.waitType !== 'lookup') return;
      lkb.retryPending = false;
      lkb.waitType = 'none';
      const r = lkb.resource!;
      if (lkb.overlapCancel || lkb.overlapUnlock) {
        const status = lkb.overlapUnlock ? DLM_ERRNO.EUNLOCK : DLM_ERRNO.ECANCEL;
        lkb.overlapCancel = lkb.overlapUnlock = false;
        this.queueCast(lkb, status, true);
        this.confirmMaster(r, DLM_ERRNO.EBADR);
      } else {
        this.requestLock(r, lkb);
        if (r.master === this.ourNodeid) this.masteredHere(r);
      }
      this.checkUnused(r);
    });
  }

  /**
   * A re-driven request found this node the master: release every lock parked
   * behind a lookup. (confirmMaster(r, 0) does nothing when set_master's
   * "the directory is us" branch already cleared firstLkid, which left them
   * parked for ever.) @internal (owner-side.ts, recovery/waiters.ts)
   */
  masteredHere(r: Resource): void {
    r.firstLkid = 0;
    this.processLookupList(r);
  }

  /** @internal (owner-side.ts) */
  processLookupList(r: Resource): void {
    const parked = r.lookupList.splice(0, r.lookupList.length);
    for (const lkb of parked) this.requestLock(r, lkb);
  }

  /** @internal (recovery/waiters.ts) */
  convertLock(lkb: Lock): void {
    const r = lkb.resource!;
    if (r.master === this.ourNodeid) {
      const result = r.doConvert(lkb, this);
      r.doConvertEffects(lkb, result, this);
      return;
    }
    const down = isDownConversion(lkb.grmode, lkb.rqmode) && !(lkb.exflags & LKF.QUECVT);
    this.sendLockOp(lkb, MSG.CONVERT, down ? 'none' : 'convert');
    if (down) {
      // Down-conversions complete on the owner at once; the master sends no reply (§2.10).
      this.grantProcessCopy(lkb, null);
      this.queueCast(lkb, 0, false);
    }
  }

  /** @internal (recovery/waiters.ts) */
  unlockLock(lkb: Lock): void {
    const r = lkb.resource!;
    if (r.master === this.ourNodeid && !lkb.masterCopy && lkb.nodeid === 0) {
      r.doUnlock(lkb, this);
      r.doUnlockEffects(this);
      this.checkUnused(r);
      return;
    }
    this.sendLockOp(lkb, MSG.UNLOCK, 'unlock');
  }

  /** @internal (recovery/waiters.ts) */
  cancelLock(lkb: Lock): void {
    const r = lkb.resource!;
    if (r.master === this.ourNodeid && lkb.nodeid === 0) {
      const result = r.doCancel(lkb, this);
      r.doCancelEffects(result, this);
      this.checkUnused(r);
      return;
    }
    this.sendLockOp(lkb, MSG.CANCEL, 'cancel');
  }

  #sendRequest(r: Resource, lkb: Lock, type: typeof MSG.REQUEST | typeof MSG.LOOKUP, to: number): void {
    lkb.waitType = type === MSG.LOOKUP ? 'lookup' : 'request';
    if (type === MSG.REQUEST) lkb.nodeid = to;
    const m = this.#lockMessage(type, lkb);
    m.extra = r.name;
    if (type === MSG.REQUEST) writeFence(m, Math.max(this.fenceFloor, r.fenceHigh));
    this.sendMessage(to, m);
  }

  /** CONVERT / UNLOCK / CANCEL to the master; `wait` is what the lock then awaits. @internal (owner-side.ts) */
  sendLockOp(lkb: Lock, type: MsgType, wait: WaitType): void {
    if (wait !== 'none') {
      if (lkb.waitType === 'none') lkb.waitType = wait;
      else lkb.secondary = wait as 'unlock' | 'cancel';
    }
    const m = this.#lockMessage(type, lkb);
    if ((type === MSG.CONVERT || type === MSG.UNLOCK) && lkb.lvb && lkb.exflags & LKF.VALBLK) m.extra = lkb.lvb.subarray(0, this.lvblen);
    this.sendMessage(lkb.nodeid, m);
  }

  #lockMessage(type: MsgType, lkb: Lock): DlmMessage {
    const m = emptyMessage(type);
    m.nodeid = this.ourNodeid;
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

  /** grant_lock_pc(): the owner's copy follows a grant the master made; LVB per the table. @internal (owner-side.ts) */
  grantProcessCopy(lkb: Lock, m: DlmMessage | null): void {
    if (m && lkb.lvb && lkb.exflags & LKF.VALBLK && lvbOperation(lkb.grmode, lkb.rqmode) === 'read') {
      lkb.lvb.fill(0);
      lkb.lvb.set(m.extra.subarray(0, lkb.lvb.length));
      lkb.lvbseq = m.lvbseq;
    }
    if (m && fenceOutOfRange(m)) this.refuse('FENCE_RANGE');
    lkb.fence = fenceOnOwnerGrant(m, lkb.grmode, lkb.rqmode, lkb.fence);
    lkb.grmode = lkb.rqmode;
    const r = lkb.resource!;
    if (lkb.status === LKSTS.NONE) r.add(lkb, LKSTS.GRANTED);
    else r.move(lkb, LKSTS.GRANTED);
    lkb.rqmode = LKM.IV;
    lkb.highbast = 0;
  }


  // ===================================================================
  // Messages
  // ===================================================================

  sendMessage(to: number, m: DlmMessage): void {
    const bytes = encodeMessage(this.#header, m);
    this.stats.sent++;
    if (this.host.observe) observeMessage(this.host, this.name, 'send', this.ourNodeid, to, m);
    this.host.send(to, bytes);
  }

  refuse(code: string): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
  }

  /** Bytes from node `from` (already matched to this lockspace). Never throws. */
  receive(from: number, bytes: Uint8Array): void {
    if (this.#released) return;
    if (bytes.length > 14 && bytes[14] === DLM_CMD.RCOM) {
      try {
        receiveRcom(this, this.#recovery, from, bytes);
      } catch (err) {
        this.refuse('INTERNAL');
        this.host.callbackError(err);
      }
      return;
    }
    const g = this.#locking;
    if (g.stopped || (g.gate !== null && g.blocked())) {
      // Bounded: past the limit a message is dropped and counted, never buffered.
      if (g.saved.length >= this.host.maxSavedMessages) this.refuse('SAVED_OVERFLOW');
      else g.saved.push({ from, bytes: bytes.slice() });
      return;
    }
    let m: DlmMessage;
    try {
      m = decodeLockMessage(bytes, this.lvblen);
      const sender = headerNodeid(bytes);
      if (sender !== from) throw new DlmError('EBADMSG', `h_nodeid ${sender} is not the sender ${from}`);
    } catch (err) {
      this.refuse(err instanceof DlmError ? err.code : 'EBADMSG');
      return;
    }
    if (!this.#members.includes(from) || from === this.ourNodeid) {
      this.refuse('NOT_MEMBER');
      return;
    }
    this.stats.received++;
    if (this.host.observe) observeMessage(this.host, this.name, 'recv', from, this.ourNodeid, m);
    try {
      if (!handleMasterMessage(this, from, m)) handleOwnerMessage(this, from, m);
    } catch (err) {
      // A bug, not a peer's fault; never let it escape the receive path.
      this.refuse('INTERNAL');
      this.host.callbackError(err);
    }
  }

  // ===================================================================
  // Callbacks (§2.7): ResourceSink + the per-lock FIFO on the scheduler
  // ===================================================================

  cast(lock: Lock, status: number): void {
    if (status === 0) this.stats.grants++;
    if (lock.masterCopy) return; // its reply carries the result
    const terminal = status === DLM_ERRNO.EUNLOCK || (lock.grmode === LKM.IV && status !== 0);
    this.queueCast(lock, status, terminal);
  }

  grantPending(lock: Lock): void {
    this.stats.grants++;
    if (lock.masterCopy) {
      const m = this.#lockMessage(MSG.GRANT, lock);
      m.lkid = lock.lkid;
      m.remid = lock.remid;
      if (lock.lvb && lock.exflags & LKF.VALBLK) m.extra = lock.lvb;
      writeFence(m, lock.fence);
      this.sendMessage(lock.nodeid, m);
      return;
    }
    this.queueCast(lock, 0, false);
  }

  bast(lock: Lock, mode: Mode): void {
    this.stats.basts++;
    if (lock.masterCopy) {
      if (!lock.hasBast) return;
      const m = this.#lockMessage(MSG.BAST, lock);
      m.bastmode = mode;
      this.sendMessage(lock.nodeid, m);
      return;
    }
    this.queueBast(lock, mode);
  }

  queued(_lock: Lock): void {
    this.stats.waits++;
  }

  /** @internal (owner-side.ts) */
  queueCast(lkb: Lock, status: number, terminal: boolean): void {
    if (lkb.deadlockCancel) {
      lkb.deadlockCancel = false;
      status = deadlockStatus(status);
    }
    lkb.lastCastMode = lkb.grmode;
    lkb.lastCbMode = lkb.grmode;
    lkb.lastCbWasBast = false;
    // A record and the one bound task, not closures (cast-queue.ts).
    this.#casts.push({
      ast: lkb.ast,
      astarg: lkb.astarg,
      lksb: lkb.lksb,
      status,
      sbflags: lkb.sbflags,
      fence: lkb.grmode >= LKM.PW ? lkb.fence : 0,
      urgent: this.#callbacks.urgent,
    });
    if (terminal) this.destroyLock(lkb);
    this.host.scheduler.post(this.#castTask);
  }

  /** The oldest queued completion AST: delivered now, or held (callback-hold.ts). */
  readonly #castTask = (): void => {
    const cast = this.#casts.shift();
    if (cast !== undefined) this.#castOrHold(cast);
  };

  #castOrHold(cast: PendingCast): void {
    const held = this.#callbacks;
    if (cast.urgent ? held.pending : held.holding) {
      held.hold(() => this.#castOrHold(cast), cast.urgent);
      return;
    }
    const lksb = cast.lksb;
    if (lksb) {
      lksb.status = cast.status;
      lksb.flags = cast.sbflags;
      lksb.fence = cast.fence;
    }
    this.stats.callbacks++;
    const ast = cast.ast;
    if (ast === null || ast === undefined) return;
    try {
      ast(cast.astarg);
    } catch (err) {
      this.stats.callbackErrors++;
      this.host.callbackError(err);
    }
  }

  /** @internal (owner-side.ts) */
  queueBast(lkb: Lock, mode: Mode): void {
    const bast = lkb.bast;
    if (!bast || skipBast(lkb, mode)) return;
    lkb.lastCbMode = mode;
    lkb.lastCbWasBast = true;
    const astarg = lkb.astarg;
    const held = this.#callbacks;
    const task = (): void => {
      if (held.holding) return held.hold(task);
      this.stats.callbacks++;
      this.#call(() => bast(astarg, mode));
    };
    this.host.scheduler.post(task);
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.stats.callbackErrors++;
      this.host.callbackError(err);
    }
  }

  // ===================================================================
  // Membership and life cycle
  // ===================================================================

  /**
   * §4.1 stop: locking stops (API calls deferred, incoming lock messages
   * saved on the request queue) and any recovery in progress is aborted.
   * Idempotent.
   */
  stop(): void {
    this.#locking.stopped = true;
    this.#callbacks.suspend();
    this.#recovery.stop();
    this.#recovery.prep();
  }

  /**
   * §4.1 start: with a changed member list, departed nodes re-added
   * (`opts.departed`), or after an aborted recovery, runs recovery (§4.2,
   * RCOM over the same endpoint) and resumes locking when every member is
   * done; otherwise resumes at once. `opts.generation`, when given, must be
   * above `generation`. Throws DlmError EINVAL for a list without this node
   * or a generation that does not rise.
   */
  start(members: readonly number[], opts: StartOptions = {}): void {
    if (this.#released) return;
    const sorted = normalizeMembers(members, this.ourNodeid);
    this.#locking.stopped = true;
    this.#callbacks.suspend();
    this.#recovery.start(sorted, opts);
  }

  /** Strictly increases at every recovery (the low node's value, or the one `start()` was given). */
  get generation(): number {
    return this.#recovery.generation;
  }

  /** The recovery status bits of §4.3 (0 while stopped; 0xff while running normally). */
  get recoveryStatus(): number {
    return this.#recovery.status;
  }

  /**
   * Register `recover_prep` / `recover_slot` / `recover_done` callbacks
   * (recovery/recovery-ops.ts, docs/dlm.md "Slots"); returns the
   * unregister function.
   */
  addRecoveryOps(ops: RecoveryOps): () => void {
    return this.#recovery.addOps(ops);
  }

  /** This node's slot (1-based; 0 = none yet): stable while it stays a member. */
  get slot(): number {
    return this.#recovery.slot;
  }

  /** The slot table of the last assignment, by node id. */
  get slots(): readonly DlmSlot[] {
    return this.#recovery.slots;
  }

  /** ASTs/BASTs held because the lockspace is recovering (or not yet released after it). */
  get heldCallbacks(): number {
    return this.#callbacks.count;
  }

  /** A recovery is running (locking is stopped until it finishes). */
  get recovering(): boolean {
    return this.#recovery.recovering;
  }

  /** Some resource is in use here (a lock, a master copy, a lookup in progress). */
  get inUse(): boolean {
    for (const r of this.rsbs.values()) if (!r.unused) return true;
    return false;
  }

  /** The transport can reach `nodeid` now: a recovery poll to it that was never answered is re-sent at once. */
  peerReachable(nodeid: number): void {
    this.#recovery.run?.peerAlive(nodeid);
  }

  /** Call `cb` after each finished recovery; returns the unsubscribe function. */
  onRecoveryDone(cb: () => void): () => void {
    return this.#recovery.onDone(cb);
  }

  /** Resolves when locking runs (at once when not stopped). */
  whenRunning(): Promise<void> {
    if (!this.#locking.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.#recovery.onDone(() => {
        off();
        resolve();
      });
    });
  }

  /**
   * While `fn` returns false the lockspace acts as stopped: incoming lock
   * messages are saved, API calls deferred, recovery's end waits. Checked
   * before every message and call (one null check when no gate is set).
   * Saved work runs the first time the gate is found open; call setGate
   * again (or send any message) to have it re-checked.
   */
  setGate(fn: (() => boolean) | null): void {
    this.#locking.setGate(fn);
    this.#recovery.gateChanged();
  }

  /**
   * No gate, or the gate is open now. With it closed the lockspace acts as
   * stopped, and recovery answers other members as a stopped node does
   * (status 0, no NAMES/LOOKUP/LOCK answers): a node whose lease ended but
   * whose stop() has not run yet (a late timer) must not tell a recovering
   * member that it recovered (issue 14, fault seed 43).
   */
  get gateOpen(): boolean {
    return this.#locking.gateOpen;
  }

  /**
   * This node was excluded (or must rejoin fresh): every lock it owns
   * completes with `status` (default ENOTCONN, -107) and all state is
   * forgotten — resources, master copies, saved messages, deferred calls.
   * Locking stays stopped with this node as the only member, so the next
   * `start(members)` joins as a fresh member (the others recover it as
   * departed). `generation` is kept.
   */
  fence(status: number = DLM_ERRNO.ENOTCONN): void {
    if (this.#released) return;
    this.#recovery.reset();
    this.#locking.stopped = true;
    // Its completions are urgent: delivered even if the lockspace is stopped again at once (after what is held).
    this.#callbacks.releaseAll();
    this.#callbacks.urgent = true;
    try {
      fenceLocks(this, [...this.#locks.values()], status);
    } finally {
      this.#callbacks.urgent = false;
    }
    for (const lkb of this.#locks.values()) lkb.endOfLife = true;
    this.#locks.clear();
    this.#retirement.clear();
    this.rsbs.clear();
    this.#locking.clear();
    this.#waiting.clear();
    this.#members = [this.ourNodeid];
    // No recovery will finish for what was held: it is delivered, before the fence completions.
    this.#callbacks.resume();
  }

  /**
   * Release the lockspace (`dlm_release_lockspace`): force 0 refuses (EBUSY)
   * while any lock exists here (master copies included); 1 refuses while a
   * lock owned here (orphans included) holds a granted mode; 2 releases
   * regardless, telling directory nodes about unused resources mastered
   * here (REMOVE); 3 is the forced shutdown: releases and sends nothing.
   * No AST follows for any lock. Returns 0 or a negative errno (EINVAL for
   * another force).
   */
  release(force: 0 | 1 | 2 | 3 = 0): number {
    if (force !== 0 && force !== 1 && force !== 2 && force !== 3) return DLM_ERRNO.EINVAL;
    if (this.#released) return 0;
    if (force === 0 && this.#locks.size > 0) return DLM_ERRNO.EBUSY;
    if (force === 1) {
      for (const lkb of this.#locks.values()) if (!lkb.masterCopy && lkb.grmode !== LKM.IV) return DLM_ERRNO.EBUSY;
    }
    this.#released = true;
    this.#recovery.reset(); // a recovery in progress ends here (its timers with it)
    this.#callbacks.clear();
    this.#waiting.clear();
    if (force < 3 && !this.nodir) announceUnusedMastered(this);
    this.#retirement.clear();
    this.rsbs.clear();
    for (const lkb of this.#locks.values()) lkb.endOfLife = true;
    this.#locks.clear();
    return 0;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Master copies here of other nodes' locks (what a leave without recovery would lose). */
  get masterCopyCount(): number {
    return countMasterCopies(this.#locks.values());
  }

  /** Resources with their master, directory node and queues (like `dlm_tool lockdump`). */
  dump(): DumpResource[] {
    return dumpResources(this.rsbs.values(), (r) => this.dirNodeOf(r));
  }

  /** Locks with an operation awaiting a reply or parked behind a lookup (0 when quiet). */
  get pendingOperations(): number {
    return countPendingOperations(this.#locks.values(), this.rsbs.values());
  }
}
