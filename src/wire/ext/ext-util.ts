/**
 * Shared checks of the extended-header codecs: length of a received ext,
 * ranges of the values a caller asks us to encode.
 */

import { DMSG_HDR_SIZE, DMSG_IOQ_ERROR } from '../constants.ts';
import { InvalidArgumentError, ProtocolError } from '../errors.ts';
import { NIL_UUID, isUuid } from '../uuid.ts';

/** Ext bytes on the wire for a header of `units` 64-byte units (the cmd's size field). */
export function wireExtBytes(units: number): number {
  return units * DMSG_HDR_SIZE - DMSG_HDR_SIZE;
}

/** A DataView over exactly `ext` (which may be a view into a larger chunk). */
export function viewOf(ext: Uint8Array): DataView {
  return new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
}

/**
 * Throw `BAD_EXT` if `ext` cannot hold the struct's fields. `need` is the
 * struct size minus the 64-byte head: a shorter ext than the padded wire size
 * is fine as long as every field is there.
 */
export function requireExt(ext: Uint8Array, need: number, what: string): void {
  if (!(ext instanceof Uint8Array)) {
    throw new ProtocolError('BAD_EXT', `${what}: expected the extended header as a Uint8Array`, DMSG_IOQ_ERROR.FIELD);
  }
  if (ext.length < need) {
    throw new ProtocolError(
      'BAD_EXT',
      `${what}: extended header too short: expected at least ${need} bytes after the 64-byte head, got ${ext.length}`,
      DMSG_IOQ_ERROR.FIELD,
    );
  }
}

function bad(name: string, range: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'number' ? String(value) : typeof value;
  throw new InvalidArgumentError(`${name} must be ${range}, got ${shown}`);
}

export function u8(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 0xff) bad(name, 'an integer in [0, 255]', value);
  return value;
}

export function u16(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) bad(name, 'an integer in [0, 65535]', value);
  return value;
}

export function u32(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) bad(name, 'an integer in [0, 4294967295]', value);
  return value;
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;

export function u64(value: bigint | undefined, name: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) bad(name, 'a bigint in [0, 2^64-1]', value);
  return value;
}

export function uuidArg(value: string | undefined, name: string): string {
  if (value === undefined) return NIL_UUID;
  if (!isUuid(value)) {
    throw new InvalidArgumentError(
      `${name} must be a uuid in text form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, got ${typeof value === 'string' ? JSON.stringify(value) : typeof value}`,
    );
  }
  return value;
}

/** Copy `bytes` (at most `max`) into `out[offset]`; a missing value leaves zeros. */
export function rawArg(bytes: Uint8Array | undefined, max: number, name: string, out: Uint8Array, offset: number): void {
  if (bytes === undefined) return;
  if (!(bytes instanceof Uint8Array)) bad(name, `a Uint8Array of at most ${max} bytes`, bytes);
  if (bytes.length > max) {
    throw new InvalidArgumentError(`${name} must be at most ${max} bytes, got ${bytes.length}`);
  }
  out.set(bytes, offset);
}
