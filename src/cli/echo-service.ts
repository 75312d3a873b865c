/**
 * The service `dmsg relay --advertise` runs: an echo, and a sink for
 * `dmsg bench`.
 *
 * - A transaction opened with any command but DBG_SINK is an echo: every
 *   message that arrives in it and carries aux data is sent back in the same
 *   transaction with the same command and aux; when the opener ends its side
 *   (DELETE), the echo ends its side too. So a client opening `DBG_SHELL`
 *   with aux "hello" gets one DBG_SHELL|REPLY "hello" back, then the DELETE.
 * - A transaction opened with DBG_SINK is a sink: messages that carry aux data
 *   are counted and dropped; the opener's DELETE is answered with one DBG_SINK reply whose aux
 *   is `{"messages":N,"bytes":B}` (aux bytes received), then the DELETE.
 *
 * It never throws on the receive path: a send to a peer that does not read
 * what it is sent sheds that peer's link once its queue passes the iocom's
 * maxQueuedBytes (send returns false, the transaction ends with LOST_LINK),
 * and the iocom catches whatever a handler might still throw.
 */
import type { Subscription } from 'rxjs';
import { DMSG, DMSGF } from '../wire/constants.ts';
import type { Advertisement } from '../span/router.ts';
import type { Transaction } from '../iocom/transaction.ts';

/**
 * DBG_SINK (0x00100201): the debug protocol's command 0x002, unused by
 * DragonFly. One-way load for `dmsg bench`: counted, not answered.
 */
export const DBG_SINK = ((DMSG.DBG_SHELL & ~0xfff00) | (0x002 << 8)) >>> 0;

/** Answer one transaction: a sink if opened with DBG_SINK, else an echo, until the opener closes it. */
export function echoTransaction(tx: Transaction): void {
  if ((tx.icmd & DMSGF.BASECMDMASK) === DBG_SINK) return sinkTransaction(tx);
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

function sinkTransaction(tx: Transaction): void {
  let messages = 0;
  let bytes = 0;
  tx.rx$.subscribe({
    next: (msg) => {
      if (msg.aux.length === 0) return;
      messages++;
      bytes += msg.aux.length;
    },
    complete: () => {
      if (tx.canSend) tx.send(DBG_SINK, { aux: new TextEncoder().encode(JSON.stringify({ messages, bytes })), delete: true });
      else tx.close();
    },
    error: () => {},
  });
}

/** Serve every transaction opened on `ad` with echoes (or a sink, see above). Unsubscribe to stop serving. */
export function serveEcho(ad: Advertisement): Subscription {
  return ad.transactions$.subscribe(echoTransaction);
}
