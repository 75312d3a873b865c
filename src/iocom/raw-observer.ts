/**
 * The receive tap: a mid-stream message handed to its transaction's only
 * rx$ observer as raw fields, without building a Header or a Message for it
 * and without the rx$ Multicast step.
 *
 * An rx$ observer that can take a message from its fields implements the
 * raw-observer role (`RawObserver.rawNext`) and subscribes with
 * `Transaction.subscribeRaw`, which also sets the tap on the transaction's
 * link (its frame decoder's `FrameDecoder.passThrough`; it stays on for the
 * link's life). Two observers do today: a relay half (span/relay.ts), which
 * passes the message on to the paired transaction, and a midcomms channel's
 * (services/midcomms), which hands the aux to the channel.
 *
 * The decoder checks every message as always (magic, sizes, header CRC,
 * aux CRC); the receive dispatch (ReceiveDispatch.passThrough) then applies
 * the same checks the general path would, in the same order of precedence:
 * the sequence number, the auth gate, the state rules (a mid-stream message,
 * no CREATE, DELETE or ABORT, of a transaction that is open and has not ended
 * its receive side, on a circuit that is open), and that the transaction's
 * rx$ has exactly one subscriber, a raw observer. Only then does it take the
 * message: it counts it and moves the sequence on, as receive() would, and
 * calls the observer's rawNext, which must do what its next() does with the
 * decoded Message. A throw from it costs the transaction (aborted), as a
 * throwing rx$ subscriber does. Anything else (CREATE, DELETE, ABORT, a
 * message the general path would drop or fail the link for, an extended
 * header, a nonzero reserved18, a msgid or circuit of 2^32 or more, a link
 * that is paused or closing, or whose auth handshake still runs: once it
 * has ended, an authenticated link is tapped too) is decoded and handled by the
 * general path as before. So every byte sent and every failure are those
 * of the general path.
 *
 * The aux view's lifetime is that of a decoded message's aux: the link tells
 * its reader that the chunk is lent (iocom.ts #passThrough), so a reused
 * read buffer is never read into over it; an observer may keep the view.
 */

/** An rx$ observer that takes mid-stream messages from their fields (see the file comment). @internal */
export interface RawObserver {
  /**
   * A mid-stream message (no CREATE, DELETE or ABORT) of the transaction
   * whose rx$ this observer alone observes: its cmd word, error and aux
   * data, and the header fields a relay passes through (aux CRC, reserved02).
   * Must do exactly what next() does with the decoded Message.
   */
  rawNext(cmd: number, error: number, aux: Uint8Array, auxCrc: number, reserved02: number): void;
}

/** Whether `o` (a transaction's sole rx$ observer) plays the raw-observer role. */
export function isRawObserver(o: unknown): o is RawObserver {
  return o !== undefined && o !== null && typeof (o as Partial<RawObserver>).rawNext === 'function';
}
