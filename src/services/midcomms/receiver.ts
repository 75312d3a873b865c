/**
 * The receive side of a session (spec §5.5): the sequence check, the
 * bounded buffer between the wire and the reader, delivery in order, and
 * when to acknowledge (receive threshold, ACK timer). What an ACK is and
 * where it goes is the session's business (`ReceiverHost`).
 */
import { Observable } from 'rxjs';
import type { Clock } from '../../util/clock.ts';
import { SIZE } from './constants.ts';
import { FrameSlab } from './frame-slab.ts';
import { InboundBuffer } from './inbound-buffer.ts';
import { seqAdd } from './seq.ts';
import type { SessionStats } from './session-stats.ts';

export interface ReceiverHost<C> {
  /** Send ACK(`ackValue`) now. `threshold`: a threshold or timer ACK (the receiver already cleared its count). */
  sendAck(threshold: boolean): void;
  /** A FIN reached the head of the line (everything before it was read). */
  finReceived(): void;
  /** We dropped a frame for want of room and there is room again: make the peer resend (close `channel`). */
  resync(channel: C): void;
  readonly closed: boolean;
}

export interface ReceiverOptions {
  readonly clock: Clock;
  readonly ackDelayMs: number;
  readonly rxAckThreshold: number;
  readonly txAckThreshold: number;
  readonly maxInboundMessages: number;
  readonly maxInboundBytes: number;
  readonly initialSeq: number;
}

/** Bytes per receive slab: a reader that keeps one message view keeps its slab (at most this much) alive. */
const RX_SLAB = 16 * 1024;
/** Batches up to this size are copied into the slab; larger ones get a buffer of their own. */
const SLAB_BATCH = 4096;

/**
 * A reader of a session's messages: an rxjs Subscriber (`messages$`) or a
 * plain pair of functions (`read()`, no rxjs on the per-message path).
 */
interface Reader {
  next(bytes: Uint8Array): void;
  complete(): void;
  /** Consumes each message during the call (see `ReadOptions.borrow`). */
  readonly borrows?: boolean;
}

/** How a plain reader (`Session.read()`) takes its messages. */
export interface ReadOptions {
  /**
   * The reader consumes each message before `next` returns and copies
   * whatever it keeps (the DLM's endpoint decodes at once). Messages handed
   * over as they arrive are then views into the received batch itself, valid
   * only during the call: no copy per batch. Messages that waited (a paused
   * or busy reader, another reader that does not borrow) are still private
   * copies. @default false
   */
  readonly borrow?: boolean;
}

/** A plain reader's throw, reported as rxjs reports a subscriber's (thrown later, on a timer): never into the wire path. */
function reportReaderError(err: unknown): void {
  setTimeout(() => {
    throw err;
  });
}

/** What became of a sequenced frame. */
export type SeqVerdict = 'taken' | 'duplicate' | 'gap' | 'overflow';

export class Receiver<C> {
  readonly #host: ReceiverHost<C>;
  readonly #o: ReceiverOptions;
  readonly #stats: SessionStats;
  readonly #inbound = new InboundBuffer();
  /**
   * The readers (copy on write: a reader may unsubscribe while a message is
   * handed out). Messages go to each reader directly, not through a
   * Subject: rxjs' Subscriber catches what its reader throws, `#emit` what
   * a plain reader throws.
   */
  #subscribers: Reader[] = [];
  #completed = false;
  /** `seq_next`: the next sequence number expected. */
  #seqNext: number;
  /** Deliveries since our last threshold or timer ACK (`ulp_delivered`). */
  #ulpDelivered = 0;
  #readers = 0;
  /** Readers that borrow (`ReadOptions.borrow`): when all do, the fast path hands over views without a copy. */
  #borrowers = 0;
  #paused = false;
  #draining = false;
  /**
   * The ACK timer. A threshold ACK does not clear it (a setTimeout and a
   * clearTimeout per threshold period cost more than the rest of a
   * message's receive path): when it fires it acknowledges only if the
   * deliveries not yet acknowledged are `ackDelayMs` old, else it is armed
   * again for the rest of their delay.
   */
  #ackTimer: unknown = null;
  /** When the first delivery not yet acknowledged was handed over (clock ms); -1 when none waits. */
  #ackPeriodStart = -1;
  #resyncChannel: C | null = null;
  /**
   * Messages handed over at once are views into one private copy of the
   * batch they came in (one copy per batch, whatever the number of
   * messages). A small batch is copied into a slab only the receiver writes
   * (once), not into a buffer of its own: a small typed array with its own
   * buffer costs an off-heap allocation, the main cost of a batch of one.
   */
  readonly #rxSlab = new FrameSlab(RX_SLAB);
  /** The received batch the current copy (`#rxCopyIn` at `#rxCopyAt`) was made from; null: none. */
  #rxSource: Uint8Array | null = null;
  #rxCopyIn: ArrayBufferLike | null = null;
  #rxCopyAt = 0;

  readonly messages$: Observable<Uint8Array>;

  constructor(host: ReceiverHost<C>, options: ReceiverOptions, stats: SessionStats) {
    this.#host = host;
    this.#o = options;
    this.#stats = stats;
    this.#seqNext = options.initialSeq;
    this.messages$ = new Observable<Uint8Array>((subscriber) => this.#addReader(subscriber));
  }

  /**
   * `messages$.subscribe({ next, complete })` without rxjs on the
   * per-message path (the DLM's endpoint). What `next` throws goes to
   * `onError`, or without one is thrown later on a timer as rxjs does;
   * never into the receive path.
   */
  read(next: (bytes: Uint8Array) => void, complete: () => void, onError: (err: unknown) => void = reportReaderError, options?: ReadOptions): { unsubscribe(): void } {
    const reader: Reader = {
      next(bytes) {
        try {
          next(bytes);
        } catch (err) {
          onError(err);
        }
      },
      complete,
      borrows: options?.borrow === true,
    };
    const remove = this.#addReader(reader);
    return { unsubscribe: remove ?? (() => {}) };
  }

  /** Adds `reader` (completed at once after the session ended); the function that removes it. */
  #addReader(reader: Reader): (() => void) | undefined {
    if (this.#completed) {
      reader.complete();
      return undefined;
    }
    this.#subscribers = [...this.#subscribers, reader];
    this.#readers++;
    if (reader.borrows === true) this.#borrowers++;
    this.#drain();
    return () => {
      const i = this.#subscribers.indexOf(reader);
      if (i < 0) return;
      this.#subscribers = this.#subscribers.filter((s) => s !== reader);
      this.#readers--;
      if (reader.borrows === true) this.#borrowers--;
    };
  }

  get seqNext(): number {
    return this.#seqNext;
  }
  /** What our ACK says: every message before it was read (buffered ones are not acknowledged). */
  get ackValue(): number {
    return seqAdd(this.#seqNext, -this.#inbound.sequenced);
  }
  /** Deliveries wait for an ACK (a channel is needed for it). */
  get ackDue(): boolean {
    return this.#ulpDelivered > 0;
  }
  /** Transmit threshold (§5.6 step 1): ACK before our next message. */
  get txThresholdReached(): boolean {
    return this.#ulpDelivered > this.#o.txAckThreshold;
  }
  get inboundMessages(): number {
    return this.#inbound.messages;
  }
  get inboundBytes(): number {
    return this.#inbound.bytes;
  }

  /** A threshold or timer ACK is going out: the count starts again. */
  acked(): void {
    this.#ulpDelivered = 0;
    this.#ackPeriodStart = -1;
  }

  /**
   * An OPTS frame with sequence `seq`, inner message `buf[start, end)`:
   * `kind` says what it carries (a FIN, a message to skip, a message).
   */
  sequenced(seq: number, kind: 'fin' | 'skip' | 'msg', buf: Uint8Array, start: number, end: number, channel: C | null): SeqVerdict {
    if (seq !== this.#seqNext) {
      // Wrap-safe (§5.12 item 7): before seq_next is a duplicate, after it a gap.
      if (((seq - this.#seqNext) | 0) < 0) {
        this.#host.sendAck(false);
        return 'duplicate';
      }
      return 'gap';
    }
    if (kind === 'msg') {
      const inbound = this.#inbound;
      if (!inbound.hasRoom(end - start, this.#o.maxInboundMessages, this.#o.maxInboundBytes)) {
        this.#resyncChannel = channel;
        return 'overflow';
      }
      this.#seqNext = seqAdd(this.#seqNext, 1);
      if (inbound.length === 0 && this.#readers > 0 && !this.#paused && !this.#draining) {
        // Fast path: nothing waits before it and someone reads: hand it over now
        // (readers that all borrow get a view of the batch itself, see ReadOptions).
        this.#deliverNow(this.#borrowers === this.#readers ? new Uint8Array(buf.buffer, buf.byteOffset + start, end - start) : this.#retain(buf, start, end));
      } else {
        // Buffered messages are exact copies, so what the buffer counts is what it holds.
        this.#inbound.push({ kind: 'msg', bytes: buf.slice(start, end), sequenced: true });
        this.#drain();
      }
      return 'taken';
    }
    if (!this.#inbound.hasRoom(0, this.#o.maxInboundMessages, this.#o.maxInboundBytes)) {
      this.#resyncChannel = channel;
      return 'overflow';
    }
    this.#seqNext = seqAdd(this.#seqNext, 1);
    this.#inbound.push(kind === 'fin' ? { kind: 'fin' } : { kind: 'skip' });
    this.#drain();
    return 'taken';
  }

  /** An unsequenced message (stateless RCOM, or anything from a 3.1 peer); false when there is no room. */
  unsequenced(message: Uint8Array): boolean {
    if (!this.#inbound.hasRoom(message.length, this.#o.maxInboundMessages, this.#o.maxInboundBytes)) return false;
    this.#inbound.push({ kind: 'msg', bytes: message, sequenced: false });
    this.#drain();
    return true;
  }

  /** The batch being parsed is done: never match a later one against it. */
  endBatch(): void {
    this.#rxSource = null;
    this.#rxCopyIn = null;
  }

  channelEnded(channel: C): void {
    if (this.#resyncChannel === channel) this.#resyncChannel = null;
  }

  /** Stop handing messages to the reader; they wait (bounded) and are not acknowledged. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#drain();
  }

  /** Session reset (§5.2): sequence back to the start; messages already received stay for the reader. */
  reset(): void {
    this.#seqNext = this.#o.initialSeq;
    this.#ulpDelivered = 0;
    this.#ackPeriodStart = -1;
    this.#inbound.forgetSequence();
    this.#clearAckTimer();
    this.#resyncChannel = null;
  }

  /** The session is gone. */
  complete(): void {
    this.#clearAckTimer();
    this.#completed = true;
    const subs = this.#subscribers;
    this.#subscribers = [];
    this.#readers = 0;
    this.#borrowers = 0;
    for (const sub of subs) sub.complete();
  }

  /**
   * An owned copy of `buf[start, end)`: a view into one copy of the whole
   * batch (copied on its first message; no view of the copy itself).
   */
  #retain(buf: Uint8Array, start: number, end: number): Uint8Array {
    if (this.#rxSource !== buf || this.#rxCopyIn === null) {
      this.#rxSource = buf;
      if (buf.length <= SLAB_BATCH) {
        this.#rxSlab.place(buf);
        this.#rxCopyIn = this.#rxSlab.placedIn;
        this.#rxCopyAt = this.#rxSlab.placedAt;
      } else {
        this.#rxCopyIn = buf.slice().buffer;
        this.#rxCopyAt = 0;
      }
    }
    // A view by constructor: subarray() looks up the species constructor (about twice the cost).
    return new Uint8Array(this.#rxCopyIn, this.#rxCopyAt + start, end - start);
  }

  #emit(bytes: Uint8Array): void {
    const subs = this.#subscribers;
    if (subs.length === 1) subs[0]!.next(bytes);
    else for (const sub of subs) sub.next(bytes);
  }

  #delivered(): void {
    // Receive threshold (§5.5).
    if (++this.#ulpDelivered > this.#o.rxAckThreshold) {
      this.acked();
      this.#host.sendAck(true);
    }
  }

  #deliverNow(bytes: Uint8Array): void {
    this.#draining = true;
    try {
      this.#emit(bytes);
      // Counted once the reader has it (the stats are not on the way to its reply: a reader
      // reading them during the call sees the message not yet counted, like framesReceived).
      this.#stats.delivered++;
      this.#delivered();
    } finally {
      this.#draining = false;
    }
    // The reader may have paused, or more may have queued meanwhile.
    if (this.#inbound.length > 0) this.#drain();
    else this.#armAckTimer();
  }

  /** Hands what is in order to the reader; FIN and skip markers are processed as they reach the head. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (;;) {
        const head = this.#inbound.peek();
        if (head === undefined || this.#host.closed) break;
        if (head.kind === 'msg' && (this.#readers === 0 || this.#paused)) break;
        this.#inbound.shift();
        if (head.kind === 'fin') {
          this.#host.finReceived();
          continue;
        }
        if (head.kind === 'msg') {
          this.#stats.delivered++;
          this.#emit(head.bytes);
          if (!head.sequenced) continue;
        }
        this.#delivered();
      }
    } finally {
      this.#draining = false;
    }
    this.#armAckTimer();
    const resync = this.#resyncChannel;
    if (resync !== null && this.#inbound.hasRoom(SIZE.MAX_MESSAGE, this.#o.maxInboundMessages, this.#o.maxInboundBytes)) {
      this.#resyncChannel = null;
      this.#host.resync(resync);
    }
  }

  #clearAckTimer(): void {
    if (this.#ackTimer !== null) {
      this.#o.clock.clearTimeout(this.#ackTimer);
      this.#ackTimer = null;
    }
  }

  /** After deliveries: the timer ACK is due `ackDelayMs` after the first one not yet acknowledged. */
  #armAckTimer(): void {
    // The steady state: the period started and the timer runs (no getter of the host's per delivery).
    if (this.#ackTimer !== null && this.#ackPeriodStart >= 0) return;
    if (this.#o.ackDelayMs === 0 || this.#ulpDelivered === 0 || this.#host.closed) return;
    if (this.#ackPeriodStart < 0) this.#ackPeriodStart = this.#o.clock.now();
    if (this.#ackTimer === null) this.#ackTimer = this.#o.clock.setTimeout(this.#onAckTimer, this.#o.ackDelayMs);
  }

  /** The timer: ACK what was delivered `ackDelayMs` ago and is not yet acknowledged; wait on for younger deliveries. */
  readonly #onAckTimer = (): void => {
    this.#ackTimer = null;
    if (this.#ulpDelivered === 0 || this.#ackPeriodStart < 0 || this.#host.closed) return;
    const due = this.#ackPeriodStart + this.#o.ackDelayMs;
    const now = this.#o.clock.now();
    if (due > now) {
      this.#ackTimer = this.#o.clock.setTimeout(this.#onAckTimer, due - now);
      return;
    }
    this.#stats.timerAcks++;
    this.acked();
    this.#host.sendAck(true);
  };
}
