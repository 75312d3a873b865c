/**
 * DMSG command codes of this project's services. They sit in their own
 * protocol number, DMSG_PROTO_SVC (0xE, bits 23..20 of the cmd word), which
 * DragonFly does not use (it has LNK 0, DBG 1, HM2 2, XX3 3, XX4 4, BLK 5,
 * VOP 6), so a DragonFly peer relays them like any other transaction on a
 * span and never mistakes them for its own.
 *
 * A cmd word is `proto | code << 8 | size`: code is 11 bits here (bit 19,
 * DMSGF_CMDF_EXPECT_ACK, stays clear) and size the header size in 64-byte
 * units (1: no extended header). Code ranges:
 *
 * | codes         | service                  |
 * |---------------|--------------------------|
 * | 0x001 - 0x0ff | midcomms                 |
 * | 0x100 - 0x1ff | DLM                      |
 * | 0x200 - 0x6ff | reserved for new services |
 * | 0x700 - 0x7ff | examples and tests       |
 *
 * Services put their own fields in aux (or an extended header, with the
 * size units to match: svcCmd(code, extBytes)).
 */
import { DMSG_ALIGN, DMSG_HDR_MAX, DMSGF } from '../wire/constants.ts';
import { InvalidArgumentError } from '../wire/errors.ts';

/** Protocol number of this project's services, shifted into the cmd word. */
export const DMSG_PROTO_SVC = 0x00e00000;

/** First code of each service's range. */
export const SVC_CODE_BASE = Object.freeze({ MIDCOMMS: 0x001, DLM: 0x100, EXAMPLE: 0x700 } as const);

/**
 * The cmd word of service code `code` (0x001..0x7ff) with `extBytes` bytes of
 * extended header after the first 64 (a multiple of 64, at most 1984).
 */
export function svcCmd(code: number, extBytes = 0): number {
  if (!Number.isInteger(code) || code < 1 || code > 0x7ff) throw new InvalidArgumentError(`service code must be an integer in [0x001, 0x7ff], got ${code}`);
  if (!Number.isInteger(extBytes) || extBytes < 0 || extBytes % DMSG_ALIGN !== 0 || extBytes + DMSG_ALIGN > DMSG_HDR_MAX)
    throw new InvalidArgumentError(`extBytes must be a multiple of ${DMSG_ALIGN} in [0, ${DMSG_HDR_MAX - DMSG_ALIGN}], got ${extBytes}`);
  return (DMSG_PROTO_SVC | (code << 8) | (1 + extBytes / DMSG_ALIGN)) >>> 0;
}

/** True when `cmd` (flags ignored) is one of this project's service commands. */
export function isSvcCmd(cmd: number): boolean {
  return (cmd & DMSGF.PROTOS) === DMSG_PROTO_SVC;
}

/** Command words already assigned (no extended header; add your own with svcCmd in your range). */
export const SVC_CMD = Object.freeze({
  /** midcomms: a session between two nodes (the long-lived transaction). */
  MIDCOMMS_SESSION: svcCmd(SVC_CODE_BASE.MIDCOMMS),
  /** midcomms: one data/ACK/OPTS/FIN frame within a session (kernel layout in aux). */
  MIDCOMMS_FRAME: svcCmd(SVC_CODE_BASE.MIDCOMMS + 1),
  /** DLM: a lock request/grant/convert/unlock/AST message (88-byte MSG in aux). */
  DLM_MESSAGE: svcCmd(SVC_CODE_BASE.DLM),
  /** DLM: a recovery message (48-byte RCOM in aux). */
  DLM_RCOM: svcCmd(SVC_CODE_BASE.DLM + 1),
  /** Examples: echo what arrives. */
  EXAMPLE_ECHO: svcCmd(SVC_CODE_BASE.EXAMPLE),
  /** Examples: upper-case what arrives. */
  EXAMPLE_UPPER: svcCmd(SVC_CODE_BASE.EXAMPLE + 1),
});
