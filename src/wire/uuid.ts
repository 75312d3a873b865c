/**
 * UUIDs as DragonFly puts them on the wire: the in-memory `struct uuid`
 * copied raw. time_low (u32), time_mid (u16) and time_hi_and_version (u16)
 * are in the sender's byte order (little-endian for us and for x86 DragonFly);
 * clock_seq and node (8 bytes) travel as they are. So the text form
 * 01234567-89ab-cdef-0123-456789abcdef is sent as 67452301 ab89 efcd 0123…,
 * not the RFC 4122 byte order that `uuid.parse()` gives.
 *
 * Any 8-4-4-4-12 hex string is accepted (DragonFly does not check the
 * version or variant bits); output is always lower case.
 */

import { InvalidArgumentError } from './errors.ts';

export const UUID_SIZE = 16;
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** For each wire byte, the position in the text form of its two hex digits. */
const TEXT_POS_LE = Uint8Array.of(6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34);
const TEXT_POS_BE = Uint8Array.of(0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34);

const HEX_DIGITS = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX_DIGITS[i] = '0123456789abcdef'.charCodeAt(i);
/** Scratch for the text form: one TextDecoder call is faster than 20 concatenations. */
const TEXT = new Uint8Array(36);
TEXT[8] = TEXT[13] = TEXT[18] = TEXT[23] = 0x2d;
const asciiDecoder = new TextDecoder();
const TMP = new Uint8Array(UUID_SIZE);

/** char code → nibble value, or -1. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[0x41 + i] = 10 + i;
  NIBBLE[0x61 + i] = 10 + i;
}

function nibble(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  return c < 128 ? NIBBLE[c]! : -1;
}

/** True when `text` is an 8-4-4-4-12 hex uuid (either case). */
export function isUuid(text: unknown): text is string {
  if (typeof text !== 'string' || text.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (text.charCodeAt(i) !== 0x2d) return false;
    } else if (nibble(text, i) < 0) {
      return false;
    }
  }
  return true;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

function notUuid(text: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`expected a uuid in text form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, got ${describe(text)}`);
}

/**
 * Write `text` as a 16-byte wire uuid at `out[offset]`.
 * @throws InvalidArgumentError if `text` is not a uuid or `out` is too short.
 */
export function uuidToBytes(text: string, out: Uint8Array, offset: number, bigEndian = false): void {
  if (
    typeof text !== 'string' || text.length !== 36 ||
    text.charCodeAt(8) !== 0x2d || text.charCodeAt(13) !== 0x2d ||
    text.charCodeAt(18) !== 0x2d || text.charCodeAt(23) !== 0x2d
  ) {
    throw notUuid(text);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + UUID_SIZE > out.length) {
    throw new InvalidArgumentError(
      `uuid needs 16 bytes at offset ${offset}, buffer has ${out.length} bytes`,
    );
  }
  const pos = bigEndian ? TEXT_POS_BE : TEXT_POS_LE;
  // Validate the hex digits while converting; on failure nothing is left half-written.
  let invalid = 0;
  for (let i = 0; i < UUID_SIZE; i++) {
    const p = pos[i]!;
    const hi = nibble(text, p);
    const lo = nibble(text, p + 1);
    invalid |= hi | lo;
    TMP[i] = (hi << 4) | lo;
  }
  if (invalid < 0) throw notUuid(text);
  out.set(TMP, offset);
}

/**
 * Read a 16-byte wire uuid at `buf[offset]` and return its lower-case text form.
 * @throws InvalidArgumentError if fewer than 16 bytes remain at `offset`.
 */
export function uuidFromBytes(buf: Uint8Array, offset: number, bigEndian = false): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + UUID_SIZE > buf.length) {
    throw new InvalidArgumentError(
      `uuid needs 16 bytes at offset ${offset}, buffer has ${buf.length} bytes`,
    );
  }
  const pos = bigEndian ? TEXT_POS_BE : TEXT_POS_LE;
  for (let i = 0; i < UUID_SIZE; i++) {
    const v = buf[offset + i]!;
    const p = pos[i]!;
    TEXT[p] = HEX_DIGITS[v >> 4]!;
    TEXT[p + 1] = HEX_DIGITS[v & 15]!;
  }
  return asciiDecoder.decode(TEXT);
}
