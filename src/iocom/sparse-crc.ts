/**
 * The header CRC of a header the writer has just built, through the wire
 * layer's sparse word path (`headerCrcWords`: CRC-32C is linear, so only the
 * non-zero words of a mostly-zero header cost table lookups). Same result as
 * `headerCrc` (hdr_crc taken as zero).
 */
import { LITTLE_ENDIAN_HOST, crc32c, headerCrcWords } from '../wire/crc32c.ts';

/** Little-endian host: word reads through an Int32Array see the wire's byte order. */
export const SPARSE_CRC_OK: boolean = LITTLE_ENDIAN_HOST;

/**
 * Header CRC of the `hb`-byte header at byte `o` of the array whose words
 * `W` views from `base` (o and base multiples of 4). Bytes after the first
 * 64 go through crc32c.
 */
export function sparseHeaderCrc(bytes: Uint8Array, W: Int32Array, base: number, o: number, hb: number): number {
  const crc = headerCrcWords(W, (base + o) >> 2);
  return hb === 64 ? crc : crc32c(bytes, o + 64, o + hb, crc);
}
