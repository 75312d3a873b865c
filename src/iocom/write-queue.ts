/**
 * The batching writer of one link. Everything queued in one tick goes out in
 * one flush: small messages are packed into a single buffer (a 64-byte
 * header copy is cheaper than an iovec entry), large aux data is passed to
 * the stream as its own buffer, never copied. Sequence numbers (the salt's
 * low byte) and CRCs are assigned at flush time, in the order the bytes go
 * onto the wire, as libdmsg's dmsg_iocom_flush1 does.
 *
 * It obeys `write()` returning false: nothing more is written until 'drain'.
 */
import type { Writable } from 'node:stream';
import { crc32c, headerCrc } from '../wire/crc32c.ts';
import { writeU32LE, writeU16LE } from '../wire/header.ts';
import { auxCrcOf } from '../wire/frame-encoder.ts';
import { DMSGF, DMSG_HDR_MAGIC } from '../wire/constants.ts';

/** Aux data up to this size is copied into the batch buffer; larger goes out as its own chunk. */
const INLINE_AUX = 2048;
/** Flush at once when this many bytes are pending, instead of waiting for the microtask. */
const FLUSH_BYTES = 256 * 1024;
const ZEROS = new Uint8Array(64);

export interface OutgoingMessage {
  cmd: number;
  msgid: bigint;
  circuit: bigint;
  error: number;
  ext: Uint8Array;
  aux: Uint8Array;
  /** Precomputed aux CRC (a relay passes the sender's through), or -1 to compute. */
  auxCrc: number;
  reserved02: number;
  reserved18: bigint;
  /** Sent even while the gate is closed (authentication messages). */
  bypassGate: boolean;
}

function writeU64(b: Uint8Array, o: number, v: bigint): void {
  if (v <= 0xffffffffn && v >= 0n) {
    writeU32LE(b, o, Number(v));
    writeU32LE(b, o + 4, 0);
  } else {
    const x = BigInt.asUintN(64, v);
    writeU32LE(b, o, Number(x & 0xffffffffn));
    writeU32LE(b, o + 4, Number(x >> 32n));
  }
}

export class WriteQueue {
  readonly #stream: Writable;
  readonly #onDrain: () => void;
  #pending: OutgoingMessage[] = [];
  #held: OutgoingMessage[] = [];
  #pendingBytes = 0;
  #heldBytes = 0;
  #scheduled = false;
  #waitingDrain = false;
  #gateOpen = true;
  #closed = false;
  #ending = false;
  #seq = 0;
  #messagesOut = 0;
  #bytesOut = 0;

  /** @param onDrain called when queued bytes fall after the stream drained */
  constructor(stream: Writable, onDrain: () => void) {
    this.#stream = stream;
    this.#onDrain = onDrain;
  }

  /** Bytes queued here and in the stream's own buffer. */
  get queuedBytes(): number {
    return this.#pendingBytes + this.#heldBytes + this.#stream.writableLength;
  }

  get stats(): { messagesOut: number; bytesOut: number } {
    return { messagesOut: this.#messagesOut, bytesOut: this.#bytesOut };
  }

  /** While closed, only messages with `bypassGate` are written (authentication first). */
  setGate(open: boolean): void {
    this.#gateOpen = open;
    if (open && this.#held.length > 0) {
      for (const m of this.#held) this.#pending.push(m);
      this.#pendingBytes += this.#heldBytes;
      this.#held = [];
      this.#heldBytes = 0;
      this.#schedule();
    }
  }

  enqueue(m: OutgoingMessage): void {
    if (this.#closed) return;
    const size = ((m.cmd & DMSGF.SIZE) << 6) + ((m.aux.length + 63) & ~63);
    if (!this.#gateOpen && !m.bypassGate) {
      this.#held.push(m);
      this.#heldBytes += size;
      return;
    }
    this.#pending.push(m);
    this.#pendingBytes += size;
    if (this.#pendingBytes >= FLUSH_BYTES) this.flush();
    else this.#schedule();
  }

  /**
   * Graceful end: write everything queued (waiting for 'drain' as needed),
   * then end the stream. Ending the stream at once would lose what still
   * waits here for a 'drain'.
   */
  end(): void {
    if (this.#closed) return;
    this.#ending = true;
    this.flush();
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    const stream = this.#stream;
    if (this.#ending && !this.#waitingDrain && this.#pending.length === 0 && !stream.writableEnded && !stream.destroyed) stream.end();
  }

  /** Drop everything queued; nothing more will be written. */
  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.#held = [];
    this.#pendingBytes = 0;
    this.#heldBytes = 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#waitingDrain) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  /** Write everything pending now (unless the stream asked us to wait for 'drain'). */
  flush(): void {
    if (this.#waitingDrain || this.#closed || this.#pending.length === 0) return;
    const stream = this.#stream;
    if (stream.destroyed || stream.writableEnded) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;

    let slabSize = 0;
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i]!;
      slabSize += (m.cmd & DMSGF.SIZE) << 6;
      if (m.aux.length <= INLINE_AUX) slabSize += (m.aux.length + 63) & ~63;
    }
    // One zeroed allocation: reserved fields, ext tails and aux padding stay 0
    // without a fill per message.
    const slab = Buffer.alloc(slabSize);
    const chunks: Uint8Array[] = [];
    let off = 0;
    let chunkStart = 0;
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i]!;
      const hb = (m.cmd & DMSGF.SIZE) << 6;
      const auxLen = m.aux.length;
      const auxAligned = (auxLen + 63) & ~63;
      const auxCrc = auxLen === 0 ? 0 : m.auxCrc >= 0 ? m.auxCrc : auxLen <= INLINE_AUX ? -1 : auxCrcOf(m.aux);
      writeU16LE(slab, off, DMSG_HDR_MAGIC);
      if (m.reserved02 !== 0) writeU16LE(slab, off + 0x02, m.reserved02);
      slab[off + 4] = this.#seq & 0xff;
      this.#seq = (this.#seq + 1) & 0xff;
      if (m.msgid !== 0n) writeU64(slab, off + 0x08, m.msgid);
      if (m.circuit !== 0n) writeU64(slab, off + 0x10, m.circuit);
      if (m.reserved18 !== 0n) writeU64(slab, off + 0x18, m.reserved18);
      writeU32LE(slab, off + 0x20, m.cmd);
      writeU32LE(slab, off + 0x28, auxLen);
      writeU32LE(slab, off + 0x2c, m.error);
      if (m.ext.length > 0) slab.set(m.ext, off + 64);
      const hdrOff = off;
      off += hb;
      if (auxLen > 0 && auxLen <= INLINE_AUX) {
        slab.set(m.aux, off);
        // Small aux: CRC over the padded copy in the slab in one pass.
        writeU32LE(slab, hdrOff + 0x24, auxCrc >= 0 ? auxCrc : crc32c(slab, off, off + auxAligned));
        off += auxAligned;
      } else if (auxLen > 0) {
        writeU32LE(slab, hdrOff + 0x24, auxCrc);
      }
      writeU32LE(slab, hdrOff + 0x3c, headerCrc(slab, hdrOff, hb));
      if (auxLen > INLINE_AUX) {
        chunks.push(slab.subarray(chunkStart, off), m.aux);
        if (auxAligned > auxLen) chunks.push(ZEROS.subarray(0, auxAligned - auxLen));
        chunkStart = off;
      }
      bytes += hb + auxAligned;
    }
    if (off > chunkStart) chunks.push(slab.subarray(chunkStart, off));
    this.#messagesOut += batch.length;
    this.#bytesOut += bytes;

    let ok = true;
    if (chunks.length === 1) {
      ok = stream.write(chunks[0]);
    } else {
      stream.cork();
      for (const c of chunks) ok = stream.write(c);
      stream.uncork();
    }
    if (!ok) {
      this.#waitingDrain = true;
      stream.once('drain', () => {
        this.#waitingDrain = false;
        if (this.#pending.length > 0) this.flush();
        this.#maybeEnd();
        this.#onDrain();
      });
    } else {
      this.#onDrain();
    }
  }
}
