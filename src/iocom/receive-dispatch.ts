/**
 * Where each message a link receives goes (libdmsg's `dmsg_state_msgrx`):
 * the peer's sequence number is checked, nothing but LNK_AUTH (and a
 * harmless PAD or keepalive PING) passes before the peer authenticated,
 * then the message is matched to a transaction with the state rules
 * (state-rules.ts) and delivered to it, opens a new one (transactions$),
 * goes to messages$ as one-way, is dropped, or fails the link.
 *
 * Internal to the iocom (iocom.ts feeds it every decoded message in
 * order). It owns the receive counters; the link's transaction tables are
 * shared (transaction-tables.ts); what only the Iocom can do (auth, PING,
 * closing) comes through ReceiveHooks, built once per link.
 */
import { DMSG, DMSGF, DMSG_ERR, DMSG_IOQ_ERROR } from '../wire/constants.ts';
import { describeCmd } from '../wire/cmd.ts';
import { ProtocolError, hex } from '../wire/errors.ts';
import { describeHeader, type Header } from '../wire/header.ts';
import type { Message } from '../wire/message.ts';
import type { AuthHandshake } from './auth.ts';
import type { BudgetAccount } from './budget.ts';
import { idOf } from './iocom-helpers.ts';
import type { Multicast } from './multicast.ts';
import { isRawObserver } from './raw-observer.ts';
import { classifyRx } from './state-rules.ts';
import { Transaction, type TransactionHost } from './transaction.ts';
import type { TransactionTables } from './transaction-tables.ts';

/** What the dispatch needs of its link that only the Iocom can do (rare paths: none runs per message). @internal */
export interface ReceiveHooks {
  /** Close the link for a protocol error. */
  fail(err: Error): void;
  /** A LNK_AUTH message from the peer. */
  auth(msg: Message): void;
  /** A plain message while our handshake is active: if its deadline still runs, the peer takes no part. */
  plainMessage(): void;
  /** A LNK_PING (answer it) or PING|REPLY (a ping() round trip ends). */
  ping(h: Header): void;
}

/** The limits the dispatch enforces on what the peer opens (from ResolvedIocomOptions). */
export interface ReceiveLimits {
  readonly name: string;
  readonly maxTransactions: number;
  readonly maxDepth: number;
}

/** @internal */
export class ReceiveDispatch {
  /** Messages received (stats().messagesIn). */
  messagesIn = 0;
  /** Messages dropped by the state rules (stats().dropped). */
  dropped = 0;
  /** Something arrived since the keepalive last looked (it clears this). */
  rxSeen = false;
  /** The link has closed (set by the Iocom's teardown, the one place it closes). */
  linkClosed = false;
  /** The sequence number the peer's next message must carry (low byte of the salt). */
  #rxSeq = 0;
  /**
   * The tap's last transaction and its circuit's (a tapped stream is mostly
   * one transaction on one circuit): the table entry found for `#tapId`
   * (REVTRANS bit `#tapRev`) and `#tapCirc` (REVCIRC bit `#tapCircRev`),
   * used again without a table probe while not freed. A transaction leaves
   * its table only freed (TransactionTables.forget), and an id is in a table
   * once, so an entry not freed is still what the table holds for its id.
   */
  #tapTx: Transaction | null = null;
  #tapId = 0;
  #tapRev = 0;
  #tapCircTx: Transaction | null = null;
  #tapCirc = 0;
  #tapCircRev = 0;
  readonly #opts: ReceiveLimits;
  readonly #auth: AuthHandshake;
  readonly #host: TransactionHost;
  readonly #account: BudgetAccount | null;
  readonly #weOpened: TransactionTables['weOpened'];
  readonly #peerOpened: TransactionTables['peerOpened'];
  readonly #transactions: Multicast<Transaction>;
  readonly #messages: Multicast<Message>;
  readonly #hooks: ReceiveHooks;

  /** `host`: the Iocom, as its transactions' host; `account`: the link's budget account, told how many transactions it holds. */
  constructor(host: TransactionHost, opts: ReceiveLimits, auth: AuthHandshake, tables: TransactionTables, account: BudgetAccount | null, transactions: Multicast<Transaction>, messages: Multicast<Message>, hooks: ReceiveHooks) {
    this.#host = host;
    this.#opts = opts;
    this.#auth = auth;
    this.#account = account;
    this.#weOpened = tables.weOpened;
    this.#peerOpened = tables.peerOpened;
    this.#transactions = transactions;
    this.#messages = messages;
    this.#hooks = hooks;
  }

  /** One decoded message from the peer, in order. */
  receive(msg: Message): void {
    const h = msg.header;
    this.messagesIn++;
    this.rxSeen = true;
    if ((h.salt & 0xff) !== this.#rxSeq) {
      this.#hooks.fail(new ProtocolError('BAD_SEQ', `${this.#opts.name}: message sequence number ${h.salt & 0xff} (salt ${hex(h.salt)}), expected ${this.#rxSeq}: ${describeHeader(h)}`, DMSG_IOQ_ERROR.MSGSEQ));
      return;
    }
    this.#rxSeq = (this.#rxSeq + 1) & 0xff;
    const cmd = h.cmd;
    const base = cmd & DMSGF.BASECMDMASK;
    if (base === DMSG.LNK_AUTH) return this.#hooks.auth(msg);
    if (!this.#auth.acceptsMessages) {
      // PAD, and the keepalive PING a peer sends while its handshake is slow, are harmless: drop them unanswered.
      if (base === DMSG.LNK_PAD || (base === DMSG.LNK_PING && (cmd & (DMSGF.CREATE | DMSGF.DELETE)) === 0)) return;
      this.#hooks.fail(new ProtocolError('AUTH_REQUIRED', `${this.#opts.name}: peer sent ${describeCmd(cmd)} before authenticating`, DMSG_IOQ_ERROR.NOPEER));
      return;
    }
    if (this.#auth.active) this.#hooks.plainMessage();

    // Fast path: a one-way message on state0.
    if ((cmd & (DMSGF.CREATE | DMSGF.DELETE | DMSGF.ABORT)) === 0 && h.msgid === 0n && h.circuit === 0n) return this.#oneWay(msg);

    let parentMissing = false;
    let parent: Transaction | undefined;
    if (h.circuit !== 0n) {
      parent = (cmd & DMSGF.REVCIRC ? this.#weOpened : this.#peerOpened).get(idOf(h.circuit));
      parentMissing = parent === undefined;
    }
    const id = h.msgid === 0n ? 0 : idOf(h.msgid);
    const state = id === 0 ? undefined : (cmd & DMSGF.REVTRANS ? this.#weOpened : this.#peerOpened).get(id);
    const verdict = classifyRx(cmd, state, parentMissing);
    switch (verdict.action) {
      case 'deliver':
        state!._receive(msg);
        return;
      case 'new':
        return this.#peerOpens(msg, id, parent ?? null);
      case 'oneway':
        return this.#oneWay(msg);
      case 'drop':
        this.dropped++;
        return;
      case 'error':
        this.#hooks.fail(new ProtocolError(verdict.code, `${this.#opts.name}: ${verdict.reason}: ${describeHeader(h)}`, DMSG_IOQ_ERROR.TRANS));
        return;
    }
  }

  /**
   * The receive tap (raw-observer.ts): the message whose 64-byte header is
   * `W[w]`..`W[w + 15]` (checked by the decoder) with aux data `aux`.
   * Returns true when it was taken and handed to its transaction's raw
   * observer, exactly as receive() of its decoded form would deliver it;
   * false (having changed nothing) when the general path must have it.
   * The caller offers nothing while the link's auth handshake runs.
   */
  passThrough(W: Int32Array, w: number, aux: Uint8Array): boolean {
    const cmd = W[w + 8]!;
    if ((cmd & (DMSGF.CREATE | DMSGF.DELETE | DMSGF.ABORT)) !== 0) return false;
    if ((W[w + 1]! & 0xff) !== this.#rxSeq) return false;
    // The auth gate. The link offers nothing while its handshake runs (Iocom's
    // tap), so receive()'s plainMessage() hook would be a no-op here.
    if (!this.#auth.acceptsMessages) return false;
    if ((cmd & DMSGF.BASECMDMASK) === DMSG.LNK_AUTH) return false;
    // msgid and circuit below 2^32 (the table keys are then these numbers), reserved18 zero.
    if (W[w + 3] !== 0 || W[w + 5] !== 0 || W[w + 6] !== 0 || W[w + 7] !== 0) return false;
    const id = W[w + 2]! >>> 0;
    if (id === 0) return false;
    const circuit = W[w + 4]! >>> 0;
    if (circuit !== 0) {
      const rev = cmd & DMSGF.REVCIRC;
      const known = this.#tapCircTx;
      if (known === null || circuit !== this.#tapCirc || rev !== this.#tapCircRev || known.freed) {
        const parent = (rev ? this.#weOpened : this.#peerOpened).get(circuit);
        if (parent === undefined) return false;
        this.#tapCircTx = parent;
        this.#tapCirc = circuit;
        this.#tapCircRev = rev;
      }
    }
    const rev = cmd & DMSGF.REVTRANS;
    let state = this.#tapTx;
    if (state === null || id !== this.#tapId || rev !== this.#tapRev || state.freed) {
      state = (rev ? this.#weOpened : this.#peerOpened).get(id) ?? null;
      // The state rules' DELIVER for a mid-stream message (classifyRx: open, receive side not ended).
      if (state === null) return false;
      this.#tapTx = state;
      this.#tapId = id;
      this.#tapRev = rev;
    }
    if (state.rxDeleted) return false;
    const observer = state._rxSoleObserver();
    if (!isRawObserver(observer)) return false;
    this.messagesIn++;
    this.rxSeen = true;
    this.#rxSeq = (this.#rxSeq + 1) & 0xff;
    try {
      observer.rawNext(cmd >>> 0, W[w + 11]! >>> 0, aux, W[w + 9]! >>> 0, W[w]! >>> 16);
    } catch (err) {
      // As rx$ reports a throwing subscriber (RxMulticast.observerFailed): the transaction pays, not the link.
      state._rawObserverFailed(err);
    }
    return true;
  }

  /** A CREATE the state rules accepted: a transaction the peer opens, offered on transactions$. */
  #peerOpens(msg: Message, id: number | bigint, parent: Transaction | null): void {
    const h = msg.header;
    const opts = this.#opts;
    if (h.msgid === 0n) {
      this.#hooks.fail(new ProtocolError('BAD_STATE', `${opts.name}: CREATE with msgid 0: ${describeHeader(h)}`, DMSG_IOQ_ERROR.TRANS));
      return;
    }
    if (parent && (parent.dying || parent.rxDeleted)) {
      // The parent is ending: the new child cannot live. Refuse it like a lost circuit.
      this.dropped++;
      return;
    }
    if (this.#weOpened.size + this.#peerOpened.size >= opts.maxTransactions) {
      this.#hooks.fail(new ProtocolError('LIMIT', `${opts.name}: peer opened more than maxTransactions (${opts.maxTransactions}) transactions`, DMSG_IOQ_ERROR.TRANS));
      return;
    }
    if (parent && parent.depth >= opts.maxDepth) {
      this.#hooks.fail(new ProtocolError('LIMIT', `${opts.name}: peer stacked transactions ${parent.depth + 1} deep; maxDepth is ${opts.maxDepth}`, DMSG_IOQ_ERROR.TRANS));
      return;
    }
    const tx = new Transaction(this.#host, id, h.msgid, true, parent, h.cmd);
    tx.first = msg;
    if (!this.#peerOpened.add(tx)) {
      // Only msgids chosen to collide in the table get here (see id-table.ts).
      this.#hooks.fail(new ProtocolError('LIMIT', `${opts.name}: the peer's msgids keep colliding in the transaction table (hash flooding?): ${describeHeader(h)}`, DMSG_IOQ_ERROR.TRANS));
      return;
    }
    this.#account?.setTransactions(this.#weOpened.size + this.#peerOpened.size);
    if (parent) parent._addChild(tx);
    if (!this.#transactions.observed) {
      // Nobody serves transactions on this link: refuse, as hammer2's service does.
      tx._receive(msg);
      if (!tx.freed && !tx.txDeleted && this.#host.isOpen) tx.reply(DMSG_ERR.NOSUPP);
      return;
    }
    this.#transactions.next(tx);
    if (this.linkClosed || tx.freed) return;
    tx._receive(msg);
  }

  /** A message outside any transaction: PING is the link's, PAD is nothing, the rest go to messages$. */
  #oneWay(msg: Message): void {
    const base = msg.header.cmd & DMSGF.BASECMDMASK;
    if (base === DMSG.LNK_PING) return this.#hooks.ping(msg.header);
    if (base === DMSG.LNK_PAD) return;
    this.#messages.next(msg);
  }
}
