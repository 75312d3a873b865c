/**
 * The relay pass-through: a relayed message passed on without building a
 * Header or Message for it.
 *
 * A link whose transactions a relay pairs (span/relay.ts) sets a tap on its
 * frame decoder (FrameDecoder.passThrough). The decoder checks every
 * message as always (magic, sizes, header CRC, aux CRC); the receive
 * dispatch (ReceiveDispatch.passThrough) then applies the same checks the
 * general path would, in the same order of precedence: the sequence number,
 * the auth gate, the state rules (a mid-stream message, no CREATE, DELETE or
 * ABORT, of a transaction that is open and has not ended its receive side,
 * on a circuit that is open), and that the transaction's rx$ has exactly one
 * subscriber, its relay half. Only then does it take the message: it counts
 * it and moves the sequence on, as receive() would, and hands the fields to
 * the half's passRaw, which forwards them as its next() forwards a Message.
 * Anything else (CREATE, DELETE, ABORT, a message the general path would
 * drop or fail the link for, an extended header, a nonzero reserved18, a
 * msgid or circuit of 2^32 or more, a link that is paused, closing or
 * authenticating) is decoded and handled by the general path as before.
 * So the bytes sent and every failure are those of the general path.
 */
import type { PassFields } from './write-queue.ts';

/** The part of a relay half the pass-through calls (span/relay.ts implements it). @internal */
export interface RawRelay {
  /**
   * Pass on a mid-stream message of the transaction whose rx$ this half
   * alone observes, from its fields (cmd word, error, aux data, the
   * pass-through header fields), exactly as next() would pass the decoded
   * Message. Must not throw.
   */
  passRaw(cmd: number, error: number, aux: Uint8Array, pass: PassFields): void;
}

/** Whether `o` (a transaction's `_relay` slot) can take relayed messages from their fields. */
export function isRawRelay(o: unknown): o is RawRelay {
  return o !== undefined && o !== null && typeof (o as Partial<RawRelay>).passRaw === 'function';
}
