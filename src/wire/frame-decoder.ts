/**
 * Incremental frame decoder: push bytes in any chunking, get whole messages.
 *
 * libdmsg's receive order of checks (dmsg_ioq_read): magic, then the header
 * and aux sizes — before anything is buffered — then the header CRC, then
 * the aux CRC. Unlike libdmsg it never asserts: every failure is a
 * ProtocolError, after which the decoder stays failed (a stream that lost
 * framing cannot be resynchronised).
 *
 * Memory: at most one header plus one aux are held (a message straddling
 * chunks is assembled in one buffer of exactly its size). A message that
 * sits inside one chunk is returned as views into that chunk (zero-copy).
 */
import { DMSG_AUX_MAX, DMSG_HDR_MAGIC, DMSG_HDR_MAGIC_REV, DMSG_HDR_MAX, DMSG_IOQ_ERROR, DMSGF } from './constants.ts';
import { LITTLE_ENDIAN_HOST, NATIVE_MIN_BYTES, crc32c, crc32cView, crc32cWords, headerCrc, headerCrcView, headerCrcWords } from './crc32c.ts';
import { InvalidArgumentError, ProtocolError, hex } from './errors.ts';
import { swapExtToLE } from './ext-swap.ts';
import { decodeHeaderBE, decodeHeaderView, decodeHeaderWords } from './header.ts';
import { EMPTY, type Message } from './message.ts';

export interface FrameDecoderOptions {
  /** Largest extended header accepted, in bytes (multiple of 64). @default 2048 */
  maxHeaderBytes?: number;
  /** Largest aux data accepted, in bytes. @default 1048576 */
  maxAuxBytes?: number;
}

/**
 * A pass-through tap (see FrameDecoder.passThrough): offered each whole
 * little-endian message with a 64-byte header whose magic, sizes, header CRC
 * and aux CRC were checked: the header as words `W[w]` to `W[w + 15]` of a
 * word view of the chunk read, and the aux data as a view of that chunk
 * (EMPTY when none). Returns true when it took the message (the decoder
 * then builds no Message for it), false to have it decoded as usual. It
 * must not throw.
 */
export type PassThroughTap = (W: Int32Array, w: number, aux: Uint8Array) => boolean;

export const FRAME_DECODER_DEFAULTS: Readonly<Required<FrameDecoderOptions>> = Object.freeze({
  maxHeaderBytes: DMSG_HDR_MAX,
  maxAuxBytes: DMSG_AUX_MAX,
});

export function resolveFrameDecoderOptions(o: FrameDecoderOptions = {}): Readonly<Required<FrameDecoderOptions>> {
  const r = { ...FRAME_DECODER_DEFAULTS, ...o };
  if (!Number.isInteger(r.maxHeaderBytes) || r.maxHeaderBytes < 64 || r.maxHeaderBytes > 255 * 64 || r.maxHeaderBytes % 64 !== 0)
    throw new InvalidArgumentError(`maxHeaderBytes must be a multiple of 64 in [64, 16320], got ${r.maxHeaderBytes}`);
  if (!Number.isInteger(r.maxAuxBytes) || r.maxAuxBytes < 0 || r.maxAuxBytes > 0x7fffffc0)
    throw new InvalidArgumentError(`maxAuxBytes must be an integer in [0, 2147483584], got ${r.maxAuxBytes}`);
  return Object.freeze(r);
}

/** Decoder states, as in libdmsg's dmsg_ioq_read. */
export const DecoderState = { HEADER1: 0, HEADER2: 1, AUX: 2, ERROR: 3 } as const;
export type DecoderState = (typeof DecoderState)[keyof typeof DecoderState];

export class FrameDecoder {
  readonly #maxHeader: number;
  readonly #maxAux: number;
  /** First bytes of a base header split across chunks. */
  readonly #head = new Uint8Array(64);
  readonly #headView = new DataView(this.#head.buffer);
  #bufView: DataView | null = null;
  #headFill = 0;
  /** A whole message being assembled across chunks (hb + aligned aux bytes). */
  #buf: Uint8Array | null = null;
  #fill = 0;
  #hb = 0;
  #ab = 0;
  #swapped = false;
  #hdrChecked = false;
  #error: ProtocolError | null = null;
  #bytesIn = 0;
  #messagesOut = 0;
  /**
   * Offered the messages of the fast paths (#wholeLE, #wholeView) and those
   * assembled across reads (64-byte header, little-endian) while no message of
   * the current push waits in `out` (so messages stay in order); null: none.
   * A relay's link sets it to pass relayed messages on without decoding them.
   */
  passThrough: PassThroughTap | null = null;
  /** A misaligned header's words, for the tap (#wholeView). */
  readonly #scratch = new Int32Array(16);

  constructor(options?: FrameDecoderOptions) {
    const o = resolveFrameDecoderOptions(options);
    this.#maxHeader = o.maxHeaderBytes;
    this.#maxAux = o.maxAuxBytes;
  }

  /** Where the decoder is: waiting for a base header, the rest of the header, aux data, or failed. */
  get state(): DecoderState {
    if (this.#error) return DecoderState.ERROR;
    if (this.#buf === null) return DecoderState.HEADER1;
    return this.#fill < this.#hb ? DecoderState.HEADER2 : DecoderState.AUX;
  }

  /** Bytes held for an incomplete message. */
  get bufferedBytes(): number {
    return this.#buf === null ? this.#headFill : this.#buf.length;
  }

  get stats(): { bytesIn: number; messagesOut: number } {
    return { bytesIn: this.#bytesIn, messagesOut: this.#messagesOut };
  }

  /** Decode a chunk; returns the messages it completed. Throws ProtocolError. */
  push(chunk: Uint8Array): Message[] {
    const out: Message[] = [];
    this.pushInto(chunk, out);
    return out;
  }

  /**
   * Decode a chunk, appending completed messages to `out`. On bad bytes the
   * messages completed before them are in `out` when the ProtocolError is thrown.
   */
  pushInto(chunk: Uint8Array, out: Message[]): void {
    if (this.#error) throw this.#error;
    this.#bytesIn += chunk.length;
    try {
      this.#consume(chunk, out);
    } catch (err) {
      this.#buf = null;
      this.#error =
        err instanceof ProtocolError
          ? err
          : new ProtocolError('DECODER_FAILED', `decoder failed unexpectedly: ${String(err)}`, DMSG_IOQ_ERROR.FIELD, { cause: err });
      throw this.#error;
    }
  }

  /** The stream ended: throws ProtocolError TRUNCATED if a message is incomplete. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#buf !== null || this.#headFill > 0) {
      const have = this.#buf === null ? this.#headFill : this.#fill;
      const want = this.#buf === null ? 64 : this.#buf.length;
      this.#buf = null;
      this.#error = new ProtocolError('TRUNCATED', `stream ended inside a message: expected ${want} bytes, got ${have}`, DMSG_IOQ_ERROR.EOF);
      throw this.#error;
    }
  }

  #consume(chunk: Uint8Array, out: Message[]): void {
    const len = chunk.length;
    let off = 0;
    // The fast paths are tried at the chunk's start and after a message
    // assembled across chunks completes: at most twice per chunk, so a
    // stream they cannot take (big-endian sender) does not pay per message.
    let fast = true;
    // One DataView per chunk, made when needed: its accessors compile to plain loads.
    let view: DataView | undefined;
    while (off < len) {
      if (this.#buf === null) {
        if (this.#headFill === 0 && len - off >= 64) {
          if (fast && len - off >= 128) {
            fast = false;
            // Word views need an 8-aligned start. A TCP read ends anywhere,
            // so after a message split across reads every later message in
            // the chunk is usually misaligned: those go the DataView way.
            if (LITTLE_ENDIAN_HOST && ((chunk.byteOffset + off) & 7) === 0) off = this.#wholeLE(chunk, off, out);
            else off = this.#wholeView((view ??= new DataView(chunk.buffer, chunk.byteOffset, len)), chunk, off, out);
            if (len - off < 64) continue;
          }
          // At a message boundary with a whole base header in this chunk.
          view ??= new DataView(chunk.buffer, chunk.byteOffset, len);
          this.#sizes(view, off);
          const total = this.#hb + this.#ab;
          if (len - off >= total) {
            out.push(this.#finish(chunk, view, off, false));
            this.#messagesOut++;
            off += total;
            continue;
          }
          this.#start(chunk.subarray(off, len));
          return;
        }
        const take = Math.min(64 - this.#headFill, len - off);
        this.#head.set(chunk.subarray(off, off + take), this.#headFill);
        this.#headFill += take;
        off += take;
        if (this.#headFill < 64) return;
        this.#headFill = 0;
        this.#sizes(this.#headView, 0);
        this.#start(this.#head);
      } else {
        const buf = this.#buf;
        const take = Math.min(buf.length - this.#fill, len - off);
        buf.set(chunk.subarray(off, off + take), this.#fill);
        this.#fill += take;
        off += take;
      }
      // Assembling: check the header CRC as soon as the header is complete,
      // before the aux data arrives.
      const buf = this.#buf!;
      if (!this.#hdrChecked && this.#fill >= this.#hb) {
        this.#checkHeaderCrc(buf, this.#bufView!, 0);
        this.#hdrChecked = true;
      }
      if (this.#fill === buf.length) {
        this.#buf = null;
        if (!(this.#hb === 64 && !this.#swapped && out.length === 0 && this.passThrough !== null && this.#tapAssembled(buf, this.#bufView!)))
          out.push(this.#finish(buf, this.#bufView!, 0, true));
        this.#messagesOut++;
        fast = LITTLE_ENDIAN_HOST;
      }
    }
  }

  /**
   * Fast path from a message boundary at `start` (8-aligned in the buffer):
   * whole little-endian messages, read through Int32Array and BigUint64Array
   * views of the rest of the chunk (word loads for the sizes, the header CRC
   * and the fields; 64-bit loads for u64 fields). Returns the offset of the
   * first byte it did not take: the end of the chunk, a partial message, or
   * anything to report (reversed magic, bad sizes, bad CRCs), which the
   * general path then checks again in the same order and reports. Messages
   * are multiples of 64 bytes, so every header is 8-aligned in the views.
   */
  #wholeLE(chunk: Uint8Array, start: number, out: Message[]): number {
    const len = chunk.length;
    const buffer = chunk.buffer;
    const base = chunk.byteOffset;
    const W = new Int32Array(buffer, base + start, (len - start) >>> 2);
    // Made for the first message decoded here: a chunk whose messages a tap takes needs none.
    let B: BigUint64Array | undefined;
    const maxHeader = this.#maxHeader;
    const maxAux = this.#maxAux;
    let off = start;
    while (len - off >= 64) {
      const w = (off - start) >>> 2;
      if ((W[w]! & 0xffff) !== DMSG_HDR_MAGIC) break;
      const cmd = W[w + 8]!;
      const auxBytes = W[w + 10]! >>> 0;
      const hb = (cmd & DMSGF.SIZE) << 6;
      if (hb < 64 || hb > maxHeader || auxBytes > maxAux) break;
      const end = off + hb + ((auxBytes + 63) & ~63);
      if (end > len) break;
      const crc = hb === 64 ? headerCrcWords(W, w) : headerCrc(chunk, off, hb);
      if (crc !== W[w + 15]! >>> 0) break;
      let aux: Uint8Array = EMPTY;
      if (auxBytes !== 0) {
        const ab = end - off - hb;
        const auxCrc = ab < NATIVE_MIN_BYTES ? crc32cWords(W, w + (hb >>> 2), ab >>> 2) : crc32c(chunk, off + hb, end);
        if (auxCrc !== W[w + 9]! >>> 0) break;
        // A plain Uint8Array view: Buffer#subarray builds a FastBuffer, several times dearer per message.
        aux = new Uint8Array(buffer, base + off + hb, auxBytes);
      }
      // Checked like every other message; a tap may now take it whole.
      if (hb === 64 && out.length === 0 && this.passThrough !== null && this.passThrough(W, w, aux)) {
        this.#messagesOut++;
        off = end;
        continue;
      }
      B ??= new BigUint64Array(buffer, base + start, (len - start) >>> 3);
      out.push({ header: decodeHeaderWords(W, B, w), ext: hb === 64 ? EMPTY : new Uint8Array(buffer, base + off + 64, hb - 64), aux, swapped: false });
      this.#messagesOut++;
      off = end;
    }
    return off;
  }

  /**
   * The fast path at any alignment: as #wholeLE, through little-endian
   * DataView loads (`view` spans the whole chunk), for message boundaries a
   * word view cannot reach. Same checks in the same order; stops at the
   * same places, for the general path to take over.
   */
  #wholeView(view: DataView, chunk: Uint8Array, start: number, out: Message[]): number {
    const len = chunk.length;
    const buffer = chunk.buffer;
    const base = chunk.byteOffset;
    const maxHeader = this.#maxHeader;
    const maxAux = this.#maxAux;
    let off = start;
    while (len - off >= 64) {
      if (view.getUint16(off, true) !== DMSG_HDR_MAGIC) break;
      const cmd = view.getUint32(off + 0x20, true);
      const auxBytes = view.getUint32(off + 0x28, true);
      const hb = (cmd & DMSGF.SIZE) << 6;
      if (hb < 64 || hb > maxHeader || auxBytes > maxAux) break;
      const end = off + hb + ((auxBytes + 63) & ~63);
      if (end > len) break;
      const crc = hb === 64 ? headerCrcView(view, off) : headerCrc(chunk, off, hb);
      if (crc !== view.getUint32(off + 0x3c, true)) break;
      let aux: Uint8Array = EMPTY;
      if (auxBytes !== 0) {
        const ab = end - off - hb;
        const auxCrc = ab < NATIVE_MIN_BYTES ? crc32cView(view, off + hb, ab) : crc32c(chunk, off + hb, end);
        if (auxCrc !== view.getUint32(off + 0x24, true)) break;
        aux = new Uint8Array(buffer, base + off + hb, auxBytes);
      }
      if (hb === 64 && out.length === 0 && this.passThrough !== null) {
        // The tap reads words: the header's 16 go through an aligned scratch copy.
        const S = this.#scratch;
        for (let i = 0; i < 16; i++) S[i] = view.getInt32(off + (i << 2), true);
        if (this.passThrough(S, 0, aux)) {
          this.#messagesOut++;
          off = end;
          continue;
        }
      }
      out.push({ header: decodeHeaderView(view, off), ext: hb === 64 ? EMPTY : new Uint8Array(buffer, base + off + 64, hb - 64), aux, swapped: false });
      this.#messagesOut++;
      off = end;
    }
    return off;
  }

  /**
   * Offer the tap a message assembled across reads (64-byte header, checked;
   * little-endian). Its aux CRC is checked first: on a mismatch the general
   * path (#finish) reports it.
   */
  #tapAssembled(buf: Uint8Array, v: DataView): boolean {
    const S = this.#scratch;
    for (let i = 0; i < 16; i++) S[i] = v.getInt32(i << 2, true);
    const auxBytes = S[10]! >>> 0;
    let aux: Uint8Array = EMPTY;
    if (auxBytes !== 0) {
      if (crc32c(buf, 64, 64 + this.#ab) !== S[9]! >>> 0) return false;
      aux = buf.subarray(64, 64 + auxBytes);
    }
    return this.passThrough!(S, 0, aux);
  }

  /** Begin assembling a message that does not fit in the current chunk. */
  #start(first: Uint8Array): void {
    const buf = new Uint8Array(this.#hb + this.#ab);
    buf.set(first, 0);
    this.#buf = buf;
    this.#bufView = new DataView(buf.buffer, 0, buf.length);
    this.#fill = first.length;
    this.#hdrChecked = false;
    if (this.#fill >= this.#hb) {
      this.#checkHeaderCrc(buf, this.#bufView, 0);
      this.#hdrChecked = true;
    }
  }

  /** Check the magic and the sizes of the message whose base header is at b[o]. */
  #sizes(v: DataView, o: number): void {
    const magic = v.getUint16(o, true);
    let cmd: number;
    let auxBytes: number;
    if (magic === DMSG_HDR_MAGIC) {
      this.#swapped = false;
      cmd = v.getUint32(o + 0x20, true);
      auxBytes = v.getUint32(o + 0x28, true);
    } else if (magic === DMSG_HDR_MAGIC_REV) {
      this.#swapped = true;
      cmd = v.getUint32(o + 0x20, false);
      auxBytes = v.getUint32(o + 0x28, false);
    } else {
      throw new ProtocolError('BAD_MAGIC', `bad magic: expected 0x4832 (or 0x3248 from a big-endian sender), got ${hex(magic, 4)}`, DMSG_IOQ_ERROR.SYNC);
    }
    const hb = (cmd & DMSGF.SIZE) << 6;
    if (hb < 64) throw new ProtocolError('HDR_TOO_SMALL', `header size 0 in cmd ${hex(cmd)}: expected at least 1 unit of 64 bytes`, DMSG_IOQ_ERROR.FIELD);
    if (hb > this.#maxHeader) throw new ProtocolError('HDR_TOO_LARGE', `header of ${hb} bytes in cmd ${hex(cmd)}: expected at most ${this.#maxHeader}`, DMSG_IOQ_ERROR.FIELD);
    if (auxBytes > this.#maxAux) throw new ProtocolError('AUX_TOO_LARGE', `aux of ${auxBytes} bytes: expected at most ${this.#maxAux}`, DMSG_IOQ_ERROR.FIELD);
    this.#hb = hb;
    this.#ab = (auxBytes + 63) & ~63;
  }

  #checkHeaderCrc(b: Uint8Array, v: DataView, o: number): void {
    const stored = v.getUint32(o + 0x3c, !this.#swapped);
    const actual = headerCrc(b, o, this.#hb);
    if (stored !== actual)
      throw new ProtocolError('BAD_HDR_CRC', `header CRC mismatch: header says ${hex(stored)}, the ${this.#hb} header bytes give ${hex(actual)}`, DMSG_IOQ_ERROR.XCRC);
  }

  /** Build the message at b[o] (sizes known); `assembled` means b is our own buffer. */
  #finish(b: Uint8Array, v: DataView, o: number, assembled: boolean): Message {
    const hb = this.#hb;
    if (!assembled) this.#checkHeaderCrc(b, v, o);
    const header = this.#swapped ? decodeHeaderBE(b, o) : decodeHeaderView(v, o);
    let aux: Uint8Array = EMPTY;
    if (header.auxBytes !== 0) {
      const actual = crc32c(b, o + hb, o + hb + this.#ab);
      if (actual !== header.auxCrc)
        throw new ProtocolError('BAD_AUX_CRC', `aux CRC mismatch: header says ${hex(header.auxCrc)}, the ${this.#ab} aux bytes give ${hex(actual)}`, DMSG_IOQ_ERROR.ACRC);
      aux = b.subarray(o + hb, o + hb + header.auxBytes);
    }
    let ext = hb === 64 ? EMPTY : b.subarray(o + 64, o + hb);
    if (this.#swapped) ext = swapExtToLE(header.cmd, ext);
    return { header, ext, aux, swapped: this.#swapped };
  }
}
