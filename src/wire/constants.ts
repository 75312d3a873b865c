/**
 * Constants of DragonFly BSD's `sys/dmsg.h` (rev d157d4dc), as the wire uses them.
 * Values were checked against the known-answer vectors made with the C code.
 */

export const DMSG_HDR_MAGIC = 0x4832;
/** The magic as read little-endian from a big-endian sender. */
export const DMSG_HDR_MAGIC_REV = 0x3248;
export const DMSG_ALIGN = 64;
export const DMSG_ALIGN_MASK = DMSG_ALIGN - 1;
/** Largest extended header a receiver accepts (the size field could say 16320). */
export const DMSG_HDR_MAX = 2048;
/** Largest aux data (aligned) a receiver accepts. */
export const DMSG_AUX_MAX = 1 << 20;
export const DMSG_BUF_SIZE = DMSG_HDR_MAX * 4;
export const DMSG_HDR_SIZE = 64;
export const DMSG_LABEL_SIZE = 128;

/** Round up to the 64-byte alignment (`DMSG_DOALIGN`). */
export function doAlign(n: number): number {
  return (n + DMSG_ALIGN_MASK) & ~DMSG_ALIGN_MASK;
}

/** Flag and field masks of the cmd word (`DMSGF_*`). */
export const DMSGF = {
  CREATE: 0x80000000,
  DELETE: 0x40000000,
  REPLY: 0x20000000,
  ABORT: 0x10000000,
  REVTRANS: 0x08000000,
  REVCIRC: 0x04000000,
  FLAG1: 0x02000000,
  FLAG0: 0x01000000,
  FLAGS: 0xff000000,
  PROTOS: 0x00f00000,
  CMDS: 0x000fff00,
  SIZE: 0x000000ff,
  CMDF_EXPECT_ACK: 0x00080000,
  CMDSWMASK: 0x20ffffff,
  BASECMDMASK: 0x00ffffff,
  TRANSMASK: 0xe0ffffff,
  BASEFLAGS: 0xe0000000,
} as const;

/** Protocol numbers, already shifted into bits 23..20 of the cmd word. */
export const DMSG_PROTO = {
  LNK: 0x00000000,
  DBG: 0x00100000,
  HM2: 0x00200000,
  XX3: 0x00300000,
  XX4: 0x00400000,
  BLK: 0x00500000,
  VOP: 0x00600000,
} as const;

/** Command words (`proto | code << 8 | size in 64-byte units`). */
export const DMSG = {
  LNK_PAD: 0x00000001,
  LNK_PING: 0x00000101,
  LNK_AUTH: 0x00001002,
  /** LNK_CONN in the seed's 456-byte layout (the default we send). */
  LNK_CONN: 0x00001108,
  /** LNK_CONN in DragonFly's later 328-byte layout. */
  LNK_CONN_V2: 0x00001106,
  LNK_SPAN: 0x00001207,
  LNK_HAMMER2_VOLCONF: 0x00002008,
  LNK_ERROR: 0x000fff01,
  DBG_SHELL: 0x00100101,
  BLK_OPEN: 0x00500102,
  BLK_CLOSE: 0x00500202,
  BLK_READ: 0x00500302,
  BLK_WRITE: 0x00500402,
  BLK_FLUSH: 0x00500502,
  BLK_FREEBLKS: 0x00500602,
  BLK_ERROR: 0x005fff03,
} as const;

/** Error codes carried in `head.error` (0x00-0x1F are local iocom errors). */
export const DMSG_ERR = {
  NOSUPP: 0x20,
  LOSTLINK: 0x21,
  IO: 0x22,
  PARAM: 0x23,
  CANTCIRC: 0x24,
} as const;

/** `DMSG_IOQ_ERROR_*`: local link errors, reserved in the 0x00-0x1F error range. */
export const DMSG_IOQ_ERROR = {
  SYNC: 1,
  EOF: 2,
  SOCK: 3,
  FIELD: 4,
  HCRC: 5,
  XCRC: 6,
  ACRC: 7,
  STATE: 8,
  NOPEER: 9,
  NORKEY: 10,
  NOLKEY: 11,
  KEYXCHGFAIL: 12,
  KEYFMT: 13,
  BADURANDOM: 14,
  MSGSEQ: 15,
  EALREADY: 16,
  TRANS: 17,
  IVWRAP: 18,
  MACFAIL: 19,
  ALGO: 20,
  BAD_CIRCUIT: 22,
  ASSYM: 24,
} as const;

/** Span/conn peer types (`DMSG_PEER_*`). */
export const DMSG_PEER = {
  NONE: 0,
  CLUSTER: 1,
  ROUTER: 1,
  BLOCK: 2,
  HAMMER2: 3,
  CLIENT: 63,
} as const;

/** PFS types of the seed layout (`DMSG_PFSTYPE_*`). */
export const DMSG_PFSTYPE = {
  NONE: 0,
  ADMIN: 1,
  CLIENT: 2,
  SERVER: 3,
  MAX: 32,
} as const;

export const DMSG_SPAN_PROTO_1 = 1;
/** DragonFly's loop guard: a span received with a larger dist is not relayed. */
export const DMSG_SPAN_MAXDIST = 16;
/** The standard DMSG TCP port. */
export const DMSG_LISTEN_PORT = 987;
