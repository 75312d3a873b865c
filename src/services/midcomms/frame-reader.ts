/**
 * Reads midcomms frames and applies the structural checks of spec §5.4, as
 * pure functions: no state, no throw on anything a peer sends.
 *
 * `frameLengthAt` is item 1 (stream framing): a frame's `h_length` outside
 * [16, 4096] breaks the stream (the channel is closed), and a frame that
 * runs past the end of the data is a truncated stream (a channel delivers
 * whole frames, see README "How frames share a DMSG message").
 *
 * `parseFrame` is items 2, 4 and 5: the version dispatch and the per-command
 * size checks. What needs the session's state (the recorded peer version,
 * the peer's node id, the sequence check) is the session's job.
 */
import { DLM_CMD, DLM_MAJOR, DLM_MAJOR_MASK, DLM_VERSION, OFF, RCOM_TYPE, SIZE } from './constants.ts';
import { sessionIdOrNull } from './hello.ts';
import type { SessionId } from './hello.ts';

/** Why a frame was dropped: the keys of `stats().drops`. */
export type DropReason =
  /** `h_version` neither 3.1 nor 3.2 (§5.4 item 2). */
  | 'badVersion'
  /** `h_version` differs from the version recorded for the peer (item 3). */
  | 'versionMismatch'
  /** An `h_cmd` the path does not accept (items 4, 5). */
  | 'badCmd'
  /** A raw RCOM other than STATUS, STATUS_REPLY, NAMES, NAMES_REPLY (item 4). */
  | 'rawRcomType'
  /** Shorter than the minimum for its command (MSG 88, RCOM 48, OPTS 24 + options + inner). */
  | 'tooShort'
  /** `o_optlen` not a multiple of 8, or options that run past the frame. */
  | 'badOptlen'
  /** `o_nextcmd` not MSG, RCOM or FIN, or not the inner message's `h_cmd`. */
  | 'badNextCmd'
  /** The inner `h_length` below its command's minimum or not the bytes that remain. */
  | 'badInnerLength'
  /** The inner header's major version is not 3. */
  | 'badInnerVersion'
  /** `h_nodeid` (outer or inner) is not the session's peer (item 6). */
  | 'nodeidMismatch'
  /** An ACK for a sequence number we never sent. */
  | 'badAck'
  /** A frame of the 3.2 protocol (OPTS, ACK) from a peer that speaks 3.1, or the reverse. */
  | 'wrongGeneration'
  /** A second HELLO on one channel. */
  | 'helloAgain'
  /** A frame on a channel we refused (stale session). */
  | 'staleChannel'
  /** A 3.2 sequence number after `seq_next` (§5.5: gap, dropped without ACK). */
  | 'gap'
  /** A sequence number before `seq_next` (§5.5: duplicate, re-ACKed). */
  | 'duplicate'
  /** A frame that arrived after its channel's framing broke (rest of that batch). */
  | 'afterFramingError'
  /** A sequenced message the receive buffer has no room for (peer past its window). */
  | 'overflow';

export type FramingCheck =
  | { readonly ok: true; readonly length: number }
  | { readonly ok: false; readonly code: 'BAD_FRAME_LENGTH' | 'TRUNCATED'; readonly reason: string };

/**
 * §5.4 item 1 as a number, for the receive loop (no result object per
 * frame): the frame's length when it is well framed, else -1 (then
 * `frameLengthAt` says why).
 */
export function frameLengthOrFail(bytes: Uint8Array, off: number, end = bytes.length): number {
  if (end - off < SIZE.HEADER) return -1;
  const length = bytes[off + OFF.LENGTH]! | (bytes[off + OFF.LENGTH + 1]! << 8);
  if (length < SIZE.HEADER || length > SIZE.MAX_MESSAGE || length > end - off) return -1;
  return length;
}

/** §5.4 item 1 for the frame at `off`; `end` is the end of the data. */
export function frameLengthAt(bytes: Uint8Array, off: number, end = bytes.length): FramingCheck {
  if (end - off < SIZE.HEADER) return { ok: false, code: 'TRUNCATED', reason: `${end - off} bytes left, a header needs ${SIZE.HEADER}` };
  const length = bytes[off + OFF.LENGTH]! | (bytes[off + OFF.LENGTH + 1]! << 8);
  if (length < SIZE.HEADER || length > SIZE.MAX_MESSAGE) {
    return { ok: false, code: 'BAD_FRAME_LENGTH', reason: `h_length ${length} outside [${SIZE.HEADER}, ${SIZE.MAX_MESSAGE}]` };
  }
  if (length > end - off) return { ok: false, code: 'TRUNCATED', reason: `h_length ${length}, ${end - off} bytes left` };
  return { ok: true, length };
}

export type ParsedFrame =
  | { readonly kind: 'hello'; readonly version: number; readonly nodeid: number; readonly sid: SessionId | null; readonly peer: SessionId | null; readonly flags: number; readonly address: string }
  /** `start`/`end`: where the inner message lies in the buffer parsed (no view is made). */
  | { readonly kind: 'opts'; readonly version: number; readonly nodeid: number; readonly seq: number; readonly innerCmd: number; readonly start: number; readonly end: number }
  | { readonly kind: 'ack'; readonly version: number; readonly nodeid: number; readonly ack: number }
  /** `start`/`end`: the message (the whole frame). */
  | { readonly kind: 'raw'; readonly version: number; readonly nodeid: number; readonly cmd: number; readonly start: number; readonly end: number }
  | { readonly kind: 'drop'; readonly version: number; readonly reason: DropReason }
  /** A CHALLENGE, PROOF or TICKET (`channel-verifier.ts`): token (ticket) at `at + 16`, nonce at `at + 24` (8 bytes each). */
  | { readonly kind: 'challenge' | 'proof' | 'ticket'; readonly version: number; readonly nodeid: number; readonly flags: number; readonly at: number };

const UTF8 = new TextDecoder('utf-8', { fatal: false });

function dropped(version: number, reason: DropReason): ParsedFrame {
  return { kind: 'drop', version, reason };
}

function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
function u16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/** Minimum inner size for an OPTS `o_nextcmd` or an inner `h_cmd`; 0 for a command not allowed inside OPTS. */
export function minInnerLength(cmd: number): number {
  switch (cmd) {
    case DLM_CMD.MSG:
      return SIZE.MIN_MSG;
    case DLM_CMD.RCOM:
      return SIZE.MIN_RCOM;
    case DLM_CMD.FIN:
      return SIZE.MIN_FIN;
    default:
      return 0;
  }
}

function isStatelessRcom(type: number): boolean {
  return type === RCOM_TYPE.STATUS || type === RCOM_TYPE.STATUS_REPLY || type === RCOM_TYPE.NAMES || type === RCOM_TYPE.NAMES_REPLY;
}

/**
 * Classifies the frame at `buf[at, at + length)` (`length` as `frameLengthAt`
 * cut it). Offsets returned are into `buf`; nothing is copied or viewed.
 */
export function parseFrame(buf: Uint8Array, at = 0, length = buf.length - at): ParsedFrame {
  const version = u32(buf, at + OFF.VERSION);
  const nodeid = u32(buf, at + OFF.NODEID);
  const cmd = buf[at + OFF.CMD]!;
  const end = at + length;
  if (version !== DLM_VERSION.V3_1 && version !== DLM_VERSION.V3_2) return dropped(version, 'badVersion');

  if (cmd === DLM_CMD.HELLO) {
    if (length < SIZE.HELLO) return dropped(version, 'tooShort');
    return {
      kind: 'hello',
      version,
      nodeid,
      sid: sessionIdOrNull(u32(buf, at + 16), u32(buf, at + 20)),
      peer: sessionIdOrNull(u32(buf, at + 24), u32(buf, at + 28)),
      flags: u32(buf, at + 32),
      address: length > SIZE.HELLO ? UTF8.decode(buf.subarray(at + SIZE.HELLO, end)) : '',
    };
  }
  if (cmd === DLM_CMD.CHALLENGE || cmd === DLM_CMD.PROOF || cmd === DLM_CMD.TICKET) {
    if (length < SIZE.CHALLENGE) return dropped(version, 'tooShort');
    return { kind: cmd === DLM_CMD.PROOF ? 'proof' : cmd === DLM_CMD.TICKET ? 'ticket' : 'challenge', version, nodeid, flags: u32(buf, at + 32), at };
  }

  if (version === DLM_VERSION.V3_1) {
    // §5.4 item 5: the 3.1 path knows MSG and RCOM only.
    if (cmd === DLM_CMD.MSG) return length < SIZE.MIN_MSG ? dropped(version, 'tooShort') : { kind: 'raw', version, nodeid, cmd, start: at, end };
    if (cmd === DLM_CMD.RCOM) return length < SIZE.MIN_RCOM ? dropped(version, 'tooShort') : { kind: 'raw', version, nodeid, cmd, start: at, end };
    return dropped(version, 'badCmd');
  }

  switch (cmd) {
    case DLM_CMD.RCOM: {
      if (length < SIZE.MIN_RCOM) return dropped(version, 'tooShort');
      if (!isStatelessRcom(u32(buf, at + OFF.RC_TYPE))) return dropped(version, 'rawRcomType');
      return { kind: 'raw', version, nodeid, cmd, start: at, end };
    }
    case DLM_CMD.ACK:
      return { kind: 'ack', version, nodeid, ack: u32(buf, at + OFF.SEQ) };
    case DLM_CMD.OPTS: {
      if (length < SIZE.OPTS) return dropped(version, 'tooShort');
      const nextcmd = buf[at + OFF.NEXTCMD]!;
      const optlen = u16(buf, at + OFF.OPTLEN);
      const min = minInnerLength(nextcmd);
      if (min === 0) return dropped(version, 'badNextCmd');
      if (optlen % SIZE.OPTION_ALIGN !== 0) return dropped(version, 'badOptlen');
      if (length < SIZE.OPTS + optlen + min) return SIZE.OPTS + optlen > length ? dropped(version, 'badOptlen') : dropped(version, 'tooShort');
      const inner = at + SIZE.OPTS + optlen;
      const innerCmd = buf[inner + OFF.CMD]!;
      if (innerCmd !== nextcmd) return dropped(version, 'badNextCmd');
      if (((u32(buf, inner + OFF.VERSION) & DLM_MAJOR_MASK) >>> 0) !== DLM_MAJOR) return dropped(version, 'badInnerVersion');
      const innerLength = u16(buf, inner + OFF.LENGTH);
      if (innerLength < min || innerLength !== end - inner) return dropped(version, 'badInnerLength');
      return { kind: 'opts', version, nodeid, seq: u32(buf, at + OFF.SEQ), innerCmd, start: inner, end };
    }
    default:
      return dropped(version, 'badCmd');
  }
}

/**
 * The receive path's form of `parseFrame` for the frame it sees most, an
 * OPTS frame: where its inner message starts when `parseFrame` would
 * return `kind: 'opts'` for it (a 3.2 `h_version` and every check of the
 * OPTS case), else -1 (then `parseFrame` says what it is). No object is
 * made. The frame's `h_seq` is `u32At(buf, at + 4)`, its inner `h_cmd`
 * `buf[start + 14]`, and the inner message ends at `at + length`.
 */
export function optsInnerStart(buf: Uint8Array, at: number, length: number): number {
  if (buf[at + OFF.CMD] !== DLM_CMD.OPTS || length < SIZE.OPTS || u32(buf, at + OFF.VERSION) !== DLM_VERSION.V3_2) return -1;
  const nextcmd = buf[at + OFF.NEXTCMD]!;
  const optlen = u16(buf, at + OFF.OPTLEN);
  // minInnerLength(nextcmd), without the call (the receive path's most frequent frame).
  const min = nextcmd === DLM_CMD.MSG ? SIZE.MIN_MSG : nextcmd === DLM_CMD.RCOM ? SIZE.MIN_RCOM : nextcmd === DLM_CMD.FIN ? SIZE.MIN_FIN : 0;
  if (min === 0 || optlen % SIZE.OPTION_ALIGN !== 0 || length < SIZE.OPTS + optlen + min) return -1;
  const inner = at + SIZE.OPTS + optlen;
  if (buf[inner + OFF.CMD] !== nextcmd) return -1;
  if (((u32(buf, inner + OFF.VERSION) & DLM_MAJOR_MASK) >>> 0) !== DLM_MAJOR) return -1;
  const innerLength = u16(buf, inner + OFF.LENGTH);
  if (innerLength < min || innerLength !== at + length - inner) return -1;
  return inner;
}

/** The little-endian u32 at `buf[off]`. */
export function u32At(buf: Uint8Array, off: number): number {
  return u32(buf, off);
}

/** The channel token (`part` 0) or resume ticket (`part` 1) of a HELLO at `at` as a map key (hex; zero: none). */
export function helloTokenKey(buf: Uint8Array, at: number, part: 0 | 1 = 0): string {
  return hexKey(buf, at + 40 + 8 * part);
}

/** The token (`part` 0) or nonce (`part` 1) of a CHALLENGE/PROOF at `at`, as a map key (hex). */
export function challengeKey(buf: Uint8Array, at: number, part: 0 | 1): string {
  return hexKey(buf, at + 16 + 8 * part);
}

/** The 8 bytes at `buf[off]` as a map key (hex). */
export function hexKey(buf: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += (buf[off + i]! | 0x100).toString(16).slice(1);
  return s;
}

/** The key of a token that was never set. */
export const NO_TOKEN = '0000000000000000';

/** `h_nodeid` of the message at `buf[at]`. */
export function nodeidAt(buf: Uint8Array, at: number): number {
  return u32(buf, at + OFF.NODEID);
}
