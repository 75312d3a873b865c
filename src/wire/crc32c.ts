/**
 * CRC-32C (Castagnoli), as DragonFly's `dmsg_icrc32`: reflected polynomial
 * 0x82F63B78, init and xorout 0xFFFFFFFF. `crc32c(b, crc32c(a)) === crc32c(a ‖ b)`.
 *
 * Dispatch, from `npx tsx bench/crc32c.ts` (Node 20, 2-core x86-64 AMD EPYC
 * shared with other jobs; ns/op, min over 0.25 ms windows; full table there):
 *
 *   size     crc-32/crc32c  first sb8  JS sb16 words  @node-rs/crc32  wasm sb16
 *   64 B          59           46           36             128           106
 *   256 B        166          193          129             151           133
 *   2 KiB       1194         1533          985             434           881
 *   64 KiB      36.9k        48.3k        31.8k            8.6k         27.5k
 *   1 MiB       595k         777k         502k             143k          445k
 *
 * - Below NATIVE_MIN_BYTES: slicing-by-16 in JS, reading aligned 32-bit words
 *   through an Int32Array view of the buffer (a quarter of the loads of byte
 *   reads). The native call costs ~110 ns of N-API overhead, which the JS loop
 *   beats up to the threshold. WebAssembly (slicing-by-16 over i64 loads) was
 *   measured too: the copy into wasm memory makes it 3x slower at 64 B and
 *   only ~10% faster than this loop from 2 KiB, where native is 2-3x faster, so
 *   it is not used.
 * - From NATIVE_MIN_BYTES: `@node-rs/crc32` (SSE4.2), when it loads; it is an
 *   optional speed-up and everything works without it.
 * - headerCrc of a 64-byte header: with a word view, by linearity over the
 *   non-zero words (headerCrcWords); else straight-line byte loads. The
 *   hdr_crc field is taken as zero (no copy, no mutation).
 */
import { createRequire } from 'node:module';
import { InvalidArgumentError } from './errors.ts';

const POLY = 0x82f63b78;

/** Slicing-by-16 tables: T[k * 256 + b] is byte b followed by k zero bytes. */
const T = new Int32Array(256 * 16);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n]!;
  for (let k = 1; k < 16; k++) {
    c = T[c & 0xff]! ^ (c >>> 8);
    T[k * 256 + n] = c;
  }
}

/** Word reads through an Int32Array are little-endian only on little-endian hosts. */
export const LITTLE_ENDIAN_HOST: boolean = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LITTLE = LITTLE_ENDIAN_HOST;

/**
 * Smallest length handed to the native CRC. Measured (bench/crc32c.ts
 * --crossover, min of 3 runs, ns): JS vs @node-rs/crc32 with its subarray:
 * 256 B 135 vs 147, 320 B 160 vs 156, 384 B 197 vs 172, 512 B 257 vs 192.
 */
export const NATIVE_MIN_BYTES = 320;

type NativeCrc = (input: Uint8Array, initialState?: number) => number;
function loadNative(): NativeCrc | undefined {
  try {
    const require = createRequire(import.meta.url);
    const fn = (require('@node-rs/crc32') as { crc32c?: unknown }).crc32c;
    if (typeof fn !== 'function') return undefined;
    const native = fn as NativeCrc;
    // Trust it only if it agrees with us on a check value and on continuation.
    const probe = new Uint8Array(NATIVE_MIN_BYTES + 37);
    for (let i = 0; i < probe.length; i++) probe[i] = (i * 167 + 13) & 0xff;
    const want = crc32cJs(probe, 5, probe.length, 0x12345678);
    if (native(probe.subarray(5), 0x12345678) !== want) return undefined;
    return native;
  } catch {
    // Not installed, or no binary for this platform: the JS path does it all.
    return undefined;
  }
}

// ---------------------------------------------------------------- word view cache

/*
 * `u8.buffer` costs ~20 ns (a getter call), as much as half a header CRC, so
 * the Int32Array view is cached per Uint8Array object: a decoder passes the
 * same chunk for every header in it. A view is built only when the same array
 * comes twice in a row, so fresh arrays (one per message) take the byte path
 * and never pay for a view. Holds the last two arrays alive until replaced.
 */
let viewArr: Uint8Array | undefined;
let viewWords: Int32Array = new Int32Array(0);
let viewBase = 0; // viewArr.byteOffset
let seenArr: Uint8Array | undefined;

/** Word view for `d` if one is cached or now worth making; undefined: use bytes. */
function wordsFor(d: Uint8Array): Int32Array | undefined {
  if (d === viewArr) return viewWords;
  if (d !== seenArr) {
    seenArr = d;
    return undefined;
  }
  const buf = d.buffer;
  viewArr = d;
  viewBase = d.byteOffset;
  // Resizable buffers: a fixed-length view may lag behind; callers check bounds.
  viewWords = new Int32Array(buf, 0, buf.byteLength >>> 2);
  return viewWords;
}

// ---------------------------------------------------------------- JS paths

/** Slicing-by-16 over byte loads, then bytewise. Internal form: not inverted. */
function updateBytes(crc: number, d: Uint8Array, i: number, end: number): number {
  const end16 = end - ((end - i) & 15);
  while (i < end16) {
    const a = crc ^ (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24));
    crc =
      T[3840 + (a & 0xff)]! ^ T[3584 + ((a >>> 8) & 0xff)]! ^ T[3328 + ((a >>> 16) & 0xff)]! ^ T[3072 + (a >>> 24)]! ^
      T[2816 + d[i + 4]!]! ^ T[2560 + d[i + 5]!]! ^ T[2304 + d[i + 6]!]! ^ T[2048 + d[i + 7]!]! ^
      T[1792 + d[i + 8]!]! ^ T[1536 + d[i + 9]!]! ^ T[1280 + d[i + 10]!]! ^ T[1024 + d[i + 11]!]! ^
      T[768 + d[i + 12]!]! ^ T[512 + d[i + 13]!]! ^ T[256 + d[i + 14]!]! ^ T[d[i + 15]!]!;
    i += 16;
  }
  while (i < end) crc = T[(crc ^ d[i++]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** Slicing-by-16 over W[w, wEnd) (wEnd - w a multiple of 4). Internal form. */
function updateWords(crc: number, W: Int32Array, w: number, wEnd: number): number {
  while (w < wEnd) {
    const a = crc ^ W[w]!;
    const b = W[w + 1]!;
    const c = W[w + 2]!;
    const e = W[w + 3]!;
    crc =
      T[3840 + (a & 0xff)]! ^ T[3584 + ((a >>> 8) & 0xff)]! ^ T[3328 + ((a >>> 16) & 0xff)]! ^ T[3072 + (a >>> 24)]! ^
      T[2816 + (b & 0xff)]! ^ T[2560 + ((b >>> 8) & 0xff)]! ^ T[2304 + ((b >>> 16) & 0xff)]! ^ T[2048 + (b >>> 24)]! ^
      T[1792 + (c & 0xff)]! ^ T[1536 + ((c >>> 8) & 0xff)]! ^ T[1280 + ((c >>> 16) & 0xff)]! ^ T[1024 + (c >>> 24)]! ^
      T[768 + (e & 0xff)]! ^ T[512 + ((e >>> 8) & 0xff)]! ^ T[256 + ((e >>> 16) & 0xff)]! ^ T[e >>> 24]!;
    w += 4;
  }
  return crc;
}

/** JS CRC update of d[start, end) (validated). Internal form: not inverted. */
function update(crc: number, d: Uint8Array, start: number, end: number): number {
  let i = start;
  if (LITTLE && end - i >= 32) {
    const W = wordsFor(d);
    if (W !== undefined) {
      // Bytes up to 4-byte alignment of the absolute address, then words.
      while (((viewBase + i) & 3) !== 0) crc = T[(crc ^ d[i++]!) & 0xff]! ^ (crc >>> 8);
      const w = (viewBase + i) >>> 2;
      const wEnd = w + (((end - i) >>> 4) << 2);
      if (wEnd <= W.length) {
        crc = updateWords(crc, W, w, wEnd);
        i += (wEnd - w) << 2;
      }
    }
  }
  return updateBytes(crc, d, i, end);
}

function checkRange(data: Uint8Array, start: number, end: number): void {
  if (!(start >= 0 && start <= end && end <= data.length && Math.floor(start) === start && Math.floor(end) === end)) {
    throw new InvalidArgumentError(
      `CRC range [${start}, ${end}) is not a range of integers inside the ${data.length}-byte array`,
    );
  }
}

/** CRC-32C in JS only (no native call): the small-size path, and the whole job without @node-rs/crc32. */
export function crc32cJs(data: Uint8Array, start = 0, end = data.length, prev = 0): number {
  checkRange(data, start, end);
  return ~update(~prev, data, start, end) >>> 0;
}

/** CRC-32C with byte loads only: the big-endian host path; exported so tests reach it anywhere. */
export function crc32cBytes(data: Uint8Array, start = 0, end = data.length, prev = 0): number {
  checkRange(data, start, end);
  return ~updateBytes(~prev, data, start, end) >>> 0;
}

const native = loadNative();

/** Whether crc32c hands inputs of NATIVE_MIN_BYTES or more to @node-rs/crc32. */
export const NATIVE_CRC32C: boolean = native !== undefined;

/** CRC-32C of `data[start, end)`, continuing from `prev` (a finished CRC, default 0). Unsigned. */
export function crc32c(data: Uint8Array, start = 0, end = data.length, prev = 0): number {
  checkRange(data, start, end);
  if (end - start >= NATIVE_MIN_BYTES && native !== undefined) return crcNative(native, data, start, end, prev);
  return ~update(~prev, data, start, end) >>> 0;
}

/**
 * CRC-32C of the words W[w, w + n) (n a multiple of 4; little-endian hosts
 * only; bounds checked by the caller): for callers that already hold a word
 * view of their buffer (the decoder per chunk, the writer per slab), so the
 * one-entry view cache of crc32c is neither consulted nor flipped between
 * their two arrays. Continues from `prev` (a finished CRC, default 0). Use
 * crc32c from NATIVE_MIN_BYTES, where native is faster.
 */
export function crc32cWords(W: Int32Array, w: number, n: number, prev = 0): number {
  return ~updateWords(~prev, W, w, w + n) >>> 0;
}

/**
 * CRC-32C of the `n` bytes at byte `o` of the DataView `v` (n a multiple of
 * 16; any alignment; bounds checked by the caller): slicing-by-16 over
 * little-endian 32-bit DataView loads, which V8 compiles to plain loads at
 * any address. For a decoder whose message starts at an address that is not
 * a multiple of 4 (a TCP read splits messages anywhere, so every message
 * after a split one sits at whatever offset the split left), where a word
 * view cannot reach. Use crc32c from NATIVE_MIN_BYTES.
 */
export function crc32cView(v: DataView, o: number, n: number): number {
  let crc = -1;
  const end = o + n;
  while (o < end) {
    const a = crc ^ v.getInt32(o, true);
    const b = v.getInt32(o + 4, true);
    const c = v.getInt32(o + 8, true);
    const e = v.getInt32(o + 12, true);
    crc =
      T[3840 + (a & 0xff)]! ^ T[3584 + ((a >>> 8) & 0xff)]! ^ T[3328 + ((a >>> 16) & 0xff)]! ^ T[3072 + (a >>> 24)]! ^
      T[2816 + (b & 0xff)]! ^ T[2560 + ((b >>> 8) & 0xff)]! ^ T[2304 + ((b >>> 16) & 0xff)]! ^ T[2048 + (b >>> 24)]! ^
      T[1792 + (c & 0xff)]! ^ T[1536 + ((c >>> 8) & 0xff)]! ^ T[1280 + ((c >>> 16) & 0xff)]! ^ T[1024 + (c >>> 24)]! ^
      T[768 + (e & 0xff)]! ^ T[512 + ((e >>> 8) & 0xff)]! ^ T[256 + ((e >>> 16) & 0xff)]! ^ T[e >>> 24]!;
    o += 16;
  }
  return ~crc >>> 0;
}

/** Out of line, so the small-size path of crc32c stays small enough to inline. */
function crcNative(fn: NativeCrc, data: Uint8Array, start: number, end: number, prev: number): number {
  return fn(start === 0 && end === data.length ? data : data.subarray(start, end), prev >>> 0);
}

// ---------------------------------------------------------------- header CRC

/** 64-byte header CRC with byte loads: 48 bytes, then 12 bytes and the zero hdr_crc field. */
function header64Bytes(d: Uint8Array, o: number): number {
  let crc = updateBytes(-1, d, o, o + 48);
  const i = o + 48;
  const a = crc ^ (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24));
  crc =
    T[3840 + (a & 0xff)]! ^ T[3584 + ((a >>> 8) & 0xff)]! ^ T[3328 + ((a >>> 16) & 0xff)]! ^ T[3072 + (a >>> 24)]! ^
    T[2816 + d[i + 4]!]! ^ T[2560 + d[i + 5]!]! ^ T[2304 + d[i + 6]!]! ^ T[2048 + d[i + 7]!]! ^
    T[1792 + d[i + 8]!]! ^ T[1536 + d[i + 9]!]! ^ T[1280 + d[i + 10]!]! ^ T[1024 + d[i + 11]!]!;
  return ~crc >>> 0;
}

/*
 * Sparse header CRC. CRC-32C is linear: the CRC of 64 bytes is the CRC of 64
 * zero bytes xor, for each byte, the effect of that byte alone at its
 * position. Headers are mostly zero words (reserved fields, usually circuit,
 * error and the aux fields), so 4 lookups per non-zero word, ~24 for a
 * typical header, beat slicing-by-16's 60. P is 60 KiB, but only the rows
 * of non-zero bytes are touched. (src/iocom/sparse-crc.ts does the same for
 * the writer; the wire layer cannot import from iocom.)
 */
/** P[p * 256 + b]: what byte b at byte p of a 64-byte block adds to the CRC register after it. */
const P = new Int32Array(60 * 256);
/** Finished CRC of 64 zero bytes. */
let ZERO64 = 0;
/** Same with the native magic 0x4832 (and reserved02 zero) in the first word: every header we decode fast. */
let MAGIC64 = 0;
{
  // Byte b at position p: register T[b] after it, then 63 - p zero bytes.
  for (let b = 0; b < 256; b++) {
    let r = T[b]!;
    for (let p = 63; p >= 0; p--) {
      if (p < 60) P[p * 256 + b] = r;
      r = T[r & 0xff]! ^ (r >>> 8); // one zero byte more: the same byte one position earlier
    }
  }
  let r = -1;
  for (let i = 0; i < 64; i++) r = T[r & 0xff]! ^ (r >>> 8);
  ZERO64 = ~r;
  MAGIC64 = ZERO64 ^ P[0x32]! ^ P[256 + 0x48]!;
}

/**
 * Header CRC of the 64-byte header at word `w` of `W` (an Int32Array view;
 * little-endian hosts only, bounds checked by the caller), hdr_crc as zero.
 * For the decoder, which keeps one word view per chunk: no view lookup or
 * range check per call, and zero words cost one compare.
 */
export function headerCrcWords(W: Int32Array, w: number): number {
  const w0 = W[w]!;
  let crc = w0 === 0x4832 ? MAGIC64 : ZERO64 ^ P[w0 & 0xff]! ^ P[256 + ((w0 >>> 8) & 0xff)]! ^ P[512 + ((w0 >>> 16) & 0xff)]! ^ P[768 + (w0 >>> 24)]!;
  for (let i = 1; i < 15; i++) {
    const v = W[w + i]!;
    if (v !== 0) {
      const p = i << 10; // 4 bytes * 256 entries per word
      crc ^= P[p + (v & 0xff)]! ^ P[p + 256 + ((v >>> 8) & 0xff)]! ^ P[p + 512 + ((v >>> 16) & 0xff)]! ^ P[p + 768 + (v >>> 24)]!;
    }
  }
  return crc >>> 0;
}

/** The finished CRC of a 64-byte header whose words are all zero but the first, which holds the native magic 0x4832. */
export const HEADER_CRC_MAGIC_ONLY: number = MAGIC64 >>> 0;

/**
 * What the 32-bit little-endian word `x` at word `i` (1 to 14) of a 64-byte
 * header adds to the header CRC: CRC-32C is linear, so the header CRC is
 * HEADER_CRC_MAGIC_ONLY xor this for every non-zero word after the magic
 * (hdr_crc, word 15, taken as zero). For a writer that knows the field values
 * it has just written and need not read the words back. A zero byte adds 0.
 */
export function headerWordCrc(i: number, x: number): number {
  const p = i << 10;
  return P[p + (x & 0xff)]! ^ P[p + 256 + ((x >>> 8) & 0xff)]! ^ P[p + 512 + ((x >>> 16) & 0xff)]! ^ P[p + 768 + (x >>> 24)]!;
}

/** What byte `b` at byte `p` (4 to 59) of a 64-byte header adds to the header CRC (see headerWordCrc). */
export function headerByteCrc(p: number, b: number): number {
  return P[(p << 8) + b]!;
}

/**
 * headerCrcWords over a DataView: the 64-byte header at byte `o` of `v`, at
 * any alignment (bounds checked by the caller), hdr_crc as zero. Same sparse
 * method: zero words cost one compare.
 */
export function headerCrcView(v: DataView, o: number): number {
  const w0 = v.getInt32(o, true);
  let crc = w0 === 0x4832 ? MAGIC64 : ZERO64 ^ P[w0 & 0xff]! ^ P[256 + ((w0 >>> 8) & 0xff)]! ^ P[512 + ((w0 >>> 16) & 0xff)]! ^ P[768 + (w0 >>> 24)]!;
  for (let i = 1; i < 15; i++) {
    const x = v.getInt32(o + (i << 2), true);
    if (x !== 0) {
      const p = i << 10;
      crc ^= P[p + (x & 0xff)]! ^ P[p + 256 + ((x >>> 8) & 0xff)]! ^ P[p + 512 + ((x >>> 16) & 0xff)]! ^ P[p + 768 + (x >>> 24)]!;
    }
  }
  return crc >>> 0;
}

/**
 * The header CRC: CRC-32C over `hbytes` bytes at `offset`, with the 4-byte
 * hdr_crc field (offset 0x3C) taken as zero. The buffer is never modified
 * (it may be a view shared with other readers).
 */
export function headerCrc(data: Uint8Array, offset: number, hbytes: number): number {
  if (!(hbytes >= 64)) throw new InvalidArgumentError(`header of ${hbytes} bytes: expected at least 64`);
  checkRange(data, offset, offset + hbytes);
  let crc = -1;
  const W = LITTLE ? wordsFor(data) : undefined;
  const abs = viewBase + offset;
  if (W !== undefined && (abs & 3) === 0 && (abs >>> 2) + 16 <= W.length) {
    crc = headerCrcWords(W, abs >>> 2);
  } else {
    crc = header64Bytes(data, offset);
  }
  return hbytes === 64 ? crc : crc32c(data, offset + 64, offset + hbytes, crc);
}

// ---------------------------------------------------------------- warm-up

/*
 * Run every branch once at load so V8 has type feedback for all of them
 * before it optimises. Without this, a loop first optimised on large inputs
 * (on-stack replacement) and later given short tails deopted over and over,
 * and V8 left it unoptimised: slicing-by-16 ran 5x slower at 64 B (bench).
 */
{
  const buf = new Uint8Array(256);
  for (let i = 0; i < buf.length; i++) buf[i] = i;
  for (let r = 0; r < 3; r++) {
    for (const [s, e] of [[0, 0], [1, 2], [3, 70], [0, 64], [4, 200], [1, 255]] as const) {
      crc32cJs(buf, s, e, r);
      crc32cBytes(buf, s, e, r);
    }
    headerCrc(buf, 0, 64);
    headerCrc(buf, 3, 128);
    const dv = new DataView(buf.buffer, 1, 128);
    headerCrcView(dv, 0);
    crc32cView(dv, 3, 64);
  }
  viewArr = seenArr = undefined;
  viewWords = new Int32Array(0);
}
