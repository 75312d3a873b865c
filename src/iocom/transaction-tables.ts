/**
 * The open transactions of one link (iocom.ts): libdmsg's `statewr_tree`
 * (we opened) and `staterd_tree` (the peer opened), the count of
 * transactions that wait only for the peer's DELETE, and forgetting a
 * transaction that ended. How they end when a parent or the link ends is
 * transaction-failure.ts.
 *
 * Internal to the iocom: the Iocom, its receive dispatch
 * (receive-dispatch.ts) and the failure walk share one instance. The
 * tables are plain fields so the receive path reaches them with one load.
 */
import type { BudgetAccount } from './budget.ts';
import { IdTable } from './id-table.ts';
import { OwnIdTable } from './own-id-table.ts';
import type { Transaction } from './transaction.ts';

/** @internal */
export class TransactionTables {
  /** Transactions we opened, by Transaction._id (ids we choose: direct-indexed, own-id-table.ts). */
  readonly weOpened = new OwnIdTable<Transaction>();
  /** Transactions the peer opened, by the peer's msgid (keyed and flood-proof, id-table.ts). */
  readonly peerOpened = new IdTable<Transaction>();
  /**
   * How many transactions sent their DELETE and have not had the peer's
   * (each carries the mark, Transaction._awaitPeerDelete): they stay in the
   * tables only because the peer does not read (or does not answer). See
   * Iocom.open(): past half the table, the link is shed. A count and a bit,
   * not a Set: every round trip we open passes through this state.
   */
  awaitingPeerDelete = 0;
  /** The link's account in the daemon-wide budget, told how many transactions the link holds. */
  account: BudgetAccount | null = null;

  /** True if `tx` is in this link's tables (and so belongs to the link). */
  owns(tx: Transaction): boolean {
    return (tx.openedByPeer ? this.peerOpened : this.weOpened).get(tx._id) === tx;
  }

  /** After a send: a transaction whose DELETE went out and whose peer's has not come awaits the peer. */
  noteDeleteSent(tx: Transaction): void {
    if (tx._awaitPeerDelete()) this.awaitingPeerDelete++;
  }

  /** Drop `tx` from the tables (and from its parent's children); it is freed. */
  forget(tx: Transaction): void {
    if (tx._peerDeleteCame()) this.awaitingPeerDelete--;
    tx._markFreed();
    (tx.openedByPeer ? this.peerOpened : this.weOpened).delete(tx._id);
    if (tx.parent) tx.parent._removeChild(tx);
    this.account?.setTransactions(this.weOpened.size + this.peerOpened.size);
  }
}
