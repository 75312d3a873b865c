/**
 * The 64-byte base header (`struct dmsg_hdr`): field access at the exact
 * offsets, little-endian on send, either byte order on receive.
 */
import { DMSG_HDR_MAGIC } from './constants.ts';
import { describeCmd } from './cmd.ts';

/** Decoded base header. u64 fields are bigint; everything else is an unsigned number. */
export interface Header {
  magic: number;
  reserved02: number;
  salt: number;
  msgid: bigint;
  circuit: bigint;
  reserved18: bigint;
  cmd: number;
  auxCrc: number;
  auxBytes: number;
  error: number;
  auxDescr: bigint;
  reserved38: number;
  hdrCrc: number;
}

export const HDR_OFF = {
  magic: 0x00,
  reserved02: 0x02,
  salt: 0x04,
  msgid: 0x08,
  circuit: 0x10,
  reserved18: 0x18,
  cmd: 0x20,
  auxCrc: 0x24,
  auxBytes: 0x28,
  error: 0x2c,
  auxDescr: 0x30,
  reserved38: 0x38,
  hdrCrc: 0x3c,
} as const;

export function readU16LE(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
export function readU32LE(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
export function readU16BE(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function readU32BE(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Small u64 values (msgids from counters, circuits, zero fields) are shared
 * BigInts: a BigInt is a heap object, and building four per header was most
 * of the decode cost. Filled lazily.
 */
const SMALL_MAX = 1 << 16;
const SMALL: bigint[] = [];

/** u64 from two u32 halves. */
function u64(hi: number, lo: number): bigint {
  if (hi === 0) {
    if (lo < SMALL_MAX) {
      const v = SMALL[lo];
      return v !== undefined ? v : (SMALL[lo] = BigInt(lo));
    }
    return BigInt(lo);
  }
  // Below 2^53 one BigInt from a safe integer; above, three BigInt operations.
  if (hi < 0x200000) return BigInt(hi * 4294967296 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function readU64LE(b: Uint8Array, o: number): bigint {
  return u64(readU32LE(b, o + 4), readU32LE(b, o));
}
export function readU64BE(b: Uint8Array, o: number): bigint {
  return u64(readU32BE(b, o), readU32BE(b, o + 4));
}

export function writeU16LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}
export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
export function writeU64LE(b: Uint8Array, o: number, v: bigint): void {
  if (v >= 0n && v <= 0xffffffffn) {
    writeU32LE(b, o, Number(v));
    writeU32LE(b, o + 4, 0);
  } else {
    const x = BigInt.asUintN(64, v);
    writeU32LE(b, o, Number(x & 0xffffffffn));
    writeU32LE(b, o + 4, Number(x >> 32n));
  }
}

/** Decode the 64 bytes at `o`, sent little-endian (magic 0x4832 as read LE). */
export function decodeHeaderLE(b: Uint8Array, o: number): Header {
  return {
    magic: readU16LE(b, o),
    reserved02: readU16LE(b, o + 0x02),
    salt: readU32LE(b, o + 0x04),
    msgid: u64(readU32LE(b, o + 0x0c), readU32LE(b, o + 0x08)),
    circuit: u64(readU32LE(b, o + 0x14), readU32LE(b, o + 0x10)),
    reserved18: u64(readU32LE(b, o + 0x1c), readU32LE(b, o + 0x18)),
    cmd: readU32LE(b, o + 0x20),
    auxCrc: readU32LE(b, o + 0x24),
    auxBytes: readU32LE(b, o + 0x28),
    error: readU32LE(b, o + 0x2c),
    auxDescr: u64(readU32LE(b, o + 0x34), readU32LE(b, o + 0x30)),
    reserved38: readU32LE(b, o + 0x38),
    hdrCrc: readU32LE(b, o + 0x3c),
  };
}

/**
 * Decode the little-endian header at byte `o` of a DataView. DataView
 * accessors inline into straight loads in optimised code; the decoder makes
 * one view per chunk and decodes every header in it through this.
 */
export function decodeHeaderView(v: DataView, o: number): Header {
  return {
    magic: v.getUint16(o, true),
    reserved02: v.getUint16(o + 0x02, true),
    salt: v.getUint32(o + 0x04, true),
    msgid: u64(v.getUint32(o + 0x0c, true), v.getUint32(o + 0x08, true)),
    circuit: u64(v.getUint32(o + 0x14, true), v.getUint32(o + 0x10, true)),
    reserved18: u64(v.getUint32(o + 0x1c, true), v.getUint32(o + 0x18, true)),
    cmd: v.getUint32(o + 0x20, true),
    auxCrc: v.getUint32(o + 0x24, true),
    auxBytes: v.getUint32(o + 0x28, true),
    error: v.getUint32(o + 0x2c, true),
    auxDescr: u64(v.getUint32(o + 0x34, true), v.getUint32(o + 0x30, true)),
    reserved38: v.getUint32(o + 0x38, true),
    hdrCrc: v.getUint32(o + 0x3c, true),
  };
}

/** Reserved and unused u64 fields are zero in practice: checked inline, no call. */
const ZERO = 0n;

/**
 * u64 at words W[w] (low), W[w + 1] (high); `B` views the same bytes as
 * 64-bit words, w is even. Zero and small values come from the shared
 * BigInts; others are one BigUint64Array load, which V8 compiles to an
 * inline BigInt allocation (~9 ns, against ~25 ns for BigInt(number)).
 */
function u64At(W: Int32Array, B: BigUint64Array, w: number): bigint {
  const lo = W[w]!;
  if (W[w + 1]! === 0 && lo >>> 0 < SMALL_MAX) {
    const v = SMALL[lo];
    return v !== undefined ? v : (SMALL[lo] = BigInt(lo));
  }
  return B[w >>> 1]!;
}

/**
 * Decode the little-endian header at word `w` of an Int32Array view and
 * the BigUint64Array view of the same bytes (little-endian hosts only; `w`
 * even; the caller checks bounds). The decoder keeps both views per chunk
 * for the header CRC and reads the fields from them too: word loads are
 * cheaper than DataView accesses.
 */
export function decodeHeaderWords(W: Int32Array, B: BigUint64Array, w: number): Header {
  const w0 = W[w]!;
  return {
    magic: w0 & 0xffff,
    reserved02: w0 >>> 16,
    salt: W[w + 1]! >>> 0,
    msgid: u64At(W, B, w + 2),
    circuit: (W[w + 4]! | W[w + 5]!) === 0 ? ZERO : u64At(W, B, w + 4),
    reserved18: (W[w + 6]! | W[w + 7]!) === 0 ? ZERO : u64At(W, B, w + 6),
    cmd: W[w + 8]! >>> 0,
    auxCrc: W[w + 9]! >>> 0,
    auxBytes: W[w + 10]! >>> 0,
    error: W[w + 11]! >>> 0,
    auxDescr: (W[w + 12]! | W[w + 13]!) === 0 ? ZERO : u64At(W, B, w + 12),
    reserved38: W[w + 14]! >>> 0,
    hdrCrc: W[w + 15]! >>> 0,
  };
}

/** Decode the 64 bytes at `o` from a big-endian sender (every field byte-swapped). */
export function decodeHeaderBE(b: Uint8Array, o: number): Header {
  return {
    magic: readU16BE(b, o),
    reserved02: readU16BE(b, o + 0x02),
    salt: readU32BE(b, o + 0x04),
    msgid: readU64BE(b, o + 0x08),
    circuit: readU64BE(b, o + 0x10),
    reserved18: readU64BE(b, o + 0x18),
    cmd: readU32BE(b, o + 0x20),
    auxCrc: readU32BE(b, o + 0x24),
    auxBytes: readU32BE(b, o + 0x28),
    error: readU32BE(b, o + 0x2c),
    auxDescr: readU64BE(b, o + 0x30),
    reserved38: readU32BE(b, o + 0x38),
    hdrCrc: readU32BE(b, o + 0x3c),
  };
}

/**
 * Write every header field except hdr_crc little-endian at `o` (the CRC
 * slot is zeroed; the caller computes it over the whole extended header).
 */
export function writeHeaderLE(b: Uint8Array, o: number, h: Header): void {
  writeU16LE(b, o, h.magic);
  writeU16LE(b, o + 0x02, h.reserved02);
  writeU32LE(b, o + 0x04, h.salt);
  writeU64LE(b, o + 0x08, h.msgid);
  writeU64LE(b, o + 0x10, h.circuit);
  writeU64LE(b, o + 0x18, h.reserved18);
  writeU32LE(b, o + 0x20, h.cmd);
  writeU32LE(b, o + 0x24, h.auxCrc);
  writeU32LE(b, o + 0x28, h.auxBytes);
  writeU32LE(b, o + 0x2c, h.error);
  writeU64LE(b, o + 0x30, h.auxDescr);
  writeU32LE(b, o + 0x38, h.reserved38);
  writeU32LE(b, o + 0x3c, 0);
}

/** A header with every field zero except the native magic. */
export function emptyHeader(): Header {
  return {
    magic: DMSG_HDR_MAGIC,
    reserved02: 0,
    salt: 0,
    msgid: 0n,
    circuit: 0n,
    reserved18: 0n,
    cmd: 0,
    auxCrc: 0,
    auxBytes: 0,
    error: 0,
    auxDescr: 0n,
    reserved38: 0,
    hdrCrc: 0,
  };
}

/** Fill a partial header: missing fields are 0, magic native. */
export function completeHeader(h: Partial<Header>): Header {
  return {
    magic: h.magic ?? DMSG_HDR_MAGIC,
    reserved02: h.reserved02 ?? 0,
    salt: h.salt ?? 0,
    msgid: h.msgid ?? 0n,
    circuit: h.circuit ?? 0n,
    reserved18: h.reserved18 ?? 0n,
    cmd: h.cmd ?? 0,
    auxCrc: h.auxCrc ?? 0,
    auxBytes: h.auxBytes ?? 0,
    error: h.error ?? 0,
    auxDescr: h.auxDescr ?? 0n,
    reserved38: h.reserved38 ?? 0,
    hdrCrc: h.hdrCrc ?? 0,
  };
}

/** One line for logs: `LNK_SPAN|CREATE msgid=0x2a circuit=0 seq=3 aux=0 err=0`. */
export function describeHeader(h: Header): string {
  return (
    `${describeCmd(h.cmd)} msgid=0x${h.msgid.toString(16)} circuit=0x${h.circuit.toString(16)}` +
    ` seq=${h.salt & 0xff} aux=${h.auxBytes} err=0x${h.error.toString(16)}`
  );
}
