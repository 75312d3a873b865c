/**
 * Transaction dispatch: where a transaction a peer opens on one of our links
 * goes. Top level: LNK_CONN (conn.ts), LNK_SPAN (span-intake.ts), anything
 * else is refused; and nothing but LNK_CONN is accepted before the peer's
 * LNK_CONN has arrived. Stacked on one of our relayed spans: relayed toward
 * the span's originator (relay.ts), or handed to the local service that
 * advertised it. Stacked on a relayed transaction: relayed along. Stacked on
 * a transaction this router opened: the far end talking back
 * (subTransactions$). Stacked on a local service's transaction: handed to
 * that service.
 */
import { Subject } from 'rxjs';
import { DMSG, DMSG_ERR } from '../wire/constants.ts';
import type { Transaction } from '../iocom/transaction.ts';
import { onConn } from './conn.ts';
import type { RelayExecutor } from './relay-executor.ts';
import { relayTransaction, relayedPeer } from './relay.ts';
import { TxSlotSet } from './tx-slots.ts';
import type { RouterCore } from './router-core.ts';
import type { ConnState, LocalAd, TransactionOpener } from './router-types.ts';
import { onSpan } from './span-intake.ts';
import type { Withdrawal } from './withdrawal.ts';

export class Dispatch {
  readonly #core: RouterCore;
  readonly #relays: RelayExecutor;
  readonly #withdrawal: Withdrawal;
  readonly subTransactions = new Subject<Transaction>();
  /** Transactions opened with open(), to route what peers stack on them. */
  readonly opened: TxSlotSet;
  /** Peer transactions refused because the peer had not sent LNK_CONN yet. */
  refusedBeforeConn = 0;

  constructor(core: RouterCore, relays: RelayExecutor, withdrawal: Withdrawal) {
    this.#core = core;
    this.#relays = relays;
    this.#withdrawal = withdrawal;
    this.opened = new TxSlotSet(core);
  }

  /** A transaction the peer on `conn` opened. */
  onTransaction(conn: ConnState, tx: Transaction): void {
    const core = this.#core;
    const base = tx.icmd;
    if (tx.parent === null) {
      if (base === DMSG.LNK_CONN || base === DMSG.LNK_CONN_V2) return onConn(core, conn, tx);
      if (conn.theirConn === null) {
        // Nothing but LNK_CONN before the peer's LNK_CONN (issue 7 item 5).
        this.refusedBeforeConn++;
        if (base === DMSG.LNK_SPAN) core.spansRefused++;
        core.log(`link ${conn.connId}: refused 0x${base.toString(16)} before the peer's LNK_CONN`);
        return core.refuse(tx, DMSG_ERR.NOSUPP);
      }
      if (base === DMSG.LNK_SPAN) return onSpan(core, this.#relays, this.#withdrawal, conn, tx);
      // Unknown top-level transaction: not ours to serve.
      return core.refuse(tx, DMSG_ERR.NOSUPP);
    }
    if (conn.theirConn === null) {
      this.refusedBeforeConn++;
      return core.refuse(tx, DMSG_ERR.NOSUPP);
    }
    // Stacked on something: one of our relayed spans, or a relayed transaction.
    const parent = tx.parent;
    const paired = relayedPeer(parent);
    if (paired !== undefined) {
      if (!relayTransaction(tx, conn.iocom, paired.peer, paired.peerIocom)) core.refuse(tx, DMSG_ERR.LOSTLINK);
      return;
    }
    const role = core.roles.get(parent);
    if (role?.kind === 'relay-span') {
      const relay = this.#relays.get(role.relayId);
      const source = relay ? core.table.link(relay.sourceLinkId) : undefined;
      if (!relay || !source) return core.refuse(tx, DMSG_ERR.LOSTLINK);
      if (source.connId === null) {
        const local = core.locals.get(source.linkId);
        if (!local) return core.refuse(tx, DMSG_ERR.LOSTLINK);
        return this.toService(local, tx, conn.iocom);
      }
      const upstream = core.received.get(source.linkId);
      const upConn = core.conns.get(source.connId);
      if (!upstream || !upConn || !relayTransaction(tx, conn.iocom, upstream, upConn.iocom)) core.refuse(tx, DMSG_ERR.LOSTLINK);
      return;
    }
    this.onStacked(tx, conn.iocom);
  }

  /**
   * A transaction stacked on one that is neither a span nor relayed: the far
   * end of a transaction we opened talks back, or a sub-transaction of a
   * local service's transaction. `host` opens sub-transactions next to it.
   */
  onStacked(tx: Transaction, host: TransactionOpener): void {
    const core = this.#core;
    for (let t: Transaction | null = tx.parent; t !== null; t = t.parent) {
      if (this.opened.has(t)) {
        if (!this.subTransactions.observed) return core.refuse(tx, DMSG_ERR.NOSUPP);
        core.hosts.set(tx, host);
        this.subTransactions.next(tx);
        return;
      }
      const role = core.roles.get(t);
      if (role?.kind === 'local-service') {
        const local = core.locals.get(role.linkId);
        if (!local) return core.refuse(tx, DMSG_ERR.LOSTLINK);
        return this.toService(local, tx, host);
      }
    }
    core.refuse(tx, DMSG_ERR.NOSUPP);
  }

  /** Hand a transaction (or sub-transaction) to a local service. */
  toService(local: LocalAd, tx: Transaction, host: TransactionOpener): void {
    const core = this.#core;
    if (!local.subject.observed) return core.refuse(tx, DMSG_ERR.NOSUPP);
    core.roles.set(tx, { kind: 'local-service', linkId: local.linkId });
    core.hosts.set(tx, host);
    local.subject.next(tx);
  }
}
