/**
 * Typed errors of the transport layer. Every failure of a transport promise
 * rejects with a `TransportError` whose `code` is stable; the OS error (if
 * any) is kept as `cause` so `err.cause.code` still says `ECONNREFUSED` etc.
 */
import { DmsgError } from '../wire/errors.ts';

export const TRANSPORT_ERROR_CODES = [
  /** Dialling failed before a connection was established (refused, unreachable, handshake). */
  'CONNECT_FAILED',
  /** Binding the listening socket failed (address in use, permission, bad path). */
  'LISTEN_FAILED',
  /** The caller's AbortSignal fired. `cause` is the signal's reason. */
  'ABORTED',
  /** A connect attempt took longer than `timeoutMs`. */
  'TIMEOUT',
  /** The caller passed an option out of range or of the wrong type. */
  'INVALID_ARGUMENT',
  /** The object was already closed or stopped. */
  'CLOSED',
  /** The peer end of an in-memory link went away while data was pending. */
  'CONNECTION_RESET',
  /** A listener closed an accepted connection at once: `maxConnections` were open. */
  'CONNECTION_LIMIT',
] as const;

export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];

export class TransportError extends DmsgError {
  declare readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError;
}

/** The rejection used when an AbortSignal fires; keeps the signal's reason as cause. */
export function abortError(what: string, signal: AbortSignal): TransportError {
  return new TransportError('ABORTED', `${what} aborted`, { cause: signal.reason });
}

export function invalidArgument(message: string): TransportError {
  return new TransportError('INVALID_ARGUMENT', message);
}
