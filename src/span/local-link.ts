/**
 * An in-process link between a router's `open()` and a service served on the
 * same router: two TransactionHosts whose transactions are the iocom's
 * Transaction class (send/reply/close/abort/rx$, children, the same
 * half-close rules), with messages handed over on a microtask instead of a
 * socket. A DLM master on the same node is reached exactly as a remote one.
 *
 * Messages are delivered in the order sent (one microtask queue), never
 * synchronously inside send(), so a handler sees the same re-entrancy as
 * over a link. When a parent ends, its open children see a synthesized
 * DELETE with LOSTLINK, children first, as an iocom does; destroy() ends
 * every open transaction on both sides that way.
 */
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { emptyHeader } from '../wire/header.ts';
import { EMPTY, type Message } from '../wire/message.ts';
import { TransactionError } from '../iocom/errors.ts';
import { Transaction, type SendOptions, type TransactionHost } from '../iocom/transaction.ts';
import type { OpenOptions } from '../iocom/iocom.ts';

/** Where a side hands the transactions the other side opens. */
export type PeerOpenHandler = (tx: Transaction) => void;

/** One end of a LocalLink. */
export class LocalSide implements TransactionHost {
  readonly name: string;
  /** Set once by LocalLink. @internal */
  other!: LocalSide;
  /** Transactions the other side opens (at any depth). @internal */
  onPeerOpen: PeerOpenHandler = (tx) => refuseLocal(tx);
  #open = true;
  #nextId = 1;
  /** Every live transaction of this side (both directions). */
  readonly #live = new Set<Transaction>();
  /** This side's transaction ↔ the other side's twin. */
  readonly #twin = new Map<Transaction, Transaction>();

  constructor(name: string) {
    this.name = name;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** In-process: never above a high-water mark. */
  get writable(): boolean {
    return true;
  }

  whenWritable(): Promise<void> {
    return Promise.resolve();
  }

  /** Open transactions on this side. */
  get size(): number {
    return this.#live.size;
  }

  /** Open a transaction (stacked on `opts.parent`, which must belong to this side). */
  open(cmd: number, opts: OpenOptions = {}): Transaction {
    if (!this.#open) throw new TransactionError('LOST_LINK', `${this.name} is closed`, DMSG_ERR.LOSTLINK);
    const parent = opts.parent ?? null;
    if (parent !== null) {
      if (!this.#live.has(parent)) throw new TransactionError('BAD_PARENT', `parent ${parent} does not belong to ${this.name}`);
      if (parent.freed || parent.dying) throw new TransactionError('BAD_PARENT', `parent ${parent} has ended`, DMSG_ERR.LOSTLINK);
    }
    const tx = new Transaction(this, this.#nextId++, undefined, false, parent, cmd);
    this.#live.add(tx);
    parent?._addChild(tx);
    this.sendInTransaction(tx, cmd, { ext: opts.ext, aux: opts.aux, error: opts.error, delete: opts.delete });
    return tx;
  }

  /** @internal */
  sendInTransaction(tx: Transaction, cmd: number, opts: SendOptions | undefined): boolean {
    if (!this.#open) throw new TransactionError('LOST_LINK', `${this.name} is closed`, DMSG_ERR.LOSTLINK);
    const flags = tx._txFlags(opts);
    const h = emptyHeader();
    h.cmd = ((cmd & DMSGF.BASECMDMASK) | flags) >>> 0;
    h.msgid = tx.msgid;
    h.circuit = tx.parent?.msgid ?? 0n;
    h.error = opts?.error ?? 0;
    const aux = opts?.aux ?? EMPTY;
    h.auxBytes = aux.length;
    const msg: Message = { header: h, ext: opts?.ext ?? EMPTY, aux, swapped: false };
    // The twin as it is now: releasing tx below (our DELETE after theirs) forgets the pairing.
    const twin = this.#twin.get(tx);
    tx._afterSend();
    queueMicrotask(() => this.other._deliver(tx, msg, twin));
    return true;
  }

  /** A subscriber of `tx`'s rx$ threw: that costs the transaction (aborted), as over a link. @internal */
  handlerFailed(tx: Transaction, _err: unknown): void {
    if (tx.freed || tx.dying || !this.#open) return;
    try {
      tx.abort(DMSG_ERR.IO);
    } catch {
      // already ending
    }
  }

  /** @internal */
  release(tx: Transaction): void {
    this.#forget(tx);
    if (tx._childCount > 0) failTree(tx._childList(), new TransactionError('LOST_LINK', `parent transaction 0x${tx.msgid.toString(16)} ended`, DMSG_ERR.LOSTLINK), (t) => this.#forget(t));
  }

  /** A message the other side sent in its transaction `from`. @internal */
  _deliver(from: Transaction, msg: Message, mine: Transaction | undefined): void {
    if (!this.#open) return;
    if (mine === undefined && !(msg.header.cmd & DMSGF.CREATE)) mine = this.other.#twin.get(from);
    if (mine !== undefined) {
      if (!mine.freed && !mine.rxDeleted) mine._receive(msg);
      return;
    }
    if (!(msg.header.cmd & DMSGF.CREATE)) return; // its twin is gone already
    let parent: Transaction | null = null;
    if (from.parent !== null) {
      parent = this.other.#twin.get(from.parent) ?? null;
      // The parent ended here first: the child cannot live (as a lost circuit).
      if (parent === null || parent.dying || parent.rxDeleted || parent.freed) return;
    }
    const tx = new Transaction(this, from._id, from.msgid, true, parent, msg.header.cmd);
    tx.first = msg;
    this.#live.add(tx);
    this.#twin.set(tx, from);
    this.other.#twin.set(from, tx);
    parent?._addChild(tx);
    try {
      this.onPeerOpen(tx);
    } catch {
      // A handler's throw must not escape into the microtask queue.
      refuseLocal(tx, DMSG_ERR.NOSUPP);
    }
    if (!tx.freed) tx._receive(msg);
  }

  /** End every open transaction of this side with LOSTLINK. @internal */
  _destroy(cause: Error): void {
    if (!this.#open) return;
    this.#open = false;
    const top = [...this.#live].filter((t) => t.parent === null || !this.#live.has(t.parent));
    failTree(top, cause, (t) => this.#forget(t));
  }

  #forget(tx: Transaction): void {
    tx._markFreed();
    this.#live.delete(tx);
    const twin = this.#twin.get(tx);
    if (twin !== undefined) {
      this.#twin.delete(tx);
      if (this.other.#twin.get(twin) === tx) this.other.#twin.delete(twin);
    }
    if (tx.parent) tx.parent._removeChild(tx);
  }
}

/** A pair of LocalSides: `client` opens, `server` serves (either may open sub-transactions). */
export class LocalLink {
  readonly client: LocalSide;
  readonly server: LocalSide;

  constructor(name: string) {
    this.client = new LocalSide(`${name}/client`);
    this.server = new LocalSide(`${name}/server`);
    this.client.other = this.server;
    this.server.other = this.client;
  }

  /** End every open transaction on both sides (the service was withdrawn or the router closed). */
  destroy(reason = 'the local service is gone'): void {
    const cause = new TransactionError('LOST_LINK', reason, DMSG_ERR.LOSTLINK);
    this.server._destroy(cause);
    this.client._destroy(cause);
  }
}

/** Refuse a transaction the other side opened (nobody serves it). */
function refuseLocal(tx: Transaction, error: number = DMSG_ERR.NOSUPP): void {
  tx.rx$.subscribe({ error: () => {} });
  queueMicrotask(() => {
    if (tx.canSend) tx.reply(error);
  });
}

/** The iocom's failure simulation: mark the trees dying, then deliver LOSTLINK DELETEs, children first. */
function failTree(list: Transaction[], cause: Error, forget: (tx: Transaction) => void): void {
  const markDying = (txs: Transaction[]): void => {
    for (const tx of txs) {
      tx._markDying();
      if (tx._childCount > 0) markDying(tx._childList());
    }
  };
  markDying(list);
  const deliver = (txs: Transaction[]): void => {
    for (const tx of txs) {
      if (tx.freed) continue;
      if (tx._childCount > 0) deliver(tx._childList());
      const h = emptyHeader();
      h.msgid = tx.msgid;
      h.circuit = tx.parent?.msgid ?? 0n;
      h.cmd = (DMSG.LNK_ERROR | DMSGF.DELETE | (tx.rxCreated ? 0 : DMSGF.CREATE) | (tx.openedByPeer ? 0 : DMSGF.REPLY | DMSGF.REVTRANS)) >>> 0;
      h.error = DMSG_ERR.LOSTLINK;
      forget(tx);
      tx._fail({ header: h, ext: EMPTY, aux: EMPTY, swapped: false }, cause);
    }
  };
  deliver(list);
}
