/**
 * The 32-bit cmd word: flags (31..24), protocol (23..20), command code
 * (19..8) and extended-header size in 64-byte units (7..0).
 */
import { DMSG, DMSGF, DMSG_PROTO } from './constants.ts';
import { InvalidArgumentError } from './errors.ts';

export interface CmdParts {
  /** Flag bits as they sit in the word (`DMSGF.CREATE` ...). */
  flags: number;
  /** Protocol number 0..15 (not shifted). */
  proto: number;
  /** Command code 0..0xFFF within the protocol. */
  code: number;
  /** Extended header size in 64-byte units, 1..255. */
  sizeUnits: number;
}

/** Build a cmd word from its parts, validating each range. */
export function makeCmd(parts: CmdParts): number {
  const { flags, proto, code, sizeUnits } = parts;
  if ((flags & ~DMSGF.FLAGS) !== 0) throw new InvalidArgumentError(`cmd flags must only use bits 31..24, got 0x${(flags >>> 0).toString(16)}`);
  if (!Number.isInteger(proto) || proto < 0 || proto > 15) throw new InvalidArgumentError(`cmd proto must be an integer in [0, 15], got ${proto}`);
  if (!Number.isInteger(code) || code < 0 || code > 0xfff) throw new InvalidArgumentError(`cmd code must be an integer in [0, 0xfff], got ${code}`);
  if (!Number.isInteger(sizeUnits) || sizeUnits < 1 || sizeUnits > 255) throw new InvalidArgumentError(`cmd size must be an integer in [1, 255] (64-byte units), got ${sizeUnits}`);
  return ((flags & DMSGF.FLAGS) | (proto << 20) | (code << 8) | sizeUnits) >>> 0;
}

/** Take a cmd word apart. */
export function parseCmd(cmd: number): CmdParts {
  return {
    flags: (cmd & DMSGF.FLAGS) >>> 0,
    proto: (cmd >>> 20) & 0xf,
    code: (cmd >>> 8) & 0xfff,
    sizeUnits: cmd & 0xff,
  };
}

/** Extended header size in bytes (64 × size units). */
export function cmdHeaderBytes(cmd: number): number {
  return (cmd & DMSGF.SIZE) << 6;
}

/** The command without flags (`cmd & BASECMDMASK`). */
export function baseCmd(cmd: number): number {
  return cmd & DMSGF.BASECMDMASK;
}

export function hasFlag(cmd: number, flag: number): boolean {
  return (cmd & flag) !== 0;
}

const CMD_NAMES = new Map<number, string>(Object.entries(DMSG).map(([name, value]) => [value, name]));
const PROTO_NAMES = new Map<number, string>(Object.entries(DMSG_PROTO).map(([name, value]) => [value, name]));
const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [DMSGF.CREATE, 'CREATE'],
  [DMSGF.DELETE, 'DELETE'],
  [DMSGF.REPLY, 'REPLY'],
  [DMSGF.ABORT, 'ABORT'],
  [DMSGF.REVTRANS, 'REVTRANS'],
  [DMSGF.REVCIRC, 'REVCIRC'],
  [DMSGF.FLAG1, 'FLAG1'],
  [DMSGF.FLAG0, 'FLAG0'],
];

/** Name of a command (without flags), e.g. `LNK_SPAN` or `BLK:0x007/2`. */
export function cmdName(cmd: number): string {
  const base = cmd & DMSGF.BASECMDMASK;
  const known = CMD_NAMES.get(base);
  if (known !== undefined) return known;
  const proto = PROTO_NAMES.get(base & DMSGF.PROTOS) ?? `PROTO${(base >>> 20) & 0xf}`;
  return `${proto}:0x${((base >>> 8) & 0xfff).toString(16).padStart(3, '0')}/${base & 0xff}`;
}

/** One-line description for logs and test names: `LNK_SPAN|CREATE|REPLY`. */
export function describeCmd(cmd: number): string {
  let s = cmdName(cmd);
  for (const [bit, name] of FLAG_NAMES) if (cmd & bit) s += '|' + name;
  return s;
}
