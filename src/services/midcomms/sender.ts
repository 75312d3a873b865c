/**
 * The send side of a session (spec §5.6, §5.7): the window (unacknowledged
 * messages and bytes, callers waiting for room), sequenced OPTS frames for a
 * 3.2 peer or bare messages for a 3.1 peer, stateless RCOMs, our FIN, and
 * the order frames go out in (everything unacknowledged again after a new
 * channel). Which generation the peer speaks, and the wire, are the
 * session's business (`SenderHost`).
 */
import { DLM_CMD, DLM_VERSION, OFF, SIZE } from './constants.ts';
import { MidcommsError } from './errors.ts';
import { encodeFin, encodeOptsStampedIn } from './frame-encoder.ts';
import { FrameSlab } from './frame-slab.ts';
import { checkInnerMessage, stampInner } from './inner-message.ts';
import { SendQueue } from './send-queue.ts';
import type { SendEntry } from './send-queue.ts';
import type { SessionStats } from './session-stats.ts';
import { WindowWaiters } from './window-waiters.ts';

export interface SenderHost {
  /** The peer takes sequenced (3.2) frames; false: bare (3.1). */
  sequenced(): boolean;
  /** A sequenced message is about to be queued (the transmit-threshold ACK goes first). */
  beforeSequenced(): void;
  /** Something new can be written. */
  pump(): void;
  /**
   * A sequenced frame was just committed (the last of the queue): write it
   * now when nothing else is due (`nextAlone()`), else pump.
   */
  transmit(): void;
  /** For error messages. */
  readonly peer: string;
}

export interface SenderOptions {
  readonly nodeid: number;
  readonly windowMessages: number;
  readonly windowBytes: number;
  readonly maxWaiters: number;
  readonly initialSeq: number;
}

type AckWaiter = { resolve: () => void; reject: (e: Error) => void };

const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};
/** Stateless messages held for a channel at most (oldest dropped). */
const MAX_STATELESS = 64;

function err(code: 'STOP_TX' | 'UNSEQUENCED' | 'ABORTED' | 'TOO_MANY_WAITERS' | 'BAD_MESSAGE' | 'CLOSED', message: string): MidcommsError {
  return new MidcommsError(code, message);
}

export class Sender {
  readonly #host: SenderHost;
  readonly #o: SenderOptions;
  readonly #stats: SessionStats;
  readonly #queue: SendQueue;
  readonly #slab = new FrameSlab();
  readonly #waiters = new WindowWaiters();
  /** Bare (3.1) messages not yet written. */
  #bare: Uint8Array[] = [];
  #bareBytes = 0;
  #stateless: Uint8Array[] = [];
  /** Our FIN is queued: nothing may follow it (STOP_TX). */
  #stopTx = false;
  /**
   * A cumulative ACK that arrived in front of a message in the same batch
   * and is applied after that message went to the reader (`deferAck`), so
   * its bookkeeping runs after the reply's write; -1: none. Whatever
   * depends on the queue's state applies it first (`settle`).
   */
  #deferredAck = -1;
  /** The session was fenced (`fence`): nothing more is committed. A field, not a host getter: it is read per message. */
  #fenced = false;

  constructor(host: SenderHost, options: SenderOptions, stats: SessionStats) {
    this.#host = host;
    this.#o = options;
    this.#stats = stats;
    this.#queue = new SendQueue(options.initialSeq);
  }

  get stopTx(): boolean {
    return this.#stopTx;
  }
  /** `send()` calls waiting for room. */
  get waiting(): number {
    return this.#waiters.length;
  }
  /** Anything not yet acknowledged (3.2) or not yet written (3.1, stateless). */
  get pending(): boolean {
    this.settle();
    return this.#queue.length > 0 || this.#bare.length > 0 || this.#stateless.length > 0;
  }
  /** Every committed frame went out on the current channel (nothing waits for the pump). */
  get allTransmitted(): boolean {
    return this.#queue.untransmitted === 0 && this.#stateless.length === 0;
  }
  get seqSend(): number {
    return this.#queue.seqSend;
  }
  get firstUnacked(): number {
    this.settle();
    return this.#queue.firstUnacked;
  }
  get queueMessages(): number {
    this.settle();
    return this.#queue.messages + this.#bare.length;
  }
  get queueBytes(): number {
    this.settle();
    return this.#queue.bytes + this.#bareBytes;
  }

  /** Queues `message`; resolves once committed (`acked`: once acknowledged). */
  send(message: Uint8Array, acked: boolean, signal: AbortSignal | undefined): Promise<void> {
    const bad = this.#check(message);
    if (bad !== null) return Promise.reject(bad);
    if (this.#stopTx) return Promise.reject(err('STOP_TX', `our FIN to ${this.#host.peer} is sent; nothing may follow it`));
    if (signal?.aborted) return Promise.reject(err('ABORTED', 'aborted before sending'));
    if (this.#waiters.length === 0 && this.#hasRoom(message.length)) {
      if (!acked) {
        this.#commit(message, null, noop);
        return RESOLVED;
      }
      return new Promise<void>((resolve, reject) => this.#commit(message, { resolve, reject }, resolve));
    }
    if (this.#waiters.length >= this.#o.maxWaiters) {
      return Promise.reject(err('TOO_MANY_WAITERS', `${this.#waiters.length} sends already wait for room (maxWaiters ${this.#o.maxWaiters})`));
    }
    this.#stats.windowWaits++;
    // The caller may reuse its buffer while we wait: keep a copy.
    return this.#waiters.add(message.slice(), acked, signal);
  }

  /**
   * `send(message, false)` for a caller that does not wait: no promise when
   * the message is committed at once (the common case). `onError` hears,
   * asynchronously, of a message refused or of a wait for room that failed.
   */
  post(message: Uint8Array, onError: (err: Error) => void): void {
    if (this.#waiters.length === 0 && !this.#stopTx && this.#check(message) === null && this.#hasRoom(message.length)) {
      this.#commit(message, null, noop);
      return;
    }
    this.send(message, false, undefined).then(undefined, onError);
  }

  /**
   * `post()` only when it commits at once: true when committed; false, and
   * nothing queued, when the window has no room or others wait (the caller
   * keeps the message and `send()`s it to wait its turn). A refused message
   * (closed, STOP_TX, malformed) goes to `onError` as with post().
   */
  tryPost(message: Uint8Array, onError: (err: Error) => void): boolean {
    if (this.#stopTx || this.#check(message) !== null) {
      // Refused: send() rejects with the reason, as post() reports it.
      this.send(message, false, undefined).then(undefined, onError);
      return true;
    }
    if (this.#waiters.length > 0) return false;
    if (!this.#host.sequenced()) {
      if (!this.#hasRoom(message.length)) return false;
      this.#commit(message, null, noop);
      return true;
    }
    // The DLM's path: #hasRoom and #commit for a sequenced peer, without asking again which it is.
    if (!this.#queue.fits(message.length + SIZE.OPTS, this.#o.windowMessages, this.#o.windowBytes) && !this.#roomAfterAck(message.length)) return false;
    this.#commitSequenced(message, null);
    // (Counted after the write: off the path to the peer.)
    this.#stats.sent++;
    return true;
  }

  /** A raw RCOM outside the sequence (best effort). Throws MidcommsError on a bad message. */
  sendStateless(message: Uint8Array): void {
    const bad = this.#check(message);
    if (bad !== null) throw bad;
    if (message[OFF.CMD] !== DLM_CMD.RCOM) throw err('BAD_MESSAGE', `a stateless message is an RCOM, got h_cmd ${message[OFF.CMD]}`);
    if (this.#stateless.length >= MAX_STATELESS) this.#stateless.shift();
    this.#stateless.push(stampInner(message, this.#host.sequenced() ? DLM_VERSION.V3_2 : DLM_VERSION.V3_1, this.#o.nodeid));
    this.#host.pump();
  }

  /** Queue our FIN (sequenced, acknowledged like data) and set STOP_TX. */
  sendFin(): void {
    // (A deferred ACK never covers a FIN: none is deferred once STOP_TX is set.)
    this.settle();
    const nodeid = this.#o.nodeid;
    this.#queue.push((seq) => encodeFin(DLM_VERSION.V3_2, nodeid, seq), true);
    this.#stopTx = true;
    this.admit();
    this.#host.pump();
  }

  /** The next frame to write on the current channel, in order; undefined when all went out. */
  next(): Uint8Array | undefined {
    // (Length first: shift() on an empty array is a call per frame on the hot path.)
    if (this.#stateless.length > 0) return this.#stateless.shift();
    if (this.#host.sequenced()) {
      const entry = this.#queue.nextToTransmit();
      if (entry === undefined) return undefined;
      if (entry.transmissions > 1) this.#stats.retransmits++;
      return entry.frame;
    }
    if (this.#bare.length === 0) return undefined;
    const m = this.#bare.shift()!;
    this.#bareBytes -= m.length;
    this.admit();
    return m;
  }

  /**
   * The frame `next()` would return when it is the only thing due (the
   * sequenced frame just committed, nothing stateless before it), the
   * cursor moved past it; else undefined and nothing moved.
   */
  nextAlone(): Uint8Array | undefined {
    if (this.#stateless.length > 0 || this.#queue.untransmitted !== 1) return undefined;
    const entry = this.#queue.nextToTransmit()!;
    if (entry.transmissions > 1) this.#stats.retransmits++;
    return entry.frame;
  }

  /** A new channel: every committed, unacknowledged frame goes again, in order (§5.7). */
  rewind(): void {
    // Acknowledged frames are not sent again.
    this.settle();
    this.#queue.rewind();
  }

  /** Cumulative ACK `n`: null when it acknowledges what we never sent, else the entries it covers (their waiters resolved). */
  ack(n: number): SendEntry[] | null {
    this.settle();
    if (!this.#queue.isPlausibleAck(n)) return null;
    return this.#applyAck(n);
  }

  #applyAck(n: number): SendEntry[] {
    const done = this.#queue.ack(n);
    for (let i = 0; i < done.length; i++) {
      const waiters = done[i]!.waiters;
      if (waiters !== null) for (const w of waiters) w.resolve();
    }
    if (done.length > 0) this.admit();
    return done;
  }

  /**
   * Defers cumulative ACK `n`, which arrived in front of more frames of one
   * received batch, to after those frames went to the reader: true when
   * deferred (the session calls `settle()` when the batch is done, and every
   * method here that depends on the queue's state calls it first); false
   * when it must be applied now (`ack`): it is not plausible (a `badAck`,
   * judged against what was sent when it arrived), our FIN is queued (its
   * ACK is a FIN event), or senders wait for room. Safe because nothing
   * between its arrival and `settle()` can tell the difference: the entries
   * it covers were all sent before it arrived, a later send that finds the
   * window full applies it first (`#hasRoom`), as do a rewind, a reset, our
   * FIN and the snapshot getters; only its `sendAcked()` resolutions (a
   * microtask later anyway) and the window's byte count wait.
   */
  deferAck(n: number): boolean {
    if (this.#stopTx || this.#waiters.length > 0 || !this.#queue.isPlausibleAck(n)) return false;
    if (this.#deferredAck >= 0) this.settle();
    this.#deferredAck = n;
    return true;
  }

  /** Applies a deferred ACK (`deferAck`), if any. */
  settle(): void {
    const n = this.#deferredAck;
    if (n < 0) return;
    this.#deferredAck = -1;
    this.#stats.acksReceived++;
    this.#applyAck(n);
  }

  /**
   * Session reset (§5.2): everything unacknowledged fails with `error`;
   * sequences restart. The session lets waiting senders in (`admit`) only
   * once the old session's channels are closed, so no new frame goes out on
   * one.
   */
  reset(error: MidcommsError): void {
    // An ACK that arrived before the reset counts (its `sendAcked()` waiters resolve, not fail).
    this.settle();
    for (const e of this.#queue.clear(this.#o.initialSeq)) for (const w of e.waiters ?? []) w.reject(error);
    this.#stats.droppedOnReset += this.#bare.length;
    this.#bare = [];
    this.#bareBytes = 0;
    this.#stopTx = false;
  }

  /**
   * The peer speaks 3.1: what was queued as sequenced goes out bare, without
   * FIN (§5.10). Returns true when a FIN was dropped (an active close has
   * nothing to do with a 3.1 peer).
   */
  becomeUnsequenced(): boolean {
    this.settle();
    for (const e of this.#queue.clear(this.#o.initialSeq)) {
      for (const w of e.waiters ?? []) w.reject(err('UNSEQUENCED', 'the peer speaks 3.1 and acknowledges nothing'));
      if (e.fin) continue;
      const inner = stampInner(e.frame.subarray(SIZE.OPTS), DLM_VERSION.V3_1, this.#o.nodeid);
      this.#bare.push(inner);
      this.#bareBytes += inner.length;
    }
    const hadFin = this.#stopTx;
    this.#stopTx = false;
    return hadFin;
  }

  /** The session is fenced (closed for good): every later send is refused with CLOSED, nobody waiting is let in. */
  fence(): void {
    this.#fenced = true;
  }

  /** Everybody waiting for room fails with `error` (fence). */
  rejectWaiting(error: Error): void {
    this.#waiters.rejectAll(error);
  }

  /** Let waiting senders in, first come first served, while there is room. */
  admit(): void {
    for (let w = this.#waiters.peek(); w !== undefined && !this.#fenced; w = this.#waiters.peek()) {
      if (this.#stopTx) {
        this.#waiters.shift();
        w.reject(err('STOP_TX', `our FIN to ${this.#host.peer} is sent; nothing may follow it`));
        continue;
      }
      if (!this.#hasRoom(w.message.length)) return;
      this.#waiters.shift();
      this.#commit(w.message, w.acked ? { resolve: w.resolve, reject: w.reject } : null, w.resolve);
    }
  }

  #check(message: Uint8Array): MidcommsError | null {
    if (this.#fenced) return err('CLOSED', `the session with ${this.#host.peer} is fenced`);
    return checkInnerMessage(message);
  }

  #hasRoom(bytes: number): boolean {
    if (this.#host.sequenced()) return this.#queue.fits(bytes + SIZE.OPTS, this.#o.windowMessages, this.#o.windowBytes) || this.#roomAfterAck(bytes);
    return this.#bare.length < this.#o.windowMessages && this.#bareBytes + bytes <= this.#o.windowBytes;
  }

  /** The window is full for `bytes` more: room once a deferred ACK is applied? (A full window never refuses what it would let in.) */
  #roomAfterAck(bytes: number): boolean {
    if (this.#deferredAck < 0) return false;
    this.settle();
    return this.#queue.fits(bytes + SIZE.OPTS, this.#o.windowMessages, this.#o.windowBytes);
  }

  /** Commits `message` for a sequenced peer and has it written; the caller counts it (`stats.sent`). */
  #commitSequenced(message: Uint8Array, ackWaiter: AckWaiter | null): void {
    this.#host.beforeSequenced();
    // The one copy of the send path: the message goes into its OPTS frame, stamped.
    const frame = encodeOptsStampedIn(this.#slab, DLM_VERSION.V3_2, this.#o.nodeid, this.#queue.seqSend, message);
    const entry = this.#queue.append(frame, false);
    if (ackWaiter !== null) entry.waiters = [ackWaiter];
    this.#host.transmit();
    // After the write: the next frame's slab, if this one is nearly full (a frame is at most MAX_MESSAGE).
    this.#slab.reserve(SIZE.MAX_MESSAGE);
  }

  #commit(message: Uint8Array, ackWaiter: AckWaiter | null, committed: () => void): void {
    if (this.#host.sequenced()) {
      this.#commitSequenced(message, ackWaiter);
      this.#stats.sent++;
      if (ackWaiter === null) committed();
      return;
    }
    if (ackWaiter !== null) ackWaiter.reject(err('UNSEQUENCED', 'a 3.1 peer acknowledges nothing'));
    const bare = stampInner(message, DLM_VERSION.V3_1, this.#o.nodeid);
    this.#bare.push(bare);
    this.#bareBytes += bare.length;
    this.#stats.sent++;
    if (ackWaiter === null) committed();
    this.#host.pump();
  }
}
