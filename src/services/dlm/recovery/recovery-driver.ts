/**
 * The recovery phase driver of one lockspace (spec §4.1-§4.3): `stop()`
 * aborts whatever runs and clears the status; `start()` runs the phases in
 * order — members and directory mapping, NODES barrier (the low node sets
 * the generation), directory rebuild (NAMES), DIR barrier, waiter fix-up,
 * purge, remaster (LOOKUP), lock rebuild (LOCK), LOCKS barrier, finalise,
 * request-queue purge, DONE barrier — then hands back to the lockspace,
 * which enables locking, replays the request queue, re-drives the marked
 * waiters and runs the recovery grant pass. It also answers the RCOM
 * requests of other members (`rcom-receive.ts`), keeps the slot table
 * (`slots.ts`: the low node assigns it in the NODES barrier, the others
 * copy it) and calls the recovery callbacks (`recovery-ops.ts`).
 */
import { DlmError } from '../errors.ts';
import type { Lock } from '../lock.ts';
import type { Lockspace } from '../lockspace.ts';
import { barrier } from './barrier.ts';
import { rebuildDirectory } from './directory-rebuild.ts';
import { finaliseResources, recoveryGrantPass } from './finalise.ts';
import { rebuildLocks } from './lock-rebuild.ts';
import { dropInactive, purgeDeparted, purgeRequestQueue, type SavedMessage } from './purge.ts';
import { remaster } from './remaster.ts';
import { remasterStatic } from './nodir.ts';
import { RecoveryRun, type PendingMap } from './recovery-run.ts';
import { RS, RS_ALL } from './recovery-status.ts';
import { MAX_GENERATION, RS_NEED_SLOTS, type StatusConfig } from './rcom-payloads.ts';
import { callOps, type RecoveryOps } from './recovery-ops.ts';
import { assignSlots, initialSlots, slotOf, type DlmSlot } from './slots.ts';
import { fixWaiters, resendWaiters } from './waiters.ts';

/** What the driver needs from the lockspace beyond its public members. */
export interface RecoveryAccess {
  setMembers(members: readonly number[]): void;
  /** Every lock known here, any role. */
  locks(): Lock[];
  /** The request queue (messages saved while stopped), mutable. */
  saved(): SavedMessage[];
  /** Enable locking, replay the request queue, then `afterReplay` (resend, grant pass), then the deferred calls. */
  resume(afterReplay: () => void): void;
}

export interface StartOptions {
  /** The generation of the new view (must be above the current one); default: the low node's current + 1. */
  generation?: number;
  /** Members re-added with a new incarnation (they lost every lock): recovered as departed. @default none */
  departed?: readonly number[];
  /**
   * Departed members that left cleanly (released the lockspace): no
   * `recoverSlot` for them. Every other departure counts as a failure.
   * @default none
   */
  left?: readonly number[];
}

export class RecoveryDriver {
  readonly #ls: Lockspace;
  readonly #access: RecoveryAccess;
  /** Recovery sequence: bumped by every stop(); replies carrying another are stale. */
  seq = 1;
  #status = RS_ALL;
  /** The last STATUS poll of each member answered with a status that has grown since: pushed again. */
  readonly #polls = new Map<number, { id: bigint; seq: bigint; flags: number }>();
  /** Sends a STATUS_REPLY (set by rcom-receive.ts's first use). */
  pushStatus: ((to: number, id: bigint, seqReply: bigint, flags: number) => void) | null = null;
  /** This node's slot (0: none) and the slot table, as of the last assignment (§4.2 step 2). */
  slot = 0;
  slots: readonly DlmSlot[] = [];
  /** The table the low node assigned in the current run (sent to STATUS asking for slots); null until then. */
  runSlots: readonly DlmSlot[] | null = null;
  readonly #ops = new Set<RecoveryOps>();
  /** NODIR: master copies other members rebuilt here in the current run (kept by this node's purge). */
  readonly rebuiltCopies = new Set<Lock>();
  generation = 0;
  run: RecoveryRun | null = null;
  /** Departed nodes not yet cleaned up (kept across aborted runs). */
  readonly #gone = new Set<number>();
  /** Members added since the last finished recovery (joined, or rejoined after a fence): their older lock messages are stale (§4.8). */
  readonly #joined = new Set<number>();
  /** A run started and has not finished: the next start() recovers even with the same list. */
  #incomplete = false;
  /**
   * The generation the unfinished run was given, if any: a rerun without one
   * (resume after an abort) recovers to it again. Picking max + 1 instead
   * could reach the next generation a caller (the views driver: the view
   * number) will ask for, whose start() would then throw and leave the
   * lockspace stopped for good (fault seed 1012).
   */
  #requested: number | undefined = undefined;
  readonly #pending: PendingMap = new Map();
  #nextId = 1;
  readonly #doneCallbacks = new Set<() => void>();
  /** The NAMES dump handed to each asker in the current run. */
  readonly namesCache = new Map<number, { seq: number; askSeq: bigint; names: Uint8Array[] }>();

  constructor(ls: Lockspace, access: RecoveryAccess) {
    this.#ls = ls;
    this.#access = access;
    // Created with a member list: slots 1..n in node-id order, as a first recovery would assign them.
    this.slots = initialSlots(ls.members);
    this.slot = slotOf(this.slots, ls.ourNodeid);
  }

  /** Register recovery callbacks; returns the unregister function. */
  addOps(ops: RecoveryOps): () => void {
    this.#ops.add(ops);
    return () => void this.#ops.delete(ops);
  }

  #callOps(fn: (o: RecoveryOps) => void): void {
    if (this.#ops.size === 0) return;
    callOps(this.#ops, fn, (err) => {
      this.#ls.stats.callbackErrors++;
      this.#ls.host.callbackError(err);
    });
  }

  /** §4.1: locking stopped (every stop()). */
  prep(): void {
    this.#callOps((o) => o.recoverPrep?.());
  }

  /** This node's status bits (§4.3); all set while running in step with its member list. */
  get status(): number {
    return this.#status;
  }

  set status(bits: number) {
    const grew = (bits & ~this.#status) !== 0;
    this.#status = bits;
    if (grew && this.pushStatus) for (const [to, p] of this.#polls) this.pushStatus(to, p.id, p.seq, p.flags);
    if (bits === RS_ALL) this.#polls.clear();
  }

  /**
   * The status other members are told: 0 while the lockspace's gate is
   * closed (it acts as stopped; see `Lockspace.gateOpen`), else `status`.
   */
  get answered(): number {
    return this.#ls.gateOpen ? this.#status : 0;
  }

  /** A member polled our status (answered now with `answered`; pushed again whenever it grows). */
  polled(from: number, id: bigint, seq: bigint, flags: number, answered: number): void {
    if (answered !== RS_ALL) this.#polls.set(from, { id, seq, flags });
  }

  /** The lockspace's gate was set anew (it may have opened): push our status to the open polls. */
  gateChanged(): void {
    if (this.pushStatus === null || this.#polls.size === 0 || !this.#ls.gateOpen) return;
    for (const [to, p] of this.#polls) this.pushStatus(to, p.id, p.seq, p.flags);
    if (this.#status === RS_ALL) this.#polls.clear();
  }

  get recovering(): boolean {
    return this.run !== null;
  }

  /** §4.1 stop: abort any run, clear the status (locking is stopped by the lockspace). */
  stop(): void {
    this.seq++;
    this.status = 0;
    this.runSlots = null;
    this.rebuiltCopies.clear();
    this.#polls.clear();
    this.namesCache.clear();
    if (this.run) {
      this.run.abort();
      this.run = null;
      this.#ls.stats.recovery.aborted++;
    }
  }

  /**
   * §4.1 start: recover when the list changed, nodes were re-added, or an
   * earlier run did not finish; otherwise resume at once. Returns whether a
   * recovery runs.
   */
  start(sorted: readonly number[], opts: StartOptions = {}): boolean {
    const ls = this.#ls;
    if (opts.generation !== undefined && (!Number.isSafeInteger(opts.generation) || opts.generation <= this.generation || opts.generation > MAX_GENERATION)) {
      throw new DlmError('EINVAL', `start: generation ${opts.generation} must be an integer above the current ${this.generation} (at most ${MAX_GENERATION}: fencing tokens stay safe integers)`);
    }
    const old = ls.members;
    const departed = new Set<number>();
    for (const m of old) if (!sorted.includes(m)) departed.add(m);
    for (const m of opts.departed ?? []) if (m !== ls.ourNodeid) departed.add(m);
    const changed = sorted.length !== old.length || sorted.some((m, i) => m !== old[i]);
    if (this.run) this.stop();
    if (!changed && departed.size === 0 && !this.#incomplete) {
      if (opts.generation !== undefined) this.generation = opts.generation;
      this.status = RS_ALL;
      this.#access.resume(() => {});
      this.#recoverDone();
      return false;
    }
    for (const d of departed) this.#gone.add(d);
    for (const m of sorted) if (!old.includes(m) && m !== ls.ourNodeid) this.#joined.add(m);
    const requested = opts.generation ?? (this.#incomplete ? this.#requested : undefined);
    this.#requested = requested;
    // Phase 2: recover_slot for each member judged failed (once: a later run no longer sees it depart).
    const left = new Set(opts.left ?? []);
    for (const d of departed) {
      const slot = slotOf(this.slots, d);
      if (slot !== 0 && !left.has(d)) this.#callOps((o) => o.recoverSlot?.({ nodeid: d, slot }));
    }
    this.#incomplete = true;
    ls.stats.recovery.runs++;
    const run = new RecoveryRun(ls, this.seq, sorted, new Set(this.#gone), requested, this.#pending, () => this.#nextId++);
    run.joined = new Set(this.#joined);
    this.run = run;
    // Phases 1-2: drop the inactive cache, take the new members (and directory mapping).
    dropInactive(ls);
    this.#access.setMembers(sorted);
    this.status |= RS.NODES;
    barrier(
      run,
      RS.NODES,
      (b, configs) => {
        // The low node assigns the slots (from each member's claim and generation), then picks the
        // generation (max seen + 1, or the caller's), before NODES_ALL shows.
        const claims = configs.map((c) => ({ nodeid: c.nodeid ?? 0, slot: c.ourSlot ?? 0, generation: c.generation }));
        claims.push({ nodeid: ls.ourNodeid, slot: this.slot, generation: this.generation });
        this.#adoptSlots(assignSlots(sorted, claims, run.gone));
        this.runSlots = this.slots;
        let max = this.generation;
        for (const c of configs) if (c.generation > max) max = c.generation;
        this.generation = run.requestedGeneration ?? max + 1;
        this.#setBits(run, b);
      },
      (configs) => this.#nodesDone(run, configs),
      RS_NEED_SLOTS,
    );
    return true;
  }

  #setBits(run: RecoveryRun, bits: number): void {
    if (this.run === run) this.status |= bits;
  }

  /** Phase 3 after NODES_ALL; the other nodes copy the low node's generation. */
  #nodesDone(run: RecoveryRun, configs: StatusConfig[]): void {
    const ls = this.#ls;
    if (!run.isLow) {
      this.generation = run.requestedGeneration ?? Math.max(configs[0]!.generation, this.generation);
      // The low node's table (it answers our NODES_ALL poll with it); one naming other members is ignored.
      const table = configs[0]!.slots ?? [];
      if (table.length === run.members.length && table.every((s) => run.members.includes(s.nodeid))) this.#adoptSlots(table);
      else this.#ls.stats.recovery.rcomIgnored++;
    }
    // NODIR: no directory to rebuild.
    (ls.nodir ? (next: () => void) => next() : (next: () => void) => rebuildDirectory(run, next))(() => {
      this.status |= RS.DIR;
      barrier(run, RS.DIR, (b) => this.#setBits(run, b), () => this.#dirDone(run));
    });
  }

  #dirDone(run: RecoveryRun): void {
    const ls = this.#ls;
    // Phase 4: waiters; phase 5a: purge; 5b: remaster; 5c: rebuild.
    fixWaiters(run, this.#access.locks());
    // NODIR: every master copy is purged and every resource mastered by its hash node (nodir.ts).
    if (ls.nodir) remasterStatic(run, this.rebuiltCopies);
    else purgeDeparted(run);
    (ls.nodir ? (next: () => void) => next() : (next: () => void) => remaster(run, next))(() =>
      rebuildLocks(run, () => {
        this.status |= RS.LOCKS;
        barrier(run, RS.LOCKS, (b) => this.#setBits(run, b), () => {
          // 5d: finalise; 6: purge the request queue; DONE barrier.
          finaliseResources(ls);
          // NODIR: the whole request queue goes (§4.8). So does what a joining node sent before this run's
          // end (its locking is stopped until then): a fenced node's lock messages delivered after the heal.
          ls.stats.recovery.droppedSaved += purgeRequestQueue(this.#access.saved(), ls.nodir ? () => true : (n) => run.isGone(n) || run.joined.has(n));
          this.status |= RS.DONE;
          barrier(run, RS.DONE, (b) => this.#setBits(run, b), () => this.#finish(run));
        });
      }),
    );
  }

  #finish(run: RecoveryRun): void {
    const ls = this.#ls;
    run.abort(); // its timers and open polls end with it
    this.run = null;
    this.#incomplete = false;
    this.#requested = undefined;
    this.#gone.clear();
    this.#joined.clear();
    this.namesCache.clear();
    this.status = RS_ALL;
    ls.stats.recovery.completed++;
    ls.stats.recovery.lastMs = ls.host.clock.now() - run.startedAt;
    this.#access.resume(() => {
      const locks = this.#access.locks();
      resendAndGrant(ls, locks);
    });
    this.#recoverDone();
    for (const cb of [...this.#doneCallbacks]) {
      try {
        cb();
      } catch (err) {
        ls.host.callbackError(err);
      }
    }
  }

  /** Call `cb` after every finished recovery; returns the unsubscribe function. */
  onDone(cb: () => void): () => void {
    this.#doneCallbacks.add(cb);
    return () => void this.#doneCallbacks.delete(cb);
  }

  /** Forget the run state (fence): status cleared, departed list dropped, no slot (a rejoin gets a new one). */
  reset(): void {
    this.stop();
    this.#gone.clear();
    this.#joined.clear();
    this.#incomplete = false;
    this.#requested = undefined;
    this.slot = 0;
    this.slots = [];
  }

  #adoptSlots(table: readonly DlmSlot[]): void {
    const ours = slotOf(table, this.#ls.ourNodeid);
    if (this.slot !== 0 && ours !== this.slot) this.#ls.stats.recovery.slotChanged++;
    this.slots = table;
    this.slot = ours;
  }

  /** §4.2 step 10. */
  #recoverDone(): void {
    const slots = this.slots;
    this.#callOps((o) => o.recoverDone?.(slots, this.slot, this.generation));
  }
}

/** Phases 8 and 9. */
function resendAndGrant(ls: Lockspace, locks: readonly Lock[]): void {
  resendWaiters(ls, locks);
  recoveryGrantPass(ls);
}
