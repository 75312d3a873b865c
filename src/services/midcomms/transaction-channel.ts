/**
 * A midcomms channel over one DMSG transaction on the peer's `midcomms`
 * service instance: the only place that touches transactions.
 *
 * How frames share a DMSG message: the first frame written in a tick goes
 * to the transaction at once as the aux of its own `MIDCOMMS_FRAME` message
 * (a request or reply pays no batch bookkeeping); frames written after it in
 * the same tick are concatenated (each keeps its own 16-byte header with its
 * `h_length`) into the aux of one message, up to `maxBatchBytes`, sent at
 * the end of the tick (the link writes both in one socket write); the receiver
 * walks the aux frame by frame, exactly as lowcomms walks a TCP stream, and a
 * frame never spans two messages. The DMSG aux CRC covers the batch, so a
 * relay cannot alter a frame unnoticed; the midcomms checks of §5.4 still run
 * on every frame (a peer may send anything).
 */
import type { Message, Transaction } from '../../span/index.ts';
import type { Channel, ChannelSink } from './channel.ts';
import { contiguous } from './frame-slab.ts';

/**
 * The end-of-tick flush goes on a resolved promise, not `queueMicrotask`:
 * Node's queueMicrotask makes an AsyncResource and a bound function per
 * call (about 130 ns more per message on this path); the flush never throws.
 */
const TICK: Promise<void> = Promise.resolve();
const EMPTY = new Uint8Array(0);

export interface TransactionChannelOptions {
  /** cmd word of a frame batch message. */
  readonly frameCmd: number;
  /** Largest aux of one batch message. */
  readonly maxBatchBytes: number;
  /** The token of a channel we open (written in our HELLO, see `Channel.token`). */
  readonly token?: Uint8Array;
  /** Called once when the channel ends or is closed (the owner forgets its token). */
  readonly onEnd?: () => void;
}

/**
 * Wraps `tx` as a Channel reporting to `sink`. `first` is aux that already
 * arrived (the acceptor parsed the HELLO out of it to find the session).
 */
export class TransactionChannel implements Channel {
  readonly #tx: Transaction;
  readonly #o: TransactionChannelOptions;
  #sink: ChannelSink | null = null;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Every pending frame lies right after the one before in one buffer (so the batch is one view, see `contiguous`). */
  #pendingContiguous = true;
  #pendingEnd = 0;
  /** A flush at the end of this tick is scheduled, or (a link without a turn count) this tick's first frame went out. */
  #scheduled = false;
  /**
   * The link's turn (`Transaction.linkTurn`) in which this tick's first
   * frame went out on its own, its end-of-turn flush scheduled: while the
   * link reads the same turn the tick has not ended, so a frame written now
   * is batched behind it. The link's flush ends the tick for us, without a
   * microtask of our own per first frame. -2: none (the next frame is a
   * tick's first, as after our own flush).
   */
  #directTurn = -2;
  #closing = false;
  #ended = false;
  #waitingWritable = false;
  readonly #abort = new AbortController();
  /** The end-of-tick flush, bound once (no closure per scheduled flush). */
  readonly #flushTask = (): void => this.#flush();
  /** The options of every send, reused (the transaction reads them during the call and keeps nothing). */
  readonly #sendOptions: { aux: Uint8Array } = { aux: EMPTY };
  /** The first frame's: written to the socket during send (`flush`), see `write`. */
  readonly #flushOptions: { aux: Uint8Array; flush: true } = { aux: EMPTY, flush: true };

  constructor(tx: Transaction, options: TransactionChannelOptions) {
    this.#tx = tx;
    this.#o = options;
    if (options.token !== undefined) this.token = options.token;
  }

  readonly token?: Uint8Array;

  /** The channel ended or was closed. */
  get isEnded(): boolean {
    return this.#ended;
  }

  /** Starts reporting to `sink`. The owner feeds the transaction's messages to `receive` / `ended`. */
  bind(sink: ChannelSink): void {
    this.#sink = sink;
  }

  /** A message's aux from the peer (one or more whole frames). */
  receive(aux: Uint8Array): void {
    if (!this.#ended && aux.length > 0) this.#sink?.data(aux);
  }

  /**
   * Receive what the transaction brings: the channel subscribes itself to
   * its rx$ as a raw observer (the iocom's receive tap: a mid-stream
   * message's aux comes to `rawNext` without a Header, a Message or the
   * rx$ dispatch being made for it), and ends when the transaction does.
   * For a channel we opened; an accepted one is fed by its acceptor.
   */
  observe(): void {
    this.#tx.subscribeRaw(this);
  }

  /** rx$ observer (`observe`): a decoded message, its aux received. @internal */
  next(m: Message): void {
    this.receive(m.aux);
  }

  /** rx$ raw observer (`observe`): a mid-stream message's aux, as `next` would receive it. @internal */
  rawNext(_cmd: number, _error: number, aux: Uint8Array): void {
    this.receive(aux);
  }

  /** rx$ observer (`observe`): the peer's DELETE. @internal */
  complete(): void {
    this.#end('closed by peer');
  }

  /** rx$ observer (`observe`): an abort or a lost link. @internal */
  error(e: unknown): void {
    this.#end(`lost: ${(e as Error)?.message ?? String(e)}`);
  }

  /** The transaction ended (the peer's DELETE, an abort, LOSTLINK). */
  ended(reason: string): void {
    this.#end(reason);
  }

  write(bytes: Uint8Array): boolean {
    if (this.#ended || this.#closing) return true;
    const pending = this.#pending;
    if (!this.#scheduled && this.#tx.linkTurn !== this.#directTurn) {
      // The first frame of this tick goes to the transaction now, as its own
      // message: a request/reply path pays no batch bookkeeping, and the link
      // has it queued at once. Frames written after it in the same tick are
      // batched as below, behind it, and sent by the end-of-tick flush (queued
      // first, so the link still writes the tick's messages in one write).
      // It is sent with `flush`: the link writes it to the socket during the
      // send, so the peer starts on a request or reply while this side is
      // still unwinding its receive (the rest of the tick goes at its end).
      // `#scheduled` is set before the send, so a frame written meanwhile is
      // batched behind it. The tick ends with the link's end-of-turn flush
      // when one is scheduled (`#directTurn`: no microtask of ours), else
      // with our own flush (a link without a write queue, one waiting for
      // 'drain', or frames batched during the send).
      this.#scheduled = true;
      if (this.#tx.canSend) {
        const sent = this.#sendChecked(bytes, this.#flushOptions);
        const turn = this.#tx.linkTurn;
        if (turn >= 0 && pending.length === 0 && !this.#ended) {
          this.#scheduled = false;
          this.#directTurn = turn;
        } else void TICK.then(this.#flushTask);
        if (!sent) return true;
        const writable = this.#tx.writable;
        if (!writable) this.#watchWritable();
        return writable;
      }
      void TICK.then(this.#flushTask);
    }
    if (pending.length > 0 && this.#pendingContiguous) {
      this.#pendingContiguous = bytes.byteOffset === this.#pendingEnd && bytes.buffer === pending[0]!.buffer;
    }
    this.#pendingEnd = bytes.byteOffset + bytes.length;
    pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      void TICK.then(this.#flushTask);
    }
    if (this.#pendingBytes >= this.#o.maxBatchBytes) this.#flush();
    const ok = this.#tx.writable;
    if (!ok) this.#watchWritable();
    return ok;
  }

  close(): void {
    if (this.#ended || this.#closing) return;
    this.#closing = true;
    this.#flush();
    this.#ended = true;
    this.#abort.abort();
    try {
      this.#tx.close();
    } catch {
      // already gone
    }
    this.#o.onEnd?.();
  }

  #watchWritable(): void {
    if (this.#waitingWritable) return;
    this.#waitingWritable = true;
    this.#tx.whenWritable(this.#abort.signal).then(
      () => {
        this.#waitingWritable = false;
        if (!this.#ended) this.#sink?.writable();
      },
      () => {
        this.#waitingWritable = false;
      },
    );
  }

  #flush(): void {
    this.#scheduled = false;
    this.#directTurn = -2;
    if (this.#pending.length === 0) return;
    if (this.#ended) {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#pendingContiguous = true;
      return;
    }
    const pending = this.#pending;
    const total = this.#pendingBytes;
    const together = this.#pendingContiguous;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingContiguous = true;
    if (together && pending.length > 1 && total <= this.#o.maxBatchBytes) {
      // The common case: frames cut one after another from one slab, one batch.
      const first = pending[0]!;
      this.#sendBatch(new Uint8Array(first.buffer, first.byteOffset, total));
      return;
    }
    let i = 0;
    while (i < pending.length) {
      // One message per batch of whole frames, at most maxBatchBytes (a frame alone may be the batch).
      let size = 0;
      let j = i;
      while (j < pending.length && (j === i || size + pending[j]!.length <= this.#o.maxBatchBytes)) size += pending[j++]!.length;
      const aux = j - i === 1 ? pending[i]! : (contiguous(pending, i, j) ?? concat(pending, i, j, size));
      i = j;
      if (!this.#sendBatch(aux)) return;
    }
  }

  /** Sends one batch message; false (and the channel ended) when the transaction refused it. */
  #sendBatch(aux: Uint8Array): boolean {
    if (!this.#tx.canSend) {
      this.#end('send failed: the transaction cannot send');
      return false;
    }
    return this.#sendChecked(aux);
  }

  /** `#sendBatch` once `canSend` was checked. */
  #sendChecked(aux: Uint8Array, options: { aux: Uint8Array } = this.#sendOptions): boolean {
    options.aux = aux;
    try {
      this.#tx.send(this.#o.frameCmd, options);
      return true;
    } catch (e) {
      this.#end(`send failed: ${(e as Error).message}`);
      return false;
    } finally {
      options.aux = EMPTY;
    }
  }

  #end(reason: string): void {
    if (this.#ended && this.#closing) return;
    const wasEnded = this.#ended;
    this.#ended = true;
    this.#abort.abort();
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingContiguous = true;
    try {
      this.#tx.close();
    } catch {
      // already gone
    }
    if (!wasEnded) {
      this.#o.onEnd?.();
      this.#sink?.lost(reason);
    }
  }
}

function concat(parts: Uint8Array[], from: number, to: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (let k = from; k < to; k++) {
    out.set(parts[k]!, off);
    off += parts[k]!.length;
  }
  return out;
}
