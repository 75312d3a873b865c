/**
 * The kernel's DLM message layouts (spec §3.6-§3.8), little-endian: the
 * 16-byte header, the lock message (88-byte fixed part) and the recovery
 * message (48-byte fixed part). This file encodes; the sizes, numbers and
 * records are in `message-format.ts` and the decoder (every field
 * validated, `DlmError('EBADMSG')` naming the bad one, never a read outside
 * the buffer) in `message-decode.ts`. All three are imported from here.
 * Pure: no state, no I/O (the encoders' slab aside).
 */
import { DlmError } from './errors.ts';
import { copyShort, type ExtraCopies } from './extra-copies.ts';
import { DLM_CMD, DLM_HEADER_LEN, DLM_MAX_MSG_LEN, DLM_MSG_FIXED_LEN, DLM_RCOM_FIXED_LEN, EMPTY, MSG_NAMES, type DlmHeader, type DlmMessage, type DlmRcom } from './message-format.ts';

// The format (sizes, numbers, records) and the decoder live in their own files; this is the one import for all three.
export { DLM_CMD, DLM_HEADER_LEN, DLM_MAX_APP_BUFSIZE, DLM_MAX_MSG_LEN, DLM_MSG_FIXED_LEN, DLM_RCOM_FIXED_LEN, DLM_VERSION, DLM_VERSION_MAJOR_MASK, MSG, MSG_NAMES, RCOM, emptyMessage, resetMessage } from './message-format.ts';
export type { DlmHeader, DlmMessage, DlmRcom, MsgType } from './message-format.ts';
export { decodeChecking, decodeHeader, decodeLockMessage, decodeLockMessageInto, decodeMessage, decodeRcom, headerNodeid } from './message-decode.ts';

function writeHeader(dv: DataView, h: DlmHeader, length: number): void {
  dv.setUint32(0, h.version >>> 0, true);
  dv.setUint32(4, h.lockspace >>> 0, true);
  dv.setUint32(8, h.nodeid >>> 0, true);
  dv.setUint16(12, length, true);
  dv.setUint8(14, h.cmd);
  dv.setUint8(15, 0);
}

/** Little-endian 32-bit store (signed values as two's complement: a Uint8Array store keeps the low 8 bits). */
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/**
 * Encoded messages are cut from a shared slab, as Node's Buffer pool does:
 * an 88-byte typed array of its own costs an off-heap allocation and a GC
 * tracked backing store, the top cost of a remote lock cycle. Each message
 * is its own range of the slab, never written again once returned; a
 * message kept alive keeps at most one slab (SLAB bytes) alive.
 */
const SLAB = 8192;
let slab = new Uint8Array(SLAB);
/** The same slab as 32-bit words: a message starts 8-aligned, so its fixed part is 22 whole words. */
let slab32 = new Int32Array(slab.buffer);
let slabUsed = 0;
/** Word stores write the fields little-endian only on a little-endian host (else byte stores). */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function encodeMessage(h: Omit<DlmHeader, 'cmd'>, m: DlmMessage): Uint8Array {
  const length = DLM_MSG_FIXED_LEN + m.extra.length;
  if (length > DLM_MAX_MSG_LEN) throw new DlmError('EINVAL', `DLM message of ${length} bytes exceeds ${DLM_MAX_MSG_LEN}`);
  if (length > SLAB / 4 || !LITTLE_ENDIAN_HOST) return encodeBytes(h, m, new Uint8Array(length));
  if (slabUsed + length > SLAB) {
    slab = new Uint8Array(SLAB);
    slab32 = new Int32Array(slab.buffer);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += (length + 7) & ~7;
  writeWords(slab32, at >> 2, h, m, length);
  // A view by constructor (subarray() looks up the species constructor); the slab starts at byte 0 of its buffer.
  const out = new Uint8Array(slab.buffer, at, length);
  if (m.extra.length > 0) out.set(m.extra, DLM_MSG_FIXED_LEN);
  return out;
}

/** The header and the 18 fields as 22 little-endian words from word `w` of `s` (a little-endian host). */
function writeWords(s: Int32Array, w: number, h: Omit<DlmHeader, 'cmd'>, m: DlmMessage, length: number): void {
  // One store per field (Int32Array stores wrap u32 and negative values to their two's-complement bits).
  s[w] = h.version;
  s[w + 1] = h.lockspace;
  s[w + 2] = h.nodeid;
  s[w + 3] = length | (DLM_CMD.MSG << 16); // h_length (u16), h_cmd, pad 0
  // The 18 fields in wire order; signed ones (modes, status, result) as two's complement.
  s[w + 4] = m.type;
  s[w + 5] = m.nodeid;
  s[w + 6] = m.pid;
  s[w + 7] = m.lkid;
  s[w + 8] = m.remid;
  s[w + 9] = m.parentLkid;
  s[w + 10] = m.parentRemid;
  s[w + 11] = m.exflags;
  s[w + 12] = m.sbflags;
  s[w + 13] = m.flags;
  s[w + 14] = m.lvbseq;
  s[w + 15] = m.hash;
  s[w + 16] = m.status;
  s[w + 17] = m.grmode;
  s[w + 18] = m.rqmode;
  s[w + 19] = m.bastmode;
  s[w + 20] = m.asts;
  s[w + 21] = m.result;
}

/** Extras (names, LVBs) up to this many bytes are encoded by a loop rather than `set()` (extra-copies.ts). */
const SHORT_EXTRA = 32;

/**
 * An encoder that writes every message into the same buffer: for an
 * endpoint that copies (or consumes) a message before its `send()` returns
 * (`DlmEndpoint.copiesOnSend`), so a message costs no slab, no ArrayBuffer
 * and, for each length seen before, no new view (the views are cached by
 * length: 88 bytes for most messages, plus one per name or LVB length).
 * What `encode()` returns is valid until its next call; same bytes and
 * checks as `encodeMessage`.
 */
export class MessageScratch {
  readonly #buf = new Uint8Array(DLM_MAX_MSG_LEN);
  readonly #words = new Int32Array(this.#buf.buffer);
  /** The view of the first n bytes, by n (made once per length). */
  readonly #views: (Uint8Array | undefined)[] = [];

  encode(h: Omit<DlmHeader, 'cmd'>, m: DlmMessage): Uint8Array {
    const n = m.extra.length;
    const length = DLM_MSG_FIXED_LEN + n;
    if (length > DLM_MAX_MSG_LEN) throw new DlmError('EINVAL', `DLM message of ${length} bytes exceeds ${DLM_MAX_MSG_LEN}`);
    if (!LITTLE_ENDIAN_HOST) return encodeBytes(h, m, new Uint8Array(length));
    writeWords(this.#words, 0, h, m, length);
    let out = this.#views[length];
    if (out === undefined) this.#views[length] = out = new Uint8Array(this.#buf.buffer, 0, length);
    if (n > SHORT_EXTRA) out.set(m.extra, DLM_MSG_FIXED_LEN);
    else if (n > 0) copyShort(out, DLM_MSG_FIXED_LEN, m.extra, 0, n);
    return out;
  }
}

/** `encodeMessage` byte by byte into `out` (a big message, or a big-endian host). */
function encodeBytes(h: Omit<DlmHeader, 'cmd'>, m: DlmMessage, out: Uint8Array): Uint8Array {
  const length = out.length;
  put32(out, 0, h.version);
  put32(out, 4, h.lockspace);
  put32(out, 8, h.nodeid);
  out[12] = length;
  out[13] = length >>> 8;
  out[14] = DLM_CMD.MSG;
  out[15] = 0;
  put32(out, 16, m.type);
  put32(out, 20, m.nodeid);
  put32(out, 24, m.pid);
  put32(out, 28, m.lkid);
  put32(out, 32, m.remid);
  put32(out, 36, m.parentLkid);
  put32(out, 40, m.parentRemid);
  put32(out, 44, m.exflags);
  put32(out, 48, m.sbflags);
  put32(out, 52, m.flags);
  put32(out, 56, m.lvbseq);
  put32(out, 60, m.hash);
  put32(out, 64, m.status);
  put32(out, 68, m.grmode);
  put32(out, 72, m.rqmode);
  put32(out, 76, m.bastmode);
  put32(out, 80, m.asts);
  put32(out, 84, m.result);
  if (m.extra.length > 0) out.set(m.extra, DLM_MSG_FIXED_LEN);
  return out;
}

export function encodeRcom(h: Omit<DlmHeader, 'cmd'>, r: DlmRcom): Uint8Array {
  const length = DLM_RCOM_FIXED_LEN + r.buf.length;
  if (length > DLM_MAX_MSG_LEN) throw new DlmError('EINVAL', `DLM rcom of ${length} bytes exceeds ${DLM_MAX_MSG_LEN}`);
  const out = new Uint8Array(length);
  const dv = new DataView(out.buffer);
  writeHeader(dv, { ...h, cmd: DLM_CMD.RCOM }, length);
  const o = DLM_HEADER_LEN;
  dv.setUint32(o, r.type >>> 0, true);
  dv.setUint32(o + 4, r.result >>> 0, true);
  dv.setBigUint64(o + 8, BigInt.asUintN(64, r.id), true);
  dv.setBigUint64(o + 16, BigInt.asUintN(64, r.seq), true);
  dv.setBigUint64(o + 24, BigInt.asUintN(64, r.seqReply), true);
  out.set(r.buf, DLM_RCOM_FIXED_LEN);
  return out;
}

/** A one-line summary for logs and the message observer. */
export function describeMessage(m: DlmMessage): string {
  return `${MSG_NAMES[m.type] ?? m.type} lkid=${m.lkid} remid=${m.remid} rq=${m.rqmode} gr=${m.grmode} result=${m.result}`;
}
