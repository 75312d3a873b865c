/**
 * Wire codec benchmark (bench name `wire`), one core:
 * - 64-byte headers: encode (+CRC) and decode (+CRC check) per second, with
 *   baselines measured in the same run — a naive DataView codec without CRC
 *   (allocating a header object with BigInts: the naive way), a floor that
 *   reads the same fields without CRC and without allocating anything, the
 *   bare header CRC, and, where a C compiler is present, a C decoder with a
 *   table-driven CRC32C compiled at bench time (cc -O2) and fed the same
 *   stream — so the ratios show where the time goes;
 * - 4 KiB and 1 MiB aux: messages/s and GB/s, encode and decode apart.
 *
 * `runHeaderBench` is also what `dmsg bench headers` and `dmsg demo` run.
 */
import { headerCrc, headerCrcWords, NATIVE_CRC32C, NATIVE_MIN_BYTES } from '../wire/crc32c.ts';
import { DMSG, DMSGF } from '../wire/constants.ts';
import { FrameDecoder } from '../wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../wire/frame-encoder.ts';
import type { Header } from '../wire/header.ts';
import type { Message } from '../wire/message.ts';
import { currentClock, measure, measureInterleaved, type BenchContext, type MeasureOptions } from './bench-harness.ts';
import { measureCDecode } from './wire-bench-c.ts';

export { measureCDecode, type CDecodeResult } from './wire-bench-c.ts';

export const BENCH = 'wire';

/** Headers per batch: enough that the harness's call is noise. */
const BATCH = 1024;
/**
 * Chunks per measured call of the decode, floor and CRC batches: a call
 * then takes 0.2-1.5 ms, so the clock read after it (process.cpuUsage, a
 * system call of ~1-4 µs) stays under 2% even for the floor.
 */
const CHUNKS_PER_CALL = 16;

/** `batch` called `times` times per call (returns the operations of all). */
function repeated(batch: () => number, times: number): () => number {
  return () => {
    let n = 0;
    for (let i = 0; i < times; i++) n += batch();
    return n;
  };
}

/** Read size the decoder is fed, like a socket read. */
const CHUNK = 64 * 1024;
/** Bytes of pre-encoded stream the decode benchmarks cycle through (beyond L2, like real traffic). */
const STREAM_BYTES = 4 << 20;

let sink = 0;
/** Keeps results observable so the optimiser cannot drop the work. */
export function benchSink(): number {
  return sink;
}

/** Varied header fields, as a link would send (msgid and salt change per message). */
function sampleHeaders(n: number): Partial<Header>[] {
  const out: Partial<Header>[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      cmd: (DMSG.LNK_PING | (i & 1 ? DMSGF.REPLY : 0) | DMSGF.CREATE) >>> 0,
      msgid: BigInt(0x7f0f68000000 + i * 0x40),
      circuit: i & 3 ? 0n : BigInt(0x1000 + i),
      salt: (0x495cff00 + i) >>> 0,
    });
  }
  return out;
}

/** The stream: whole messages back to back, cut into CHUNK-sized views. */
function chunked(stream: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let o = 0; o < stream.length; o += CHUNK) chunks.push(stream.subarray(o, Math.min(o + CHUNK, stream.length)));
  return chunks;
}

function headerStream(): Uint8Array {
  const hs = sampleHeaders(STREAM_BYTES / 64);
  return concatBytes(hs.map((h) => encodeMessage({ header: h })[0]!));
}

// ---------------------------------------------------------------- batches

function encodeBatch(headers: Partial<Header>[]): () => number {
  return () => {
    let x = 0;
    for (let i = 0; i < headers.length; i++) x ^= encodeMessage({ header: headers[i]! })[0]![60]!;
    sink ^= x;
    return headers.length;
  };
}

/** Baseline: the same fields written through a DataView, no CRC. */
function naiveEncodeBatch(headers: Partial<Header>[]): () => number {
  return () => {
    let x = 0;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      const b = new Uint8Array(64);
      const v = new DataView(b.buffer);
      v.setUint16(0, 0x4832, true);
      v.setUint32(4, h.salt ?? 0, true);
      v.setBigUint64(8, h.msgid ?? 0n, true);
      v.setBigUint64(16, h.circuit ?? 0n, true);
      v.setUint32(32, h.cmd ?? 0, true);
      x ^= b[8]!;
    }
    sink ^= x;
    return headers.length;
  };
}

/** One FrameDecoder fed the stream's chunks in a cycle (the stream is whole messages, so the cycle is a valid stream). */
function decodeBatch(chunks: Uint8Array[]): () => number {
  const dec = new FrameDecoder();
  const out: Message[] = [];
  let k = 0;
  return () => {
    out.length = 0;
    dec.pushInto(chunks[k]!, out);
    k = k + 1 === chunks.length ? 0 : k + 1;
    let x = 0;
    for (let i = 0; i < out.length; i++) x ^= out[i]!.header.cmd;
    sink ^= x;
    return out.length;
  };
}

/**
 * Baseline: walk the same chunks reading every field through a DataView; no
 * CRC, no checks. Headers are kept in an array, as the decoder's are, so the
 * optimiser cannot skip building them.
 */
function naiveDecodeBatch(chunks: Uint8Array[]): () => number {
  const views = chunks.map((c) => new DataView(c.buffer, c.byteOffset, c.byteLength));
  const out: Header[] = [];
  let k = 0;
  return () => {
    const v = views[k]!;
    k = k + 1 === views.length ? 0 : k + 1;
    out.length = 0;
    let x = 0;
    let n = 0;
    for (let o = 0; o + 64 <= v.byteLength; o += 64) {
      const h: Header = {
        magic: v.getUint16(o, true),
        reserved02: v.getUint16(o + 2, true),
        salt: v.getUint32(o + 4, true),
        msgid: v.getBigUint64(o + 8, true),
        circuit: v.getBigUint64(o + 16, true),
        reserved18: v.getBigUint64(o + 24, true),
        cmd: v.getUint32(o + 32, true),
        auxCrc: v.getUint32(o + 36, true),
        auxBytes: v.getUint32(o + 40, true),
        error: v.getUint32(o + 44, true),
        auxDescr: v.getBigUint64(o + 48, true),
        reserved38: v.getUint32(o + 56, true),
        hdrCrc: v.getUint32(o + 60, true),
      };
      out.push(h);
      x ^= h.cmd ^ h.hdrCrc;
      n++;
    }
    sink ^= x;
    return n;
  };
}

/**
 * Floor: walk the same chunks reading every header field (u64 fields as two
 * u32 halves) through one word view per chunk; no CRC, no checks, no
 * allocation. What a decoder costs before it verifies anything or builds a
 * header object.
 */
function floorDecodeBatch(chunks: Uint8Array[]): () => number {
  const words = chunks.map((c) => new Int32Array(c.buffer, c.byteOffset, c.byteLength >>> 2));
  let k = 0;
  return () => {
    const W = words[k]!;
    k = k + 1 === words.length ? 0 : k + 1;
    let x = 0;
    let n = 0;
    for (let w = 0; w + 16 <= W.length; w += 16) {
      // magic|reserved02, salt, msgid lo/hi, circuit lo/hi, reserved18 lo/hi,
      // cmd, aux_crc, aux_bytes, error, aux_descr lo/hi, reserved38, hdr_crc
      x ^= (W[w]! & 0xffff) ^ (W[w]! >>> 16) ^ W[w + 1]! ^ W[w + 2]! ^ W[w + 3]! ^ W[w + 4]! ^ W[w + 5]! ^ W[w + 6]! ^ W[w + 7]!;
      x ^= W[w + 8]! ^ W[w + 9]! ^ W[w + 10]! ^ W[w + 11]! ^ W[w + 12]! ^ W[w + 13]! ^ W[w + 14]! ^ W[w + 15]!;
      n++;
    }
    sink ^= x;
    return n;
  };
}

/** The fields of one header as the non-allocating decode leaves them (u64 fields as lo/hi halves), reused for every header. */
class HeaderFields {
  magic = 0;
  reserved02 = 0;
  salt = 0;
  msgidLo = 0;
  msgidHi = 0;
  circuitLo = 0;
  circuitHi = 0;
  reserved18Lo = 0;
  reserved18Hi = 0;
  cmd = 0;
  auxCrc = 0;
  auxBytes = 0;
  error = 0;
  auxDescrLo = 0;
  auxDescrHi = 0;
  reserved38 = 0;
  hdrCrc = 0;
}

/**
 * What a decoder costs without allocating: as the C baseline does per
 * header (magic, sizes, header CRC check, every field into one reused
 * struct), through one word view per chunk and the library's sparse header
 * CRC. Not the FrameDecoder API (which hands out a Header object with BigInt
 * u64 fields and a Message per header): the gap between the two rows is
 * what that API costs.
 */
function noAllocDecodeBatch(chunks: Uint8Array[]): () => number {
  const words = chunks.map((c) => new Int32Array(c.buffer, c.byteOffset, c.byteLength >>> 2));
  const h = new HeaderFields();
  let k = 0;
  return () => {
    const W = words[k]!;
    k = k + 1 === words.length ? 0 : k + 1;
    let x = 0;
    let n = 0;
    for (let w = 0; w + 16 <= W.length; w += 16) {
      const w0 = W[w]!;
      if ((w0 & 0xffff) !== 0x4832) throw new Error('bad magic');
      const cmd = W[w + 8]! >>> 0;
      const auxBytes = W[w + 10]! >>> 0;
      if ((cmd & DMSGF.SIZE) !== 1 || auxBytes > 1 << 20) throw new Error('bad sizes');
      if (headerCrcWords(W, w) !== W[w + 15]! >>> 0) throw new Error('bad header CRC');
      h.magic = w0 & 0xffff;
      h.reserved02 = w0 >>> 16;
      h.salt = W[w + 1]! >>> 0;
      h.msgidLo = W[w + 2]! >>> 0;
      h.msgidHi = W[w + 3]! >>> 0;
      h.circuitLo = W[w + 4]! >>> 0;
      h.circuitHi = W[w + 5]! >>> 0;
      h.reserved18Lo = W[w + 6]! >>> 0;
      h.reserved18Hi = W[w + 7]! >>> 0;
      h.cmd = cmd;
      h.auxCrc = W[w + 9]! >>> 0;
      h.auxBytes = auxBytes;
      h.error = W[w + 11]! >>> 0;
      h.auxDescrLo = W[w + 12]! >>> 0;
      h.auxDescrHi = W[w + 13]! >>> 0;
      h.reserved38 = W[w + 14]! >>> 0;
      h.hdrCrc = W[w + 15]! >>> 0;
      x ^= h.msgidLo ^ h.msgidHi ^ h.circuitLo ^ h.cmd ^ h.salt ^ h.error ^ h.auxDescrLo ^ h.reserved18Lo ^ h.reserved38 ^ h.reserved02;
      n++;
    }
    sink ^= x;
    return n;
  };
}

/** Bare CRC: headerCrc over every 64-byte header of a chunk. */
function crcBatch(chunks: Uint8Array[]): () => number {
  let k = 0;
  return () => {
    const c = chunks[k]!;
    k = k + 1 === chunks.length ? 0 : k + 1;
    let x = 0;
    let n = 0;
    for (let o = 0; o + 64 <= c.length; o += 64) {
      x ^= headerCrc(c, o, 64);
      n++;
    }
    sink ^= x;
    return n;
  };
}

// ---------------------------------------------------------------- header bench

export interface HeaderBenchOptions {
  /** Measured seconds per metric. @default 1 */
  seconds?: number;
  /** Also measure the baselines (naive DataView codec, bare CRC). @default true */
  baselines?: boolean;
}

export interface HeaderBenchResult {
  encodeCrcHeadersPerSec: number;
  decodeVerifyHeadersPerSec: number;
  /** Present when baselines were measured. */
  naiveEncodeHeadersPerSec?: number;
  naiveDecodeHeadersPerSec?: number;
  /** Reading the same fields without CRC and without allocation. */
  floorDecodeHeadersPerSec?: number;
  /** Checks and header CRC as the decoder's, fields into one reused object: no allocation. */
  noAllocDecodeHeadersPerSec?: number;
  headerCrcPerSec?: number;
}

/**
 * Measure 64-byte header encode and decode throughput (the library's own
 * codec); rounds of all metrics are interleaved so their ratios hold under load.
 */
export function measureHeaders(options: HeaderBenchOptions = {}): HeaderBenchResult {
  const m: MeasureOptions = { seconds: options.seconds ?? 1 };
  const headers = sampleHeaders(BATCH);
  const chunks = chunked(headerStream());
  if (!(options.baselines ?? true)) {
    const r = measureInterleaved({ encode: encodeBatch(headers), decode: repeated(decodeBatch(chunks), CHUNKS_PER_CALL) }, m);
    return { encodeCrcHeadersPerSec: r.encode.opsPerSec, decodeVerifyHeadersPerSec: r.decode.opsPerSec };
  }
  const r = measureInterleaved(
    {
      encode: encodeBatch(headers),
      decode: repeated(decodeBatch(chunks), CHUNKS_PER_CALL),
      naiveEncode: naiveEncodeBatch(headers),
      naiveDecode: repeated(naiveDecodeBatch(chunks), CHUNKS_PER_CALL),
      floorDecode: repeated(floorDecodeBatch(chunks), CHUNKS_PER_CALL),
      noAllocDecode: repeated(noAllocDecodeBatch(chunks), CHUNKS_PER_CALL),
      crc: repeated(crcBatch(chunks), CHUNKS_PER_CALL),
    },
    m,
  );
  return {
    encodeCrcHeadersPerSec: r.encode.opsPerSec,
    decodeVerifyHeadersPerSec: r.decode.opsPerSec,
    naiveEncodeHeadersPerSec: r.naiveEncode.opsPerSec,
    naiveDecodeHeadersPerSec: r.naiveDecode.opsPerSec,
    floorDecodeHeadersPerSec: r.floorDecode.opsPerSec,
    noAllocDecodeHeadersPerSec: r.noAllocDecode.opsPerSec,
    headerCrcPerSec: r.crc.opsPerSec,
  };
}

/** How src/wire/crc32c.ts computes CRC-32C on this machine (one line for the report). */
export function crc32cImplementation(): string {
  return NATIVE_CRC32C
    ? `crc32c: JS slicing-by-16 below ${NATIVE_MIN_BYTES} bytes, @node-rs/crc32 (native) from ${NATIVE_MIN_BYTES} bytes`
    : 'crc32c: JS slicing-by-16 (the optional @node-rs/crc32 did not load)';
}

/** Header metrics and their baselines/ratios, reported through ctx. */
export function runHeaderBench(ctx: BenchContext): HeaderBenchResult {
  const { reporter } = ctx;
  reporter.note(crc32cImplementation());
  reporter.note(`64-byte headers; decode is fed ${CHUNK / 1024} KiB chunks of a ${STREAM_BYTES >> 20} MiB pre-encoded stream; ${ctx.seconds} s of ${currentClock()} time per metric, rounds interleaved`);
  reporter.progress(`${BENCH}: measuring 64-byte headers ...`);
  const r = measureHeaders({ seconds: ctx.seconds });
  reporter.result({ bench: BENCH, metric: 'naive_encode_headers_per_s', value: r.naiveEncodeHeadersPerSec!, unit: 'headers/s' });
  reporter.result({
    bench: BENCH,
    metric: 'encode_crc_headers_per_s',
    value: r.encodeCrcHeadersPerSec,
    unit: 'headers/s',
    baseline: 'naive_encode_headers_per_s',
    ratioMetric: 'encode_crc_vs_naive_encode',
  });
  reporter.result({ bench: BENCH, metric: 'naive_decode_headers_per_s', value: r.naiveDecodeHeadersPerSec!, unit: 'headers/s' });
  reporter.result({
    bench: BENCH,
    metric: 'decode_verify_headers_per_s',
    value: r.decodeVerifyHeadersPerSec,
    unit: 'headers/s',
    baseline: 'naive_decode_headers_per_s',
    ratioMetric: 'decode_verify_vs_naive_decode',
  });
  reporter.result({ bench: BENCH, metric: 'floor_decode_headers_per_s', value: r.floorDecodeHeadersPerSec!, unit: 'headers/s' });
  reporter.ratio(BENCH, 'decode_verify_vs_floor_decode', 'decode_verify_headers_per_s', 'floor_decode_headers_per_s');
  reporter.result({ bench: BENCH, metric: 'noalloc_decode_verify_headers_per_s', value: r.noAllocDecodeHeadersPerSec!, unit: 'headers/s' });
  reporter.ratio(BENCH, 'decode_verify_vs_noalloc', 'decode_verify_headers_per_s', 'noalloc_decode_verify_headers_per_s');
  reporter.result({ bench: BENCH, metric: 'header_crc_per_s', value: r.headerCrcPerSec!, unit: 'crcs/s' });
  // rate(codec) / rate(crc) = time(crc) / time(codec): the CRC's share of each header's cost.
  reporter.ratio(BENCH, 'crc_share_of_encode_time', 'encode_crc_headers_per_s', 'header_crc_per_s');
  reporter.ratio(BENCH, 'crc_share_of_decode_time', 'decode_verify_headers_per_s', 'header_crc_per_s');
  return r;
}

/** The C-table decode rows (same stream, CPU time), or a note why they are skipped. */
export function runCBaseline(ctx: BenchContext): void {
  const { reporter } = ctx;
  reporter.progress(`${BENCH}: compiling and running the C decoder ...`);
  const c = measureCDecode(headerStream(), ctx.seconds);
  if ('skipped' in c) {
    reporter.note(`C-table decode rows skipped: ${c.skipped}`);
    return;
  }
  reporter.note('C decode (cc -O2, same stream, CPU time via clock(), median of 5 rounds): byte = libdmsg\'s one-table dmsg_icrc32 algorithm, sb8 = slicing-by-8; magic, sizes, header CRC check, fields into a struct');
  reporter.result({ bench: BENCH, metric: 'c_byte_table_decode_headers_per_s', value: c.byteTable, unit: 'headers/s' });
  reporter.result({ bench: BENCH, metric: 'c_sb8_decode_headers_per_s', value: c.sliceBy8, unit: 'headers/s' });
  reporter.ratio(BENCH, 'decode_verify_vs_c_byte_table', 'decode_verify_headers_per_s', 'c_byte_table_decode_headers_per_s');
  reporter.ratio(BENCH, 'decode_verify_vs_c_sb8', 'decode_verify_headers_per_s', 'c_sb8_decode_headers_per_s');
  reporter.ratio(BENCH, 'noalloc_decode_verify_vs_c_sb8', 'noalloc_decode_verify_headers_per_s', 'c_sb8_decode_headers_per_s');
}

// ---------------------------------------------------------------- aux bench

function auxBench(ctx: BenchContext, label: string, auxLen: number): void {
  const { reporter } = ctx;
  reporter.progress(`${BENCH}: measuring ${label} aux ...`);
  const m: MeasureOptions = { seconds: ctx.seconds };
  const aux = new Uint8Array(auxLen);
  for (let i = 0; i < auxLen; i++) aux[i] = (i * 2654435761) >>> 24;
  const header: Partial<Header> = { cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0, msgid: 0x42n };
  const wireBytes = 64 + ((auxLen + 63) & ~63);

  // Encode: header + aux CRC; the aux itself is passed through, not copied (vectored write).
  const perBatch = Math.max(1, Math.floor((1 << 20) / wireBytes));
  const enc = measure(() => {
    let x = 0;
    for (let i = 0; i < perBatch; i++) x ^= encodeMessage({ header, aux })[0]![0x24]!;
    sink ^= x;
    return perBatch;
  }, m).opsPerSec;

  // Decode: a stream of whole messages fed in CHUNK-sized reads; messages that straddle reads are assembled.
  const count = Math.max(2, Math.ceil(STREAM_BYTES / wireBytes));
  const one = concatBytes(encodeMessage({ header, aux }));
  const stream = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) stream.set(one, i * one.length);
  const chunks = chunked(stream);
  const dec = new FrameDecoder();
  const out: Message[] = [];
  let k = 0;
  // One batch is a few chunks (a whole 1 MiB message needs 16), counted in messages completed.
  const decBytes = measure(() => {
    let bytes = 0;
    for (let j = 0; j < 16; j++) {
      out.length = 0;
      const c = chunks[k]!;
      dec.pushInto(c, out);
      bytes += c.length;
      k = k + 1 === chunks.length ? 0 : k + 1;
      for (let i = 0; i < out.length; i++) sink ^= out[i]!.aux.length;
    }
    return bytes;
  }, m).opsPerSec;
  const decMsgs = decBytes / wireBytes;

  reporter.result({ bench: BENCH, metric: `encode_aux_${label}_msgs_per_s`, value: enc, unit: 'msgs/s' });
  reporter.result({ bench: BENCH, metric: `encode_aux_${label}_gb_per_s`, value: (enc * wireBytes) / 1e9, unit: 'GB/s' });
  reporter.result({ bench: BENCH, metric: `decode_aux_${label}_msgs_per_s`, value: decMsgs, unit: 'msgs/s' });
  reporter.result({ bench: BENCH, metric: `decode_aux_${label}_gb_per_s`, value: decBytes / 1e9, unit: 'GB/s' });
}

/** Bench entry point (`npm run bench -- wire`); the runner calls `endBench`. */
export function run(ctx: BenchContext): void {
  runHeaderBench(ctx);
  runCBaseline(ctx);
  auxBench(ctx, '4k', 4096);
  auxBench(ctx, '1m', 1 << 20);
  ctx.reporter.note(`GB/s counts wire bytes (64-byte header + aux padded to 64), 1 GB = 1e9 bytes`);
}
