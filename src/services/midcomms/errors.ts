/** Typed errors of the midcomms service: every one has a stable `code`. */

export type MidcommsErrorCode =
  /** A bad argument or option (what was expected and what came). */
  | 'INVALID_ARGUMENT'
  /** `send()` of a message that is not a valid inner DLM message. */
  | 'BAD_MESSAGE'
  /** Sending after our FIN (STOP_TX); the kernel warns, we refuse. */
  | 'STOP_TX'
  /** The session was fenced (`close()`); what was unacknowledged is dropped. */
  | 'FENCED'
  /** The peer restarted or reset the session; what was unacknowledged is gone with the old session. */
  | 'PEER_RESET'
  /** The active close did not reach CLOSED within the shutdown timeout. */
  | 'SHUTDOWN_TIMEOUT'
  /** `sendAcked()` to a 3.1 peer: it never acknowledges anything. */
  | 'UNSEQUENCED'
  /** The caller's AbortSignal fired while waiting for room in the window. */
  | 'ABORTED'
  /** Too many `send()` calls waiting for room in the window at once. */
  | 'TOO_MANY_WAITERS'
  /** The midcomms instance is closed. */
  | 'CLOSED'
  /** A channel's byte stream broke the framing (§5.4 item 1); that channel is closed. */
  | 'BAD_FRAME_LENGTH'
  /** A channel's data ended inside a frame. */
  | 'TRUNCATED'
  /** A channel did not start with a HELLO frame. */
  | 'HELLO_EXPECTED';

const BRAND = Symbol.for('dmsg-mesh.midcomms-error');

export class MidcommsError extends Error {
  readonly code: MidcommsErrorCode;
  readonly [BRAND] = true;

  constructor(code: MidcommsErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MidcommsError';
    this.code = code;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

/** True for a MidcommsError (also one made by another copy of this package). */
export function isMidcommsError(value: unknown): value is MidcommsError {
  return value instanceof MidcommsError;
}
