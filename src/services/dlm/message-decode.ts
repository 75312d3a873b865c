/**
 * Decoding received DLM messages (spec §3.6-§3.8): the header, the lock
 * message and the recovery message. Every field is validated; a bad one
 * throws `DlmError('EBADMSG')` saying which field and what came; nothing
 * is read outside the buffer. Pure: no state, no I/O. Re-exported by
 * `message.ts`.
 */
import { DLM_ERRNO as DLM_ERRNO_, DLM_RESNAME_MAXLEN as DLM_RESNAME_MAXLEN_, LKF_ALL as LKF_ALL_, SBF_ALL as SBF_ALL_ } from './constants.ts';
import { DlmError } from './errors.ts';
import { extraOf, type ExtraCopies } from './extra-copies.ts';
import { DLM_CMD, DLM_HEADER_LEN, DLM_MAX_MSG_LEN, DLM_MSG_FIXED_LEN, DLM_RCOM_FIXED_LEN, DLM_VERSION, DLM_VERSION_MAJOR_MASK, EMPTY as EMPTY_, emptyMessage, getI32 as getI32_, getU32 as getU32_, MSG as MSG_, MSG_NAMES, RCOM, type DlmHeader, type DlmMessage, type DlmRcom, type MsgType } from './message-format.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const DLM_ERRNO = DLM_ERRNO_;
const DLM_RESNAME_MAXLEN = DLM_RESNAME_MAXLEN_;
const LKF_ALL = LKF_ALL_;
const SBF_ALL = SBF_ALL_;
const MSG = MSG_;
const EMPTY = EMPTY_;
const getU32 = getU32_;
const getI32 = getI32_;

function bad(field: string, expected: string, got: number | string): never {
  throw new DlmError('EBADMSG', `DLM message: ${field} must be ${expected}, got ${got}`);
}

/** Check the header against the bytes (as decodeHeader, no object made); its h_cmd. */
function checkHeader(bytes: Uint8Array): number {
  if (bytes.length < DLM_HEADER_LEN) bad('length', `>= ${DLM_HEADER_LEN} bytes`, bytes.length);
  const version = getU32(bytes, 0);
  if ((version & DLM_VERSION_MAJOR_MASK) >>> 0 !== (DLM_VERSION & DLM_VERSION_MAJOR_MASK) >>> 0 || (version & 0xffff) < 1) bad('h_version', '0x0003000x (x >= 1)', `0x${version.toString(16)}`);
  const length = bytes[12]! | (bytes[13]! << 8);
  if (length !== bytes.length) bad('h_length', `the message size ${bytes.length}`, length);
  if (length > DLM_MAX_MSG_LEN) bad('h_length', `<= ${DLM_MAX_MSG_LEN}`, length);
  const cmd = bytes[14]!;
  if (cmd < 1 || cmd > 5) bad('h_cmd', '1..5', cmd);
  return cmd;
}

/** Decode and check the header against the bytes. */
export function decodeHeader(bytes: Uint8Array): DlmHeader {
  const cmd = checkHeader(bytes);
  return { version: getU32(bytes, 0), lockspace: getU32(bytes, 4), nodeid: getU32(bytes, 8), cmd };
}

/** `h_nodeid` of a message whose header was checked (the sender). */
export function headerNodeid(bytes: Uint8Array): number {
  return getU32(bytes, 8);
}

/** The result values each message type may carry (wire-normalised, §3.7); a type not listed carries 0. */
const RESULTS: Readonly<Record<number, readonly number[]>> = {
  [MSG.REQUEST_REPLY]: [0, DLM_ERRNO.EINPROGRESS, DLM_ERRNO.EAGAIN, DLM_ERRNO.EBADR, DLM_ERRNO.ENOTBLK, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.CONVERT_REPLY]: [0, DLM_ERRNO.EINPROGRESS, DLM_ERRNO.EAGAIN, DLM_ERRNO.EDEADLK, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.UNLOCK_REPLY]: [DLM_ERRNO.EUNLOCK, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.CANCEL_REPLY]: [0, DLM_ERRNO.ECANCEL, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
  [MSG.GRANT]: [0],
  [MSG.LOOKUP_REPLY]: [0, DLM_ERRNO.ENOENT, DLM_ERRNO.EINVAL],
};
/** RESULTS as a dense array by type (0..PURGE), [0] for the others: no dictionary lookup per message. */
const RESULTS_BY_TYPE: readonly (readonly number[])[] = Array.from({ length: MSG.PURGE + 1 }, (_, t) => RESULTS[t] ?? [0]);

/** `list.indexOf(v) >= 0` as a loop the compiler inlines (a list of at most 7). */
function listed(list: readonly number[], v: number): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === v) return true;
  return false;
}

function mode(field: string, v: number, allowIV: boolean): void {
  if (v < (allowIV ? -1 : 0) || v > 5) bad(field, allowIV ? 'a mode -1..5' : 'a mode 0..5', v);
}

/**
 * Decode a lock message. `lvblen` bounds the LVB an LVB-carrying type may
 * hold. Checks: the fixed part is complete, the type is known, modes, flags,
 * the result against the type, the name length for name-carrying types.
 */
export function decodeMessage(bytes: Uint8Array, lvblen: number): { header: DlmHeader; msg: DlmMessage } {
  const msg = decodeLockMessage(bytes, lvblen);
  return { header: decodeHeader(bytes), msg };
}

/**
 * `decodeMessage` without the header object (the receive path reads the
 * sender with `headerNodeid`): the same checks, the same errors.
 */
export function decodeLockMessage(bytes: Uint8Array, lvblen: number): DlmMessage {
  return decodeLockMessageInto(bytes, lvblen, emptyMessage(MSG.REQUEST));
}

/**
 * `decodeLockMessage` into `msg` (every field written; a receive path that
 * keeps nothing past its handler reuses one record instead of making an
 * object per message): the same checks, the same errors. On an error `msg`
 * holds part of the message and must not be used. `msg.extra` is a view
 * into `bytes` (borrowed, as with decodeLockMessage), or, with `copies`
 * and at most SHORT_EXTRA_COPY bytes, a copy in a buffer of `copies` (extra-copies.ts)
 * (valid until the next decode with them). Returns `msg`.
 */
export function decodeLockMessageInto(bytes: Uint8Array, lvblen: number, msg: DlmMessage, copies?: ExtraCopies): DlmMessage {
  // One pass over a well-formed message; anything it does not accept is decoded again by the
  // checking path, which throws the error the first bad field calls for (or accepts it).
  if (!readFixedChecked(bytes, msg)) return decodeChecking(bytes, lvblen, msg, copies);
  msg.extra = bytes.length === DLM_MSG_FIXED_LEN ? EMPTY : extraOf(bytes, DLM_MSG_FIXED_LEN, copies);
  validateExtra(msg, msg.type, lvblen);
  return msg;
}

/**
 * `decodeLockMessageInto` field by field, each check where it throws (the
 * header, h_cmd, the length, m_type, then `validateFields`): the path that
 * says what is wrong with a message `readFixedChecked` refused. Exported for
 * the test that holds the two paths to the same results and errors.
 * @internal
 */
export function decodeChecking(bytes: Uint8Array, lvblen: number, msg: DlmMessage, copies?: ExtraCopies): DlmMessage {
  const cmd = checkHeader(bytes);
  if (cmd !== DLM_CMD.MSG) bad('h_cmd', `MSG (${DLM_CMD.MSG})`, cmd);
  if (bytes.length < DLM_MSG_FIXED_LEN) bad('length', `>= ${DLM_MSG_FIXED_LEN} bytes for MSG`, bytes.length);
  const b = bytes;
  const type = getU32(b, 16);
  if (type < MSG.REQUEST || type > MSG.PURGE) bad('m_type', '1..14', type);
  msg.type = type as MsgType;
  readBytes(b, msg);
  msg.extra = bytes.length === DLM_MSG_FIXED_LEN ? EMPTY : extraOf(bytes, DLM_MSG_FIXED_LEN, copies);
  validateFields(msg, type, lvblen);
  return msg;
}

/**
 * The header and the fixed part in one pass: every check `decodeChecking`
 * makes before the type's own (the header, h_cmd MSG, the length, m_type,
 * the flags, modes, status, asts, the result for the type), without naming
 * the field; the 18 fields into `msg` (type first). False when any check
 * fails (`msg` then holds part of the message).
 */
function readFixedChecked(b: Uint8Array, msg: DlmMessage): boolean {
  const n = b.length;
  if (n < DLM_MSG_FIXED_LEN || n > DLM_MAX_MSG_LEN) return false;
  // h_version: major 3, minor >= 1 (DLM_VERSION's major); h_length the size; h_cmd MSG.
  if ((b[2]! | (b[3]! << 8)) !== DLM_VERSION >>> 16 || (b[0]! | b[1]!) === 0) return false;
  if ((b[12]! | (b[13]! << 8)) !== n || b[14] !== DLM_CMD.MSG) return false;
  // Signed: a u32 past 2**31 reads negative, below 1.
  const type = b[16]! | (b[17]! << 8) | (b[18]! << 16) | (b[19]! << 24);
  if (type < MSG.REQUEST || type > MSG.PURGE) return false;
  const exflags = b[44]! | (b[45]! << 8) | (b[46]! << 16) | (b[47]! << 24);
  const sbflags = b[48]! | (b[49]! << 8) | (b[50]! << 16) | (b[51]! << 24);
  const status = b[64]! | (b[65]! << 8) | (b[66]! << 16) | (b[67]! << 24);
  const grmode = b[68]! | (b[69]! << 8) | (b[70]! << 16) | (b[71]! << 24);
  const rqmode = b[72]! | (b[73]! << 8) | (b[74]! << 16) | (b[75]! << 24);
  const bastmode = b[76]! | (b[77]! << 8) | (b[78]! << 16) | (b[79]! << 24);
  const asts = b[80]! | (b[81]! << 8) | (b[82]! << 16) | (b[83]! << 24);
  const result = b[84]! | (b[85]! << 8) | (b[86]! << 16) | (b[87]! << 24);
  // Unknown flag bits; status and asts outside 0..3 (a negative one has high bits set).
  if ((exflags & ~LKF_ALL) !== 0 || (sbflags & ~SBF_ALL) !== 0 || (status & ~3) !== 0 || (asts & ~3) !== 0) return false;
  // Modes -1..5.
  if (grmode < -1 || grmode > 5 || rqmode < -1 || rqmode > 5 || bastmode < -1 || bastmode > 5) return false;
  if (!listed(RESULTS_BY_TYPE[type]!, result)) return false;
  msg.type = type as MsgType;
  readUnchecked(b, msg);
  msg.exflags = exflags >>> 0;
  msg.sbflags = sbflags >>> 0;
  msg.status = status;
  msg.grmode = grmode;
  msg.rqmode = rqmode;
  msg.bastmode = bastmode;
  msg.asts = asts;
  msg.result = result;
  return true;
}

/**
 * The 17 fields after m_type, little-endian, byte by byte (any alignment,
 * any host): the field-by-field path's read (`validateFields` checks them after).
 */
function readBytes(b: Uint8Array, msg: DlmMessage): void {
  readUnchecked(b, msg);
  msg.exflags = (b[44]! | (b[45]! << 8) | (b[46]! << 16) | (b[47]! << 24)) >>> 0;
  msg.sbflags = (b[48]! | (b[49]! << 8) | (b[50]! << 16) | (b[51]! << 24)) >>> 0;
  msg.status = b[64]! | (b[65]! << 8) | (b[66]! << 16) | (b[67]! << 24);
  msg.grmode = b[68]! | (b[69]! << 8) | (b[70]! << 16) | (b[71]! << 24);
  msg.rqmode = b[72]! | (b[73]! << 8) | (b[74]! << 16) | (b[75]! << 24);
  msg.bastmode = b[76]! | (b[77]! << 8) | (b[78]! << 16) | (b[79]! << 24);
  msg.asts = (b[80]! | (b[81]! << 8) | (b[82]! << 16) | (b[83]! << 24)) >>> 0;
  msg.result = b[84]! | (b[85]! << 8) | (b[86]! << 16) | (b[87]! << 24);
}

/**
 * The nine fields no check looks at (ids, the shared flags, lvbseq, hash),
 * shared by both paths. Written out, without a helper call per field: in a
 * function this size the compiler may stop inlining the helper, and a call
 * per field costs more than the loads.
 */
function readUnchecked(b: Uint8Array, msg: DlmMessage): void {
  msg.nodeid = (b[20]! | (b[21]! << 8) | (b[22]! << 16) | (b[23]! << 24)) >>> 0;
  msg.pid = (b[24]! | (b[25]! << 8) | (b[26]! << 16) | (b[27]! << 24)) >>> 0;
  msg.lkid = (b[28]! | (b[29]! << 8) | (b[30]! << 16) | (b[31]! << 24)) >>> 0;
  msg.remid = (b[32]! | (b[33]! << 8) | (b[34]! << 16) | (b[35]! << 24)) >>> 0;
  msg.parentLkid = (b[36]! | (b[37]! << 8) | (b[38]! << 16) | (b[39]! << 24)) >>> 0;
  msg.parentRemid = (b[40]! | (b[41]! << 8) | (b[42]! << 16) | (b[43]! << 24)) >>> 0;
  // The receiver keeps only the low 16 bits of the shared flags (USER, ORPHAN).
  msg.flags = b[52]! | (b[53]! << 8);
  msg.lvbseq = (b[56]! | (b[57]! << 8) | (b[58]! << 16) | (b[59]! << 24)) >>> 0;
  msg.hash = (b[60]! | (b[61]! << 8) | (b[62]! << 16) | (b[63]! << 24)) >>> 0;
}

/** The checks of every decoded field (`decodeChecking`). */
function validateFields(msg: DlmMessage, type: number, lvblen: number): void {
  if ((msg.exflags & ~LKF_ALL) !== 0) bad('m_exflags', 'known DLM_LKF_* bits', `0x${msg.exflags.toString(16)}`);
  if ((msg.sbflags & ~SBF_ALL) !== 0) bad('m_sbflags', 'known DLM_SBF_* bits', `0x${msg.sbflags.toString(16)}`);
  if ((msg.asts & ~3) !== 0) bad('m_asts', '0..3', msg.asts);
  if (msg.status < 0 || msg.status > 3) bad('m_status', '0..3', msg.status);
  mode('m_grmode', msg.grmode, true);
  mode('m_rqmode', msg.rqmode, true);
  mode('m_bastmode', msg.bastmode, true);
  const allowed = RESULTS_BY_TYPE[type]!;
  if (!listed(allowed, msg.result)) bad('m_result', `one of ${allowed.join(', ')} for ${MSG_NAMES[type]}`, msg.result);
  validateExtra(msg, type, lvblen);
}

/** The checks of the type's own (the extra's length, the requested or blocking mode, m_lkid of a request). */
function validateExtra(msg: DlmMessage, type: number, lvblen: number): void {
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
