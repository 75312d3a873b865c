/**
 * The kernel's DLM message layouts (spec §3.6-§3.8), little-endian: the
 * sizes, the command and message type numbers, the records a decoded
 * message fills (`DlmHeader`, `DlmMessage`, `DlmRcom`) and the field
 * readers the encoders and the decoder share. Import them from
 * `message.ts`, which re-exports this file's public part with the
 * encoders (`message.ts`) and the decoder (`message-decode.ts`).
 */
export const DLM_HEADER_LEN = 16;
/** Header + the 18 u32 fields of a lock message (`sizeof(struct dlm_message)`). */
export const DLM_MSG_FIXED_LEN = 88;
/** Header + the fixed fields of a recovery message (`sizeof(struct dlm_rcom)`). */
export const DLM_RCOM_FIXED_LEN = 48;
export const DLM_MAX_MSG_LEN = 4096;
/**
 * The largest DLM message midcomms carries in one OPTS frame (Linux
 * `DLM_MAX_APP_BUFSIZE` = 4096 - the 24-byte OPTS header): what recovery's
 * chunked payloads (RCOM NAMES) are sized to. A bigger one is refused by
 * midcomms and lost.
 */
export const DLM_MAX_APP_BUFSIZE = DLM_MAX_MSG_LEN - 24;
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

/** The `extra` of a message without one (shared by every record). @internal */
export const EMPTY = new Uint8Array(0);

/** Reset a reused record to `emptyMessage(type)`'s values; returns it. */
export function resetMessage(m: DlmMessage, type: MsgType): DlmMessage {
  m.type = type;
  m.nodeid = 0;
  m.pid = 0;
  m.lkid = 0;
  m.remid = 0;
  m.parentLkid = 0;
  m.parentRemid = 0;
  m.exflags = 0;
  m.sbflags = 0;
  m.flags = 0;
  m.lvbseq = 0;
  m.hash = 0;
  m.status = 0;
  m.grmode = -1;
  m.rqmode = -1;
  m.bastmode = -1;
  m.asts = 0;
  m.result = 0;
  m.extra = EMPTY;
  return m;
}

/** Little-endian u32 at `o`. @internal */
export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Little-endian i32 at `o`. @internal */
export function getI32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}
