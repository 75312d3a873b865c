/**
 * Relaying transactions between two links (libdmsg `dmsg_state_relay`).
 * A transaction opened on one of our outgoing spans (or stacked on an
 * already relayed transaction) is re-opened on the link toward the span's
 * originator; from then on every message is passed through both ways: cmd
 * flags DELETE/ABORT, error, extended header and aux (and its CRC, which
 * needs no recomputation) unchanged; msgid, circuit, salt and the header
 * CRC are the target link's own.
 *
 * When either side ends with LOSTLINK (its link died, or a span it rode on
 * was withdrawn), the other side gets a DELETE carrying DMSG_ERR_LOSTLINK.
 * Flow control crosses the relay: when the target link is above its write
 * high-water mark, reading from the source link pauses until it drains.
 */
import { DMSGF } from '../wire/constants.ts';
import type { Message } from '../wire/message.ts';
import type { Iocom } from '../iocom/iocom.ts';
import type { RawObserver } from '../iocom/raw-observer.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { PassFields } from '../iocom/write-queue.ts';
import { EMPTY } from '../wire/message.ts';

/** The other half of a relayed transaction. */
export interface RelayedPeer {
  /** The paired transaction on the other link. */
  readonly peer: Transaction;
  readonly peerIocom: Iocom;
}

/** Relayed transactions open per target link (a gauge for monitoring, read on scrape): one counter object per link, so a relayed transaction costs one lookup. */
const openOn = new WeakMap<Iocom, { n: number }>();

/** How many relayed transactions are open toward `iocom` (opened on it by a relay, not yet ended). */
export function relayedOpenOn(iocom: Iocom): number {
  return openOn.get(iocom)?.n ?? 0;
}

/**
 * The transaction `tx` is paired with by a relay, if any. The pairing sits
 * in the transaction's internal `_relay` slot (off `Transaction.context`,
 * which belongs to the application), so it goes with the transaction.
 */
export function relayedPeer(tx: Transaction): RelayedPeer | undefined {
  return tx._relay as RelayedPeer | undefined;
}

/** Forward one message onto `to` (on iocom `toIocom`), pausing `fromIocom` if `toIocom` backs up. */
function forward(msg: Message, to: Transaction, toIocom: Iocom, fromIocom: Iocom): void {
  forwardFields(msg.header.cmd, msg.header.error, msg.ext, msg.aux, msg.header, to, toIocom, fromIocom);
}

/** forward() from a message's fields: the decoded path passes its Message's, the receive tap (iocom/raw-observer.ts) the raw header's. */
function forwardFields(cmd: number, error: number, ext: Uint8Array, aux: Uint8Array, pass: PassFields, to: Transaction, toIocom: Iocom, fromIocom: Iocom): void {
  if (!to.canSend) {
    // Our side is already closed (or dying): an abort-after-DELETE can still pass.
    if (!(cmd & DMSGF.ABORT) || to.dying || to.freed) return;
  }
  let writable: boolean;
  try {
    writable = toIocom.forwardFields(to, cmd, error, ext, aux, pass);
  } catch {
    // The target ended between the check and the send: its own end is relayed the other way.
    return;
  }
  // forward() said whether the link is still below its high-water mark (false too when it closed).
  if (!writable && toIocom.isOpen && !toIocom.writable) {
    fromIocom.pauseReading();
    void toIocom.whenWritable().then(() => fromIocom.resumeReading());
  }
}

/*
 * One half of a relayed transaction: it is the pairing record of its
 * transaction (`peer`, `peerIocom`: where to pass messages) and the rx$
 * observer that passes them. Objects with methods on a prototype, not
 * closures: a relay makes two per relayed transaction, and under tsx's
 * keepNames every closure also costs a naming call.
 */

/** The incoming side: passes what the peer that opened the transaction sends, its CREATE excepted. */
class IncomingHalf implements RelayedPeer, RawObserver {
  readonly peer: Transaction;
  readonly peerIocom: Iocom;
  readonly #iocom: Iocom;
  #first: Message | null;
  constructor(peer: Transaction, peerIocom: Iocom, iocom: Iocom, first: Message) {
    this.peer = peer;
    this.peerIocom = peerIocom;
    this.#iocom = iocom;
    this.#first = first;
  }
  next(msg: Message): void {
    const first = this.#first;
    if (first !== null) {
      this.#first = null;
      if (msg === first) return;
    }
    forward(msg, this.peer, this.peerIocom, this.#iocom);
  }
  /** A mid-stream message from the receive tap: never the CREATE, so it goes on as next() would send any later one. */
  rawNext(cmd: number, error: number, aux: Uint8Array, auxCrc: number, reserved02: number): void {
    this.#first = null;
    forwardFields(cmd, error, EMPTY, aux, { auxCrc, reserved02 }, this.peer, this.peerIocom, this.#iocom);
  }
  error(): void {}
}

/** The outgoing side (opened by the relay): passes the answers back and counts the open relayed transaction down at its end. */
class OutgoingHalf implements RelayedPeer, RawObserver {
  readonly peer: Transaction;
  readonly peerIocom: Iocom;
  readonly #iocom: Iocom;
  readonly #open: { n: number };
  constructor(peer: Transaction, peerIocom: Iocom, iocom: Iocom, open: { n: number }) {
    this.peer = peer;
    this.peerIocom = peerIocom;
    this.#iocom = iocom;
    this.#open = open;
  }
  next(msg: Message): void {
    forward(msg, this.peer, this.peerIocom, this.#iocom);
  }
  /** A mid-stream message from the receive tap, passed on as next() would. */
  rawNext(cmd: number, error: number, aux: Uint8Array, auxCrc: number, reserved02: number): void {
    forwardFields(cmd, error, EMPTY, aux, { auxCrc, reserved02 }, this.peer, this.peerIocom, this.#iocom);
  }
  error(): void {
    this.#open.n--;
  }
  complete(): void {
    this.#open.n--;
  }
}

/**
 * Pair `incoming` (opened by a peer on `fromIocom`, its CREATE in
 * `incoming.first`) with a new transaction on `toIocom` stacked on `toParent`,
 * and pass messages through both ways until both are done.
 */
export function relayTransaction(incoming: Transaction, fromIocom: Iocom, toParent: Transaction, toIocom: Iocom): Transaction | null {
  const first = incoming.first!;
  const h = first.header;
  let outgoing: Transaction;
  try {
    outgoing = toIocom.open(h.cmd, { parent: toParent, ext: first.ext, aux: first.aux, error: h.error, delete: (h.cmd & DMSGF.DELETE) !== 0 });
  } catch {
    return null;
  }
  let open = openOn.get(toIocom);
  if (open === undefined) openOn.set(toIocom, (open = { n: 0 }));
  open.n++;
  const inHalf = new IncomingHalf(outgoing, toIocom, fromIocom, first);
  const outHalf = new OutgoingHalf(incoming, fromIocom, toIocom, open);
  incoming._relay = inHalf;
  outgoing._relay = outHalf;
  // Raw observers: later messages of the pair may skip decoding on both links (iocom/raw-observer.ts).
  incoming.subscribeRaw(inHalf);
  outgoing.subscribeRaw(outHalf);
  return outgoing;
}
