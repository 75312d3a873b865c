/**
 * How transactions end when their link or their parent ends (libdmsg's
 * `dmsg_simulate_failure`): the whole tree is marked dying first (so no
 * handler can send on a transaction about to fail), then children before
 * parents, each sees a peer DELETE with LOSTLINK and is forgotten from its
 * link's tables (transaction-tables.ts). The Iocom calls failLink from its
 * teardown and failChildren when a parent is released (iocom.ts).
 */
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { emptyHeader } from '../wire/header.ts';
import { EMPTY } from '../wire/message.ts';
import { TransactionError } from './errors.ts';
import type { Transaction } from './transaction.ts';
import type { TransactionTables } from './transaction-tables.ts';

/** The link ended: every open transaction in `tables` ends with LOSTLINK (`cause`), children first. */
export function failLink(tables: TransactionTables, cause: Error): void {
  // The top-level transactions (children of state0); the rest hang below them.
  const roots: Transaction[] = [];
  for (const tx of tables.weOpened.values()) if (tx.parent === null) roots.push(tx);
  for (const tx of tables.peerOpened.values()) if (tx.parent === null) roots.push(tx);
  failTree(roots, cause, (tx) => tables.forget(tx));
  tables.awaitingPeerDelete = 0;
}

/** `parent` ended (both directions closed, forgotten): its open children go with it (spec §9.10 fixed). */
export function failChildren(tables: TransactionTables, parent: Transaction): void {
  failTree(parent._childList(), new TransactionError('LOST_LINK', `parent transaction 0x${parent.msgid.toString(16)} ended`, DMSG_ERR.LOSTLINK), (tx) => tables.forget(tx));
}

/** Fail `list` and every transaction below it; `forget` removes one from the link's tables. */
export function failTree(list: Transaction[], cause: Error | undefined, forget: (tx: Transaction) => void): void {
  markDying(list);
  deliverFailures(list, cause, forget);
}

function markDying(txs: Transaction[]): void {
  for (const tx of txs) {
    tx._markDying();
    if (tx._childCount > 0) markDying(tx._childList());
  }
}

function deliverFailures(list: Transaction[], cause: Error | undefined, forget: (tx: Transaction) => void): void {
  for (const tx of list) {
    if (tx.freed) continue;
    if (tx._childCount > 0) deliverFailures(tx._childList(), cause, forget);
    const h = emptyHeader();
    h.msgid = tx.msgid;
    h.circuit = tx.parent?.msgid ?? 0n;
    h.cmd = (DMSG.LNK_ERROR | DMSGF.DELETE | (tx.rxCreated ? 0 : DMSGF.CREATE) | (tx.openedByPeer ? 0 : DMSGF.REPLY | DMSGF.REVTRANS) | (tx.parent && !tx.parent.openedByPeer ? DMSGF.REVCIRC : 0)) >>> 0;
    h.error = DMSG_ERR.LOSTLINK;
    forget(tx);
    tx._fail({ header: h, ext: EMPTY, aux: EMPTY, swapped: false }, cause);
  }
}
