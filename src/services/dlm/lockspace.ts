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
 * mastering)). The class's own groups, each in its file: `lock-calls.ts`
 * (the lock()/unlock() argument checks and dispatch), `lock-table.ts` (locks
 * by id, new ids), `owner-requests.ts` (set_master, lookups, the owner side
 * of request/convert/unlock/cancel, grant_lock_pc), `lock-message.ts` (a
 * lock message from a lock), `cast-delivery.ts` (AST/BAST delivery),
 * `lockspace-teardown.ts` (fence and release), `resource-table.ts` (the
 * resources by name and their retirement: find/create, revive, checkUnused,
 * forget, retire with REMOVE), `unused-soon.ts` (the retirement check
 * deferred past the pending callbacks), `lockspace-receive.ts` (what receive()
 * does with a peer's bytes: RCOM to recovery, saved while stopped, checked,
 * master or owner side) and `resource-sink.ts` (what the queue rules'
 * decisions become: a queued AST/BAST, or a GRANT/BAST message for a master
 * copy). What stays here: the state and the entry points that call the rest.
 */
import { CallbackHold } from './callback-hold.ts';
import { CastDelivery } from './cast-delivery.ts';
import { deferring, lockCall, unlockCall, type LockCallState } from './lock-calls.ts';
import { LockTable } from './lock-table.ts';
import { DLM_ERRNO as DLM_ERRNO_, LKSTS as LKSTS_, type Mode } from './constants.ts';
import { directoryNode } from './hash.ts';
import { dumpResources, type DumpResource } from './lockspace-dump.ts';
import type { LockspaceHost } from './lockspace-host.ts';
import { countMasterCopies, countPendingOperations, type LockspaceStats } from './lockspace-stats.ts';
import { observeMessage } from './message-observe.ts';
import * as ownerRequests from './owner-requests.ts';
import { normalizeMembers } from './lockspace-lifecycle.ts';
import { fenceLockspace, releaseLockspace, type TeardownState } from './lockspace-teardown.ts';
import type { AstFn, BastFn, Lksb, Lock, WaitType } from './lock.ts';
import { closeOwner, orphans, purge } from './orphans.ts';
import { cancelForDeadlock } from './deadlock-cancel.ts';
import { DLM_VERSION, emptyMessage, encodeMessage, MessageScratch, MSG, resetMessage, type DlmHeader, type DlmMessage, type MsgType } from './message.ts';
import { newReceiveState, receiveLockspaceMessage, type ReceiveState } from './lockspace-receive.ts';
import { LockingGate } from './recovery/locking-gate.ts';
import { RecoveryDriver, type StartOptions } from './recovery/recovery-driver.ts';
import type { RecoveryOps } from './recovery/recovery-ops.ts';
import type { DlmSlot } from './recovery/slots.ts';
import { newRecoveryStats } from './recovery/recovery-status.ts';
import type { Resource, ResourceSink } from './resource.ts';
import { ResourceTable } from './resource-table.ts';
import * as resourceSink from './resource-sink.ts';
import type { RetirementQueue } from './retirement-queue.ts';
import { MicrotaskScheduler, NO_CALL_GUARD, type CallGuard } from './scheduler.ts';
import { UnusedSoon } from './unused-soon.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const LKSTS = LKSTS_;
const { sinkCast, sinkGrantPending, sinkBast } = resourceSink;
const { requestLock, confirmMaster, requestNextParked, retryRedirected, masteredHere, processLookupList, convertLock, unlockLock, cancelLock, sendLockOp, grantProcessCopy } = ownerRequests;

export type { LockspaceHost } from './lockspace-host.ts';
export type { LockspaceStats } from './lockspace-stats.ts';
export type { DumpLock, DumpResource } from './lockspace-dump.ts';
export type { StartOptions } from './recovery/recovery-driver.ts';
export type { RecoveryOps } from './recovery/recovery-ops.ts';
export type { DlmSlot } from './recovery/slots.ts';
export type { RecoveryStats } from './recovery/recovery-status.ts';

export class Lockspace implements ResourceSink {
  readonly name: string;
  readonly globalId: number;
  readonly lvblen: number;
  readonly host: LockspaceHost;
  readonly ourNodeid: number;
  #members: number[];
  /** Locks by id, and new ids (lock-table.ts). */
  readonly #table = new LockTable();
  readonly #locks = this.#table.byId;
  /** Resources by name and their retirement (resource-table.ts). */
  readonly #resources: ResourceTable;
  /** Resources by name key (byte-key.ts): the resource table's map. */
  readonly rsbs: Map<string, Resource>;
  #released = false;
  readonly #retirement: RetirementQueue<Resource>;
  readonly #recovery: RecoveryDriver;
  readonly #locking: LockingGate;
  /** The header of every lock message sent (one object, not one per message). */
  readonly #header: Omit<DlmHeader, 'cmd'>;
  /** Where lock messages are encoded when the endpoint copies on send (message.ts); else null (a slab per message). */
  readonly #scratch: MessageScratch | null;
  /**
   * The node's scheduler when it drains callbacks at the end of a received
   * message (scheduler.ts): told when lock()/unlock() run, so that a message
   * received inside one of them (an endpoint that breaks its asyncReceive
   * promise) never runs a callback there (§2.6). A no-op for other schedulers.
   */
  readonly #inCall: CallGuard;
  /** Retirement checks deferred past the pending callbacks (unused-soon.ts); null without a MicrotaskScheduler (the simulator's: checks run at once). */
  readonly #unusedSoon: UnusedSoon | null;
  /** The record outMessage() hands out. */
  readonly #out: DlmMessage = emptyMessage(MSG.REQUEST);
  /** ASTs/BASTs held while recovering (§2.7, callback-hold.ts). */
  readonly #callbacks: CallbackHold;
  /** Completion ASTs and BASTs on their way to the caller (cast-delivery.ts). */
  readonly #delivery: CastDelivery;
  /** New requests made while locking is stopped (recovery, rejoin), not yet issued: a cancel ends them here. */
  readonly #waiting = new Set<Lock>();
  /** What lock()/unlock() use of the above (lock-calls.ts): one object, made once. */
  readonly #calls: LockCallState;
  /** What receive() uses of the above (lockspace-receive.ts): one object, made once. */
  readonly #receiving: ReceiveState;
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
    this.#scratch = host.copiesOnSend ? new MessageScratch() : null;
    this.#inCall = host.scheduler instanceof MicrotaskScheduler ? host.scheduler : NO_CALL_GUARD;
    this.#unusedSoon = host.scheduler instanceof MicrotaskScheduler ? new UnusedSoon(host.scheduler, (r) => {
      // In use again (the usual case: the AST or its continuation locked it): what checkUnused would find, without the map probe.
      if (!this.#released && r.unused && this.rsbs.get(r.key) === r) this.checkUnused(r);
    }) : null;
    this.#members = members;
    // No REMOVE while locking is stopped: retirement resumes with locking (the gate's resume).
    this.#resources = new ResourceTable(this, host, () => this.#locking.stopped);
    this.rsbs = this.#resources.byKey;
    this.#retirement = this.#resources.retirement;
    this.#locking = new LockingGate(
      (m) => this.receive(m.from, m.bytes),
      () => this.#retirement.resume(),
      (err) => host.callbackError(err),
    );
    this.#callbacks = new CallbackHold(host.scheduler, host.clock, (err) => host.callbackError(err));
    this.#delivery = new CastDelivery(this.#callbacks, this.stats, host);
    this.#calls = { table: this.#table, waiting: this.#waiting, locking: this.#locking };
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
    this.#receiving = newReceiveState(this.#recovery, this.#locking);
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
   * for `closeOwner()`, orphans and purge (orphans.ts). (lock-calls.ts)
   */
  lock(mode: number, lksb: Lksb, flags: number, name: Uint8Array | string | null, ast: AstFn, astarg?: unknown, bast?: BastFn | null, owner = 0): number {
    const guard = this.#inCall;
    guard.beginCall();
    try {
      return lockCall(this, this.#calls, mode, lksb, flags, name, ast, astarg, bast, owner);
    } finally {
      guard.endCall();
    }
  }

  /**
   * `dlm_unlock()`: flags ⊆ {CANCEL, VALBLK, IVVALBLK, FORCEUNLOCK}. 0 when
   * accepted (one completion, EUNLOCK or ECANCEL, except a cancel that found
   * nothing to cancel), or a negative errno. (lock-calls.ts)
   */
  unlock(lkid: number, flags: number, _lksb?: Lksb | null, astarg?: unknown): number {
    const guard = this.#inCall;
    guard.beginCall();
    try {
      return unlockCall(this, this.#calls, lkid, flags, astarg);
    } finally {
      guard.endCall();
    }
  }

  /** Run now, or after start() while locking is stopped (the kernel makes callers sleep) or the gate is closed. @internal (owner-requests.ts) */
  runOrDefer(fn: () => void): void {
    if (deferring(this.#locking)) this.#locking.deferred.push(fn);
    else fn();
  }

  // ===================================================================
  // Locks and resources
  // ===================================================================

  /** The lock's life ended: its lkid is unknown from now on. */
  destroyLock(lkb: Lock): void {
    lkb.endOfLife = true;
    this.#locks.delete(lkb.lkid);
    const r = lkb.resource;
    if (r) {
      if (lkb.status !== LKSTS.NONE) r.del(lkb);
      r.locks.delete(lkb);
      this.#checkUnusedSoon(r);
    }
  }

  /**
   * `checkUnused(r)` once the pending callbacks have run (unused-soon.ts),
   * or at once without a MicrotaskScheduler or while locking is stopped
   * (recovery's steps see it done). @internal (owner-side.ts)
   */
  checkUnusedSoon(r: Resource): void {
    this.#checkUnusedSoon(r);
  }

  #checkUnusedSoon(r: Resource): void {
    const soon = this.#unusedSoon;
    if (soon === null || this.#locking.stopped) return this.checkUnused(r);
    if (r.unused) soon.add(r); // else: what checkUnused would find now
  }

  newMasterCopy(): Lock {
    return this.#table.newLock(true);
  }

  // The resource table and its retirement: resource-table.ts.

  findRsbByName(name: Uint8Array): Resource | undefined {
    return this.#resources.byName(name);
  }

  createRsb(name: Uint8Array): Resource {
    return this.#resources.find(name, true)!;
  }

  /** Back in use: stop its retirement; a cached remote master may be stale (§3.5). */
  revive(r: Resource): void {
    this.#resources.revive(r);
  }

  /** The last lock went: discard the LVB on the master and start the retirement delay (§3.5). */
  checkUnused(r: Resource): void {
    this.#resources.checkUnused(r);
  }

  /** Drop a resource from the table (and from the retirement queue). */
  forgetRsb(r: Resource): void {
    this.#resources.forget(r);
  }

  /** Keep a forgotten resource's (or a peer's) fencing high mark: later tokens start above it. */
  raiseFenceFloor(token: number): void {
    if (token > this.fenceFloor) this.fenceFloor = token;
  }

  // ===================================================================
  // Owner side: request / convert / unlock / cancel (§2.10, §3.3)
  // ===================================================================

  // Each of these is a function of owner-requests.ts (owner-side.ts and recovery/ call them here).

  /** set_master(), then request here or from the master. @internal (owner-side.ts) */
  requestLock(r: Resource, lkb: Lock): void {
    requestLock(this, r, lkb);
  }

  /** confirm_master(): the first lock's request settled. @internal (owner-side.ts) */
  confirmMaster(r: Resource, result: number): void {
    confirmMaster(this, r, result);
  }

  /** The first lock failed: the next parked lock becomes the first. @internal (recovery/waiters.ts) */
  requestNextParked(r: Resource): void {
    requestNextParked(this, r);
  }

  /** A redirected request's delay ran out. @internal (owner-side.ts) */
  retryRedirected(lkb: Lock): void {
    retryRedirected(this, lkb);
  }

  /** Mastered here now: release the parked locks. @internal (owner-side.ts, recovery/waiters.ts) */
  masteredHere(r: Resource): void {
    masteredHere(this, r);
  }

  /** @internal (owner-side.ts) */
  processLookupList(r: Resource): void {
    processLookupList(this, r);
  }

  /** @internal (recovery/waiters.ts) */
  convertLock(lkb: Lock): void {
    convertLock(this, lkb);
  }

  /** @internal (recovery/waiters.ts) */
  unlockLock(lkb: Lock): void {
    unlockLock(this, lkb);
  }

  /** @internal (recovery/waiters.ts) */
  cancelLock(lkb: Lock): void {
    cancelLock(this, lkb);
  }

  /** CONVERT / UNLOCK / CANCEL to the master. @internal (owner-side.ts) */
  sendLockOp(lkb: Lock, type: MsgType, wait: WaitType): void {
    sendLockOp(this, lkb, type, wait);
  }

  /** grant_lock_pc(). @internal (owner-side.ts) */
  grantProcessCopy(lkb: Lock, m: DlmMessage | null): void {
    grantProcessCopy(this, lkb, m);
  }

  // ===================================================================
  // Messages
  // ===================================================================

  /**
   * The lockspace's one record for an outgoing lock message, reset to
   * `emptyMessage(type)`: fill it and pass it to `sendMessage()` at once;
   * nothing may keep it (the next outMessage() reuses it). Saves an object
   * per message sent.
   */
  outMessage(type: MsgType): DlmMessage {
    return resetMessage(this.#out, type);
  }

  sendMessage(to: number, m: DlmMessage): void {
    const scratch = this.#scratch;
    this.stats.sent++;
    if (scratch !== null) {
      // Into the reused buffer: sent before the observer runs (it may send, and so reuse the buffer).
      this.host.send(to, scratch.encode(this.#header, m));
      if (this.host.observe) observeMessage(this.host, this.name, 'send', this.ourNodeid, to, m);
      return;
    }
    const bytes = encodeMessage(this.#header, m);
    if (this.host.observe) observeMessage(this.host, this.name, 'send', this.ourNodeid, to, m);
    this.host.send(to, bytes);
  }

  refuse(code: string): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
  }

  /** Bytes from node `from` (already matched to this lockspace). Never throws. (lockspace-receive.ts) */
  receive(from: number, bytes: Uint8Array): void {
    receiveLockspaceMessage(this, this.#receiving, from, bytes);
  }

  // ===================================================================
  // Callbacks (§2.7): ResourceSink + the per-lock FIFO on the scheduler
  // ===================================================================

  // What each decision of the queue rules becomes here: resource-sink.ts.

  cast(lock: Lock, status: number): void {
    sinkCast(this, lock, status);
  }

  grantPending(lock: Lock): void {
    sinkGrantPending(this, lock);
  }

  bast(lock: Lock, mode: Mode): void {
    sinkBast(this, lock, mode);
  }

  queued(_lock: Lock): void {
    this.stats.waits++;
  }

  /** Queues `lkb`'s completion AST (cast-delivery.ts); `terminal`: the lock's life ends with it. @internal (owner-side.ts) */
  queueCast(lkb: Lock, status: number, terminal: boolean): void {
    const delivery = this.#delivery;
    delivery.push(lkb, status);
    if (terminal) this.destroyLock(lkb);
    delivery.post();
  }

  /** Queues a BAST for `lkb` (cast-delivery.ts). @internal (owner-side.ts) */
  queueBast(lkb: Lock, mode: Mode): void {
    this.#delivery.queueBast(lkb, mode);
  }

  // ===================================================================
  // Membership and life cycle (§4.1): stop and start; what recovery does is recovery/
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

  // ===================================================================
  // Recovery state (recovery/recovery-driver.ts, recovery/slots.ts, recovery/recovery-ops.ts)
  // ===================================================================

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

  // ===================================================================
  // The locking gate (recovery/locking-gate.ts)
  // ===================================================================

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

  // ===================================================================
  // Fence and release (lockspace-teardown.ts)
  // ===================================================================

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
    fenceLockspace(this, this.#teardownState(), status);
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
    return releaseLockspace(this, this.#teardownState(), force);
  }

  /** What fence() and release() reach (lockspace-teardown.ts); made per call (both are rare). */
  #teardownState(): TeardownState {
    return {
      locks: this.#locks,
      recovery: this.#recovery,
      locking: this.#locking,
      callbacks: this.#callbacks,
      retirement: this.#retirement,
      waiting: this.#waiting,
      setMembers: (m) => void (this.#members = m),
      markReleased: () => void (this.#released = true),
    };
  }

  get released(): boolean {
    return this.#released;
  }

  // ===================================================================
  // Inspection (lockspace-stats.ts, lockspace-dump.ts)
  // ===================================================================

  /** Some resource is in use here (a lock, a master copy, a lookup in progress). */
  get inUse(): boolean {
    for (const r of this.rsbs.values()) if (!r.unused) return true;
    return false;
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
