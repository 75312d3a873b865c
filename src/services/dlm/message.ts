/**
 * The kernel's DLM message layouts (spec §3.6-§3.8), little-endian: the
 * 16-byte header, the lock message (88-byte fixed part) and the recovery
 * message (48-byte fixed part). Decoding validates every field and throws a
 * `DlmError('EBADMSG')` saying which field and what came; it never reads
 * outside the buffer. Pure: no state, no I/O.
 */
import { DLM_ERRNO, DLM_RESNAME_MAXLEN, LKF_ALL, SBF_ALL } from './constants.ts';
import { DlmError } from './errors.ts';

export const DLM_HEADER_LEN = 16;
/** Header + the 18 u32 fields of a lock message (`sizeof(struct dlm_message)`). */
export const DLM_MSG_FIXED_LEN = 88;
/** Header + the fixed fields of a recovery message (`sizeof(struct dlm_rcom)`). */
export const DLM_RCOM_FIXED_LEN = 48;
export const DLM_MAX_MSG_LEN = 4096;
/** The current protocol version (3.2); 3.1 is accepted. */
export const DLM_VERSION = 0x00030002;
export const DLM_VERSION_MAJOR_MASK = 0xffff0000;

export const DLM_CMD = { MSG: 1, RCOM: 2, OPTS: 3, ACK: 4, FIN: 5 } as const;

export const MSG = {
  REQUEST: 1,
  CONVERT: 2,
  UNLOCK: 3,
  CANCEL: 4,
  REQUEST_REPLY: 5,
  CONVERT_REPLY: 6,
  UNLOCK_REPLY: 7,
  CANCEL_REPLY: 8,
  GRANT: 9,
  BAST: 10,
  LOOKUP: 11,
  REMOVE: 12,
  LOOKUP_REPLY: 13,
  PURGE: 14,
} as const;
export type MsgType = (typeof MSG)[keyof typeof MSG];
export const MSG_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(MSG).map(([k, v]) => [v, k]));

export const RCOM = {
  STATUS: 1,
  NAMES: 2,
  LOOKUP: 3,
  LOCK: 4,
  STATUS_REPLY: 5,
  NAMES_REPLY: 6,
  LOOKUP_REPLY: 7,
  LOCK_REPLY: 8,
} as const;

/** The 16-byte header. */
export interface DlmHeader {
  version: number;
  /** Lockspace global id (MSG/RCOM). */
  lockspace: number;
  /** Sender node id. */
  nodeid: number;
  cmd: number;
}

/** A lock message (h_cmd = MSG): the 18 fields of the fixed part, then `extra`. */
export interface DlmMessage {
  type: MsgType;
  nodeid: number;
  pid: number;
  lkid: number;
  remid: number;
  parentLkid: number;
  parentRemid: number;
  exflags: number;
  sbflags: number;
  flags: number;
  lvbseq: number;
  hash: number;
  status: number;
  grmode: number;
  rqmode: number;
  bastmode: number;
  asts: number;
  result: number;
  /** Resource name (REQUEST, LOOKUP, REMOVE) or LVB (CONVERT, UNLOCK, *_REPLY, GRANT). */
  extra: Uint8Array;
}

/** A recovery message (h_cmd = RCOM): the fixed part, then `buf`. */
export interface DlmRcom {
  type: number;
  result: number;
  id: bigint;
  seq: bigint;
  seqReply: bigint;
  buf: Uint8Array;
}

export function emptyMessage(type: MsgType): DlmMessage {
  return {
    type,
    nodeid: 0,
    pid: 0,
    lkid: 0,
    remid: 0,
    parentLkid: 0,
    parentRemid: 0,
    exflags: 0,
    sbflags: 0,
    flags: 0,
    lvbseq: 0,
    hash: 0,
    status: 0,
    grmode: -1,
    rqmode: -1,
    bastmode: -1,
    asts: 0,
    result: 0,
    extra: EMPTY,
  };
}

const EMPTY = new Uint8Array(0);

function writeHeader(dv: DataView, h: DlmHeader, length: number): void {
  dv.setUint32(0, h.version >>> 0, true);
  dv.setUint32(4, h.lockspace >>> 0, true);
  dv.setUint32(8, h.nodeid >>> 0, true);
  dv.setUint16(12, length, true);
  dv.setUint8(14, h.cmd);
  dv.setUint8(15, 0);
}

export function encodeMessage(h: Omit<DlmHeader, 'cmd'>, m: DlmMessage): Uint8Array {
  const length = DLM_MSG_FIXED_LEN + m.extra.length;
  if (length > DLM_MAX_MSG_LEN) throw new DlmError('EINVAL', `DLM message of ${length} bytes exceeds ${DLM_MAX_MSG_LEN}`);
  const out = new Uint8Array(length);
  const dv = new DataView(out.buffer);
  writeHeader(dv, { ...h, cmd: DLM_CMD.MSG }, length);
  const fields = [m.type, m.nodeid, m.pid, m.lkid, m.remid, m.parentLkid, m.parentRemid, m.exflags, m.sbflags, m.flags, m.lvbseq, m.hash, m.status, m.grmode, m.rqmode, m.bastmode, m.asts, m.result];
  for (let i = 0; i < fields.length; i++) dv.setUint32(DLM_HEADER_LEN + 4 * i, fields[i]! >>> 0, true);
  out.set(m.extra, DLM_MSG_FIXED_LEN);
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

function bad(field: string, expected: string, got: number | string): never {
  throw new DlmError('EBADMSG', `DLM message: ${field} must be ${expected}, got ${got}`);
}

/** Decode and check the header against the bytes. */
export function decodeHeader(bytes: Uint8Array): DlmHeader {
  if (bytes.length < DLM_HEADER_LEN) bad('length', `>= ${DLM_HEADER_LEN} bytes`, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(0, true);
  if ((version & DLM_VERSION_MAJOR_MASK) >>> 0 !== (DLM_VERSION & DLM_VERSION_MAJOR_MASK) >>> 0 || (version & 0xffff) < 1) bad('h_version', '0x0003000x (x >= 1)', `0x${version.toString(16)}`);
  const length = dv.getUint16(12, true);
  if (length !== bytes.length) bad('h_length', `the message size ${bytes.length}`, length);
  if (length > DLM_MAX_MSG_LEN) bad('h_length', `<= ${DLM_MAX_MSG_LEN}`, length);
  const cmd = dv.getUint8(14);
  if (cmd < 1 || cmd > 5) bad('h_cmd', '1..5', cmd);
  return { version, lockspace: dv.getUint32(4, true), nodeid: dv.getUint32(8, true), cmd };
}

/** The result values each message type may carry (wire-normalised, §3.7). */
const RESULTS: Readonly<Record<number, readonly number[]>> = {
  [MSG.REQUEST_REPLY]: [0, DLM_ERRNO.EINPROGRESS, DLM_ERRNO.EAGAIN, DLM_ERRNO.EBADR, DLM_ERRNO.ENOTBLK, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.CONVERT_REPLY]: [0, DLM_ERRNO.EINPROGRESS, DLM_ERRNO.EAGAIN, DLM_ERRNO.EDEADLK, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.UNLOCK_REPLY]: [DLM_ERRNO.EUNLOCK, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.CANCEL_REPLY]: [0, DLM_ERRNO.ECANCEL, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.GRANT]: [0],
  [MSG.LOOKUP_REPLY]: [0, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
};

function mode(field: string, v: number, allowIV: boolean): void {
  if (v < (allowIV ? -1 : 0) || v > 5) bad(field, allowIV ? 'a mode -1..5' : 'a mode 0..5', v);
}

/**
 * Decode a lock message. `lvblen` bounds the LVB an LVB-carrying type may
 * hold. Checks: the fixed part is complete, the type is known, modes, flags,
 * the result against the type, the name length for name-carrying types.
 */
export function decodeMessage(bytes: Uint8Array, lvblen: number): { header: DlmHeader; msg: DlmMessage } {
  const header = decodeHeader(bytes);
  if (header.cmd !== DLM_CMD.MSG) bad('h_cmd', `MSG (${DLM_CMD.MSG})`, header.cmd);
  if (bytes.length < DLM_MSG_FIXED_LEN) bad('length', `>= ${DLM_MSG_FIXED_LEN} bytes for MSG`, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u = (i: number): number => dv.getUint32(DLM_HEADER_LEN + 4 * i, true);
  const s = (i: number): number => dv.getInt32(DLM_HEADER_LEN + 4 * i, true);
  const type = u(0);
  if (type < MSG.REQUEST || type > MSG.PURGE) bad('m_type', '1..14', type);
  const msg: DlmMessage = {
    type: type as MsgType,
    nodeid: u(1),
    pid: u(2),
    lkid: u(3),
    remid: u(4),
    parentLkid: u(5),
    parentRemid: u(6),
    exflags: u(7),
    sbflags: u(8),
    // The receiver keeps only the low 16 bits of the shared flags (USER, ORPHAN).
    flags: u(9) & 0xffff,
    lvbseq: u(10),
    hash: u(11),
    status: s(12),
    grmode: s(13),
    rqmode: s(14),
    bastmode: s(15),
    asts: u(16),
    result: s(17),
    extra: bytes.subarray(DLM_MSG_FIXED_LEN),
  };
  if ((msg.exflags & ~LKF_ALL) !== 0) bad('m_exflags', 'known DLM_LKF_* bits', `0x${msg.exflags.toString(16)}`);
  if ((msg.sbflags & ~SBF_ALL) !== 0) bad('m_sbflags', 'known DLM_SBF_* bits', `0x${msg.sbflags.toString(16)}`);
  if ((msg.asts & ~3) !== 0) bad('m_asts', '0..3', msg.asts);
  if (msg.status < 0 || msg.status > 3) bad('m_status', '0..3', msg.status);
  mode('m_grmode', msg.grmode, true);
  mode('m_rqmode', msg.rqmode, true);
  mode('m_bastmode', msg.bastmode, true);
  const allowed = RESULTS[type];
  if (allowed ? !allowed.includes(msg.result) : msg.result !== 0) bad('m_result', `one of ${(allowed ?? [0]).join(', ')} for ${MSG_NAMES[type]}`, msg.result);
  const n = msg.extra.length;
  switch (type) {
    case MSG.REQUEST:
    case MSG.LOOKUP:
      mode('m_rqmode', msg.rqmode, false);
      if (n < 1 || n > DLM_RESNAME_MAXLEN) bad('resource name length', `1..${DLM_RESNAME_MAXLEN}`, n);
      if (msg.lkid === 0) bad('m_lkid', 'non-zero', 0);
      break;
    case MSG.REMOVE:
      if (n < 1 || n > DLM_RESNAME_MAXLEN) bad('resource name length', `1..${DLM_RESNAME_MAXLEN}`, n);
      break;
    case MSG.CONVERT:
      mode('m_rqmode', msg.rqmode, false);
      if (n > lvblen) bad('LVB length', `<= ${lvblen}`, n);
      break;
    case MSG.BAST:
      mode('m_bastmode', msg.bastmode, false);
      if (n !== 0) bad('extra length', '0 for BAST', n);
      break;
    case MSG.UNLOCK:
    case MSG.REQUEST_REPLY:
    case MSG.CONVERT_REPLY:
    case MSG.GRANT:
      if (n > lvblen) bad('LVB length', `<= ${lvblen}`, n);
      break;
    default:
      if (n !== 0) bad('extra length', `0 for ${MSG_NAMES[type]}`, n);
  }
  return { header, msg };
}

/** Decode a recovery message (fixed part checked; the payload is the caller's). */
export function decodeRcom(bytes: Uint8Array): { header: DlmHeader; rcom: DlmRcom } {
  const header = decodeHeader(bytes);
  if (header.cmd !== DLM_CMD.RCOM) bad('h_cmd', `RCOM (${DLM_CMD.RCOM})`, header.cmd);
  if (bytes.length < DLM_RCOM_FIXED_LEN) bad('length', `>= ${DLM_RCOM_FIXED_LEN} bytes for RCOM`, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = DLM_HEADER_LEN;
  const type = dv.getUint32(o, true);
  if (type < RCOM.STATUS || type > RCOM.LOCK_REPLY) bad('rc_type', '1..8', type);
  return {
    header,
    rcom: {
      type,
      result: dv.getInt32(o + 4, true),
      id: dv.getBigUint64(o + 8, true),
      seq: dv.getBigUint64(o + 16, true),
      seqReply: dv.getBigUint64(o + 24, true),
      buf: bytes.subarray(DLM_RCOM_FIXED_LEN),
    },
  };
}

/** A one-line summary for logs and the message observer. */
export function describeMessage(m: DlmMessage): string {
  return `${MSG_NAMES[m.type] ?? m.type} lkid=${m.lkid} remid=${m.remid} rq=${m.rqmode} gr=${m.grmode} result=${m.result}`;
}
