/** Errors of the span layer. */
import { DmsgError } from '../wire/errors.ts';

export type SpanErrorCode =
  /** No span of that service (or that span is gone). */
  | 'NO_SPAN'
  /** The router is closed. */
  | 'CLOSED'
  /** A bad argument to a router call. */
  | 'INVALID_ARGUMENT';

export class SpanError extends DmsgError {
  declare readonly code: SpanErrorCode;
  constructor(code: SpanErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
