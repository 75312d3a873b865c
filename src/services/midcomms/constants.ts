/**
 * Wire constants of Linux DLM's midcomms layer (spec dlm-midcomms.md §3.6,
 * §5.3, §5.8, §5.11), plus the one frame this project adds (HELLO, the
 * channel handshake that carries session incarnations, §5.12 item 8).
 */

/** `h_version` values. The major number is the high 16 bits. */
export const DLM_VERSION = Object.freeze({
  /** No midcomms: bare MSG/RCOM, no sequence, no ACK, no FIN. */
  V3_1: 0x00030001,
  /** midcomms: OPTS envelope, sequence numbers, ACK, FIN. */
  V3_2: 0x00030002,
} as const);
export type DlmVersion = (typeof DLM_VERSION)[keyof typeof DLM_VERSION];

/** The major-version mask of `h_version`. */
export const DLM_MAJOR_MASK = 0xffff0000;
export const DLM_MAJOR = 0x00030000;

/** `h_cmd` values. */
export const DLM_CMD = Object.freeze({
  MSG: 1,
  RCOM: 2,
  OPTS: 3,
  ACK: 4,
  FIN: 5,
  /**
   * Not in Linux: the first frame on every channel, carrying both sides'
   * session incarnations. Linux has no counterpart because a restarted kernel
   * node is fenced before it rejoins; a mesh node is not.
   */
  HELLO: 0x48,
  /**
   * Not in Linux: "prove that you opened the channel whose HELLO carried
   * this token", sent on a one-shot transaction the asker opened on the
   * claimed sender's instance (see `channel-verifier.ts`).
   */
  CHALLENGE: 0x43,
  /** Not in Linux: the answer to a CHALLENGE, written on the channel it names. */
  PROOF: 0x50,
  /**
   * Not in Linux: a one-use resume ticket, written by the acceptor on a
   * channel it verified; the opener's next channel carries it in its HELLO
   * and needs no CHALLENGE.
   */
  TICKET: 0x54,
} as const);

/** RCOM types that may travel raw (stateless) on a 3.2 path (§5.4). */
export const RCOM_TYPE = Object.freeze({
  STATUS: 1,
  NAMES: 2,
  STATUS_REPLY: 5,
  NAMES_REPLY: 6,
} as const);

/** Sizes in bytes. */
export const SIZE = Object.freeze({
  /** The DLM header: version, lockspace/seq, nodeid, length, cmd, pad. */
  HEADER: 16,
  /** The OPTS envelope: header + nextcmd, pad, optlen, pad32. */
  OPTS: 24,
  /** Largest message on the wire (`DLM_MAX_SOCKET_BUFSIZE`). */
  MAX_MESSAGE: 4096,
  /** Minimum inner sizes by command. */
  MIN_MSG: 88,
  MIN_RCOM: 48,
  MIN_FIN: 16,
  /** The HELLO frame without its address (header + 40 bytes of body). */
  HELLO: 56,
  /** CHALLENGE, PROOF and TICKET frames (header + token + nonce + flags + pad). */
  CHALLENGE: 40,
  /** Option TLVs start on this boundary. */
  OPTION_ALIGN: 8,
  /** An option TLV's own header: type u16, length u16, pad u32. */
  OPTION_HEADER: 8,
} as const);

/** Header field offsets (little-endian). */
export const OFF = Object.freeze({
  VERSION: 0,
  LOCKSPACE: 4,
  /** `h_seq` shares the lockspace slot for OPTS and ACK. */
  SEQ: 4,
  NODEID: 8,
  LENGTH: 12,
  CMD: 14,
  /** OPTS: the inner command. */
  NEXTCMD: 16,
  /** OPTS: bytes of option TLVs that follow the envelope. */
  OPTLEN: 18,
  /** RCOM: `rc_type`, the first field after the header. */
  RC_TYPE: 16,
} as const);

/** FIN states (§5.8), with the kernel's numbers. */
export const MC_STATE = Object.freeze({
  CLOSED: 1,
  ESTABLISHED: 2,
  FIN_WAIT1: 3,
  FIN_WAIT2: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  CLOSING: 7,
} as const);
export type McState = (typeof MC_STATE)[keyof typeof MC_STATE];

const STATE_NAMES: Record<number, string> = {
  1: 'CLOSED',
  2: 'ESTABLISHED',
  3: 'FIN_WAIT1',
  4: 'FIN_WAIT2',
  5: 'CLOSE_WAIT',
  6: 'LAST_ACK',
  7: 'CLOSING',
};

/** `ESTABLISHED` for 2, ... */
export function stateName(state: number): string {
  return STATE_NAMES[state] ?? `STATE_${state}`;
}

/** Kernel thresholds (§5.6, §5.11). */
export const THRESHOLD = Object.freeze({
  /** ACK before sending once more than this many deliveries are unacknowledged. */
  TX: 32,
  /** ACK on receipt once more than this many deliveries are unacknowledged. */
  RX: 256,
} as const);
