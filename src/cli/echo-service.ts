/**
 * The service `dmsg relay --advertise` runs: an echo. Every message that
 * arrives in a transaction opened on the span and carries aux data is sent
 * back in the same transaction with the same command and aux; when the
 * opener ends its side (DELETE), the echo ends its side too. So a client
 * opening `DBG_SHELL` with aux "hello" gets one DBG_SHELL|REPLY "hello"
 * back, then the DELETE.
 *
 * It never throws on the receive path: a send to a peer that does not read
 * what it is sent sheds that peer's link once its queue passes the iocom's
 * maxQueuedBytes (send returns false, the transaction ends with LOST_LINK),
 * and the iocom catches whatever a handler might still throw.
 */
import type { Subscription } from 'rxjs';
import { DMSGF } from '../wire/constants.ts';
import type { Advertisement } from '../span/router.ts';
import type { Transaction } from '../iocom/transaction.ts';

/** Answer one transaction with echoes until the opener closes it. */
export function echoTransaction(tx: Transaction): void {
  tx.rx$.subscribe({
    next: (msg) => {
      if (msg.aux.length === 0 || !tx.canSend) return;
      // The opener's DELETE may ride on the same message: answer and close in one.
      tx.send(msg.header.cmd & DMSGF.BASECMDMASK, { aux: msg.aux, delete: (msg.header.cmd & DMSGF.DELETE) !== 0 });
    },
    complete: () => {
      if (tx.canSend) tx.close();
    },
    // LOSTLINK or an abort: the transaction is already gone.
    error: () => {},
  });
}

/** Serve every transaction opened on `ad` with echoes. Unsubscribe to stop serving. */
export function serveEcho(ad: Advertisement): Subscription {
  return ad.transactions$.subscribe(echoTransaction);
}
