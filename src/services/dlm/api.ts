/**
 * The TypeScript API over the low-level one:
 *   const ls = await dlm.join('name', { lvblen });
 *   const lk = await ls.lock('res', 'EX', { flags, signal, lvb });  // resolves at grant
 *   lk.bast$.subscribe(mode => ...); await lk.convert('PR'); await lk.unlock({ lvb });
 * Rejections are `DlmError`s with the AST status as code (EAGAIN, EDEADLK,
 * ECANCEL, ...); an aborted signal cancels the pending request/conversion.
 */
import { Observable, Subject } from 'rxjs';
import { DLM_ERRNO, LKF, MODE_NAMES, parseMode, type LkfName, type ModeName } from './constants.ts';
import { DlmError } from './errors.ts';
import { newLksb, type Lksb } from './lock.ts';
import type { DlmSlot, Lockspace, RecoveryOps } from './lockspace.ts';
import { validOwner } from './orphans.ts';

export interface LockOptions {
  /** Extra DLM_LKF_* flags, by name or as bits (CONVERT/VALBLK are added as needed). @default none */
  flags?: readonly LkfName[] | number;
  /** Aborting cancels the request (or conversion) while it is not granted. @default none (not cancellable) */
  signal?: AbortSignal;
  /** LVB to write (used when the LVB table says this operation writes). @default none (the lock's LVB buffer as it is) */
  lvb?: Uint8Array;
  /**
   * Who holds the lock (new requests only): a process id or any 32-bit
   * number naming a holder; `closeOwner(owner)` ends its locks (PERSISTENT
   * ones become orphans), `purge()` removes orphans by owner. @default 0 (the handle itself; only `leave()`/`release()` end its locks)
   */
  owner?: number;
}

function flagBits(flags: LockOptions['flags']): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') return flags;
  let bits = 0;
  for (const f of flags) {
    const b = (LKF as Record<string, number>)[f];
    if (b === undefined) throw new DlmError('EINVAL', `unknown lock flag ${String(f)}`);
    bits |= b;
  }
  return bits;
}

function modeOf(mode: ModeName): number {
  const m = parseMode(mode);
  if (m === undefined) throw new DlmError('EINVAL', `mode must be one of ${MODE_NAMES.join(', ')}, got ${String(mode)}`);
  return m;
}

interface PendingOp {
  kind: 'lock' | 'convert' | 'unlock';
  resolve: () => void;
  reject: (err: DlmError) => void;
}

/** A lockspace joined through `Dlm.join()`. */
export class DlmLockspace {
  /** The low-level lockspace (lock()/unlock() with lksb). */
  readonly raw: Lockspace;
  readonly #forget: () => void;
  readonly #locks = new Set<DlmLock>();

  constructor(raw: Lockspace, forget: () => void) {
    this.raw = raw;
    this.#forget = forget;
  }

  get name(): string {
    return this.raw.name;
  }

  /** This node's slot (1-based, 0 = none yet; docs/dlm.md "Slots"). */
  get slot(): number {
    return this.raw.slot;
  }

  /** The slot table of the last assignment. */
  get slots(): readonly DlmSlot[] {
    return this.raw.slots;
  }

  /** The lockspace's generation (rises at every recovery). */
  get generation(): number {
    return this.raw.generation;
  }

  /** Register `recoverPrep` / `recoverSlot` / `recoverDone` callbacks (also `join(name, { ops })`); returns the unregister function. */
  addRecoveryOps(ops: RecoveryOps): () => void {
    return this.raw.addRecoveryOps(ops);
  }

  /** Request a lock; resolves when granted. */
  lock(name: string | Uint8Array, mode: ModeName, options: LockOptions = {}): Promise<DlmLock> {
    return new Promise<DlmLock>((resolve, reject) => {
      let m: number;
      let flags: number;
      try {
        m = modeOf(mode);
        flags = flagBits(options.flags);
      } catch (err) {
        reject(err);
        return;
      }
      if (options.signal?.aborted) {
        reject(new DlmError('ECANCEL', `lock ${String(name)}: aborted before the request`));
        return;
      }
      const owner = options.owner ?? 0;
      if (!validOwner(owner)) {
        reject(new DlmError('EINVAL', `owner must be an integer 0..0xffffffff, got ${String(owner)}`));
        return;
      }
      const lk = new DlmLock(this, typeof name === 'string' ? name : new TextDecoder().decode(name), owner);
      this.#locks.add(lk);
      lk.start(name, m, flags, options, resolve, reject);
    });
  }

  /** @internal */
  dropped(lk: DlmLock): void {
    this.#locks.delete(lk);
  }

  /**
   * The owner went away (spec §2.11): its PERSISTENT locks become orphans
   * (an operation in progress is cancelled, the granted mode kept), the
   * others are force-unlocked with IVVALBLK. Its `DlmLock`s end and their
   * pending operations reject with ESHUTDOWN; no callback reaches them.
   * Adopt an orphan with `lock(name, mode, { flags: ['ORPHAN'], owner })`.
   */
  closeOwner(owner: number): { orphaned: number; unlocked: number } {
    if (!validOwner(owner) || owner === 0) throw new DlmError('EINVAL', `closeOwner: owner must be an integer 1..0xffffffff, got ${String(owner)}`);
    for (const lk of [...this.#locks]) if (lk.owner === owner) lk.abandon(`owner ${owner} closed`);
    return this.raw.closeOwner(owner);
  }

  /** `dlm_purge()`: force-unlock the orphans of owner `pid` (0 = all) on node `nodeid` (0 = this node). */
  purge(nodeid: number, pid: number): void {
    const rv = this.raw.purge(nodeid, pid);
    if (rv !== 0) throw DlmError.fromStatus(rv, `purge node ${nodeid} pid ${pid}`);
  }

  /**
   * Release the lockspace with the kernel's force levels (spec §1.2): 0
   * fails with EBUSY while any lock exists on this node (other nodes' locks
   * mastered here included); 1 while a lock owned here holds a granted
   * mode; 2 releases regardless; 3 too, sending nothing (forced shutdown).
   * On success every `DlmLock` of this handle ends, pending operations
   * reject with ESHUTDOWN. `leave()` is the polite way out.
   */
  release(force: 0 | 1 | 2 | 3 = 0): void {
    const rv = this.raw.release(force);
    if (rv !== 0) throw DlmError.fromStatus(rv, `release ${this.name} (force ${String(force)})`);
    for (const lk of [...this.#locks]) lk.abandon(`lockspace ${this.name} released`);
    this.#forget();
  }

  /**
   * Unlock every lock taken through this handle (FORCEUNLOCK), then release
   * the lockspace; resources mastered here that nobody uses are removed from
   * their directory nodes. This is a clean leave: this node's locks are
   * gone before it goes, so the others' recovery (they drop this node from
   * their member list with `stop()`/`start()`) purges nothing and remasters
   * what was mastered here from their own copies (docs/dlm.md "Recovery").
   */
  async leave(): Promise<void> {
    await Promise.allSettled([...this.#locks].map((lk) => lk.unlock({ force: true })));
    const rv = this.raw.release(1);
    if (rv !== 0) throw DlmError.fromStatus(rv, `leave ${this.name}`);
    this.#forget();
  }
}

/** One lock held (or being acquired) through the TypeScript API. */
export class DlmLock {
  readonly lockspace: DlmLockspace;
  readonly name: string;
  /** Who holds it (`LockOptions.owner`; 0 = the handle). */
  readonly owner: number;
  readonly lksb: Lksb;
  readonly #bast = new Subject<ModeName>();
  readonly #ops: PendingOp[] = [];
  /** Blocking callbacks: the mode another lock waits for. Completes when the lock ends. */
  readonly bast$: Observable<ModeName> = this.#bast.asObservable();
  #ended = false;

  constructor(lockspace: DlmLockspace, name: string, owner = 0) {
    this.lockspace = lockspace;
    this.name = name;
    this.owner = owner;
    this.lksb = newLksb(lockspace.raw.lvblen);
  }

  get lkid(): number {
    return this.lksb.lkid;
  }

  /** The granted mode, or undefined when none (not yet granted, or ended). */
  get mode(): ModeName | undefined {
    const lkb = this.lockspace.raw.lockById(this.lksb.lkid);
    return lkb && lkb.grmode >= 0 ? MODE_NAMES[lkb.grmode] : undefined;
  }

  /** The LVB as of the last completion (the caller buffer; copy to keep). */
  get lvb(): Uint8Array | null {
    return this.lksb.lvb;
  }

  /**
   * The fencing token of this lock's PW/EX grant, as of the last completion:
   * a safe integer that rises per resource across all holders (pass it to
   * the storage you write to; docs/dlm.md "Fencing tokens"). 0 while the
   * lock holds no mode at or above PW (a PR/CR/CW/NL grant carries none).
   */
  get fence(): number {
    return this.lksb.fence ?? 0;
  }

  /** DLM_SBF_* of the last completion. */
  get sbflags(): number {
    return this.lksb.flags;
  }

  get ended(): boolean {
    return this.#ended;
  }

  #ast = (): void => {
    const status = this.lksb.status;
    const alive = !!this.lockspace.raw.lockById(this.lksb.lkid);
    if (status === DLM_ERRNO.EUNLOCK) {
      for (const op of this.#ops.splice(0)) {
        if (op.kind === 'unlock') op.resolve();
        else op.reject(new DlmError('EUNLOCK', `${op.kind} ${this.name}: unlocked before it completed`));
      }
    } else {
      const i = this.#ops.findIndex((op) => op.kind !== 'unlock');
      const op = i >= 0 ? this.#ops.splice(i, 1)[0]! : undefined;
      if (op) {
        if (status === 0) op.resolve();
        else op.reject(DlmError.fromStatus(status, `${op.kind} ${this.name}`));
      }
      // The lock ended: a pending unlock is done when the lock never got a mode (its request failed
      // or was cancelled); any other end (a fence) did not reach the master, nor did the unlock's LVB.
      if (!alive) for (const rest of this.#ops.splice(0)) rest.kind === 'unlock' && (status === 0 || status === DLM_ERRNO.EAGAIN || status === DLM_ERRNO.ECANCEL) ? rest.resolve() : rest.reject(DlmError.fromStatus(status, `${rest.kind} ${this.name}`));
    }
    if (!alive) this.#end();
  };

  #onBast = (_arg: unknown, mode: number): void => {
    this.#bast.next(MODE_NAMES[mode]!);
  };

  /** @internal The lock is no longer this handle's (owner closed, lockspace released): reject what is pending, end. */
  abandon(why: string): void {
    for (const op of this.#ops.splice(0)) op.reject(new DlmError('ESHUTDOWN', `${op.kind} ${this.name}: ${why}`));
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#bast.complete();
    this.lockspace.dropped(this);
  }

  #watch(signal: AbortSignal | undefined): () => void {
    if (!signal) return () => {};
    const onAbort = (): void => {
      this.lockspace.raw.unlock(this.lksb.lkid, LKF.CANCEL, this.lksb);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }

  /** @internal */
  start(name: string | Uint8Array, mode: number, flags: number, o: LockOptions, resolve: (lk: DlmLock) => void, reject: (err: unknown) => void): void {
    const raw = this.lockspace.raw;
    if (raw.lvblen > 0) flags |= LKF.VALBLK;
    if (o.lvb && this.lksb.lvb) this.lksb.lvb.set(o.lvb.subarray(0, this.lksb.lvb.length));
    const unwatch = this.#watch(o.signal);
    const signal = o.signal;
    this.#ops.push({
      kind: 'lock',
      resolve: () => {
        unwatch();
        if (signal?.aborted) {
          // Granted although aborted (the cancel lost the race): give it back.
          this.unlock({ force: true }).catch(() => {});
          reject(new DlmError('ECANCEL', `lock ${this.name}: aborted`));
        } else resolve(this);
      },
      reject: (err) => {
        unwatch();
        reject(err);
      },
    });
    const rv = raw.lock(mode, this.lksb, flags, name, this.#ast, undefined, this.#onBast, this.owner);
    if (rv !== 0) {
      this.#ops.pop();
      unwatch();
      this.#end();
      reject(DlmError.fromStatus(rv, `lock ${this.name}`));
    }
  }

  /** Convert to `mode`; resolves when granted (EAGAIN/EDEADLK/ECANCEL reject, the lock keeps its mode). */
  convert(mode: ModeName, o: LockOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let m: number;
      let flags: number;
      try {
        m = modeOf(mode);
        flags = flagBits(o.flags) | LKF.CONVERT;
      } catch (err) {
        reject(err);
        return;
      }
      const raw = this.lockspace.raw;
      if (raw.lvblen > 0) flags |= LKF.VALBLK;
      if (o.lvb && this.lksb.lvb) this.lksb.lvb.set(o.lvb.subarray(0, this.lksb.lvb.length));
      const unwatch = this.#watch(o.signal);
      this.#ops.push({ kind: 'convert', resolve: () => (unwatch(), resolve()), reject: (e) => (unwatch(), reject(e)) });
      const rv = raw.lock(m, this.lksb, flags, null, this.#ast, undefined, this.#onBast);
      if (rv !== 0) {
        this.#ops.pop();
        unwatch();
        reject(DlmError.fromStatus(rv, `convert ${this.name}`));
      }
    });
  }

  /** Unlock (writes `lvb` when the lock holds PW/EX). `force` unlocks even with an operation in flight. */
  unlock(o: { lvb?: Uint8Array; force?: boolean } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#ended) {
        resolve();
        return;
      }
      if (o.lvb && this.lksb.lvb) this.lksb.lvb.set(o.lvb.subarray(0, this.lksb.lvb.length));
      this.#ops.push({ kind: 'unlock', resolve, reject });
      const rv = this.lockspace.raw.unlock(this.lksb.lkid, o.force ? LKF.FORCEUNLOCK : 0, this.lksb);
      if (rv !== 0) {
        this.#ops.pop();
        reject(DlmError.fromStatus(rv, `unlock ${this.name}`));
      }
    });
  }
}
