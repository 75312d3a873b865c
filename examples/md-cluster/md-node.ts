/**
 * One node of a clustered md array (md-cluster.c's message passing, spec
 * §6.1-§6.3), on a DLM lockspace joined with the TypeScript API:
 *
 * - `token` EX: one sender in the cluster at a time; a local send mutex: one
 *   per node; the local receive mutex keeps the sender from processing
 *   incoming messages while it sends.
 * - the message travels in the LVB of `message` (EX, written by EX->CW);
 * - every node holds `ack` CR; the sender's CR->EX sends each receiver a
 *   BAST(EX) and is granted once all of them dropped `ack` to NL, i.e. after
 *   every receiver has processed the message;
 * - receivers (BAST-driven) read with NL->CR, process, drop `ack`, wait on
 *   `message` PR until the sender is done, re-arm `ack` CR.
 * - `no-new-dev` CR on every node; NEWDISK: receivers that take the disk drop
 *   it to NL, the sender's EX|NOQUEUE is granted only if all did.
 * - `bitmapNNNN` per slot, PW for the node's lifetime (LVB: its resync range);
 *   a joining node probes every other slot with PW|NOQUEUE.
 * - the slot is the DLM's (md slot = DLM slot - 1, learned from
 *   `recover_done`), and the DLM's `recover_slot` for a failed node starts
 *   the recovery of its bitmap slot (md-cluster's `recover_slot` ->
 *   `__recover_slot` -> `recover_bitmaps`); `recover_prep` .. `recover_done`
 *   suspends read balancing, as md-cluster does.
 *
 * "Unlock" means "convert to NL", as in md-cluster, so the LVBs survive.
 */
import type { DlmLock, DlmLockspace, DlmSlot } from 'dmsg-mesh';
import { SBF, isDlmError } from 'dmsg-mesh';
import type { SharedBitmaps } from './bitmap-disk.ts';
import { MSG, clusterMsg, decodeClusterMsg, decodeResyncInfo, encodeClusterMsg, encodeResyncInfo, type ClusterMsg } from './message.ts';

/** A FIFO async mutex (md-cluster's send bit and receive mutex). */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.#tail;
    this.#tail = prev.then(() => next);
    return prev.then(() => release);
  }
}

export interface MdNodeOptions {
  /**
   * Pin this node's slot (1-based; its md slot is slot - 1) instead of
   * taking the DLM's. @default the lockspace's DLM slot (`ls.slot`, or the
   * one the next `recover_done` gives when it has none yet)
   */
  slot?: number;
  /** Slots of the array (bitmap0000 .. bitmap<slots-1>). @default 4 */
  slots?: number;
  /** NEWDISK: take the disk (true) or NACK it (false). @default () => false */
  acceptDisk?: (uuid: Uint8Array, raidSlot: number) => boolean;
  /** Recovering a dead or unused slot's bitmap: merge and resync `range`. @default no-op */
  recoverBitmap?: (mdSlot: number, range: { low: bigint; high: bigint }) => void | Promise<void>;
  /**
   * The array's on-disk bitmaps, shared by every node (md-cluster reads a
   * dead or unused slot's dirty range from disk). Without it the range is
   * read from the slot's bitmap LVB, which is lost (zero, or flagged
   * VALNOTVALID) when the dead node also mastered that resource.
   * @default none (LVB)
   */
  bitmaps?: SharedBitmaps;
}

/** What one slot probe at join found. */
export interface SlotProbe {
  mdSlot: number;
  state: 'alive' | 'recovered';
  low: bigint;
  high: bigint;
}

export const bitmapName = (mdSlot: number): string => `bitmap${mdSlot.toString().padStart(4, '0')}`;

export class MdNode {
  readonly ls: DlmLockspace;
  readonly slots: number;
  /** Bitmap slots recovered because the DLM reported their node failed (`recover_slot`), with the range this node took over. */
  readonly slotRecoveries: Array<{ mdSlot: number; low: bigint; high: bigint }> = [];
  /** md-cluster's MD_CLUSTER_SUSPEND_READ_BALANCING: set by recover_prep, cleared by recover_done. */
  suspendReadBalancing = false;
  /** Messages processed, in order. */
  readonly received: ClusterMsg[] = [];
  /** Messages refused (own slot, unreadable LVB). */
  rejected = 0;
  /**
   * Messages lost with their sender: the `message` LVB came back flagged
   * VALNOTVALID (DLM recovery could not recover it: the sender died and
   * mastered `message`), so it is not processed.
   */
  lost = 0;
  /** Other slots' resync ranges being resynced (md-cluster's suspend list), by md slot. */
  readonly suspended = new Map<number, { low: bigint; high: bigint }>();
  /** What the join probe found. */
  readonly probes: SlotProbe[] = [];
  /** Errors of the receive path (a receive never throws out of a BAST). */
  readonly errors: unknown[] = [];
  /** Broadcasts sent. */
  sent = 0;
  readonly #opts: Required<Omit<MdNodeOptions, 'slot' | 'bitmaps'>> & { bitmaps: SharedBitmaps | null };
  readonly #send = new Mutex();
  readonly #recv = new Mutex();
  #token!: DlmLock;
  #message!: DlmLock;
  #ack!: DlmLock;
  #noNewDev!: DlmLock;
  #bitmap!: DlmLock;
  #joined = false;
  #pendingBast = false;
  #closed = false;
  #slot = 0;
  /** Waiters for a slot (recover_done). */
  #slotWaiters: Array<() => void> = [];
  /** Bitmap recoveries run one after another (md-cluster's recovery thread). */
  #recoveries: Promise<void> = Promise.resolve();
  readonly #unregister: () => void;

  constructor(ls: DlmLockspace, options: MdNodeOptions = {}) {
    if (options.slot !== undefined && (!Number.isInteger(options.slot) || options.slot < 1)) throw new RangeError(`slot must be an integer >= 1, got ${options.slot}`);
    const slots = options.slots ?? 4;
    if (!Number.isInteger(slots) || slots < 1 || slots < (options.slot ?? 1)) throw new RangeError(`slots must be an integer >= slot (${options.slot ?? 1}), got ${slots}`);
    this.ls = ls;
    this.#slot = options.slot ?? ls.slot;
    this.slots = slots;
    this.#opts = { slots, acceptDisk: options.acceptDisk ?? (() => false), recoverBitmap: options.recoverBitmap ?? (() => {}), bitmaps: options.bitmaps ?? null };
    const pinned = options.slot !== undefined;
    this.#unregister = ls.addRecoveryOps({
      recoverPrep: () => void (this.suspendReadBalancing = true),
      recoverSlot: (s) => this.#onRecoverSlot(s),
      recoverDone: (_slots, ourSlot) => {
        this.suspendReadBalancing = false;
        if (!pinned && !this.#joined) this.#slot = ourSlot;
        if (this.#slot > 0) for (const w of this.#slotWaiters.splice(0)) w();
      },
    });
  }

  /** This node's DLM slot (1-based; 0 until known). */
  get slot(): number {
    return this.#slot;
  }

  /** This node's md slot (DLM slot - 1). */
  get mdSlot(): number {
    return this.#slot - 1;
  }

  /** md-cluster's recover_slot: a failed node's bitmap slot is recovered by the recovery "thread" (after the DLM's recovery). */
  #onRecoverSlot(s: DlmSlot): void {
    const mdSlot = s.slot - 1;
    if (this.#closed || !this.#joined || mdSlot === this.mdSlot || mdSlot < 0 || mdSlot >= this.slots) return;
    this.#recoveries = this.#recoveries.then(async () => {
      if (this.#closed) return;
      try {
        const range = await this.recoverSlot(mdSlot);
        this.slotRecoveries.push({ mdSlot, ...range });
      } catch (err) {
        this.errors.push(err);
      }
    });
  }

  /** Resolves once the bitmap recoveries started so far have finished. */
  recoveriesDone(): Promise<void> {
    return this.#recoveries;
  }

  get joined(): boolean {
    return this.#joined;
  }

  /** New NL lock with EXPEDITE (md-cluster's lockres_init + first dlm_lock_sync). */
  #nl(name: string): Promise<DlmLock> {
    return this.ls.lock(name, 'NL', { flags: ['EXPEDITE'] });
  }

  /** Join (md-cluster `join()`): learn the slot (recover_done), the resources, then the slot probe. */
  async join(): Promise<SlotProbe[]> {
    if (this.#slot === 0) await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    if (this.#slot > this.slots) throw new RangeError(`md-cluster: DLM slot ${this.#slot} exceeds the array's ${this.slots} slots`);
    this.#message = await this.#nl('message');
    this.#token = await this.#nl('token');
    this.#noNewDev = await this.#nl('no-new-dev');
    // Serialise against a broadcast in progress.
    await this.#token.convert('EX');
    this.#ack = await this.#nl('ack');
    this.#ack.bast$.subscribe((mode) => this.#onAckBast(mode));
    await this.#ack.convert('CR');
    await this.#token.convert('NL');
    await this.#noNewDev.convert('CR');
    this.#bitmap = await this.#nl(bitmapName(this.mdSlot));
    await this.#bitmap.convert('PW');
    for (let s = 0; s < this.slots; s++) if (s !== this.mdSlot) this.probes.push(await this.#probe(s));
    this.#joined = true;
    if (this.#pendingBast) {
      this.#pendingBast = false;
      this.#receive();
    }
    return this.probes;
  }

  /** PW|NOQUEUE on another slot's bitmap: EAGAIN = alive (read its range with CR), granted = dead or unused (recover it). */
  async #probe(mdSlot: number): Promise<SlotProbe> {
    const lk = await this.#nl(bitmapName(mdSlot));
    try {
      try {
        await lk.convert('PW', { flags: ['NOQUEUE'] });
      } catch (err) {
        if (!isDlmError(err) || err.code !== 'EAGAIN') throw err;
        await lk.convert('CR');
        const range = decodeResyncInfo(lk.lvb);
        if (range.high > 0n) this.suspended.set(mdSlot, range);
        return { mdSlot, state: 'alive', ...range };
      }
      // gather_bitmaps: the slot's dirty range from disk (not cleared), else its LVB.
      const range = this.#opts.bitmaps ? this.#opts.bitmaps.read(mdSlot) : decodeResyncInfo(lk.lvb);
      await this.#opts.recoverBitmap(mdSlot, range);
      return { mdSlot, state: 'recovered', ...range };
    } finally {
      await lk.unlock({ force: true });
    }
  }

  /**
   * recover_bitmaps for one slot, run by every survivor once the DLM
   * reported the node of slot `mdSlot` failed (its `recover_slot` callback
   * queues it; callable directly too): take
   * the slot's bitmap PW (granted once recovery purged the dead node's PW),
   * take its dirty range over (from the shared on-disk bitmaps, cleared, as
   * md_bitmap_copy_from_slot(clear_bits); else from the LVB), drop the slot
   * from the suspend list, resync the range when it is not empty
   * (`recoverBitmap`), write a clean range into the LVB, unlock. Every
   * survivor may call it: the first to get PW takes the range over, the
   * others find it clean. Resolves to the range this node took over.
   */
  async recoverSlot(mdSlot: number): Promise<{ low: bigint; high: bigint }> {
    if (!Number.isInteger(mdSlot) || mdSlot < 0 || mdSlot >= this.slots || mdSlot === this.mdSlot) throw new RangeError(`recoverSlot: another slot in 0..${this.slots - 1} expected, got ${mdSlot}`);
    const lk = await this.#nl(bitmapName(mdSlot));
    try {
      await lk.convert('PW');
      const range = this.#opts.bitmaps ? this.#opts.bitmaps.copyFromSlot(mdSlot) : decodeResyncInfo(lk.lvb);
      this.suspended.delete(mdSlot);
      if (range.high > 0n) await this.#opts.recoverBitmap(mdSlot, range);
      await lk.convert('PW', { lvb: encodeResyncInfo(0n, 0n, lk.lvb?.length) });
      return range;
    } finally {
      await lk.unlock({ force: true });
    }
  }

  // ------------------------------------------------------------------ sending

  /** lock_comm: the local send mutex, `token` EX, the local receive mutex. Returns unlock_comm. */
  async #lockComm(): Promise<() => Promise<void>> {
    if (!this.#joined) throw new Error(`md slot ${this.mdSlot}: not joined`);
    const releaseSend = await this.#send.lock();
    try {
      await this.#token.convert('EX');
    } catch (err) {
      releaseSend();
      throw err;
    }
    const releaseRecv = await this.#recv.lock();
    return async () => {
      try {
        await this.#token.convert('NL');
      } finally {
        releaseRecv();
        releaseSend();
      }
    };
  }

  /** __sendmsg, steps 1-6 of §6.2 (the caller holds the comm lock). */
  async #sendLocked(m: ClusterMsg): Promise<void> {
    await this.#message.convert('EX');
    await this.#message.convert('CW', { lvb: encodeClusterMsg(m, this.#message.lvb?.length) });
    await this.#ack.convert('EX'); // granted once every receiver processed the message
    await this.#ack.convert('CR');
    await this.#message.convert('NL');
    this.sent++;
  }

  /** Broadcast one message; resolves when every other node has processed it. */
  async broadcast(type: ClusterMsg['type'], fields: Partial<Omit<ClusterMsg, 'type' | 'slot'>> = {}): Promise<void> {
    const unlock = await this.#lockComm();
    try {
      await this.#sendLocked(clusterMsg(type, this.mdSlot, fields));
    } finally {
      await unlock();
    }
  }

  /** metadata_update_start/finish: hold the token across `update`, then send METADATA_UPDATED. */
  async metadataUpdate(update: () => void | Promise<void>): Promise<void> {
    const unlock = await this.#lockComm();
    try {
      await update();
      await this.#sendLocked(clusterMsg(MSG.METADATA_UPDATED, this.mdSlot));
    } finally {
      await unlock();
    }
  }

  /**
   * resync_info_update: write this slot's resync range into its bitmap LVB
   * (PW->PW writes), then tell the others (RESYNCING). (0, 0) = done. With
   * shared `bitmaps` the range is also this slot's dirty range on disk.
   */
  async resyncing(low: bigint, high: bigint): Promise<void> {
    this.#opts.bitmaps?.mark(this.mdSlot, low, high);
    await this.#bitmap.convert('PW', { lvb: encodeResyncInfo(low, high, this.#bitmap.lvb?.length) });
    await this.broadcast(MSG.RESYNCING, { low, high });
  }

  /**
   * add_new_disk: NEWDISK, then `no-new-dev` EX|NOQUEUE. Granted: every
   * node took the disk (they dropped their CR); EAGAIN: some node did not.
   * On success the sender returns to CR and sends METADATA_UPDATED (the
   * receivers re-take CR on it).
   */
  async addNewDisk(uuid: Uint8Array, raidSlot: number): Promise<boolean> {
    const unlock = await this.#lockComm();
    try {
      await this.#sendLocked(clusterMsg(MSG.NEWDISK, this.mdSlot, { uuid, raidSlot }));
      try {
        await this.#noNewDev.convert('EX', { flags: ['NOQUEUE'] });
      } catch (err) {
        if (isDlmError(err) && err.code === 'EAGAIN') return false;
        throw err;
      }
      await this.#noNewDev.convert('CR');
      await this.#sendLocked(clusterMsg(MSG.METADATA_UPDATED, this.mdSlot));
      return true;
    } finally {
      await unlock();
    }
  }

  // ---------------------------------------------------------------- receiving

  #onAckBast(mode: string): void {
    if (mode !== 'EX' || this.#closed) return;
    if (!this.#joined) {
      this.#pendingBast = true;
      return;
    }
    this.#receive();
  }

  #receive(): void {
    void this.#recvOne().catch((err: unknown) => void this.errors.push(err));
  }

  /** §6.3 steps 1-6, under the receive mutex. */
  async #recvOne(): Promise<void> {
    const release = await this.#recv.lock();
    try {
      await this.#message.convert('CR');
      const m = decodeClusterMsg(this.#message.lvb ? this.#message.lvb.slice() : null);
      if (this.#message.sbflags & SBF.VALNOTVALID) this.lost++;
      else if (!m || m.slot === this.mdSlot) this.rejected++;
      else await this.#process(m);
      await this.#ack.convert('NL');
      await this.#message.convert('PR'); // waits until the sender dropped `message` to NL
      await this.#ack.convert('CR');
      await this.#message.convert('NL');
    } finally {
      release();
    }
  }

  async #process(m: ClusterMsg): Promise<void> {
    this.received.push(m);
    switch (m.type) {
      case MSG.METADATA_UPDATED:
        if (this.#noNewDev.mode === 'NL') await this.#noNewDev.convert('CR');
        break;
      case MSG.RESYNCING:
        if (m.high === 0n) this.suspended.delete(m.slot);
        else this.suspended.set(m.slot, { low: m.low, high: m.high });
        break;
      case MSG.NEWDISK:
        if (this.#opts.acceptDisk(m.uuid, m.raidSlot)) await this.#noNewDev.convert('NL');
        break;
      default:
        break;
    }
  }

  /** Lock states, for tests and the demo: resource -> granted mode. */
  modes(): Record<string, string | undefined> {
    return { token: this.#token?.mode, message: this.#message?.mode, ack: this.#ack?.mode, 'no-new-dev': this.#noNewDev?.mode, [bitmapName(this.mdSlot)]: this.#bitmap?.mode };
  }

  /** Leave: FORCEUNLOCK every lock (md-cluster's final teardown). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#joined = false;
    this.#unregister();
    await Promise.allSettled([this.#ack, this.#message, this.#token, this.#noNewDev, this.#bitmap].filter(Boolean).map((lk) => lk.unlock({ force: true })));
  }
}
