/**
 * The header CRC of a header the writer has just built, reading it as 15
 * little-endian words and skipping the zero ones. CRC-32C is linear: the
 * CRC of 64 bytes is the CRC of 64 zero bytes xor, for every byte, the
 * effect of that byte alone at its position. A header we send is mostly
 * zeros (reserved fields, usually circuit, error and aux fields), so this
 * does 4 table lookups per non-zero word, about 12-20 in all, where
 * slicing-by-16 does 60. Same result as `headerCrc` (hdr_crc taken as zero).
 */
import { crc32c } from '../wire/crc32c.ts';

const POLY = 0x82f63b78;

/** Little-endian host: word reads through an Int32Array see the wire's byte order. */
export const SPARSE_CRC_OK: boolean = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** P[p * 256 + b]: what byte b at position p of a 64-byte block adds to the CRC register at its end. */
const P = new Int32Array(60 * 256);
/** The finished CRC of 64 zero bytes. */
let ZERO64 = 0;
{
  const step = (r: number): number => {
    for (let k = 0; k < 8; k++) r = r & 1 ? (r >>> 1) ^ POLY : r >>> 1;
    return r;
  };
  // Byte b at position p: its register after p is step(b); then 63 - p zero bytes.
  for (let b = 0; b < 256; b++) {
    let r = step(b);
    for (let p = 63; p >= 0; p--) {
      if (p < 60) P[p * 256 + b] = r;
      r = step(r); // one zero byte more: the same byte one position earlier
    }
  }
  let r = -1;
  for (let i = 0; i < 64; i++) r = step(r);
  ZERO64 = ~r;
}

/**
 * Header CRC of the `hb`-byte header at byte `o` of the array whose words
 * `W` views from `base` (o and base multiples of 4). hdr_crc counts as zero.
 * Bytes after the first 64 go through crc32c.
 */
export function sparseHeaderCrc(bytes: Uint8Array, W: Int32Array, base: number, o: number, hb: number): number {
  let crc = ZERO64;
  const w0 = (base + o) >> 2;
  for (let w = 0; w < 15; w++) {
    const v = W[w0 + w]!;
    if (v !== 0) {
      const p = w << 10; // (w * 4 bytes) * 256 entries
      crc ^= P[p + (v & 0xff)]! ^ P[p + 256 + ((v >>> 8) & 0xff)]! ^ P[p + 512 + ((v >>> 16) & 0xff)]! ^ P[p + 768 + (v >>> 24)]!;
    }
  }
  crc >>>= 0;
  return hb === 64 ? crc : crc32c(bytes, o + 64, o + hb, crc);
}
