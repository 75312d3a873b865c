/**
 * BLK protocol extended headers (`struct dmsg_blk_*`), stacked under a SPAN of
 * peer_type BLOCK (spec §8). Offsets in comments are struct offsets; ext
 * offset = struct offset - 0x40.
 */

import { DMSG, DMSGF } from '../constants.ts';
import { rawArg, requireExt, u32, u64, viewOf, wireExtBytes } from './ext-util.ts';

/** `modes` bits of BLK_OPEN (`DMSG_BLKOPEN_RD/WR`; not in constants.ts yet). */
export const DMSG_BLKOPEN = { RD: 0x0001, WR: 0x0002 } as const;

// ------------------------------------------------------- BLK_OPEN / BLK_CLOSE

/** BLK_OPEN and BLK_CLOSE (72-byte struct, 128 on the wire). */
export interface BlkOpen {
  /** 0x40: `DMSG_BLKOPEN_RD | DMSG_BLKOPEN_WR`. */
  modes: number;
}

/** Ext bytes that hold fields (72 - 64). */
export const BLK_OPEN_EXT_MIN = 8;
export const BLK_OPEN_EXT_BYTES = wireExtBytes(DMSG.BLK_OPEN & DMSGF.SIZE);

export function encodeBlkOpen(fields: Partial<BlkOpen> = {}): Uint8Array {
  const ext = new Uint8Array(BLK_OPEN_EXT_BYTES);
  viewOf(ext).setUint32(0, u32(fields.modes, 'modes'), true);
  return ext;
}

export function decodeBlkOpen(ext: Uint8Array, bigEndian = false): BlkOpen {
  requireExt(ext, BLK_OPEN_EXT_MIN, 'BLK_OPEN');
  return { modes: viewOf(ext).getUint32(0, !bigEndian) };
}

/** BLK_CLOSE has BLK_OPEN's layout. */
export type BlkClose = BlkOpen;
export const encodeBlkClose = encodeBlkOpen;
export const decodeBlkClose = decodeBlkOpen;

// ------------------------------------------- BLK_READ/WRITE/FLUSH/FREEBLKS

/** BLK_READ, BLK_WRITE, BLK_FLUSH and BLK_FREEBLKS (96-byte struct, 128 on the wire). */
export interface BlkRw {
  /** 0x40: sent as 0 and ignored by DragonFly. */
  keyid: bigint;
  /** 0x48: byte offset on the device. */
  offset: bigint;
  /** 0x50: length in bytes. */
  bytes: number;
  /** 0x54 */
  flags: number;
}

/** Ext bytes that hold fields (96 - 64). */
export const BLK_RW_EXT_MIN = 32;
export const BLK_RW_EXT_BYTES = wireExtBytes(DMSG.BLK_READ & DMSGF.SIZE);

export function encodeBlkRw(fields: Partial<BlkRw> = {}): Uint8Array {
  const ext = new Uint8Array(BLK_RW_EXT_BYTES);
  const dv = viewOf(ext);
  dv.setBigUint64(0x00, u64(fields.keyid, 'keyid'), true);
  dv.setBigUint64(0x08, u64(fields.offset, 'offset'), true);
  dv.setUint32(0x10, u32(fields.bytes, 'bytes'), true);
  dv.setUint32(0x14, u32(fields.flags, 'flags'), true);
  return ext;
}

export function decodeBlkRw(ext: Uint8Array, bigEndian = false): BlkRw {
  requireExt(ext, BLK_RW_EXT_MIN, 'BLK_READ/WRITE/FLUSH/FREEBLKS');
  const dv = viewOf(ext);
  const le = !bigEndian;
  return {
    keyid: dv.getBigUint64(0x00, le),
    offset: dv.getBigUint64(0x08, le),
    bytes: dv.getUint32(0x10, le),
    flags: dv.getUint32(0x14, le),
  };
}

export type BlkRead = BlkRw;
export type BlkWrite = BlkRw;
export type BlkFlush = BlkRw;
export type BlkFreeblks = BlkRw;
export const encodeBlkRead = encodeBlkRw;
export const decodeBlkRead = decodeBlkRw;
export const encodeBlkWrite = encodeBlkRw;
export const decodeBlkWrite = decodeBlkRw;
export const encodeBlkFlush = encodeBlkRw;
export const decodeBlkFlush = decodeBlkRw;
export const encodeBlkFreeblks = encodeBlkRw;
export const decodeBlkFreeblks = decodeBlkRw;

// ---------------------------------------------------------------- BLK_ERROR

export const BLK_ERROR_BUF_SIZE = 64;

/** BLK_ERROR (144-byte struct, 192 on the wire): a reply with a residual. */
export interface BlkError {
  /** 0x40 */
  keyid: bigint;
  /** 0x48: bytes not transferred. */
  resid: number;
  /** 0x50 `buf[64]`: opaque bytes (a copy on decode). */
  buf: Uint8Array;
}

/** Ext bytes that hold fields (144 - 64). */
export const BLK_ERROR_EXT_MIN = 0x10 + BLK_ERROR_BUF_SIZE;
export const BLK_ERROR_EXT_BYTES = wireExtBytes(DMSG.BLK_ERROR & DMSGF.SIZE);

export function encodeBlkError(fields: Partial<BlkError> = {}): Uint8Array {
  const ext = new Uint8Array(BLK_ERROR_EXT_BYTES);
  const dv = viewOf(ext);
  dv.setBigUint64(0x00, u64(fields.keyid, 'keyid'), true);
  dv.setUint32(0x08, u32(fields.resid, 'resid'), true);
  rawArg(fields.buf, BLK_ERROR_BUF_SIZE, 'buf', ext, 0x10);
  return ext;
}

export function decodeBlkError(ext: Uint8Array, bigEndian = false): BlkError {
  requireExt(ext, BLK_ERROR_EXT_MIN, 'BLK_ERROR');
  const dv = viewOf(ext);
  const le = !bigEndian;
  return {
    keyid: dv.getBigUint64(0x00, le),
    resid: dv.getUint32(0x08, le),
    buf: ext.slice(0x10, 0x10 + BLK_ERROR_BUF_SIZE),
  };
}
