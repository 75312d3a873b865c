/**
 * The option and stats shapes of the Iocom's public API (iocom.ts):
 * what open() and sendOneWay() take, what stats() returns.
 */
import type { SendOptions, Transaction } from './transaction.ts';

export interface OpenOptions extends Omit<SendOptions, 'abort'> {
  /** The transaction to stack this one on (its msgid becomes our circuit). @default none: a top-level transaction */
  parent?: Transaction;
}

export interface OneWayOptions {
  /** Extended header bytes (padded to 8). @default none */
  ext?: Uint8Array;
  /** Aux data. @default none */
  aux?: Uint8Array;
  /** The header's error field. @default 0 */
  error?: number;
  /** Send with the REPLY flag (an answer to a one-way message). @default false */
  reply?: boolean;
}

export interface IocomStats {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Messages dropped by the state rules (EALREADY). */
  dropped: number;
  /** Open transactions we opened / the peer opened. */
  weOpened: number;
  peerOpened: number;
  queuedBytes: number;
  /** Bytes the decoder holds of a message not yet complete. */
  bufferedBytes: number;
  timers: number;
}
