/**
 * Errors of the DLM. `DlmError.code` is the errno name ('EAGAIN', 'EDEADLK',
 * 'ECANCEL', 'EUNLOCK', 'EINVAL', ...) and `errno` its negative value (spec §1.9),
 * so a status from an lksb maps to exactly one error. Branded like the other
 * errors of the package (`Symbol.for('dmsg-mesh.error')`), so `instanceof
 * DmsgError` holds for it without this service importing the wire layer.
 */
import { DLM_ERRNO } from './constants.ts';

const BRAND = Symbol.for('dmsg-mesh.error');

export type DlmErrorCode =
  | Exclude<keyof typeof DLM_ERRNO, 'OK'>
  /** A message from a peer broke the message layout or the protocol rules. */
  | 'EBADMSG'
  /** The lockspace was left, or the node closed. */
  | 'ESHUTDOWN';

const NAME_OF = new Map<number, DlmErrorCode>(
  (Object.entries(DLM_ERRNO) as [keyof typeof DLM_ERRNO, number][])
    .filter(([k]) => k !== 'OK')
    .map(([k, v]) => [v, k as DlmErrorCode]),
);

export class DlmError extends Error {
  readonly code: DlmErrorCode;
  /** The negative errno of `code` (0 for codes without one: EBADMSG, ESHUTDOWN). */
  readonly errno: number;
  constructor(code: DlmErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.errno = (DLM_ERRNO as Record<string, number>)[code] ?? 0;
    this.name = 'DlmError';
  }
  get [BRAND](): string {
    return this.name;
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (typeof (value as { [BRAND]?: unknown })[BRAND] !== 'string') return false;
    for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
      if (proto.constructor?.name === 'DlmError') return true;
    }
    return false;
  }

  /** The error for a negative status (an AST status or a synchronous return). */
  static fromStatus(status: number, context: string): DlmError {
    const code = NAME_OF.get(status);
    if (code === undefined) return new DlmError('EPROTO', `${context}: unexpected status ${status}`);
    return new DlmError(code, `${context}: ${code} (${status})`);
  }
}

export function isDlmError(err: unknown): err is DlmError {
  return err instanceof DlmError;
}

/** The errno name of a status (for logs): 'EAGAIN', 'EUNLOCK', or the number. */
export function statusName(status: number): string {
  return status === 0 ? '0' : (NAME_OF.get(status) ?? String(status));
}
