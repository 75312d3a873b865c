/** Errors of the iocom layer. */
import { DmsgError } from '../wire/errors.ts';

export type TransactionErrorCode =
  /** The link was lost (or the parent transaction ended) before the transaction finished. */
  | 'LOST_LINK'
  /** The peer aborted the transaction (ABORT|DELETE). */
  | 'ABORTED'
  /** Our side of the transaction is closed: nothing more can be sent. */
  | 'CLOSED'
  /** A configured limit (open transactions, depth, queued bytes) refused the call. */
  | 'LIMIT'
  /** The parent given to open() cannot take children. */
  | 'BAD_PARENT'
  /** An AbortSignal ended the call. */
  | 'CANCELLED';

export class TransactionError extends DmsgError {
  declare readonly code: TransactionErrorCode;
  /** The DMSG error code the peer (or the failure simulation) put in `head.error`, if any. */
  readonly dmsgError: number;
  constructor(code: TransactionErrorCode, message: string, dmsgError = 0, options?: ErrorOptions) {
    super(code, message, options);
    this.dmsgError = dmsgError;
  }
}

/** Why a link ended (what `closed$` carries). */
export type LinkCloseReason =
  | { kind: 'closed' }
  | { kind: 'peer-closed' }
  | { kind: 'error'; error: Error };

export class LinkError extends DmsgError {
  constructor(code: 'LINK_CLOSED' | 'KEEPALIVE_TIMEOUT' | 'STREAM_ERROR', message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
