/**
 * What the iocom benchmark's two processes share: the commands, sizes and
 * pre-encoded frames of the raw baseline, and the IPC messages between the
 * bench (parent) and its worker (child).
 */
import { DMSG, DMSGF, DMSG_HDR_MAGIC } from '../src/wire/constants.ts';
import { crc32c } from '../src/wire/crc32c.ts';
import { concatBytes, encodeMessage, type MessageInput } from '../src/wire/frame-encoder.ts';
import type { IocomOptions } from '../src/iocom/options.ts';
import type { Socket } from 'node:net';
import { readSocketInto } from '../src/iocom/socket-reader.ts';

/** The benchmarked command: a 64-byte header, no ext (DBG_SHELL, never PING, which the iocom answers itself). */
export const CMD = DMSG.DBG_SHELL;
/** Keepalive off: the benchmark measures messages, not timers. */
export const IOCOM_OPTIONS: IocomOptions = Object.freeze({ pingIntervalMs: 0, linkTimeoutMs: 0 });
/** Queued bytes above which a sender waits (the iocom's default writeHighWaterMark; the raw sender uses the same). */
export const HIGH_WATER = 1 << 20;
/** Bytes a one-way sender queues per event-loop turn before yielding: one gathered write per turn. */
export const TICK_BYTES = 128 * 1024;

/** Bytes one message takes on the wire (64-byte header, aux padded to 64). */
export function wireSize(auxBytes: number): number {
  return 64 + ((auxBytes + 63) & ~63);
}

/** Messages a one-way sender queues per turn. */
export function perTick(auxBytes: number): number {
  return Math.max(1, Math.floor(TICK_BYTES / wireSize(auxBytes)));
}

/** Deterministic, non-zero aux data (so the CRC does real work). */
export function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

/** `n` frames back to back in one buffer, frame i made by `make(i)` (sequence number i & 0xff). */
export function frames(n: number, make: (i: number) => MessageInput): Buffer {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const m = make(i);
    parts.push(...encodeMessage({ ...m, header: { ...m.header, salt: i & 0xff } }));
  }
  const b = concatBytes(parts);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** One-way messages as the iocom sends them (msgid 0, circuit 0). */
export function oneWayFrames(n: number, aux: Uint8Array | undefined): Buffer {
  return frames(n, () => ({ header: { cmd: CMD }, aux }));
}

/** Raw round trip: the request (CREATE|DELETE) the client writes. */
export function requestFrames(n: number): Buffer {
  return frames(n, () => ({ header: { cmd: (CMD | DMSGF.CREATE | DMSGF.DELETE) >>> 0, msgid: 1n } }));
}

/** Raw round trip: the reply (LNK_ERROR with CREATE|DELETE|REPLY|REVTRANS) the server writes back. */
export function replyFrames(n: number): Buffer {
  return frames(n, () => ({
    header: { cmd: (DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0, msgid: 1n },
  }));
}

/** The like-for-like raw request: CREATE|DELETE of CMD. */
export const RAW_REQUEST_CMD = (CMD | DMSGF.CREATE | DMSGF.DELETE) >>> 0;
/** The like-for-like raw reply: LNK_ERROR with CREATE|DELETE|REPLY|REVTRANS. */
export const RAW_REPLY_CMD = (DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0;

/**
 * What a minimal hand-written client or server does per message it sends:
 * write a 64-byte header (magic, sequence byte, msgid, cmd) into a zeroed
 * buffer and CRC it (the CRC field is still zero, so CRC-32C over the 64
 * bytes is the header CRC). Returns the next sequence number.
 */
export function writeRawHeader(b: Buffer, o: number, seq: number, msgid: number, cmd: number): number {
  b.writeUInt16LE(DMSG_HDR_MAGIC, o);
  b[o + 4] = seq;
  b.writeUInt32LE(msgid >>> 0, o + 8);
  b.writeUInt32LE(Math.floor(msgid / 0x100000000), o + 12);
  b.writeUInt32LE(cmd, o + 0x20);
  b.writeUInt32LE(crc32c(b, o, o + 64), o + 0x3c);
  return (seq + 1) & 0xff;
}

/**
 * What the worker does on the one connection it accepts:
 * - `iocom-send` / `raw-send`: one-way messages as fast as backpressure allows;
 * - `iocom-serve` / `raw-serve`: answer every request (CREATE|DELETE) with a reply;
 * - `raw-serve-l4l`: the like-for-like raw server: checks each request's
 *   sequence number and flags, encodes (and CRCs) a reply carrying its msgid.
 */
export type WorkerRole = 'iocom-send' | 'raw-send' | 'iocom-serve' | 'raw-serve' | 'raw-serve-l4l';

export type ParentMessage = { type: 'serve'; role: WorkerRole; auxBytes: number } | { type: 'cpu' } | { type: 'exit' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'listening'; port: number }
  /** The worker's CPU time so far (user + system), µs. */
  | { type: 'cpu'; us: number }
  | { type: 'error'; message: string };

/**
 * How the raw baselines read their socket: IOCOM_BENCH_RAW_READ=data (the
 * default: 'data' events, Node's default path) or `reused` (the same read
 * primitive as the iocom's: socket-reader.ts, one buffer reused between
 * reads), so the ratios can be given against both floors.
 */
export const RAW_READ: 'data' | 'reused' = (() => {
  const v = process.env.IOCOM_BENCH_RAW_READ ?? 'data';
  if (v !== 'data' && v !== 'reused') throw new Error(`IOCOM_BENCH_RAW_READ must be data or reused; got '${v}'`);
  return v;
})();

/** Hand each chunk a raw baseline reads to `fn` (which keeps no view of it), by RAW_READ. */
export function onRawChunks(sock: Socket, fn: (chunk: Uint8Array) => void): void {
  if (RAW_READ === 'reused' && readSocketInto(sock, (c) => (fn(c), false))) return;
  sock.on('data', fn);
}
