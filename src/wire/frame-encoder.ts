/**
 * Encoding messages for the wire: the header and extended header in one
 * buffer, the aux data as given (never copied), and its zero padding as a
 * view of a shared zero block — ready for a vectored write.
 */
import { DMSG_ALIGN_MASK, DMSG_AUX_MAX, DMSG_HDR_MAX, DMSGF } from './constants.ts';
import { crc32c, headerCrc } from './crc32c.ts';
import { InvalidArgumentError } from './errors.ts';
import { completeHeader, writeHeaderLE, writeU32LE, type Header } from './header.ts';

/** 64 zero bytes: the padding after unaligned aux data. Never written to. */
const ZEROS = new Uint8Array(64);

/** Zero padding that follows `auxLen` bytes of aux (a shared read-only view). */
export function auxPadding(auxLen: number): Uint8Array {
  return ZEROS.subarray(0, (64 - (auxLen & DMSG_ALIGN_MASK)) & DMSG_ALIGN_MASK);
}

/** aux_crc: CRC-32C over the aux data padded with zeros to 64 bytes; 0 for no aux. */
export function auxCrcOf(aux: Uint8Array): number {
  if (aux.length === 0) return 0;
  const pad = (64 - (aux.length & DMSG_ALIGN_MASK)) & DMSG_ALIGN_MASK;
  const c = crc32c(aux);
  return pad === 0 ? c : crc32c(ZEROS, 0, pad, c);
}

/** Extended header size in bytes for a cmd, validated for sending. */
export function headerBytesForSend(cmd: number, extLength: number): number {
  const hb = (cmd & DMSGF.SIZE) << 6;
  if (hb === 0) throw new InvalidArgumentError(`cmd 0x${(cmd >>> 0).toString(16)} has header size 0; the low byte must give the extended header size in 64-byte units (at least 1)`);
  if (hb > DMSG_HDR_MAX) throw new InvalidArgumentError(`cmd 0x${(cmd >>> 0).toString(16)} asks for a ${hb}-byte header; receivers accept at most ${DMSG_HDR_MAX}`);
  if (extLength > hb - 64) throw new InvalidArgumentError(`extended header of ${extLength} bytes does not fit the ${hb - 64} bytes that cmd 0x${(cmd >>> 0).toString(16)} gives after the base header`);
  return hb;
}

/**
 * Write a complete extended header at `target[offset]`: the base header from
 * `h` (its auxBytes and auxCrc as given), then `ext`, zero fill, and hdr_crc.
 * `target` must hold `hb` bytes from `offset` and be zeroed there (a fresh
 * buffer is). Returns the hdr_crc.
 */
export function encodeHeaderInto(target: Uint8Array, offset: number, h: Header, ext: Uint8Array, hb: number): number {
  writeHeaderLE(target, offset, h);
  if (ext.length > 0) target.set(ext, offset + 64);
  const crc = headerCrc(target, offset, hb);
  writeU32LE(target, offset + 0x3c, crc);
  return crc;
}

export interface MessageInput {
  header: Partial<Header>;
  ext?: Uint8Array;
  aux?: Uint8Array;
}

/**
 * The exact bytes of one message on the wire, in order: [header+ext, aux?,
 * padding?]. auxBytes, auxCrc and hdrCrc are computed; every other header
 * field is taken as given (missing ones 0, magic native). Multi-byte fields
 * are written little-endian.
 */
export function encodeMessage(msg: MessageInput): Uint8Array[] {
  const ext = msg.ext ?? ZEROS.subarray(0, 0);
  const aux = msg.aux ?? ZEROS.subarray(0, 0);
  if (aux.length > DMSG_AUX_MAX) throw new InvalidArgumentError(`aux data of ${aux.length} bytes is larger than the ${DMSG_AUX_MAX} bytes receivers accept`);
  const h = completeHeader(msg.header);
  const hb = headerBytesForSend(h.cmd, ext.length);
  h.auxBytes = aux.length;
  h.auxCrc = auxCrcOf(aux);
  const head = new Uint8Array(hb);
  h.hdrCrc = encodeHeaderInto(head, 0, h, ext, hb);
  if (aux.length === 0) return [head];
  const pad = auxPadding(aux.length);
  return pad.length === 0 ? [head, aux] : [head, aux, pad];
}

/** Total bytes of a list of chunks. */
export function byteLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** Concatenate chunks into one buffer (for tests and tools; the iocom writes vectors). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(byteLength(chunks));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
