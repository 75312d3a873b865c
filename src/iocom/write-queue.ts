/**
 * The batching writer of one link. Everything queued in one tick goes out in
 * one flush. A message is encoded when it is queued, straight into a zeroed
 * slab (reserved fields, ext tails and aux padding stay 0 without a fill),
 * so no object is kept per message and a flush only hands the slab's new
 * bytes to the stream. Small aux data is copied into the slab (a copy is
 * cheaper than an iovec entry); large aux data goes to the stream as its own
 * buffer, never copied.
 *
 * Sequence numbers (the salt's low byte) and CRCs are assigned in the order
 * the bytes go onto the wire, as libdmsg's dmsg_iocom_flush1 does: queued
 * messages are written in queue order, and messages held behind the
 * authentication gate are encoded only when the gate opens.
 *
 * The CRCs are computed as a message is encoded, while its bytes are in
 * cache: the aux CRC over the slab's words just copied (crc32cWords, never
 * crc32c's one-entry view cache, which the decoder's chunks would flip), then
 * the header CRC from the field values in hand (HeaderCrcMaker), or over the
 * slab's words for extended headers and relayed pass-through fields.
 *
 * It obeys `write()` returning false: nothing more is written until 'drain'.
 *
 * Slab recycling (`recycleSlabs`, for streams that are done with a buffer
 * once its write callback has run, as a net.Socket is): a full slab is kept
 * as a later slab instead of allocating (and zeroing) a fresh one, once the
 * write that carried its last bytes has completed; its used bytes are zeroed
 * again before reuse. A fresh 256 KiB Buffer.alloc costs 7-33 ns per 128-byte
 * message (calloc, page faults) and external-memory GC pressure; the memset
 * of a warm slab ~3 ns. Full slabs wait in a FIFO for their writes (the
 * stream holds them until then anyway: a fast sender has up to its high-water
 * mark in flight, several slabs); at most SPARES_MAX completed ones are kept
 * beyond the current slab while the link streams, one once it does not. Never for other streams: an in-memory pipe hands
 * the written buffer itself to the reader, whose messages are views of it.
 *
 * Early flush (`earlyFlushBytes`, off by default): once that many bytes are
 * queued in a turn they go out at once, and the rest of the turn's messages
 * at its end as usual: two writes per turn instead of one. A relay that
 * forwards a batch of 100 requests this way lets the next process start on
 * the first ones (and pay its wake-up) while it still works on the others,
 * instead of every process of the chain waiting for the whole batch in turn.
 */
import type { Writable } from 'node:stream';
import { NATIVE_MIN_BYTES, crc32c, crc32cWords, headerCrc } from '../wire/crc32c.ts';
import { HeaderCrcMaker, SPARSE_CRC_OK, sparseHeaderCrc } from './sparse-crc.ts';
import { auxCrcOf } from '../wire/frame-encoder.ts';
import { DMSGF, DMSG_HDR_MAGIC } from '../wire/constants.ts';

/** Aux data up to this size is copied into the slab; larger goes out as its own chunk. */
const INLINE_AUX = 2048;
/** Flush at once when this many bytes are pending, instead of waiting for the microtask. */
const FLUSH_BYTES = 256 * 1024;
/** Slab sizes: the first slab is small (an idle link holds little), later ones double up to the max. */
const SLAB_MIN = 4096;
const SLAB_MAX = 256 * 1024;
/**
 * Recycled slabs whose writes completed, kept for reuse beyond the current
 * slab: a fast sender has its high-water mark (1 MiB by default, 4 slabs) in
 * flight, and those complete in bursts. Trimmed to one by a small flush with
 * no slab in flight (the link is no longer streaming).
 */
const SPARES_MAX = 4;
/**
 * The end-of-turn flush goes on a resolved promise, not `queueMicrotask`:
 * Node's queueMicrotask makes an AsyncResource and a bound function per
 * call (one per turn that sends). `#flushTask` never throws.
 */
const TICK: Promise<void> = Promise.resolve();

/** A flush of fewer bytes than this, with no retired slab in flight, trims the spares to one. */
const TRIM_FLUSH_BYTES = SLAB_MAX / 8;
const ZEROS = new Uint8Array(64);
const EMPTY_CHUNKS: Uint8Array[] = [];

/** Header fields a relay passes through unchanged. */
export interface PassFields {
  auxCrc?: number;
  reserved02?: number;
  reserved18?: bigint;
}

/** A message held behind the closed gate, encoded when it opens. */
interface HeldMessage {
  cmd: number;
  msgid: number | bigint;
  circuit: number | bigint;
  error: number;
  ext: Uint8Array;
  aux: Uint8Array;
  pass: PassFields | undefined;
}

/** A full slab handed to the stream, reusable once `#written` reaches `after`; `used`: its bytes written to. */
interface RetiredSlab {
  slab: Buffer;
  used: number;
  after: number;
}

/** A msgid or circuit: a number (a safe integer) or a bigint (any u64). */
function writeId(v: DataView, o: number, id: number | bigint): void {
  if (typeof id === 'number') {
    v.setUint32(o, id >>> 0, true);
    if (id > 0xffffffff) v.setUint32(o + 4, Math.floor(id / 0x100000000), true);
  } else {
    v.setBigUint64(o, BigInt.asUintN(64, id), true);
  }
}

/** Bytes a message takes in the queue accounting (header + padded aux). */
function wireBytes(cmd: number, auxLen: number): number {
  return ((cmd & DMSGF.SIZE) << 6) + ((auxLen + 63) & ~63);
}

export class WriteQueue {
  readonly #stream: Writable;
  readonly #onDrain: () => void;
  readonly #onError: (err: unknown) => void;
  #slab: Buffer = Buffer.alloc(0);
  #slabView: DataView = new DataView(this.#slab.buffer, this.#slab.byteOffset, 0);
  #slabWords: Int32Array = new Int32Array(this.#slab.buffer, this.#slab.byteOffset, 0);
  /** Next free byte of the slab. */
  #off = 0;
  /** First slab byte not yet handed to the stream (or to #chunks). */
  #start = 0;
  /** Encoded pieces before #start, in wire order (slab ranges, large aux, padding). */
  #chunks: Uint8Array[] = EMPTY_CHUNKS;
  #held: HeldMessage[] = [];
  #pendingCount = 0;
  #pendingBytes = 0;
  #heldBytes = 0;
  #scheduled = false;
  /** Bytes of a turn that go out at once (0: off), and whether this turn's early flush happened. */
  readonly #earlyBytes: number;
  #earlyDone = false;
  #waitingDrain = false;
  #gateOpen = true;
  #closed = false;
  #ending = false;
  #seq = 0;
  /** Recycle slabs (see the file comment). */
  readonly #recycle: boolean;
  /** Writes handed to the stream with #writtenTask, and those whose callback has run. */
  #writes = 0;
  #written = 0;
  /** Full slabs given up, oldest first, each free once its last write completed. */
  #retired: RetiredSlab[] = [];
  /** Retired slabs whose writes have all completed, ready to be the next slab. */
  #spares: RetiredSlab[] = [];
  readonly #headerCrc = new HeaderCrcMaker();
  #messagesOut = 0;
  #bytesOut = 0;
  /** End-of-turn flushes run (`turn`). */
  #turns = 0;

  /**
   * The number of the turn whose end-of-turn flush is scheduled (how many
   * such flushes ran before it), or -1 when none is scheduled (nothing
   * queued this turn, or the queue waits for 'drain' or its gate). A sender
   * that reads a number after queuing and the same number later is still in
   * that turn: it can batch per turn (a midcomms channel) without a
   * microtask of its own.
   */
  get turn(): number {
    return this.#scheduled ? this.#turns : -1;
  }
  // Both run outside any caller's stack (a microtask, a 'drain' event): what
  // they throw goes to onError, never to the process.
  readonly #flushTask = (): void => {
    this.#turns++;
    this.#scheduled = false;
    this.#earlyDone = false;
    try {
      this.flush();
    } catch (err) {
      this.#onError(err);
    }
  };
  /**
   * The stream took a flush's last chunk: its buffer (part of queuedBytes)
   * shrank. 'drain' comes only after a write returned false; a caller whose
   * own high-water mark is below the stream's learns of the room from this.
   */
  readonly #writtenTask = (err?: unknown): void => {
    this.#written++;
    const retired = this.#retired;
    while (retired.length > 0 && this.#written >= retired[0]!.after) {
      const r = retired.shift()!;
      // After a failed write the stream may still hold the bytes: never reuse them.
      if (err == null && this.#spares.length < SPARES_MAX) this.#spares.push(r);
    }
    if (this.#waitingDrain || this.#closed) return;
    try {
      this.#onDrain();
    } catch (err) {
      this.#onError(err);
    }
  };
  readonly #drainTask = (): void => {
    this.#waitingDrain = false;
    this.#earlyDone = false;
    try {
      if (this.#pendingCount > 0) this.flush();
      this.#maybeEnd();
      this.#onDrain();
    } catch (err) {
      this.#onError(err);
    }
  };

  /**
   * @param onDrain called when queued bytes fall after the stream drained
   * @param onError told what a scheduled flush or the drain handler threw (the link should end)
   * @param recycleSlabs reuse slabs once their writes completed: only for a stream that holds no
   *   reference to a written buffer after its write callback (net.Socket); default false
   * @param earlyFlushBytes write the first this many bytes queued in a turn at once (see the file comment); 0 (default): off
   */
  constructor(stream: Writable, onDrain: () => void, onError: (err: unknown) => void = (err) => { throw err; }, recycleSlabs = false, earlyFlushBytes = 0) {
    this.#recycle = recycleSlabs;
    this.#earlyBytes = earlyFlushBytes;
    this.#stream = stream;
    this.#onDrain = onDrain;
    this.#onError = onError;
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
    if (open && this.#held.length > 0 && !this.#closed) {
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const m of held) this.#encode(m.cmd, m.msgid, m.circuit, m.error, m.ext, m.aux, m.pass);
      this.#afterEnqueue();
    }
  }

  /**
   * Queue one message (validated by the caller: header size, ext fits, aux
   * at most 1 MiB). `ext` and `aux` are copied now, except aux data larger
   * than INLINE_AUX, which is written as given.
   */
  enqueue(cmd: number, msgid: number | bigint, circuit: number | bigint, error: number, ext: Uint8Array, aux: Uint8Array, pass: PassFields | undefined, bypassGate: boolean): void {
    if (this.#closed) return;
    if (!this.#gateOpen && !bypassGate) {
      this.#held.push({ cmd, msgid, circuit, error, ext, aux, pass });
      this.#heldBytes += wireBytes(cmd, aux.length);
      return;
    }
    this.#encode(cmd, msgid, circuit, error, ext, aux, pass);
    this.#afterEnqueue();
  }

  #afterEnqueue(): void {
    if (this.#pendingBytes >= FLUSH_BYTES) this.flush();
    else {
      if (this.#earlyBytes > 0 && !this.#earlyDone && this.#pendingBytes >= this.#earlyBytes) {
        // The turn's first bytes go now; the microtask below still ends the turn.
        this.#earlyDone = true;
        this.flush();
      }
      if (!this.#scheduled && !this.#waitingDrain) {
        this.#scheduled = true;
        void TICK.then(this.#flushTask);
      }
    }
  }

  /**
   * Make room for `need` bytes in a new zeroed slab. The bytes queued in the
   * old one move along when nothing else is queued before them, so a flush
   * stays one buffer (one write, as a raw sender's) instead of an iovec.
   */
  #newSlab(need: number): void {
    const old = this.#slab;
    const queued = this.#off - this.#start;
    const move = queued > 0 && this.#chunks === EMPTY_CHUNKS && queued <= SLAB_MAX / 2;
    if (queued > 0 && !move) this.#pushChunk(old.subarray(this.#start, this.#off));
    const keep = move ? queued : 0;
    let size = Math.max(need + keep, Math.min(SLAB_MAX, Math.max(SLAB_MIN, old.length * 2)));
    let slab: Buffer;
    const spare = this.#spares.length > 0 && this.#spares[0]!.slab.length >= size ? this.#spares.shift()! : undefined;
    if (spare !== undefined) {
      // Zero what was written, as Buffer.alloc would have: the encoder relies on it.
      spare.slab.fill(0, 0, spare.used);
      slab = spare.slab;
      size = slab.length;
    } else {
      slab = Buffer.alloc(size);
    }
    if (move) slab.set(old.subarray(this.#start, this.#off), 0);
    if (this.#recycle && old.length === SLAB_MAX) {
      // Its last bytes go out (at the latest) with the next write.
      this.#retired.push({ slab: old, used: this.#off, after: this.#writes + 1 });
    }
    this.#slab = slab;
    this.#slabView = new DataView(slab.buffer, slab.byteOffset, size);
    this.#slabWords = new Int32Array(slab.buffer, slab.byteOffset, size >>> 2);
    this.#start = 0;
    this.#off = keep;
  }

  #pushChunk(c: Uint8Array): void {
    if (this.#chunks === EMPTY_CHUNKS) this.#chunks = [c];
    else this.#chunks.push(c);
  }

  #encode(cmd: number, msgid: number | bigint, circuit: number | bigint, error: number, ext: Uint8Array, aux: Uint8Array, pass: PassFields | undefined): void {
    const hb = (cmd & DMSGF.SIZE) << 6;
    const auxLen = aux.length;
    const auxAligned = (auxLen + 63) & ~63;
    const inline = auxLen <= INLINE_AUX;
    const need = inline ? hb + auxAligned : hb;
    if (this.#off + need > this.#slab.length) this.#newSlab(need);
    const slab = this.#slab;
    const v = this.#slabView;
    const o = this.#off;
    const seq = this.#seq;
    this.#seq = (seq + 1) & 0xff;
    v.setUint16(o, DMSG_HDR_MAGIC, true);
    slab[o + 4] = seq;
    if (msgid !== 0) writeId(v, o + 0x08, msgid);
    if (circuit !== 0) writeId(v, o + 0x10, circuit);
    v.setUint32(o + 0x20, cmd, true);
    v.setUint32(o + 0x28, auxLen, true);
    if (error !== 0) v.setUint32(o + 0x2c, error, true);
    // The header CRC from the fields, unless some field is not one HeaderCrcMaker knows.
    let fromFields = hb === 64 && typeof msgid === 'number' && typeof circuit === 'number';
    let auxCrc = -1;
    if (pass !== undefined) {
      if (pass.reserved02) {
        v.setUint16(o + 0x02, pass.reserved02, true);
        fromFields = false;
      }
      if (pass.reserved18) {
        v.setBigUint64(o + 0x18, BigInt.asUintN(64, pass.reserved18), true);
        fromFields = false;
      }
      if (auxLen > 0 && pass.auxCrc !== undefined && pass.auxCrc >= 0) auxCrc = pass.auxCrc >>> 0;
    }
    if (ext.length > 0) slab.set(ext, o + 64);
    if (inline) {
      const a = o + hb;
      if (auxLen > 0) {
        slab.set(aux, a);
        if (auxCrc < 0) auxCrc = SPARSE_CRC_OK && auxAligned < NATIVE_MIN_BYTES ? crc32cWords(this.#slabWords, a >>> 2, auxAligned >>> 2) : crc32c(slab, a, a + auxAligned);
      }
      this.#off = a + auxAligned;
    } else {
      if (auxCrc < 0) auxCrc = auxCrcOf(aux);
      this.#off = o + hb;
      this.#pushChunk(slab.subarray(this.#start, this.#off));
      this.#pushChunk(aux);
      if (auxAligned > auxLen) this.#pushChunk(ZEROS.subarray(0, auxAligned - auxLen));
      this.#start = this.#off;
    }
    if (auxLen === 0) auxCrc = 0;
    else v.setUint32(o + 0x24, auxCrc, true);
    let hdrCrc: number;
    if (!SPARSE_CRC_OK) hdrCrc = headerCrc(slab, o, hb);
    else if (fromFields) hdrCrc = this.#headerCrc.crc(seq, msgid as number, circuit as number, cmd, auxCrc, auxLen, error);
    else hdrCrc = sparseHeaderCrc(slab, this.#slabWords, 0, o, hb);
    v.setUint32(o + 0x3c, hdrCrc, true);
    this.#pendingCount++;
    this.#pendingBytes += hb + auxAligned;
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
    if (this.#ending && !this.#waitingDrain && this.#pendingCount === 0 && !stream.writableEnded && !stream.destroyed) stream.end();
  }

  /** Drop everything queued; nothing more will be written. */
  close(): void {
    this.#closed = true;
    this.#retired = [];
    this.#spares = [];
    this.#chunks = EMPTY_CHUNKS;
    this.#start = this.#off;
    this.#held = [];
    this.#pendingCount = 0;
    this.#pendingBytes = 0;
    this.#heldBytes = 0;
  }

  /** Write everything pending now (unless the stream asked us to wait for 'drain'). */
  flush(): void {
    if (this.#waitingDrain || this.#closed || this.#pendingCount === 0) return;
    const stream = this.#stream;
    if (stream.destroyed || stream.writableEnded) return;
    const chunks = this.#chunks;
    let one: Uint8Array | undefined;
    if (this.#off > this.#start) {
      const tail = this.#slab.subarray(this.#start, this.#off);
      this.#start = this.#off;
      if (chunks === EMPTY_CHUNKS) one = tail;
      else chunks.push(tail);
    } else if (chunks.length === 1) {
      one = chunks[0];
    }
    this.#chunks = EMPTY_CHUNKS;
    if (this.#spares.length > 1 && this.#pendingBytes < TRIM_FLUSH_BYTES && this.#retired.length === 0) this.#spares.length = 1;
    this.#messagesOut += this.#pendingCount;
    this.#bytesOut += this.#pendingBytes;
    this.#pendingCount = 0;
    this.#pendingBytes = 0;

    let ok = true;
    this.#writes++;
    if (one !== undefined) {
      ok = stream.write(one, this.#writtenTask);
    } else {
      stream.cork();
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) stream.write(chunks[i]);
      ok = stream.write(chunks[last], this.#writtenTask);
      stream.uncork();
    }
    if (!ok) {
      this.#waitingDrain = true;
      stream.once('drain', this.#drainTask);
    } else {
      this.#onDrain();
    }
  }
}
