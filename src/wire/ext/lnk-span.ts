/**
 * LNK_SPAN extended header (cmd 0x00001207; 432-byte struct, 448 on the
 * wire). The layout is the same in the 2014 and later DragonFly headers; only
 * names changed. We use the later names and give the 2014 ones in the docs.
 * Offsets in comments are struct offsets; ext offset = struct offset - 0x40.
 */

import { DMSG, DMSGF, DMSG_IOQ_ERROR, DMSG_LABEL_SIZE, DMSG_PEER } from '../constants.ts';
import { InvalidArgumentError, ProtocolError } from '../errors.ts';
import { labelFromBytes, labelToBytes } from '../label.ts';
import { uuidFromBytes, uuidToBytes } from '../uuid.ts';
import { requireExt, u16, u32, u64, u8, uuidArg, viewOf, wireExtBytes } from './ext-util.ts';

export interface LnkSpan {
  /** 0x40 `peer_id` (2014: `pfs_clid`): cluster/rendezvous uuid. */
  peerId: string;
  /** 0x50 `pfs_id` (2014: `pfs_fsid`): unique node uuid. */
  pfsId: string;
  /** 0x60 (`DMSG_PFSTYPE_*`). */
  pfsType: number;
  /** 0x61 (`DMSG_PEER_*`). */
  peerType: number;
  /** 0x62 (`DMSG_SPAN_PROTO_1`). */
  protoVersion: number;
  /** 0x64 */
  status: number;
  /** 0x70: hop count; originators send 0, each relay adds 1. */
  dist: number;
  /** 0x74: random sub-sort. */
  rnss: number;
  /** 0x78 `media.block.bytes`: device size, for peer_type BLOCK. */
  mediaBlockBytes: bigint;
  /** 0x80 `media.block.blksize`: sector size, for peer_type BLOCK. */
  mediaBlockSize: number;
  /** 0xB0 `peer_label` (2014: `cl_label`). BLOCK: "host/devname". */
  peerLabel: string;
  /** 0x130 `pfs_label` (2014: `fs_label`). BLOCK: serial number. */
  pfsLabel: string;
}

const O = {
  peerId: 0x00,
  pfsId: 0x10,
  pfsType: 0x20,
  peerType: 0x21,
  protoVersion: 0x22,
  status: 0x24,
  dist: 0x30,
  rnss: 0x34,
  mediaBlockBytes: 0x38,
  mediaBlockSize: 0x40,
  peerLabel: 0x70,
  pfsLabel: 0xf0,
} as const;

/** Ext offset of the 56-byte media union. */
export const LNK_SPAN_MEDIA_OFFSET = 0x38;
export const LNK_SPAN_MEDIA_SIZE = 56;
/** Bytes of the ext that hold fields (432 - 64). */
export const LNK_SPAN_EXT_MIN = O.pfsLabel + DMSG_LABEL_SIZE;
/** Bytes of the ext on the wire (448 - 64). */
export const LNK_SPAN_EXT_BYTES = wireExtBytes(DMSG.LNK_SPAN & DMSGF.SIZE);

export function encodeLnkSpan(fields: Partial<LnkSpan> = {}): Uint8Array {
  const ext = new Uint8Array(LNK_SPAN_EXT_BYTES);
  const dv = viewOf(ext);
  uuidToBytes(uuidArg(fields.peerId, 'peerId'), ext, O.peerId);
  uuidToBytes(uuidArg(fields.pfsId, 'pfsId'), ext, O.pfsId);
  ext[O.pfsType] = u8(fields.pfsType, 'pfsType');
  ext[O.peerType] = u8(fields.peerType, 'peerType');
  dv.setUint16(O.protoVersion, u16(fields.protoVersion, 'protoVersion'), true);
  dv.setUint32(O.status, u32(fields.status, 'status'), true);
  dv.setUint32(O.dist, u32(fields.dist, 'dist'), true);
  dv.setUint32(O.rnss, u32(fields.rnss, 'rnss'), true);
  dv.setBigUint64(O.mediaBlockBytes, u64(fields.mediaBlockBytes, 'mediaBlockBytes'), true);
  dv.setUint32(O.mediaBlockSize, u32(fields.mediaBlockSize, 'mediaBlockSize'), true);
  if (fields.peerLabel) labelToBytes(fields.peerLabel, ext, O.peerLabel, 'peerLabel');
  if (fields.pfsLabel) labelToBytes(fields.pfsLabel, ext, O.pfsLabel, 'pfsLabel');
  return ext;
}

/**
 * Decode. `bigEndian`: the ext is still in a big-endian sender's order. A
 * `Message.ext` from the frame decoder is already little-endian
 * (`swapExtToLE`), so pass false for it.
 */
export function decodeLnkSpan(ext: Uint8Array, bigEndian = false): LnkSpan {
  requireExt(ext, LNK_SPAN_EXT_MIN, 'LNK_SPAN');
  const dv = viewOf(ext);
  const le = !bigEndian;
  return {
    peerId: uuidFromBytes(ext, O.peerId, bigEndian),
    pfsId: uuidFromBytes(ext, O.pfsId, bigEndian),
    pfsType: ext[O.pfsType]!,
    peerType: ext[O.peerType]!,
    protoVersion: dv.getUint16(O.protoVersion, le),
    status: dv.getUint32(O.status, le),
    dist: dv.getUint32(O.dist, le),
    rnss: dv.getUint32(O.rnss, le),
    mediaBlockBytes: dv.getBigUint64(O.mediaBlockBytes, le),
    mediaBlockSize: dv.getUint32(O.mediaBlockSize, le),
    peerLabel: labelFromBytes(ext, O.peerLabel),
    pfsLabel: labelFromBytes(ext, O.pfsLabel),
  };
}

function checkSpanExt(ext: Uint8Array): void {
  if (!(ext instanceof Uint8Array) || ext.length < O.rnss + 4) {
    throw new InvalidArgumentError(
      `expected a LNK_SPAN ext of at least ${O.rnss + 4} bytes, got ${ext instanceof Uint8Array ? ext.length : typeof ext}`,
    );
  }
}

/** Read `dist` straight from an ext, without decoding the rest. */
export function readSpanDist(ext: Uint8Array, bigEndian = false): number {
  checkSpanExt(ext);
  return viewOf(ext).getUint32(O.dist, !bigEndian);
}

/** Read `rnss` straight from an ext, without decoding the rest. */
export function readSpanRnss(ext: Uint8Array, bigEndian = false): number {
  checkSpanExt(ext);
  return viewOf(ext).getUint32(O.rnss, !bigEndian);
}

/**
 * Rewrite dist and rnss in place, in `ext` (a relay's own copy of a received
 * SPAN ext: never the received chunk, which others may share). Everything
 * else is left as it is, so fields this codec does not know travel through.
 * `bigEndian` writes in that order (keep the order the copy is in).
 */
export function setSpanDistRnss(ext: Uint8Array, dist: number, rnss: number, bigEndian = false): void {
  checkSpanExt(ext);
  const dv = viewOf(ext);
  dv.setUint32(O.dist, u32(dist, 'dist'), !bigEndian);
  dv.setUint32(O.rnss, u32(rnss, 'rnss'), !bigEndian);
}

function swap(b: Uint8Array, off: number, size: number): void {
  for (let i = off, j = off + size - 1; i < j; i++, j--) {
    const t = b[i]!;
    b[i] = b[j]!;
    b[j] = t;
  }
}

/** Multi-byte fields of the SPAN ext (uuid parts included), as [offset, size]. */
const SWAP_FIELDS: readonly (readonly [number, number])[] = [
  [O.peerId, 4], [O.peerId + 4, 2], [O.peerId + 6, 2],
  [O.pfsId, 4], [O.pfsId + 4, 2], [O.pfsId + 6, 2],
  [O.protoVersion, 2], [O.status, 4], [O.dist, 4], [O.rnss, 4],
];
/** The media union is only known for peer_type BLOCK (as in ../ext-swap.ts). */
const SWAP_BLOCK_MEDIA: readonly (readonly [number, number])[] = [
  [O.mediaBlockBytes, 8], [O.mediaBlockSize, 4],
];

/**
 * The SPAN ext a relay sends on: a fresh little-endian copy of a received
 * ext with `dist + 1` and, if given, a new `rnss`. Bytes this codec does not
 * interpret (reserved fields, the rest of the media union) are carried over.
 * A big-endian ext has its known multi-byte fields swapped to little-endian
 * (the media union only for peer_type BLOCK, whose layout we know). Messages
 * from the frame decoder are already little-endian: pass `bigEndian` false.
 */
export function relaySpanExt(ext: Uint8Array, bigEndian = false, rnss?: number): Uint8Array {
  requireExt(ext, LNK_SPAN_EXT_MIN, 'LNK_SPAN');
  const out = new Uint8Array(LNK_SPAN_EXT_BYTES);
  out.set(ext.length > LNK_SPAN_EXT_BYTES ? ext.subarray(0, LNK_SPAN_EXT_BYTES) : ext);
  if (bigEndian) {
    for (const [off, size] of SWAP_FIELDS) swap(out, off, size);
    if (out[O.peerType] === DMSG_PEER.BLOCK) for (const [off, size] of SWAP_BLOCK_MEDIA) swap(out, off, size);
  }
  const dv = viewOf(out);
  const dist = dv.getUint32(O.dist, true);
  if (dist === 0xffffffff) {
    throw new ProtocolError('BAD_EXT', 'LNK_SPAN: expected dist < 2^32-1 to relay, got 4294967295', DMSG_IOQ_ERROR.FIELD);
  }
  dv.setUint32(O.dist, dist + 1, true);
  if (rnss !== undefined) dv.setUint32(O.rnss, u32(rnss, 'rnss'), true);
  return out;
}
