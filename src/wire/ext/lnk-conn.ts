/**
 * LNK_CONN extended header, in both layouts DragonFly has used:
 *
 * - seed (2014, d157d4dc; cmd 0x00001108): 456-byte struct, 512 bytes on the
 *   wire. This is what the reference C code in our vectors speaks, and what
 *   we send by default.
 * - v2 (later DragonFly; cmd 0x00001106): 328-byte struct, 384 on the wire.
 *
 * The size units of the cmd word tell them apart, so `decodeLnkConn(cmd, ext)`
 * accepts both and returns one normalized `LnkConn` (see its mapping below).
 * Offsets in comments are struct offsets; ext offset = struct offset - 0x40.
 */

import { DMSG, DMSGF, DMSG_IOQ_ERROR, DMSG_LABEL_SIZE } from '../constants.ts';
import { ProtocolError } from '../errors.ts';
import { labelFromBytes, labelToBytes } from '../label.ts';
import { NIL_UUID, uuidFromBytes, uuidToBytes } from '../uuid.ts';
import { requireExt, u16, u32, u64, u8, uuidArg, viewOf, wireExtBytes } from './ext-util.ts';

// ---------------------------------------------------------------- seed layout

/** Fields of the seed layout (`struct dmsg_lnk_conn`, 2014). */
export interface LnkConnSeed {
  /** 0x40 `mediaid`: lets several connections of one medium share config. */
  mediaId: string;
  /** 0x50 `pfs_clid`: cluster uuid. */
  pfsClid: string;
  /** 0x60 `pfs_fsid`: filesystem (node) uuid. */
  pfsFsid: string;
  /** 0x70: bit N set ⇒ "send me SPANs with peer_type N". */
  peerMask: bigint;
  /** 0x78 (`DMSG_PEER_*`). */
  peerType: number;
  /** 0x79 (`DMSG_PFSTYPE_*`). */
  pfsType: number;
  /** 0x7A (`DMSG_SPAN_PROTO_1`). */
  protoVersion: number;
  /** 0x7C */
  status: number;
  /** 0x80: random sub-sort. */
  rnss: number;
  /** 0xC0: bit per pfs_type accepted. */
  pfsMask: bigint;
  /** 0xC8 `cl_label` (128 bytes). */
  clLabel: string;
  /** 0x148 `fs_label` (128 bytes). */
  fsLabel: string;
}

/** Ext offsets of the seed layout. */
const S = {
  mediaId: 0x00,
  pfsClid: 0x10,
  pfsFsid: 0x20,
  peerMask: 0x30,
  peerType: 0x38,
  pfsType: 0x39,
  protoVersion: 0x3a,
  status: 0x3c,
  rnss: 0x40,
  pfsMask: 0x80,
  clLabel: 0x88,
  fsLabel: 0x108,
} as const;

/** Bytes of the seed ext that hold fields (456 - 64). */
export const LNK_CONN_SEED_EXT_MIN = 456 - 64;
/** Bytes of the seed ext on the wire (512 - 64). */
export const LNK_CONN_SEED_EXT_BYTES = wireExtBytes(DMSG.LNK_CONN & DMSGF.SIZE);

export function encodeLnkConnSeed(fields: Partial<LnkConnSeed> = {}): Uint8Array {
  const ext = new Uint8Array(LNK_CONN_SEED_EXT_BYTES);
  const dv = viewOf(ext);
  uuidToBytes(uuidArg(fields.mediaId, 'mediaId'), ext, S.mediaId);
  uuidToBytes(uuidArg(fields.pfsClid, 'pfsClid'), ext, S.pfsClid);
  uuidToBytes(uuidArg(fields.pfsFsid, 'pfsFsid'), ext, S.pfsFsid);
  dv.setBigUint64(S.peerMask, u64(fields.peerMask, 'peerMask'), true);
  ext[S.peerType] = u8(fields.peerType, 'peerType');
  ext[S.pfsType] = u8(fields.pfsType, 'pfsType');
  dv.setUint16(S.protoVersion, u16(fields.protoVersion, 'protoVersion'), true);
  dv.setUint32(S.status, u32(fields.status, 'status'), true);
  dv.setUint32(S.rnss, u32(fields.rnss, 'rnss'), true);
  dv.setBigUint64(S.pfsMask, u64(fields.pfsMask, 'pfsMask'), true);
  if (fields.clLabel) labelToBytes(fields.clLabel, ext, S.clLabel, 'clLabel');
  if (fields.fsLabel) labelToBytes(fields.fsLabel, ext, S.fsLabel, 'fsLabel');
  return ext;
}

/**
 * Decode a seed-layout ext. `bigEndian`: the ext is still in a big-endian
 * sender's order (a `Message.ext` from the frame decoder is already
 * little-endian: pass false for it).
 */
export function decodeLnkConnSeed(ext: Uint8Array, bigEndian = false): LnkConnSeed {
  requireExt(ext, LNK_CONN_SEED_EXT_MIN, 'LNK_CONN (0x00001108)');
  const dv = viewOf(ext);
  const le = !bigEndian;
  return {
    mediaId: uuidFromBytes(ext, S.mediaId, bigEndian),
    pfsClid: uuidFromBytes(ext, S.pfsClid, bigEndian),
    pfsFsid: uuidFromBytes(ext, S.pfsFsid, bigEndian),
    peerMask: dv.getBigUint64(S.peerMask, le),
    peerType: ext[S.peerType]!,
    pfsType: ext[S.pfsType]!,
    protoVersion: dv.getUint16(S.protoVersion, le),
    status: dv.getUint32(S.status, le),
    rnss: dv.getUint32(S.rnss, le),
    pfsMask: dv.getBigUint64(S.pfsMask, le),
    clLabel: labelFromBytes(ext, S.clLabel),
    fsLabel: labelFromBytes(ext, S.fsLabel),
  };
}

// ------------------------------------------------------------------ v2 layout

/** Fields of DragonFly's later layout (`struct dmsg_lnk_conn`, 328 bytes). */
export interface LnkConnV2 {
  /** 0x40 `media_id`. */
  mediaId: string;
  /** 0x50 `peer_id`: clients may use it as a SPAN filter. */
  peerId: string;
  /** 0x70 */
  peerMask: bigint;
  /** 0x78 */
  peerType: number;
  /** 0x7A */
  protoVersion: number;
  /** 0x7C */
  status: number;
  /** 0x80 */
  rnss: number;
  /** 0xC4 `peer_label`: identity string, not a filter. */
  peerLabel: string;
}

const V = {
  mediaId: 0x00,
  peerId: 0x10,
  peerMask: 0x30,
  peerType: 0x38,
  protoVersion: 0x3a,
  status: 0x3c,
  rnss: 0x40,
  peerLabel: 0x84,
} as const;

/** Bytes of the v2 ext that hold fields (0xC4 + 128 - 64). */
export const LNK_CONN_V2_EXT_MIN = V.peerLabel + DMSG_LABEL_SIZE;
/** Bytes of the v2 ext on the wire (384 - 64). */
export const LNK_CONN_V2_EXT_BYTES = wireExtBytes(DMSG.LNK_CONN_V2 & DMSGF.SIZE);

export function encodeLnkConnV2(fields: Partial<LnkConnV2> = {}): Uint8Array {
  const ext = new Uint8Array(LNK_CONN_V2_EXT_BYTES);
  const dv = viewOf(ext);
  uuidToBytes(uuidArg(fields.mediaId, 'mediaId'), ext, V.mediaId);
  uuidToBytes(uuidArg(fields.peerId, 'peerId'), ext, V.peerId);
  dv.setBigUint64(V.peerMask, u64(fields.peerMask, 'peerMask'), true);
  ext[V.peerType] = u8(fields.peerType, 'peerType');
  dv.setUint16(V.protoVersion, u16(fields.protoVersion, 'protoVersion'), true);
  dv.setUint32(V.status, u32(fields.status, 'status'), true);
  dv.setUint32(V.rnss, u32(fields.rnss, 'rnss'), true);
  if (fields.peerLabel) labelToBytes(fields.peerLabel, ext, V.peerLabel, 'peerLabel');
  return ext;
}

export function decodeLnkConnV2(ext: Uint8Array, bigEndian = false): LnkConnV2 {
  requireExt(ext, LNK_CONN_V2_EXT_MIN, 'LNK_CONN (0x00001106)');
  const dv = viewOf(ext);
  const le = !bigEndian;
  return {
    mediaId: uuidFromBytes(ext, V.mediaId, bigEndian),
    peerId: uuidFromBytes(ext, V.peerId, bigEndian),
    peerMask: dv.getBigUint64(V.peerMask, le),
    peerType: ext[V.peerType]!,
    protoVersion: dv.getUint16(V.protoVersion, le),
    status: dv.getUint32(V.status, le),
    rnss: dv.getUint32(V.rnss, le),
    peerLabel: labelFromBytes(ext, V.peerLabel),
  };
}

// ----------------------------------------------------------------- normalized

export const LNK_CONN_LAYOUT = { SEED: 'seed', V2: 'v2' } as const;
export type LnkConnLayout = (typeof LNK_CONN_LAYOUT)[keyof typeof LNK_CONN_LAYOUT];

/** Every bit set: "no filter" for a mask. */
const ALL_MASK = 0xffff_ffff_ffff_ffffn;

/**
 * One shape for either layout, with the current DragonFly names
 * (the same renaming DragonFly did in LNK_SPAN):
 *
 * | LnkConn      | seed (0x1108)  | v2 (0x1106)                      |
 * |--------------|----------------|----------------------------------|
 * | mediaId      | mediaid        | media_id                         |
 * | peerId       | pfs_clid       | peer_id                          |
 * | pfsId        | pfs_fsid       | (reserved01) → NIL_UUID          |
 * | peerMask     | peer_mask      | peer_mask                        |
 * | peerType     | peer_type      | peer_type                        |
 * | pfsType      | pfs_type       | (reserved02) → 0 (PFSTYPE_NONE)  |
 * | protoVersion | proto_version  | proto_version                    |
 * | status       | status         | status                           |
 * | rnss         | rnss           | rnss                             |
 * | pfsMask      | pfs_mask       | (absent) → all ones: no filter   |
 * | peerLabel    | cl_label       | peer_label                       |
 * | pfsLabel     | fs_label       | (absent) → ''                    |
 *
 * `layout` records which one arrived, so a reply can use the same one.
 */
export interface LnkConn {
  layout: LnkConnLayout;
  mediaId: string;
  peerId: string;
  pfsId: string;
  peerMask: bigint;
  peerType: number;
  pfsType: number;
  protoVersion: number;
  status: number;
  rnss: number;
  pfsMask: bigint;
  peerLabel: string;
  pfsLabel: string;
}

export function lnkConnFromSeed(c: LnkConnSeed): LnkConn {
  return {
    layout: 'seed',
    mediaId: c.mediaId,
    peerId: c.pfsClid,
    pfsId: c.pfsFsid,
    peerMask: c.peerMask,
    peerType: c.peerType,
    pfsType: c.pfsType,
    protoVersion: c.protoVersion,
    status: c.status,
    rnss: c.rnss,
    pfsMask: c.pfsMask,
    peerLabel: c.clLabel,
    pfsLabel: c.fsLabel,
  };
}

export function lnkConnFromV2(c: LnkConnV2): LnkConn {
  return {
    layout: 'v2',
    mediaId: c.mediaId,
    peerId: c.peerId,
    pfsId: NIL_UUID,
    peerMask: c.peerMask,
    peerType: c.peerType,
    pfsType: 0,
    protoVersion: c.protoVersion,
    status: c.status,
    rnss: c.rnss,
    pfsMask: ALL_MASK,
    peerLabel: c.peerLabel,
    pfsLabel: '',
  };
}

/** The cmd word (no flags) for a layout. */
export function lnkConnCmd(layout: LnkConnLayout = 'seed'): number {
  return layout === 'v2' ? DMSG.LNK_CONN_V2 : DMSG.LNK_CONN;
}

/**
 * Decode the ext of an LNK_CONN whose cmd word is `cmd` (flags ignored): the
 * size units pick the layout (8 → seed, 6 → v2).
 * @throws ProtocolError `BAD_EXT` for other sizes or a short ext.
 */
export function decodeLnkConn(cmd: number, ext: Uint8Array, bigEndian = false): LnkConn {
  const units = cmd & DMSGF.SIZE;
  if (units === (DMSG.LNK_CONN & DMSGF.SIZE)) return lnkConnFromSeed(decodeLnkConnSeed(ext, bigEndian));
  if (units === (DMSG.LNK_CONN_V2 & DMSGF.SIZE)) return lnkConnFromV2(decodeLnkConnV2(ext, bigEndian));
  throw new ProtocolError(
    'BAD_EXT',
    `LNK_CONN: expected a header size of 8 units (0x00001108) or 6 units (0x00001106), got ${units} (cmd 0x${(cmd >>> 0).toString(16).padStart(8, '0')})`,
    DMSG_IOQ_ERROR.FIELD,
  );
}

/**
 * Encode a normalized LnkConn in `layout` (default: `fields.layout`, else
 * seed). Fields the layout cannot carry are dropped: for v2, pfsId, pfsType,
 * pfsMask and pfsLabel. Use `lnkConnCmd(layout)` for the matching cmd.
 */
export function encodeLnkConn(fields: Partial<LnkConn> = {}, layout: LnkConnLayout = fields.layout ?? 'seed'): Uint8Array {
  if (layout === 'v2') {
    return encodeLnkConnV2({
      mediaId: fields.mediaId,
      peerId: fields.peerId,
      peerMask: fields.peerMask,
      peerType: fields.peerType,
      protoVersion: fields.protoVersion,
      status: fields.status,
      rnss: fields.rnss,
      peerLabel: fields.peerLabel,
    });
  }
  return encodeLnkConnSeed({
    mediaId: fields.mediaId,
    pfsClid: fields.peerId,
    pfsFsid: fields.pfsId,
    peerMask: fields.peerMask,
    peerType: fields.peerType,
    pfsType: fields.pfsType,
    protoVersion: fields.protoVersion,
    status: fields.status,
    rnss: fields.rnss,
    pfsMask: fields.pfsMask,
    clLabel: fields.peerLabel,
    fsLabel: fields.pfsLabel,
  });
}
