/**
 * One link: a Duplex stream turned into DMSG transactions (libdmsg's
 * `dmsg_iocom`). Reads with the FrameDecoder, checks the peer's sequence
 * numbers, matches messages to transactions with the state rules, batches
 * writes, keeps the link alive with LNK_PING, authenticates with LNK_AUTH,
 * and on any failure ends every open transaction, children first.
 *
 * Nothing the peer sends can throw out of it: every stream event and timer
 * (on the injected clock) runs guarded, subscriber exceptions cost the
 * transaction or the link (guarded-observer.ts), and a peer that does not
 * read what it is sent loses its link at maxQueuedBytes (LinkError LIMIT)
 * instead of making a send throw. With a Budget it also accounts what it
 * holds to the daemon (budget.ts). docs/limits.md lists every limit.
 *
 * Where each piece lives: what a received message does (sequence check,
 * auth gate, state rules, new transactions, one-way) in receive-dispatch.ts;
 * the transaction tables in transaction-tables.ts; how transactions end
 * when a parent or the link ends in transaction-failure.ts; the
 * state rules in state-rules.ts; one transaction in transaction.ts; the
 * write batching in write-queue.ts; LNK_AUTH's messages in auth.ts and the
 * handshake's gate, deadline and readiness in auth-phase.ts; plain sockets'
 * reads in socket-reader.ts; mid-stream messages handed to a raw observer
 * without decoding (the receive tap) in raw-observer.ts; the idle timeout and PINGs in keepalive.ts; ping() and
 * whenWritable() waiters in link-waiters.ts. This file keeps the link's
 * lifecycle: the stream hookup and read pausing, open/send, close/destroy
 * and the teardown.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Observable, ReplaySubject } from 'rxjs';
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { InvalidArgumentError } from '../wire/errors.ts';
import { FrameDecoder } from '../wire/frame-decoder.ts';
import { headerBytesForSend } from '../wire/frame-encoder.ts';
import type { Header } from '../wire/header.ts';
import { EMPTY, type Message } from '../wire/message.ts';
import { AuthHandshake } from './auth.ts';
import { AuthPhase } from './auth-phase.ts';
import { Keepalive } from './keepalive.ts';
import { channelBindingOf, isTlsStream } from './channel-binding.ts';
import { linkRoleOf } from '../util/link-role.ts';
import { LinkError, TransactionError, type LinkCloseReason } from './errors.ts';
import { resolveIocomOptions, type IocomOptions, type ResolvedIocomOptions } from './options.ts';
import { Multicast } from './multicast.ts';
import { GuardedObservable } from './guarded-observer.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import { Transaction, type SendOptions, type TransactionHost } from './transaction.ts';
import { WriteQueue, type PassFields } from './write-queue.ts';
import { readSocketInto } from './socket-reader.ts';
import type { BudgetAccount } from './budget.ts';
import type { OpenOptions, OneWayOptions, IocomStats } from './iocom-types.ts';
import { heldBytes, messageOf, unref } from './iocom-helpers.ts';
import { ReceiveDispatch } from './receive-dispatch.ts';
import { TransactionTables } from './transaction-tables.ts';
import { failChildren, failLink } from './transaction-failure.ts';
import { PingWaiters, WritableWaiters } from './link-waiters.ts';

export type { OpenOptions, OneWayOptions, IocomStats } from './iocom-types.ts';

type LinkState = 'open' | 'closing' | 'closed';

/** The flags forward() takes from a message, indexed by DELETE | ABORT << 1. */
const FORWARD_FLAGS: readonly SendOptions[] = [{}, { delete: true }, { abort: true }, { delete: true, abort: true }].map((o) => Object.freeze(o));

export class Iocom implements TransactionHost {
  readonly options: ResolvedIocomOptions;
  /** Transactions the peer opens. Subscribe to their `rx$` synchronously in the handler. */
  readonly transactions$: Observable<Transaction>;
  /** One-way messages (no transaction), except PING and AUTH, which the iocom handles. */
  readonly messages$: Observable<Message>;
  /** Emits once with the reason the link ended, then completes. */
  readonly closed$: Observable<LinkCloseReason>;
  /** Resolves when authentication is done (at once when none is configured); rejects if the link ends first. */
  readonly ready: Promise<void>;

  readonly #stream: Duplex;
  readonly #decoder: FrameDecoder;
  readonly #writer: WriteQueue;
  readonly #auth: AuthHandshake;
  /** The LNK_AUTH phase: gate, deadline, ready (auth-phase.ts). */
  readonly #authPhase: AuthPhase;
  readonly #transactions = new Multicast<Transaction>((err, tx) => this.handlerFailed(tx, err, 'transactions$'));
  readonly #messages = new Multicast<Message>((err) => this.#messageHandlerFailed(err));
  readonly #clock: Clock;
  /** This link's account in the daemon-wide budget, if any. */
  readonly #account: BudgetAccount | null;
  /** The open transactions, both tables (transaction-tables.ts). */
  readonly #tables = new TransactionTables();
  /** Where each received message goes (receive-dispatch.ts). */
  readonly #dispatch: ReceiveDispatch;
  /** Bytes of the messages held in #inbound while reading is paused. */
  #inboundBytes = 0;
  /** Round-trip times: performance.now under the system clock (sub-ms), else the injected clock. */
  readonly #rttNow: () => number;
  readonly #closed = new ReplaySubject<LinkCloseReason>(1);
  readonly #rxBatch: Message[] = [];
  readonly #inbound: Message[] = [];
  readonly #pingWaiters = new PingWaiters();
  readonly #writableWaiters = new WritableWaiters();
  #resolveReady!: () => void;
  #rejectReady!: (e: Error) => void;
  #state: LinkState = 'open';
  #readingPaused = false;
  /** A message taken by the pass-through during the current chunk had aux data (a view of the chunk). */
  #passLent = false;
  #streamPaused = false;
  /** The keepalive: idle timeout and PINGs (keepalive.ts). */
  readonly #keepalive: Keepalive;
  #closeTimer: unknown;
  #closePromise: Promise<void> | undefined;

  constructor(stream: Duplex, options?: IocomOptions) {
    this.options = resolveIocomOptions(options);
    this.#clock = this.options.clock;
    this.#rttNow = this.#clock === systemClock ? () => performance.now() : () => this.#clock.now();
    const cb = this.options.channelBinding;
    this.#auth = new AuthHandshake({
      keyPair: this.options.keyPair,
      allowedPeerKeys: this.options.allowedPeerKeys,
      role: this.options.role ?? linkRoleOf(stream),
      channelBound: cb === undefined ? isTlsStream(stream) : cb !== null,
      channelBinding: () => channelBindingOf(stream, cb),
    });
    this.#stream = stream;
    this.#decoder = new FrameDecoder({ maxHeaderBytes: this.options.maxHeaderBytes, maxAuxBytes: this.options.maxAuxBytes });
    // A socket is done with a written buffer once the write's callback ran: its slabs may be reused.
    this.#writer = new WriteQueue(stream, () => this.#checkWritable(), (err) => this.#internalFailure(err, 'writing'), stream instanceof Socket, this.options.earlyFlushBytes);
    const budget = this.options.budget;
    this.#account = budget === undefined ? null : budget.join({ name: this.options.name, authRequired: this.#auth.required, shed: (why) => this.#shed(why) });
    this.#tables.account = this.#account;
    this.#authPhase = new AuthPhase(this.#auth, this.options.name, this.options.authTimeoutMs, {
      sendAuth: (ext, aux) => {
        if (this.#state !== 'closed') this.#enqueue(DMSG.LNK_AUTH, 0, 0, 0, ext, aux, undefined, true);
      },
      setGate: (open) => this.#writer.setGate(open),
      authenticated: () => this.#account?.setAuthenticated(),
      ready: () => this.#resolveReady(),
      fail: (err) => this.destroy(err),
      setTimer: (fn, ms, what) => this.#setTimer(fn, ms, what),
      clearTimer: (handle) => this.#clock.clearTimeout(handle),
    });
    this.#keepalive = new Keepalive(this.options.name, this.options.pingIntervalMs, this.options.linkTimeoutMs, {
      now: () => this.#clock.now(),
      takeRxSeen: () => {
        const seen = this.#dispatch.rxSeen;
        this.#dispatch.rxSeen = false;
        return seen;
      },
      open: () => this.#state === 'open',
      closed: () => this.#state === 'closed',
      ping: () => this.#enqueue(DMSG.LNK_PING, 0, 0, 0, EMPTY, EMPTY, undefined, true),
      fail: (err) => this.destroy(err),
      setTimer: (fn, ms, what) => this.#setTimer(fn, ms, what),
      clearTimer: (handle) => this.#clock.clearTimeout(handle),
    });
    this.#dispatch = new ReceiveDispatch(this, this.options, this.#auth, this.#tables, this.#account, this.#transactions, this.#messages, {
      fail: (err) => this.destroy(err),
      auth: (msg) => this.#authPhase.receive(msg),
      plainMessage: () => this.#authPhase.plainMessage(),
      ping: (h) => this.#onPing(h),
    });
    this.transactions$ = this.#transactions;
    this.messages$ = this.#messages;
    this.closed$ = new GuardedObservable(this.#closed.asObservable(), (err) => this.#log(`${this.name}: a closed$ subscriber threw: ${messageOf(err)}`));
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // a link that dies before auth must not leave an unhandled rejection

    // Every entry point (stream events, timers) runs guarded: whatever throws
    // below costs this link only, never the process.
    // A plain socket reads into a buffer reused while no message points into it (socket-reader.ts); other streams emit 'data'.
    if (!readSocketInto(stream, this.#onChunk)) stream.on('data', this.#onChunk);
    stream.on('end', () => {
      try {
        this.#onEnd();
      } catch (err) {
        this.#internalFailure(err, 'ending');
      }
    });
    stream.on('error', (err: Error) => this.#guarded('a stream error', () => this.destroy(new LinkError('STREAM_ERROR', `${this.options.name}: stream error: ${err.message}`, { cause: err }))));
    stream.on('close', () => this.#guarded('closing', () => this.#onStreamClose()));

    this.#authPhase.start();
    this.#keepalive.start();
    if (this.#account?.refused !== undefined) this.#shed(this.#account.refused);
  }

  get name(): string {
    return this.options.name;
  }

  /** True until the link starts closing. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** The write queue's turn with an end-of-turn flush scheduled, or -1 (WriteQueue.turn; TransactionHost.sendTurn). @internal */
  get sendTurn(): number {
    return this.#writer.turn;
  }

  /** False while queued bytes are above the write high-water mark. */
  get writable(): boolean {
    return this.#writer.queuedBytes < this.options.writeHighWaterMark;
  }

  /** The verified peer's raw Ed25519 public key, if it authenticated. */
  get peerKey(): Uint8Array | undefined {
    return this.#auth.peerKey;
  }

  stats(): IocomStats {
    const w = this.#writer.stats;
    const d = this.#decoder.stats;
    return {
      messagesIn: this.#dispatch.messagesIn,
      messagesOut: w.messagesOut,
      bytesIn: d.bytesIn,
      bytesOut: w.bytesOut,
      dropped: this.#dispatch.dropped,
      weOpened: this.#tables.weOpened.size,
      peerOpened: this.#tables.peerOpened.size,
      queuedBytes: this.#writer.queuedBytes,
      bufferedBytes: this.#decoder.bufferedBytes,
      timers: (this.#keepalive.armed ? 1 : 0) + (this.#authPhase.running ? 1 : 0) + (this.#closeTimer ? 1 : 0),
    };
  }

  /** Resolves when queued bytes are below the write high-water mark. */
  whenWritable(signal?: AbortSignal): Promise<void> {
    if (this.writable || this.#state === 'closed') return Promise.resolve();
    return this.#writableWaiters.wait(signal);
  }

  /**
   * Open a transaction: sends `cmd|CREATE` (with DELETE too if `delete` is
   * set), stacked on `parent` if given.
   */
  open(cmd: number, opts: OpenOptions = {}): Transaction {
    this.#assertOpen();
    const parent = opts.parent ?? null;
    if (parent !== null) {
      if (!this.#tables.owns(parent)) throw new TransactionError('BAD_PARENT', `parent ${parent} does not belong to ${this.name}`);
      if (parent.freed || parent.dying) throw new TransactionError('BAD_PARENT', `parent ${parent} has ended`, DMSG_ERR.LOSTLINK);
      if (parent.depth >= this.options.maxDepth) throw new TransactionError('LIMIT', `stacking depth ${parent.depth + 1} exceeds maxDepth ${this.options.maxDepth}`);
    }
    const tables = this.#tables;
    if (tables.weOpened.size + tables.peerOpened.size >= this.options.maxTransactions) {
      // The table is full of transactions we closed and the peer never
      // answered: the peer does not read what it is sent (a relay's span
      // DELETEs to a sink). That is the peer's debt, not the caller's: the
      // link is shed, as for maxQueuedBytes, instead of refusing every later
      // open while the unanswered transactions hold memory for ever.
      const unanswered = tables.awaitingPeerDelete;
      if (unanswered * 2 >= this.options.maxTransactions) {
        this.#shed(`the peer has not answered ${unanswered} of our DELETEs and the transaction table is full; maxTransactions is ${this.options.maxTransactions}`);
        throw new TransactionError('LOST_LINK', `${this.name} was shed: the peer does not answer our DELETEs`, DMSG_ERR.LOSTLINK);
      }
      throw new TransactionError('LIMIT', `${this.name} already has ${this.options.maxTransactions} open transactions (maxTransactions)`);
    }
    // Counts up from 1, skipping ids whose slot an open transaction holds (own-id-table.ts).
    const id = tables.weOpened.nextId();
    const tx = new Transaction(this, id, undefined, false, parent, cmd);
    if (!tables.weOpened.add(tx)) throw new TransactionError('LIMIT', `${this.name}: the transaction table refused msgid ${id}`);
    this.#account?.setTransactions(tables.weOpened.size + tables.peerOpened.size);
    if (parent) parent._addChild(tx);
    this.#sendTx(tx, cmd, tx._txFlagBits(opts.delete === true, false), opts.error ?? 0, opts.ext ?? EMPTY, opts.aux ?? EMPTY);
    return tx;
  }

  /** Send a one-way message (no transaction: msgid 0, circuit 0). */
  sendOneWay(cmd: number, opts: OneWayOptions = {}): boolean {
    this.#assertOpen();
    const flags = opts.reply ? DMSGF.REPLY : 0;
    return this.#enqueue((cmd & DMSGF.BASECMDMASK) | flags, 0, 0, opts.error ?? 0, opts.ext ?? EMPTY, opts.aux ?? EMPTY, undefined, false) && this.writable;
  }

  /** Send LNK_PING and resolve with the round-trip time in ms when the peer's PING|REPLY arrives. */
  ping(signal?: AbortSignal): Promise<number> {
    this.#assertOpen();
    return this.#pingWaiters.wait(this.#rttNow, signal, () => this.sendOneWay(DMSG.LNK_PING));
  }

  /** Stop delivering received messages (they are held; past readHighWaterMark the stream is paused). */
  pauseReading(): void {
    this.#readingPaused = true;
  }

  /** Deliver held messages and resume the stream. */
  resumeReading(): void {
    if (!this.#readingPaused) return;
    this.#readingPaused = false;
    try {
      while (this.#inbound.length > 0 && !this.#readingPaused && this.#state !== 'closed') {
        const msg = this.#inbound.shift()!;
        this.#inboundBytes -= heldBytes(msg);
        this.#dispatch.receive(msg);
      }
      this.#account?.setBufferedBytes(this.#decoder.bufferedBytes + this.#inboundBytes);
    } catch (err) {
      this.#internalFailure(err, 'delivering held messages');
      return;
    }
    if (!this.#readingPaused && this.#streamPaused && this.#state !== 'closed') {
      this.#streamPaused = false;
      this.#stream.resume();
    }
  }

  /**
   * Graceful close: send what is queued, end our side of the stream, and
   * wait for the peer to end its side (at most linkTimeoutMs). Open
   * transactions then end with LOSTLINK. Idempotent; later calls await the first.
   */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    if (this.#state === 'closed') return (this.#closePromise = Promise.resolve());
    this.#state = 'closing';
    this.#closePromise = new Promise<void>((resolve) => {
      this.#closed.subscribe({ complete: () => resolve() });
    });
    // Held messages go out only to a peer we may talk to: never to one that
    // still owes the proof of an allowed key (they are dropped instead).
    if (this.#auth.acceptsMessages) this.#writer.setGate(true);
    this.#writer.end(); // after everything queued, even what waits for 'drain'
    this.#closeTimer = this.#setTimer(() => this.destroy(), this.options.linkTimeoutMs || 10000, 'the close deadline');
    return this.#closePromise;
  }

  /** Immediate close: drop what is queued, destroy the stream, end every transaction. Idempotent. */
  destroy(err?: Error): void {
    if (this.#state === 'closed') return;
    try {
      this.#teardown(err ? { kind: 'error', error: err } : { kind: 'closed' });
    } finally {
      // Whatever the teardown met, the socket goes: a shed peer that keeps
      // writing must see its connection closed (reset), not an open socket
      // that nobody reads (hostile 4b).
      this.#stream.destroy();
    }
  }

  // ---- TransactionHost --------------------------------------------------

  /** @internal */
  sendInTransaction(tx: Transaction, cmd: number, opts: SendOptions | undefined): boolean {
    this.#assertOpen();
    const queued = this.#sendTx(tx, cmd, tx._txFlags(opts), opts?.error ?? 0, opts?.ext ?? EMPTY, opts?.aux ?? EMPTY);
    if (opts?.flush === true) this.#writer.flush();
    return queued;
  }

  /** Queue a message of `tx` with the flags its state gave (`_txFlags`), then settle the state. */
  #sendTx(tx: Transaction, cmd: number, flags: number, error: number, ext: Uint8Array, aux: Uint8Array): boolean {
    const circuit = tx.parent === null ? 0 : tx.parent._id;
    if (!this.#enqueue(((cmd & DMSGF.BASECMDMASK) | flags) >>> 0, tx._id, circuit, error, ext, aux, undefined, false)) return false;
    tx._afterSend();
    this.#tables.noteDeleteSent(tx);
    return this.writable;
  }

  /**
   * Relay a received message into `tx` (libdmsg's dmsg_state_relay): its
   * command, DELETE and ABORT flags, error, extended header, aux and aux CRC
   * and reserved fields pass through; msgid, circuit, the other flags, salt
   * and header CRC are this link's. Allocates nothing per message. @internal
   */
  forward(tx: Transaction, msg: Message): boolean {
    // The decoded header has the pass-through fields under the same names.
    return this.forwardFields(tx, msg.header.cmd, msg.header.error, msg.ext, msg.aux, msg.header);
  }

  /**
   * forward() from a received message's fields (cmd word, error, extended
   * header, aux data and the pass-through header fields), for the relay
   * receive tap (raw-observer.ts), which builds no Message. @internal
   */
  forwardFields(tx: Transaction, cmd: number, error: number, ext: Uint8Array, aux: Uint8Array, pass: PassFields): boolean {
    this.#assertOpen();
    const flags = tx._txFlags(FORWARD_FLAGS[((cmd & DMSGF.DELETE) !== 0 ? 1 : 0) | ((cmd & DMSGF.ABORT) !== 0 ? 2 : 0)]);
    const circuit = tx.parent === null ? 0 : tx.parent._id;
    if (!this.#enqueue(((cmd & DMSGF.BASECMDMASK) | flags) >>> 0, tx._id, circuit, error, ext, aux, pass, false)) return false;
    tx._afterSend();
    this.#tables.noteDeleteSent(tx);
    return this.writable;
  }

  /**
   * Set the receive tap (raw-observer.ts): mid-stream messages of a
   * transaction whose only rx$ observer is a raw observer are handed to it
   * without being decoded into Messages. Transaction.subscribeRaw calls it.
   * Stays on for the link's life; messages of other transactions take the
   * general path as before. @internal
   */
  enableRawTap(): void {
    this.#decoder.passThrough ??= this.#passThrough;
  }

  /**
   * The decoder's receive tap: only while messages are dispatched at once
   * (open, not paused) and no auth handshake runs (its deadline: a plain
   * message then has a part in the handshake, see AuthPhase.plainMessage).
   */
  readonly #passThrough = (W: Int32Array, w: number, aux: Uint8Array): boolean => {
    if (this.#state !== 'open' || this.#readingPaused || this.#authPhase.running) return false;
    if (!this.#dispatch.passThrough(W, w, aux)) return false;
    // The aux view went to the observer (a relay's write queue, a channel's reader), as a decoded message's would: the chunk is lent (see #deliverBatch).
    if (aux.length !== 0) this.#passLent = true;
    return true;
  };

  /**
   * A subscriber of `tx`'s rx$ (or of transactions$, delivering `tx`)
   * threw: that costs the transaction, which is aborted, not the link. @internal
   */
  handlerFailed(tx: Transaction | undefined, err: unknown, where = 'rx$'): void {
    this.#log(`${this.name}: a ${where} subscriber threw${tx ? ` on ${tx}` : ''}: ${messageOf(err)}; ${tx ? 'aborting the transaction' : 'ignored'}`);
    if (tx === undefined || tx.freed || tx.dying || this.#state !== 'open') return;
    try {
      tx.abort(DMSG_ERR.IO);
    } catch (abortErr) {
      this.#internalFailure(abortErr, 'aborting a transaction whose handler threw');
    }
  }

  /** @internal */
  release(tx: Transaction): void {
    const tables = this.#tables;
    tables.forget(tx);
    if (tx._childCount > 0) failChildren(tables, tx);
  }

  // ---- internals ----------------------------------------------------------

  #assertOpen(): void {
    if (this.#state !== 'open') throw new TransactionError('LOST_LINK', `${this.name} is ${this.#state}`, DMSG_ERR.LOSTLINK);
  }

  /**
   * The one way onto the wire: validates sizes and the queue limit, then
   * hands the message to the writer. A message past maxQueuedBytes sheds the
   * link (the peer does not read what it is sent) and returns false: it never
   * throws for the queue, so no receive path or timer can throw from here.
   * An aux over 1 MiB is the caller's error (InvalidArgumentError).
   */
  #enqueue(cmd: number, msgid: number | bigint, circuit: number | bigint, error: number, ext: Uint8Array, aux: Uint8Array, pass: PassFields | undefined, bypassGate: boolean): boolean {
    const hb = headerBytesForSend(cmd, ext.length);
    if (aux.length > 1 << 20) throw new InvalidArgumentError(`aux of ${aux.length} bytes exceeds the 1 MiB DMSG limit`);
    if (this.#state === 'closed') return false;
    const queued = this.#writer.queuedBytes;
    if (queued + hb + aux.length > this.options.maxQueuedBytes) {
      this.#shed(`${queued} bytes queued and not read by the peer; maxQueuedBytes is ${this.options.maxQueuedBytes}`);
      return false;
    }
    this.#writer.enqueue(cmd, msgid, circuit, error, ext, aux, pass, bypassGate);
    this.#account?.setQueuedBytes(this.#writer.queuedBytes);
    return true;
  }

  /** Close the link for a limit: LinkError LIMIT, one log line. */
  #shed(why: string): void {
    const err = new LinkError('LIMIT', `${this.name}: link shed: ${why}`);
    this.#log(err.message);
    this.destroy(err);
  }

  #log(line: string): void {
    const log = this.options.log;
    if (log === undefined) return;
    try {
      log(line);
    } catch {
      // A broken logger must not take the link down with it.
    }
  }

  /** A messages$ subscriber threw on a peer's message: the link that brought it is closed. */
  #messageHandlerFailed(err: unknown): void {
    const e = new LinkError('HANDLER_FAILED', `${this.name}: a messages$ subscriber threw: ${messageOf(err)}`, { cause: err });
    this.#log(e.message);
    this.destroy(e);
  }

  /** The last line of defence on an entry point: an unexpected exception closes this link only. */
  #internalFailure(err: unknown, during: string): void {
    const e = new LinkError('INTERNAL', `${this.name}: unexpected exception while ${during}: ${messageOf(err)}`, { cause: err });
    this.#log(e.message);
    try {
      this.destroy(e);
    } catch {
      // destroy() runs guarded subscribers only; nothing more can be done here.
    }
  }

  #guarded(during: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#internalFailure(err, during);
    }
  }

  /** A timer on the injected clock that runs guarded and does not keep the process alive. */
  #setTimer(fn: () => void, ms: number, what: string): unknown {
    const handle = this.#clock.setTimeout(() => this.#guarded(what, fn), ms);
    unref(handle);
    return handle;
  }

  #checkWritable(): void {
    this.#account?.setQueuedBytes(this.#writer.queuedBytes);
    if (this.#writableWaiters.size === 0 || !this.writable) return;
    this.#writableWaiters.wakeAll();
  }

  /** The stream's bytes (guarded); true when views of `chunk` outlive the call (see #deliverBatch). */
  readonly #onChunk = (chunk: Uint8Array): boolean => {
    try {
      return this.#onData(chunk);
    } catch (err) {
      this.#internalFailure(err, 'receiving');
      return true;
    }
  };

  #onData(chunk: Uint8Array): boolean {
    if (this.#state === 'closed') return false;
    const batch = this.#rxBatch;
    this.#passLent = false;
    try {
      this.#decoder.pushInto(chunk, batch);
    } catch (err) {
      // Deliver what was complete before the bad bytes, then fail the link.
      this.#deliverBatch(batch);
      this.destroy(err as Error);
      return true;
    }
    const lent = this.#deliverBatch(batch) || this.#passLent;
    if ((this.#state as LinkState) === 'closed') return lent;
    const partial = this.#decoder.bufferedBytes;
    // An unauthenticated peer gets a small receive buffer, whatever maxAuxBytes allows.
    if (partial > this.options.preAuthBufferBytes && !this.#auth.acceptsMessages) {
      this.#shed(`the peer has not authenticated and sent ${partial} bytes of one message; preAuthBufferBytes is ${this.options.preAuthBufferBytes}`);
      return lent;
    }
    this.#account?.setBufferedBytes(partial + this.#inboundBytes);
    return lent;
  }

  /**
   * Receive (or hold, while reading is paused) each decoded message. Returns
   * true when one carries aux data or an extended header: those are views of
   * the chunk read (or of the decoder's own buffer), so a reused read buffer
   * must not be read into again (socket-reader.ts).
   */
  #deliverBatch(batch: Message[]): boolean {
    let lent = false;
    for (let i = 0; i < batch.length; i++) {
      if (this.#state === 'closed') break;
      const msg = batch[i]!;
      if (msg.aux.length !== 0 || msg.ext.length !== 0) lent = true;
      if (this.#readingPaused) {
        this.#inbound.push(msg);
        this.#inboundBytes += heldBytes(msg);
        if (this.#inbound.length >= this.options.readHighWaterMark && !this.#streamPaused) {
          this.#streamPaused = true;
          this.#stream.pause();
        }
      } else {
        this.#dispatch.receive(msg);
      }
    }
    batch.length = 0;
    return lent;
  }

  /** A LNK_PING outside any transaction: answer it, or end a ping() round trip on its REPLY. */
  #onPing(h: Header): void {
    if (h.cmd & DMSGF.REPLY) {
      this.#pingWaiters.answer(this.#rttNow);
    } else if (this.#state === 'open') {
      this.#enqueue(DMSG.LNK_PING | DMSGF.REPLY, h.msgid, h.circuit, 0, EMPTY, EMPTY, undefined, false);
    }
  }

  #onEnd(): void {
    try {
      this.#decoder.end();
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (this.#state === 'open') {
      // The peer ended its side: finish ours, then end.
      this.#writer.flush();
      this.#stream.end();
    }
    // Our own close() ended first: the peer's end completes it.
    this.#teardown(this.#state === 'closing' ? { kind: 'closed' } : { kind: 'peer-closed' });
  }

  #onStreamClose(): void {
    if (this.#state === 'closed') return;
    this.#teardown(this.#state === 'closing' ? { kind: 'closed' } : { kind: 'peer-closed' });
  }

  #teardown(reason: LinkCloseReason): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#dispatch.linkClosed = true;
    this.#keepalive.stop();
    this.#authPhase.stop();
    if (this.#closeTimer) this.#clock.clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#writer.close();
    this.#inbound.length = 0;
    this.#inboundBytes = 0;
    this.#account?.leave();
    const cause = reason.kind === 'error' ? reason.error : new LinkError('LINK_CLOSED', `${this.name}: link closed${reason.kind === 'peer-closed' ? ' by the peer' : ''}`);
    failLink(this.#tables, cause);
    this.#rejectReady(cause);
    this.#pingWaiters.rejectAll(() => new TransactionError('LOST_LINK', `ping() on ${this.name}: the link ended before the reply`, DMSG_ERR.LOSTLINK, { cause }));
    this.#writableWaiters.wakeAll();
    this.#closed.next(reason);
    this.#closed.complete();
    this.#transactions.complete();
    this.#messages.complete();
  }
}
