/**
 * Typed errors. Every error has a stable string `code` and a message that says
 * what was expected and what came. Classes are branded so that `instanceof`
 * works across two copies of the package (undici's approach).
 */

const BRAND = Symbol.for('dmsg-mesh.error');

export class DmsgError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  get [BRAND](): string {
    return this.name;
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const brand = (value as { [BRAND]?: unknown })[BRAND];
    if (typeof brand !== 'string') return false;
    if (this === DmsgError) return true;
    // Walk the prototype chain by name so that copies from two installs agree.
    for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
      if (proto.constructor?.name === this.name) return true;
    }
    return false;
  }
}

/** Codes of `ProtocolError`: what a peer's bytes or messages did wrong. */
export type ProtocolErrorCode =
  | 'BAD_MAGIC'
  | 'HDR_TOO_SMALL'
  | 'HDR_TOO_LARGE'
  | 'AUX_TOO_LARGE'
  | 'BAD_HDR_CRC'
  | 'BAD_AUX_CRC'
  | 'BAD_SEQ'
  | 'TRUNCATED'
  | 'DECODER_FAILED'
  | 'BAD_EXT'
  | 'BAD_STATE'
  | 'DUPLICATE_TRANS'
  | 'UNKNOWN_TRANS'
  | 'LIMIT'
  | 'AUTH_FAILED'
  | 'AUTH_REQUIRED';

/** A peer sent something the protocol does not allow. Fatal to that link only. */
export class ProtocolError extends DmsgError {
  declare readonly code: ProtocolErrorCode;
  /** The DMSG_IOQ_ERROR_* value closest to this error (for logs and LNK_ERROR). */
  readonly dmsgError: number;
  constructor(code: ProtocolErrorCode, message: string, dmsgError: number, options?: ErrorOptions) {
    super(code, message, options);
    this.dmsgError = dmsgError;
  }
}

/** A caller passed a value out of range or of the wrong type. */
export class InvalidArgumentError extends DmsgError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
  }
}

export function isProtocolError(err: unknown): err is ProtocolError {
  return err instanceof ProtocolError;
}

export function hex(n: number | bigint, width = 8): string {
  return '0x' + n.toString(16).padStart(width, '0');
}
