/**
 * Builds midcomms frames byte for byte as Linux does (spec §3.6, §5.3), all
 * little-endian:
 *
 * ```
 * header  0 u32 h_version | 4 u32 h_lockspace or h_seq | 8 u32 h_nodeid | 12 u16 h_length | 14 u8 h_cmd | 15 u8 pad
 * OPTS   16 u8 o_nextcmd | 17 u8 pad | 18 u16 o_optlen | 20 u32 pad | options (8-aligned TLVs) | inner message
 * ACK    header only, h_seq = n ("every sequence before n received")
 * FIN    an OPTS frame whose inner message is a bare 16-byte header with h_cmd FIN
 * HELLO  (ours) header | 16 u32 sid.inc | 20 u32 sid.gen | 24 u32 peer.inc | 28 u32 peer.gen | 32 u32 flags | 36 u32 0
 *        | 40 8 bytes channel token (random, the opener's; 0 in replies)
 *        | 48 8 bytes resume ticket (the last TICKET the receiver gave us; 0: none)
 *        | 56.. the sender's mesh address (UTF-8, up to 4040 bytes), so an acceptor can open channels back
 * CHALLENGE / PROOF / TICKET (ours) header | 16 8 bytes token (ticket) | 24 8 bytes nonce (0) | 32 u32 flags | 36 u32 0 (40 bytes)
 * ```
 *
 * Nothing here keeps state; every function returns a new buffer it owns.
 */
import { DLM_CMD, OFF, SIZE } from './constants.ts';
import type { SessionId } from './hello.ts';
import type { FrameSlab } from './frame-slab.ts';

/** One option TLV (defined by Linux, never emitted by it). */
export interface OptionTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

/** Writes the 16-byte DLM header at `off` (byte stores: no DataView per frame). */
export function writeHeader(buf: Uint8Array, off: number, version: number, lockspaceOrSeq: number, nodeid: number, length: number, cmd: number): void {
  put32(buf, off + OFF.VERSION, version);
  put32(buf, off + OFF.SEQ, lockspaceOrSeq);
  put32(buf, off + OFF.NODEID, nodeid);
  buf[off + OFF.LENGTH] = length & 0xff;
  buf[off + OFF.LENGTH + 1] = (length >>> 8) & 0xff;
  buf[off + OFF.CMD] = cmd;
  buf[off + OFF.CMD + 1] = 0;
}

/**
 * An OPTS frame (no options) around a copy of `inner` whose `h_version` and
 * `h_nodeid` are set to ours, in a buffer of its own, byte by byte: the
 * definition the send path's `encodeOptsStampedIn` is tested against.
 */
export function encodeOptsStamped(version: number, nodeid: number, seq: number, inner: Uint8Array): Uint8Array {
  const length = SIZE.OPTS + inner.length;
  if (length > SIZE.MAX_MESSAGE) throw new RangeError(`OPTS frame of ${length} bytes exceeds ${SIZE.MAX_MESSAGE}`);
  const buf = new Uint8Array(length);
  writeHeader(buf, 0, version, seq, nodeid, length, DLM_CMD.OPTS);
  buf[OFF.NEXTCMD] = inner[OFF.CMD] ?? 0;
  buf.set(inner, SIZE.OPTS);
  put32(buf, SIZE.OPTS + OFF.VERSION, version);
  put32(buf, SIZE.OPTS + OFF.NODEID, nodeid);
  return buf;
}

/**
 * `encodeOptsStamped` into `slab` (the send path's form): whole-word
 * stores through the slab's DataView instead of byte stores, no allocator
 * closure. The slab's memory is not zeroed (frame-slab.ts): every byte of
 * the frame is written here, the pads and `o_optlen` included.
 */
export function encodeOptsStampedIn(slab: FrameSlab, version: number, nodeid: number, seq: number, inner: Uint8Array): Uint8Array {
  const length = SIZE.OPTS + inner.length;
  if (length > SIZE.MAX_MESSAGE) throw new RangeError(`OPTS frame of ${length} bytes exceeds ${SIZE.MAX_MESSAGE}`);
  const buf = slab.alloc(length);
  const dv = slab.dv;
  const at = slab.lastAt;
  dv.setUint32(at + OFF.VERSION, version, true);
  dv.setUint32(at + OFF.SEQ, seq, true);
  dv.setUint32(at + OFF.NODEID, nodeid, true);
  // h_length, h_cmd, pad
  dv.setUint32(at + OFF.LENGTH, length | (DLM_CMD.OPTS << 16), true);
  // o_nextcmd, pad, o_optlen 0; then the u32 pad: the slab is not zeroed, every byte is written.
  dv.setUint32(at + OFF.NEXTCMD, inner[OFF.CMD] ?? 0, true);
  dv.setUint32(at + OFF.NEXTCMD + 4, 0, true);
  buf.set(inner, SIZE.OPTS);
  dv.setUint32(at + SIZE.OPTS + OFF.VERSION, version, true);
  dv.setUint32(at + SIZE.OPTS + OFF.NODEID, nodeid, true);
  return buf;
}

/** Padded size of a TLV list: each TLV is 8 bytes of header plus its value rounded up to 8. */
export function optionsLength(options: readonly OptionTlv[]): number {
  let n = 0;
  for (const o of options) n += SIZE.OPTION_HEADER + align8(o.value.length);
  return n;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Encodes TLVs: `t_type` u16, `t_length` u16 (value bytes), pad u32, value zero-padded to 8. */
export function encodeOptions(options: readonly OptionTlv[], out = new Uint8Array(optionsLength(options)), at = 0): Uint8Array {
  const dv = view(out);
  let off = at;
  for (const o of options) {
    if (o.value.length > 0xffff) throw new RangeError(`option value too long: ${o.value.length} > 65535`);
    dv.setUint16(off, o.type, true);
    dv.setUint16(off + 2, o.value.length, true);
    dv.setUint32(off + 4, 0, true);
    out.set(o.value, off + SIZE.OPTION_HEADER);
    off += SIZE.OPTION_HEADER + align8(o.value.length);
  }
  return out;
}

/**
 * An OPTS frame around `inner` (a complete inner message with its own header).
 * The inner bytes are copied in as they are.
 */
export function encodeOpts(version: number, nodeid: number, seq: number, inner: Uint8Array, options: readonly OptionTlv[] = []): Uint8Array {
  const optlen = optionsLength(options);
  const length = SIZE.OPTS + optlen + inner.length;
  if (length > SIZE.MAX_MESSAGE) throw new RangeError(`OPTS frame of ${length} bytes exceeds ${SIZE.MAX_MESSAGE}`);
  const buf = new Uint8Array(length);
  writeHeader(buf, 0, version, seq, nodeid, length, DLM_CMD.OPTS);
  buf[OFF.NEXTCMD] = inner[OFF.CMD] ?? 0;
  view(buf).setUint16(OFF.OPTLEN, optlen, true);
  if (optlen > 0) encodeOptions(options, buf, SIZE.OPTS);
  buf.set(inner, SIZE.OPTS + optlen);
  return buf;
}

/** A bare ACK: "I have received every message with sequence before `n`". */
export function encodeAck(version: number, nodeid: number, n: number): Uint8Array {
  const buf = new Uint8Array(SIZE.HEADER);
  writeHeader(buf, 0, version, n, nodeid, SIZE.HEADER, DLM_CMD.ACK);
  return buf;
}

/** A FIN, sequenced inside an OPTS envelope (40 bytes). */
export function encodeFin(version: number, nodeid: number, seq: number): Uint8Array {
  const inner = new Uint8Array(SIZE.MIN_FIN);
  writeHeader(inner, 0, version, 0, nodeid, SIZE.MIN_FIN, DLM_CMD.FIN);
  return encodeOpts(version, nodeid, seq, inner);
}

/** HELLO flag: the sender is answering a HELLO (it accepted the channel). */
export const HELLO_REPLY = 0x1;
/** HELLO flag: the channel is refused (stale session); the sender closes it. */
export const HELLO_REFUSED = 0x2;

/** Bytes of a channel token and of a challenge nonce. */
export const TOKEN_BYTES = 8;

/**
 * Our channel handshake frame (see `hello.ts`). `token`: the random token of
 * a channel we opened (the acceptor asks us to prove it, `channel-verifier.ts`);
 * absent (zero) in replies.
 */
export function encodeHello(version: number, nodeid: number, sid: SessionId, peer: SessionId | null, flags = 0, address = '', token?: Uint8Array, ticket?: Uint8Array): Uint8Array {
  const addr = new TextEncoder().encode(address);
  const length = SIZE.HELLO + addr.length;
  if (length > SIZE.MAX_MESSAGE) throw new RangeError(`HELLO address of ${addr.length} bytes is too long`);
  const buf = new Uint8Array(length);
  buf.set(addr, SIZE.HELLO);
  writeHeader(buf, 0, version, 0, nodeid, length, DLM_CMD.HELLO);
  const dv = view(buf);
  dv.setUint32(16, sid.inc >>> 0, true);
  dv.setUint32(20, sid.gen >>> 0, true);
  dv.setUint32(24, peer ? peer.inc >>> 0 : 0, true);
  dv.setUint32(28, peer ? peer.gen >>> 0 : 0, true);
  dv.setUint32(32, flags >>> 0, true);
  dv.setUint32(36, 0, true);
  if (token !== undefined) buf.set(token.subarray(0, TOKEN_BYTES), 40);
  if (ticket !== undefined) buf.set(ticket.subarray(0, TOKEN_BYTES), 48);
  return buf;
}

/** CHALLENGE flag (on the answer, in the challenge's own transaction): no channel of ours carries that token. */
export const CHALLENGE_DENIED = 0x1;

/**
 * A CHALLENGE (`cmd` DLM_CMD.CHALLENGE) or a PROOF (`cmd` DLM_CMD.PROOF):
 * the token of the channel in question and the asker's nonce; or a TICKET
 * (`cmd` DLM_CMD.TICKET): the ticket as `token`, a zero nonce.
 */
export function encodeChallengeFrame(cmd: number, version: number, nodeid: number, token: Uint8Array, nonce: Uint8Array, flags = 0): Uint8Array {
  const buf = new Uint8Array(SIZE.CHALLENGE);
  writeHeader(buf, 0, version, 0, nodeid, SIZE.CHALLENGE, cmd);
  buf.set(token.subarray(0, TOKEN_BYTES), 16);
  buf.set(nonce.subarray(0, TOKEN_BYTES), 24);
  put32(buf, 32, flags >>> 0);
  return buf;
}

/**
 * A complete inner DLM message: a 16-byte header (`h_cmd` MSG or RCOM,
 * `h_lockspace`, `h_length` = 16 + body) followed by `body`. midcomms stamps
 * `h_version` and `h_nodeid` again when it sends the message.
 */
export function encodeDlmMessage(cmd: number, lockspace: number, body: Uint8Array, nodeid = 0, version = 0x00030002): Uint8Array {
  const length = SIZE.HEADER + body.length;
  if (length > 0xffff) throw new RangeError(`message of ${length} bytes does not fit h_length`);
  const buf = new Uint8Array(length);
  writeHeader(buf, 0, version, lockspace, nodeid, length, cmd);
  buf.set(body, SIZE.HEADER);
  return buf;
}
