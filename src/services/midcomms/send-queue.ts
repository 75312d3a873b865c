/**
 * The send queue of one session (spec §5.2 `send_queue`, §5.6, §5.7): the
 * committed, unacknowledged frames in sequence order, a transmit cursor (how
 * many of them went out on the current channel) and the window accounting.
 * Pure data: no timers, no I/O.
 */
import { seqAdd, seqBefore } from './seq.ts';

export interface SendEntry {
  readonly seq: number;
  /** The complete OPTS frame, as it goes on the wire (kept for retransmission). */
  readonly frame: Uint8Array;
  /** A FIN: its ACK is an event of the FIN table. */
  readonly fin: boolean;
  /** Resolvers of `sendAcked()`; null when nobody waits. */
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> | null;
  /** Times this entry was written to a channel. */
  transmissions: number;
}

export class SendQueue {
  #entries: SendEntry[] = [];
  #head = 0;
  /** Index (absolute, into #entries) of the next entry to transmit. */
  #cursor = 0;
  #bytes = 0;
  #messages = 0;
  /** Next sequence number to assign (`seq_send`). */
  seqSend: number;

  constructor(initialSeq = 0) {
    this.seqSend = initialSeq >>> 0;
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
    return this.#entries.length - this.#head;
  }
  /** Sequence of the oldest unacknowledged entry, or `seqSend` when empty. */
  get firstUnacked(): number {
    return this.length > 0 ? this.#entries[this.#head]!.seq : this.seqSend;
  }
  /** Entries not yet written on the current channel. */
  get untransmitted(): number {
    return this.#entries.length - this.#cursor;
  }

  fits(frameBytes: number, windowMessages: number, windowBytes: number): boolean {
    return this.#messages < windowMessages && this.#bytes + frameBytes <= windowBytes;
  }

  /** Appends a frame built by `build(seq)` under the next sequence number. */
  push(build: (seq: number) => Uint8Array, fin: boolean): SendEntry {
    return this.append(build(this.seqSend), fin);
  }

  /**
   * Appends `frame`, already built for sequence `seqSend` (the send path's
   * form of `push`: no closure per message). The sequence number is taken
   * only once the frame exists, so a frame that fails to build leaves no gap.
   */
  append(frame: Uint8Array, fin: boolean): SendEntry {
    const seq = this.seqSend;
    this.seqSend = seqAdd(seq, 1);
    const entry: SendEntry = { seq, frame, fin, waiters: null, transmissions: 0 };
    this.#entries.push(entry);
    this.#bytes += entry.frame.length;
    if (!fin) this.#messages++;
    return entry;
  }

  /** The next entry to write on the current channel, advancing the cursor; undefined when all went out. */
  nextToTransmit(): SendEntry | undefined {
    if (this.#cursor >= this.#entries.length) return undefined;
    const entry = this.#entries[this.#cursor++]!;
    entry.transmissions++;
    return entry;
  }

  /** A new channel: every committed entry goes out again, in order (§5.7). */
  rewind(): void {
    this.#cursor = this.#head;
  }

  /** True when `n` acknowledges nothing we have not sent (`n` within [firstUnacked, seqSend]). */
  isPlausibleAck(n: number): boolean {
    return !seqBefore(this.seqSend, n);
  }

  /** Removes and returns every entry before `n` (cumulative ACK, wrap-safe). */
  ack(n: number): SendEntry[] {
    const done: SendEntry[] = [];
    while (this.#head < this.#entries.length && seqBefore(this.#entries[this.#head]!.seq, n)) {
      const e = this.#entries[this.#head++]!;
      this.#bytes -= e.frame.length;
      if (!e.fin) this.#messages--;
      done.push(e);
    }
    if (this.#cursor < this.#head) this.#cursor = this.#head;
    this.#compact();
    return done;
  }

  /** Drops everything (reset); returns what was dropped. Sequence numbers restart at `seq`. */
  clear(seq = 0): SendEntry[] {
    const dropped = this.#entries.slice(this.#head);
    this.#entries = [];
    this.#head = 0;
    this.#cursor = 0;
    this.#bytes = 0;
    this.#messages = 0;
    this.seqSend = seq >>> 0;
    return dropped;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#cursor -= this.#head;
      this.#head = 0;
    }
  }
}
