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

export type LinkErrorCode =
  /** The link was closed (what open transactions see as the cause). */
  | 'LINK_CLOSED'
  /** Nothing was received for linkTimeoutMs. */
  | 'KEEPALIVE_TIMEOUT'
  /** The stream reported an error. */
  | 'STREAM_ERROR'
  /** The link was shed for a limit: its own queue (maxQueuedBytes) or a daemon-wide budget. */
  | 'LIMIT'
  /** A messages$ subscriber threw on a message from this link. */
  | 'HANDLER_FAILED'
  /** An unexpected exception in the iocom's own code on this link's receive path or timers. */
  | 'INTERNAL';

export class LinkError extends DmsgError {
  declare readonly code: LinkErrorCode;
  constructor(code: LinkErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
