/**
 * One open transaction (libdmsg's `dmsg_state`): its msgid, the parent it is
 * stacked on (the circuit), its children, and the half-close state of each
 * direction. Freed only when DELETE has gone both ways.
 */
import type { Observable, Observer, Subscription } from 'rxjs';
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { describeCmd } from '../wire/cmd.ts';
import type { Message } from '../wire/message.ts';
import { TransactionError } from './errors.ts';
import { Multicast } from './multicast.ts';
import type { RawObserver } from './raw-observer.ts';

/** Options of a message sent within a transaction. */
export interface SendOptions {
  /** Bytes of the extended header after the first 64 (must fit the cmd's size). */
  ext?: Uint8Array;
  /** Aux data (at most 1 MiB). The buffer is sent as is: do not change it afterwards. */
  aux?: Uint8Array;
  /** `head.error`. @default 0 */
  error?: number;
  /** Send DELETE with this message: our side of the transaction ends. */
  delete?: boolean;
  /** Set the ABORT modifier. */
  abort?: boolean;
  /**
   * Write this message, with whatever the link queued before it, to the
   * stream now instead of at the end of the turn: for the first message of
   * a request or reply, so the peer can start on it while this side is
   * still unwinding. Messages queued after it in the same turn still go in
   * one write at the turn's end. No effect while the stream wants 'drain'.
   * @default false
   */
  flush?: boolean;
}

/** What a Transaction needs from the iocom that owns it. */
export interface TransactionHost {
  readonly name: string;
  /** False once the link is closing or closed. */
  readonly isOpen: boolean;
  /** Queue a message of this transaction; returns false when the link is above its write high-water mark. */
  sendInTransaction(tx: Transaction, cmd: number, opts: SendOptions | undefined): boolean;
  /** Both directions are closed: drop the transaction from the tables. */
  release(tx: Transaction): void;
  /** A subscriber of the transaction's rx$ threw (the transaction is aborted; the link lives on). */
  handlerFailed(tx: Transaction, err: unknown): void;
  /** False while the link's queued bytes are above its write high-water mark. */
  readonly writable: boolean;
  /** Resolves when the link is writable again or closed; rejects with CANCELLED on `signal`. */
  whenWritable(signal?: AbortSignal): Promise<void>;
  /**
   * Set the receive tap on the link (raw-observer.ts): a raw observer
   * subscribed. Absent where no message is received from bytes (a local link).
   */
  enableRawTap?(): void;
  /**
   * The link's write-queue turn whose end-of-turn flush is scheduled, or -1
   * (see `Transaction.linkTurn`). Absent where there is no write queue (a local link).
   */
  readonly sendTurn?: number;
}

/** A transaction's rx$: a throwing subscriber costs the transaction (no closure per transaction). */
class RxMulticast extends Multicast<Message> {
  readonly #tx: Transaction;
  readonly #host: TransactionHost;
  constructor(tx: Transaction, host: TransactionHost) {
    super();
    this.#tx = tx;
    this.#host = host;
  }
  override observerFailed(err: unknown): void {
    this.#host.handlerFailed(this.#tx, err);
  }
}

/** Transaction state bits (Transaction.#state). */
const S_TX_CREATED = 1;
const S_TX_DELETED = 2;
const S_RX_CREATED = 4;
const S_RX_DELETED = 8;
const S_ABORT_SENT = 16;
const S_DYING = 32;
const S_FREED = 64;
const S_RX_ENDED = 128;
/** Counted in the host's awaiting-peer-DELETE tally (our DELETE sent, the peer's not yet received). */
const S_AWAITING = 256;
/** In its parent's list of children (_addChild / _removeChild). */
const S_LINKED = 512;

/** The options of reply(0) and close(0) without ext or aux: one shared object, not one per reply. */
const REPLY_OK: SendOptions = Object.freeze({ error: 0, delete: true });

export class Transaction {
  /**
   * The msgid as the link's table key: a number when it is a safe integer
   * (every msgid we choose; Map lookups of numbers are cheaper than of
   * BigInts, and the writer stores numbers without conversion), else the bigint. @internal
   */
  readonly _id: number | bigint;
  /** True when the peer opened it (libdmsg's OPPOSITE flag). */
  readonly openedByPeer: boolean;
  /** The transaction this one is stacked on (its circuit), or null at the top level. */
  readonly parent: Transaction | null;
  /** The base command (no flags) of the CREATE that opened it. */
  readonly icmd: number;
  /** Stacking depth: 1 for a top-level transaction. */
  readonly depth: number;
  /**
   * Open sub-transactions stacked on this one, in the order they were
   * stacked: an intrusive doubly-linked list through their `_sibPrev` /
   * `_sibNext`, not a Set per parent (a span's transaction carries every
   * transaction relayed on it, and a Set's add/delete churn was a large
   * share of a relay's garbage). @internal
   */
  _childHead: Transaction | null = null;
  /** @internal */
  _childTail: Transaction | null = null;
  /** How many open sub-transactions are stacked on this one. @internal */
  _childCount = 0;
  /** This transaction's neighbours in its parent's list of children. @internal */
  _sibPrev: Transaction | null = null;
  /** @internal */
  _sibNext: Transaction | null = null;
  /** The message that opened it (for peer-opened transactions), else null. */
  first: Message | null = null;
  /** Anything the application wants to keep with the transaction. */
  context: unknown = undefined;
  /**
   * The span layer's relay pairing (span/relay.ts), kept here rather than in
   * a WeakMap: an insertion per relayed transaction into a weak table was
   * ~5% of a relay's CPU plus ephemeron work in every GC. Opaque to iocom. @internal
   */
  _relay: unknown = undefined;
  /** The span layer's per-router facts (span/tx-slots.ts: role, host, opened), for the same reason. Opaque to iocom. @internal */
  _span: unknown = undefined;

  readonly #host: TransactionHost;
  /** Made on first read when the transaction was opened with a number id. */
  #msgid: bigint | undefined;
  /** Made when rx$ is first read: a transaction nobody listens to costs nothing for it. */
  #rx: Multicast<Message> | null = null;
  #rxError: Error | undefined = undefined;
  /** Set when the link failed under a transaction nobody listened to: its LOST_LINK error is made only if rx$ is read. */
  #lostCause: Error | null | undefined = undefined;
  /**
   * The state flags in one small integer (S_* bits: CREATE/DELETE sent and
   * received, abort sent, dying, freed, rx$ ended; #rxError says how rx$
   * ended, undefined: completed): one field instead of eight per
   * transaction (a relay holds hundreds of thousands).
   */
  #state = 0;

  /** @param msgid the bigint of `id`, if the caller has it (a received header's) */
  constructor(host: TransactionHost, id: number | bigint, msgid: bigint | undefined, openedByPeer: boolean, parent: Transaction | null, icmd: number) {
    this.#host = host;
    this._id = id;
    this.#msgid = msgid;
    this.openedByPeer = openedByPeer;
    this.parent = parent;
    this.icmd = icmd & DMSGF.BASECMDMASK;
    this.depth = parent === null ? 1 : parent.depth + 1;
    // S_TX_CREATED clear: the first message we send carries CREATE.
    if (openedByPeer) this.#state = S_RX_CREATED;
  }

  /** The msgid chosen by whoever opened the transaction. */
  get msgid(): bigint {
    return (this.#msgid ??= BigInt(this._id));
  }

  /** Messages the peer sends in this transaction; completes on its DELETE, errors on ABORT or a lost link. */
  get rx$(): Observable<Message> {
    if (this.#rx === null) {
      this.#rx = new RxMulticast(this, this.#host);
      // Ended before anyone looked: a late subscriber still sees the end.
      if ((this.#state & S_RX_ENDED) !== 0) {
        const error = this.#rxError ?? this.#lostLinkError();
        if (error) this.#rx.error(error);
        else this.#rx.complete();
      }
    }
    return this.#rx;
  }

  /**
   * Subscribe `observer` to rx$ as a raw observer (raw-observer.ts): while
   * it is rx$'s only subscriber, the link may hand it mid-stream messages
   * through `rawNext` instead of decoding them for `next`. Sets the receive
   * tap on the link. @internal
   */
  subscribeRaw(observer: RawObserver & Partial<Observer<Message>>): Subscription {
    this.#host.enableRawTap?.();
    return this.rx$.subscribe(observer);
  }

  /** The raw observer's rawNext threw: what a throwing rx$ subscriber costs (the transaction). @internal */
  _rawObserverFailed(err: unknown): void {
    this.#host.handlerFailed(this, err);
  }

  /** Open sub-transactions stacked on this one (a snapshot, in the order they were stacked). */
  get children(): ReadonlySet<Transaction> {
    return new Set(this._childList());
  }

  /** The open children, in the order they were stacked (a new array). @internal */
  _childList(): Transaction[] {
    const out: Transaction[] = [];
    for (let c = this._childHead; c !== null; c = c._sibNext) out.push(c);
    return out;
  }

  /** Stack `tx` (whose parent is this one) at the end of the children; a second add is a no-op. @internal */
  _addChild(tx: Transaction): void {
    if ((tx.#state & S_LINKED) !== 0 || tx.parent !== this) return;
    tx.#state |= S_LINKED;
    tx._sibPrev = this._childTail;
    tx._sibNext = null;
    if (this._childTail === null) this._childHead = tx;
    else this._childTail._sibNext = tx;
    this._childTail = tx;
    this._childCount++;
  }

  /** Unstack `tx` from the children; a no-op if it is not among them. @internal */
  _removeChild(tx: Transaction): void {
    if ((tx.#state & S_LINKED) === 0 || tx.parent !== this) return;
    tx.#state &= ~S_LINKED;
    const prev = tx._sibPrev;
    const next = tx._sibNext;
    if (prev === null) this._childHead = next;
    else prev._sibNext = next;
    if (next === null) this._childTail = prev;
    else next._sibPrev = prev;
    tx._sibPrev = tx._sibNext = null;
    this._childCount--;
  }

  /** Our CREATE has been sent. */
  get txCreated(): boolean { return (this.#state & S_TX_CREATED) !== 0; }
  /** Our DELETE has been sent: nothing more may be sent but an ABORT. */
  get txDeleted(): boolean { return (this.#state & S_TX_DELETED) !== 0; }
  get rxCreated(): boolean { return (this.#state & S_RX_CREATED) !== 0; }
  /** The peer's DELETE has arrived (or was simulated). */
  get rxDeleted(): boolean { return (this.#state & S_RX_DELETED) !== 0; }
  /** The link is lost or a parent ended: nothing more is sent. */
  get dying(): boolean { return (this.#state & S_DYING) !== 0; }
  /** DELETE went both ways (or the transaction failed): it is gone from the tables. */
  get freed(): boolean { return (this.#state & S_FREED) !== 0; }
  /** True while messages can still be sent on it. */
  get canSend(): boolean { return (this.#state & S_TX_DELETED) === 0 && (this.#state & S_DYING) === 0 && this.#host.isOpen; }

  /**
   * Per-transaction flow control: true while a message sent now would not
   * take the link's write queue past its high-water mark (the link this
   * transaction is on: for a transaction opened through a router, the first
   * hop). False too once the transaction can no longer send (`canSend`).
   * A producer checks it and waits with `whenWritable()` when it is false,
   * so its memory stays bounded; it never needs to catch a LIMIT.
   */
  get writable(): boolean {
    return this.canSend && this.#host.writable;
  }

  /**
   * The number of the link's current turn while its end-of-turn flush is
   * scheduled, else -1 (also where the link has no write queue: a local
   * link). A sender that reads a number after sending and the same number
   * later is still in the turn of that send (WriteQueue.turn). @internal
   */
  get linkTurn(): number {
    return this.#host.sendTurn ?? -1;
  }

  /**
   * Resolves when `writable` turns true. Rejects with TransactionError
   * LOST_LINK (the link or a parent ended) or CLOSED (our DELETE was sent)
   * when the transaction can no longer send, at once or while waiting, and
   * with CANCELLED when `signal` aborts.
   */
  async whenWritable(signal?: AbortSignal): Promise<void> {
    for (;;) {
      this.#assertCanSend('whenWritable()');
      if (this.#host.writable) return;
      await this.#host.whenWritable(signal);
    }
  }

  #assertCanSend(what: string): void {
    if ((this.#state & S_DYING) !== 0 || !this.#host.isOpen) throw new TransactionError('LOST_LINK', `${what} on transaction 0x${this.msgid.toString(16)} of ${this.#host.name}: the link or a parent transaction is gone`, DMSG_ERR.LOSTLINK);
    if ((this.#state & S_TX_DELETED) !== 0) throw new TransactionError('CLOSED', `${what} on transaction 0x${this.msgid.toString(16)} of ${this.#host.name}: our side already sent DELETE`);
  }

  /**
   * Send a message in this transaction. The flags come from the state:
   * CREATE on our first message, REPLY if the peer opened it, REVTRANS and
   * REVCIRC as the receiver needs them. Returns false when the link is
   * above its write high-water mark (see `writable`, `whenWritable()`), and
   * false when the message was not queued because the link was shed for
   * its queue limit (maxQueuedBytes: the link then closes with LinkError
   * LIMIT and the transaction ends with LOST_LINK). It never throws for the
   * queue. Throws TransactionError CLOSED after our DELETE, LOST_LINK when
   * dying (check `canSend` first on a receive path).
   */
  send(cmd: number, opts?: SendOptions): boolean {
    if ((this.#state & S_DYING) !== 0) throw new TransactionError('LOST_LINK', `cannot send ${describeCmd(cmd)} on transaction 0x${this.msgid.toString(16)} of ${this.#host.name}: the link or a parent transaction is gone`, DMSG_ERR.LOSTLINK);
    if ((this.#state & S_TX_DELETED) !== 0) {
      // ABORT|DELETE may follow a DELETE once (abort-after-DELETE).
      if (opts?.abort && opts.delete && (this.#state & S_ABORT_SENT) === 0 && (this.#state & S_FREED) === 0) {
        this.#state |= S_ABORT_SENT;
        return this.#host.sendInTransaction(this, cmd, opts);
      }
      throw new TransactionError('CLOSED', `cannot send ${describeCmd(cmd)} on transaction 0x${this.msgid.toString(16)} of ${this.#host.name}: our side already sent DELETE`);
    }
    if (opts?.abort && opts.delete) this.#state |= S_ABORT_SENT;
    return this.#host.sendInTransaction(this, cmd, opts);
  }

  /** A status result that leaves the transaction open (LNK_ERROR, `dmsg_state_result`). */
  result(error = 0, opts?: Omit<SendOptions, 'error' | 'delete'>): boolean {
    return this.send(DMSG.LNK_ERROR, { ...opts, error });
  }

  /** A final status that ends our side (LNK_ERROR|DELETE, `dmsg_state_reply`). */
  reply(error = 0, opts?: Omit<SendOptions, 'error' | 'delete'>): boolean {
    return this.send(DMSG.LNK_ERROR, opts === undefined ? (error === 0 ? REPLY_OK : { error, delete: true }) : { ...opts, error, delete: true });
  }

  /** End our side with DELETE, after everything already queued. Idempotent. */
  close(error = 0): void {
    if ((this.#state & S_TX_DELETED) !== 0 || (this.#state & S_DYING) !== 0) return;
    this.send(DMSG.LNK_ERROR, error === 0 ? REPLY_OK : { error, delete: true });
  }

  /** Abort: ABORT|DELETE, allowed once even after our DELETE. Idempotent. */
  abort(error = 0): void {
    if ((this.#state & S_DYING) !== 0 || (this.#state & S_FREED) !== 0 || (this.#state & S_ABORT_SENT) !== 0) return;
    this.send(DMSG.LNK_ERROR, { error, delete: true, abort: true });
  }

  /** The flag bits the state adds to an outgoing cmd (and records what it sends). @internal */
  _txFlags(opts: SendOptions | undefined): number {
    return opts === undefined ? this._txFlagBits(false, false) : this._txFlagBits(opts.delete === true, opts.abort === true);
  }

  /** _txFlags with the DELETE and ABORT choices given directly (no options object). @internal */
  _txFlagBits(del: boolean, abort: boolean): number {
    let flags = 0;
    if ((this.#state & S_TX_CREATED) === 0) {
      flags |= DMSGF.CREATE;
      this.#state |= S_TX_CREATED;
    }
    if (this.openedByPeer) flags |= DMSGF.REPLY | DMSGF.REVTRANS;
    if (this.parent?.openedByPeer) flags |= DMSGF.REVCIRC;
    if (abort) flags |= DMSGF.ABORT;
    if (del) {
      flags |= DMSGF.DELETE;
      this.#state |= S_TX_DELETED;
    }
    return flags;
  }

  /**
   * After a send: true the first time our DELETE is out, the transaction
   * not freed and the peer's DELETE not received (the host then counts it
   * as awaiting the peer). @internal
   */
  _awaitPeerDelete(): boolean {
    const s = this.#state;
    if ((s & (S_TX_DELETED | S_RX_DELETED | S_FREED | S_AWAITING)) !== S_TX_DELETED) return false;
    this.#state = s | S_AWAITING;
    return true;
  }

  /** When the host forgets it: true if it was counted as awaiting the peer's DELETE (the mark is cleared). @internal */
  _peerDeleteCame(): boolean {
    if ((this.#state & S_AWAITING) === 0) return false;
    this.#state &= ~S_AWAITING;
    return true;
  }

  /** Our DELETE is queued: free the transaction if the peer's came already. @internal */
  _afterSend(): void {
    if ((this.#state & S_TX_DELETED) !== 0 && (this.#state & S_RX_DELETED) !== 0 && (this.#state & S_FREED) === 0) this.#host.release(this);
  }

  /**
   * The observer a message _receive()d now (without CREATE or DELETE) would
   * reach, when rx$ has exactly one subscriber and it is an observer object
   * (the receive tap hands it raw messages if it is a raw observer). @internal
   */
  _rxSoleObserver(): unknown {
    return this.#rx === null ? undefined : this.#rx.soleObserver();
  }

  /** Deliver a message the peer sent in this transaction. @internal */
  _receive(msg: Message): void {
    const cmd = msg.header.cmd;
    if (cmd & DMSGF.CREATE) this.#state |= S_RX_CREATED;
    this.#rx?.next(msg);
    if (cmd & DMSGF.DELETE) {
      this.#state |= S_RX_DELETED;
      const error = cmd & DMSGF.ABORT ? new TransactionError('ABORTED', `peer aborted transaction 0x${this.msgid.toString(16)} (${describeCmd(this.icmd)}) with error 0x${msg.header.error.toString(16)}`, msg.header.error) : undefined;
      this.#state |= S_RX_ENDED;
      this.#rxError = error;
      if (this.#rx !== null) {
        if (error) this.#rx.error(error);
        else this.#rx.complete();
      }
      if ((this.#state & S_TX_DELETED) !== 0 && (this.#state & S_FREED) === 0) this.#host.release(this);
    }
  }

  /**
   * The failure simulation for this transaction alone (children are the
   * caller's job, first): mark it dying and deliver the peer DELETE the
   * link can no longer bring, with DMSG_ERR_LOSTLINK. @internal
   */
  _fail(synthetic: Message, cause: Error | undefined): void {
    this.#state |= S_DYING;
    if ((this.#state & S_RX_DELETED) === 0) {
      this.#state |= S_RX_DELETED;
      this.#state |= S_RX_ENDED;
      if (this.#rx === null) {
        // Nobody listens (yet): a link with 65,000 such transactions tears down
        // without building 65,000 errors and their stack traces.
        this.#lostCause = cause ?? null;
        return;
      }
      this.#rx.next(synthetic);
      const error = this.#makeLostLinkError(cause);
      this.#rxError = error;
      this.#rx.error(error);
    }
  }


  /**
   * Made without a stack trace: it is synthesized by the failure simulation
   * (the stack would show the teardown, not the user's code; the cause says
   * why), and a shed link with 65,000 open transactions would otherwise
   * capture 65,000 stacks (hundreds of MB of garbage at once).
   */
  #makeLostLinkError(cause: Error | undefined): TransactionError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new TransactionError('LOST_LINK', `transaction 0x${this.msgid.toString(16)} (${describeCmd(this.icmd)}) ended: ${cause ? cause.message : 'link lost'}`, DMSG_ERR.LOSTLINK, cause ? { cause } : undefined);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  #lostLinkError(): Error | undefined {
    if (this.#lostCause === undefined) return undefined;
    this.#rxError = this.#makeLostLinkError(this.#lostCause ?? undefined);
    this.#lostCause = undefined;
    return this.#rxError;
  }

  /** @internal */
  _markFreed(): void {
    this.#state |= S_FREED;
  }

  /** Mark dying without a message (the link is being destroyed and this one already saw DELETE). @internal */
  _markDying(): void {
    this.#state |= S_DYING;
  }

  toString(): string {
    return `Transaction(0x${this.msgid.toString(16)} ${describeCmd(this.icmd)}${this.openedByPeer ? ' peer' : ''} depth=${this.depth})`;
  }
}
