/**
 * The header CRC of a header the writer has just built, through the wire
 * layer's sparse word path (`headerCrcWords`: CRC-32C is linear, so only the
 * non-zero words of a mostly-zero header cost table lookups). Same result as
 * `headerCrc` (hdr_crc taken as zero).
 *
 * `HeaderCrcMaker` goes one step further for the common 64-byte header with
 * no pass-through fields: it builds the CRC from the field values the writer
 * has in hand (no reading back, no loop over 15 words), and keeps the
 * contribution of the last command word and the last aux size, which a link
 * sends in runs: a one-way message then costs one lookup for the sequence
 * byte and four for the aux CRC.
 */
import { HEADER_CRC_MAGIC_ONLY, LITTLE_ENDIAN_HOST, crc32c, headerByteCrc, headerCrcWords, headerWordCrc } from '../wire/crc32c.ts';

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

/** Word contribution of a u64 held as a safe non-negative integer number at words i, i + 1. */
function idCrc(i: number, id: number): number {
  if (id === 0) return 0;
  const lo = id >>> 0;
  const c = lo === 0 ? 0 : headerWordCrc(i, lo);
  return id > 0xffffffff ? c ^ headerWordCrc(i + 1, Math.floor(id / 0x100000000)) : c;
}

/**
 * Header CRCs of 64-byte headers from their fields: magic 0x4832 with
 * reserved02 = 0, the sequence byte at 0x04 and the rest of the salt zero,
 * msgid and circuit as safe integers, reserved18 = 0, cmd, aux CRC, aux
 * size, error, and zero auxDescr/reserved38. Anything else (extended
 * headers, pass-through reserved fields, bigint ids) goes through
 * sparseHeaderCrc. One per writer (it caches per link).
 */
export class HeaderCrcMaker {
  #cmd = 0;
  #cmdCrc = 0;
  #auxBytes = 0;
  #auxBytesCrc = 0;

  /** The header CRC (unsigned). */
  crc(seq: number, msgid: number, circuit: number, cmd: number, auxCrc: number, auxBytes: number, error: number): number {
    if (cmd !== this.#cmd) {
      this.#cmd = cmd;
      this.#cmdCrc = headerWordCrc(8, cmd >>> 0);
    }
    if (auxBytes !== this.#auxBytes) {
      this.#auxBytes = auxBytes;
      this.#auxBytesCrc = auxBytes === 0 ? 0 : headerWordCrc(10, auxBytes);
    }
    let crc = HEADER_CRC_MAGIC_ONLY ^ this.#cmdCrc ^ this.#auxBytesCrc;
    if (seq !== 0) crc ^= headerByteCrc(4, seq);
    if (msgid !== 0) crc ^= idCrc(2, msgid);
    if (circuit !== 0) crc ^= idCrc(4, circuit);
    if (auxCrc !== 0) crc ^= headerWordCrc(9, auxCrc);
    if (error !== 0) crc ^= headerWordCrc(11, error >>> 0);
    return crc >>> 0;
  }
}
