/**
 * What the iocom benchmark's two processes share: the commands, sizes and
 * pre-encoded frames of the raw baseline, and the IPC messages between the
 * bench (parent) and its worker (child).
 */
import { DMSG, DMSGF } from '../src/wire/constants.ts';
import { concatBytes, encodeMessage, type MessageInput } from '../src/wire/frame-encoder.ts';
import type { IocomOptions } from '../src/iocom/options.ts';

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

/**
 * What the worker does on the one connection it accepts:
 * - `iocom-send` / `raw-send`: one-way messages as fast as backpressure allows;
 * - `iocom-serve` / `raw-serve`: answer every request (CREATE|DELETE) with a reply.
 */
export type WorkerRole = 'iocom-send' | 'raw-send' | 'iocom-serve' | 'raw-serve';

export type ParentMessage = { type: 'serve'; role: WorkerRole; auxBytes: number } | { type: 'exit' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'listening'; port: number }
  | { type: 'error'; message: string };
