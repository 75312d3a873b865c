/**
 * The failure simulation of a link or a parent that ends (iocom.ts): the
 * whole tree is marked dying first (so no handler can send on a transaction
 * about to fail), then children before parents, each sees a peer DELETE
 * with LOSTLINK.
 */
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { emptyHeader } from '../wire/header.ts';
import { EMPTY } from '../wire/message.ts';
import type { Transaction } from './transaction.ts';

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
