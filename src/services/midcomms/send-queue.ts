/**
 * The send queue of one session (spec §5.2 `send_queue`, §5.6, §5.7): the
 * committed, unacknowledged frames in sequence order, a transmit cursor (how
 * many of them went out on the current channel) and the window accounting.
 * Pure data: no timers, no I/O.
 *
 * Kept as parallel data, not an object per message: the frames in a ring
 * (an entry's sequence number is its index's offset from the first one's,
 * sequence numbers being consecutive; no allocation per message once the
 * ring is as large as the window), the FINs as their indexes (one at
 * most in practice), the `sendAcked()` waiters in a map by sequence (made
 * only when somebody waits), and "sent before" as a high-water index (an
 * entry below it went out on some channel: writing it again is a
 * retransmission).
 */
import { seqAdd, seqBefore } from './seq.ts';

/** A `sendAcked()` caller waiting for its message's ACK. */
export interface AckWaiter {
  resolve(): void;
  reject(err: Error): void;
}

/** An entry dropped by `clear()` (reset, the peer speaks 3.1): the rare path, one object each. */
export interface DroppedEntry {
  readonly seq: number;
  /** The complete OPTS frame, as it went (or would go) on the wire. */
  readonly frame: Uint8Array;
  readonly fin: boolean;
  /** Resolvers of `sendAcked()`; null when nobody waits. */
  readonly waiters: AckWaiter[] | null;
}

const GONE = new Uint8Array(0);
/** Ring slots to start with (grown by doubling when full; a full window of frames never shrinks it). */
const RING = 64;

export class SendQueue {
  /**
   * The frames in a ring of power-of-two size: entry `i` (an absolute index,
   * counted from the last clear, never wrapping in practice: 2^53) is at
   * `i & #mask`. Acknowledged slots hold GONE. No allocation per message
   * once the ring is as large as the window.
   */
  #ring: Uint8Array[] = new Array<Uint8Array>(RING).fill(GONE);
  #mask = RING - 1;
  /** Sequence number of entry 0: entry i has seqAdd(#baseSeq, i); seqSend is seqAdd(#baseSeq, #tail). */
  #baseSeq: number;
  /** Absolute index of the oldest unacknowledged entry. */
  #head = 0;
  /** Absolute index one past the newest entry. */
  #tail = 0;
  /** Absolute index of the next entry to transmit. */
  #cursor = 0;
  /** Absolute index one past the furthest entry ever transmitted (since the last clear): an entry below it goes again as a retransmission. */
  #sent = 0;
  /** Absolute indexes of FIN entries, in order. */
  #fins: number[] = [];
  /** `sendAcked()` waiters by sequence number; null until somebody waits. */
  #waiters: Map<number, AckWaiter[]> | null = null;
  /** Waiters of entries the last `ack()` removed (`takeAckedWaiters`). */
  #ackedWaiters: AckWaiter[][] | null = null;
  #bytes = 0;
  #messages = 0;
  /** Next sequence number to assign (`seq_send`). */
  seqSend: number;
  /** Whether the entry the last `nextToTransmit()` returned had gone out before. */
  retransmit = false;
  /** Whether the last `ack()` acknowledged a FIN. */
  ackedFin = false;

  constructor(initialSeq = 0) {
    this.seqSend = initialSeq >>> 0;
    this.#baseSeq = this.seqSend;
  }

  /** Unacknowledged data messages (FINs not counted). */
  get messages(): number {
    return this.#messages;
  }
  /** Bytes of unacknowledged frames. */
  get bytes(): number {
    return this.#bytes;
  }
  /** Entries, FINs included. */
  get length(): number {
    return this.#tail - this.#head;
  }
  /** Sequence of the oldest unacknowledged entry, or `seqSend` when empty. */
  get firstUnacked(): number {
    return seqAdd(this.#baseSeq, this.#head);
  }
  /** Entries not yet written on the current channel. */
  get untransmitted(): number {
    return this.#tail - this.#cursor;
  }

  fits(frameBytes: number, windowMessages: number, windowBytes: number): boolean {
    return this.#messages < windowMessages && this.#bytes + frameBytes <= windowBytes;
  }

  /** Appends a frame built by `build(seq)` under the next sequence number; returns the sequence number. */
  push(build: (seq: number) => Uint8Array, fin: boolean): number {
    return this.append(build(this.seqSend), fin);
  }

  /**
   * Appends `frame`, already built for sequence `seqSend` (the send path's
   * form of `push`: no closure per message); returns its sequence number.
   * The sequence number is taken only once the frame exists, so a frame that
   * fails to build leaves no gap.
   */
  append(frame: Uint8Array, fin: boolean): number {
    const seq = this.seqSend;
    this.seqSend = seqAdd(seq, 1);
    const i = this.#tail;
    if (i - this.#head > this.#mask) this.#grow();
    if (fin) this.#fins.push(i);
    else this.#messages++;
    this.#ring[i & this.#mask] = frame;
    this.#tail = i + 1;
    this.#bytes += frame.length;
    return seq;
  }

  /** The ring is full: twice the slots, every entry at its index's new place. */
  #grow(): void {
    const old = this.#ring;
    const oldMask = this.#mask;
    const ring = new Array<Uint8Array>(old.length * 2).fill(GONE);
    const mask = ring.length - 1;
    for (let i = this.#head; i < this.#tail; i++) ring[i & mask] = old[i & oldMask]!;
    this.#ring = ring;
    this.#mask = mask;
  }

  /** `waiter` hears of the ACK of entry `seq` (one still queued). */
  addWaiter(seq: number, waiter: AckWaiter): void {
    const map = (this.#waiters ??= new Map());
    const list = map.get(seq);
    if (list === undefined) map.set(seq, [waiter]);
    else list.push(waiter);
  }

  /** The next frame to write on the current channel, advancing the cursor (`retransmit` tells whether it went out before); undefined when all went out. */
  nextToTransmit(): Uint8Array | undefined {
    const i = this.#cursor;
    if (i >= this.#tail) return undefined;
    this.#cursor = i + 1;
    if (i < this.#sent) this.retransmit = true;
    else {
      this.retransmit = false;
      this.#sent = i + 1;
    }
    return this.#ring[i & this.#mask]!;
  }

  /** A new channel: every committed entry goes out again, in order (§5.7). */
  rewind(): void {
    this.#cursor = this.#head;
  }

  /** True when `n` acknowledges nothing we have not sent (`n` within [firstUnacked, seqSend]). */
  isPlausibleAck(n: number): boolean {
    return !seqBefore(this.seqSend, n);
  }

  /**
   * Removes every entry before `n` (cumulative ACK, wrap-safe); returns how
   * many. `ackedFin` tells whether a FIN was among them; their waiters are
   * `takeAckedWaiters()`'s.
   */
  ack(n: number): number {
    const ring = this.#ring;
    const mask = this.#mask;
    const tail = this.#tail;
    const start = this.#head;
    let head = start;
    let seq = seqAdd(this.#baseSeq, head);
    this.ackedFin = false;
    while (head < tail && seqBefore(seq, n)) {
      this.#bytes -= ring[head & mask]!.length;
      // Released at once: a slab lives no longer than its frames are needed.
      ring[head & mask] = GONE;
      if (this.#fins.length > 0 && this.#fins[0] === head) {
        this.#fins.shift();
        this.ackedFin = true;
      } else this.#messages--;
      const waiters = this.#waiters;
      if (waiters !== null && waiters.size > 0) {
        const list = waiters.get(seq);
        if (list !== undefined) {
          waiters.delete(seq);
          (this.#ackedWaiters ??= []).push(list);
        }
      }
      head++;
      seq = seqAdd(seq, 1);
    }
    this.#head = head;
    if (this.#cursor < head) this.#cursor = head;
    return head - start;
  }

  /** The waiters of the entries acknowledged since the last call (null: none). */
  takeAckedWaiters(): AckWaiter[][] | null {
    const w = this.#ackedWaiters;
    this.#ackedWaiters = null;
    return w;
  }

  /** Drops everything (reset); returns what was dropped. Sequence numbers restart at `seq`. */
  clear(seq = 0): DroppedEntry[] {
    const dropped: DroppedEntry[] = [];
    for (let i = this.#head; i < this.#tail; i++) {
      const s = seqAdd(this.#baseSeq, i);
      dropped.push({ seq: s, frame: this.#ring[i & this.#mask]!, fin: this.#fins.includes(i), waiters: this.#waiters?.get(s) ?? null });
    }
    this.#ring.fill(GONE);
    this.#head = 0;
    this.#tail = 0;
    this.#cursor = 0;
    this.#sent = 0;
    this.#fins = [];
    this.#waiters = null;
    this.#ackedWaiters = null;
    this.#bytes = 0;
    this.#messages = 0;
    this.seqSend = seq >>> 0;
    this.#baseSeq = this.seqSend;
    return dropped;
  }
}
