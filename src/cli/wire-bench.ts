/**
 * Wire codec benchmark (bench name `wire`), one core:
 * - 64-byte headers: encode (+CRC) and decode (+CRC check) per second, with
 *   baselines measured in the same run — a naive DataView codec without CRC
 *   and the bare header CRC — so the ratios show where the time goes;
 * - 4 KiB and 1 MiB aux: messages/s and GB/s, encode and decode apart.
 *
 * `runHeaderBench` is also what `dmsg bench headers` and `dmsg demo` run.
 */
import { headerCrc, NATIVE_CRC32C, NATIVE_MIN_BYTES } from '../wire/crc32c.ts';
import { DMSG, DMSGF } from '../wire/constants.ts';
import { FrameDecoder } from '../wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../wire/frame-encoder.ts';
import type { Header } from '../wire/header.ts';
import type { Message } from '../wire/message.ts';
import { currentClock, measure, measureInterleaved, type BenchContext, type MeasureOptions } from './bench-harness.ts';

export const BENCH = 'wire';

/** Headers per batch: enough that the harness's call is noise. */
const BATCH = 1024;
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
    const r = measureInterleaved({ encode: encodeBatch(headers), decode: decodeBatch(chunks) }, m);
    return { encodeCrcHeadersPerSec: r.encode.opsPerSec, decodeVerifyHeadersPerSec: r.decode.opsPerSec };
  }
  const r = measureInterleaved(
    {
      encode: encodeBatch(headers),
      decode: decodeBatch(chunks),
      naiveEncode: naiveEncodeBatch(headers),
      naiveDecode: naiveDecodeBatch(chunks),
      crc: crcBatch(chunks),
    },
    m,
  );
  return {
    encodeCrcHeadersPerSec: r.encode.opsPerSec,
    decodeVerifyHeadersPerSec: r.decode.opsPerSec,
    naiveEncodeHeadersPerSec: r.naiveEncode.opsPerSec,
    naiveDecodeHeadersPerSec: r.naiveDecode.opsPerSec,
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
  reporter.result({ bench: BENCH, metric: 'header_crc_per_s', value: r.headerCrcPerSec!, unit: 'crcs/s' });
  // rate(codec) / rate(crc) = time(crc) / time(codec): the CRC's share of each header's cost.
  reporter.ratio(BENCH, 'crc_share_of_encode_time', 'encode_crc_headers_per_s', 'header_crc_per_s');
  reporter.ratio(BENCH, 'crc_share_of_decode_time', 'decode_verify_headers_per_s', 'header_crc_per_s');
  return r;
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
  auxBench(ctx, '4k', 4096);
  auxBench(ctx, '1m', 1 << 20);
  ctx.reporter.note(`GB/s counts wire bytes (64-byte header + aux padded to 64), 1 GB = 1e9 bytes`);
}
