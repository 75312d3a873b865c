/**
 * md-cluster's `struct cluster_msg` (44 bytes, little-endian), the message a
 * sender writes into the LVB of the "message" lock: type, sender slot, a
 * sector range (low, high), a device uuid and a raid slot.
 */

/** Message types (md-cluster.c `enum msg_type`). */
export const MSG = {
  METADATA_UPDATED: 0,
  RESYNCING: 1,
  NEWDISK: 2,
  REMOVE: 3,
  RE_ADD: 4,
  BITMAP_NEEDS_SYNC: 5,
  CHANGE_CAPACITY: 6,
} as const;
export type MsgType = (typeof MSG)[keyof typeof MSG];

/** Bytes of an encoded message. */
export const CLUSTER_MSG_LEN = 44;
/** LVB length of the lockspace (md-cluster uses 64). */
export const MD_LVBLEN = 64;

export interface ClusterMsg {
  type: MsgType;
  /** Sender's md slot (DLM slot - 1). */
  slot: number;
  low: bigint;
  high: bigint;
  /** 16-byte device uuid (NEWDISK, RE_ADD, REMOVE). */
  uuid: Uint8Array;
  raidSlot: number;
}

/** A message with zero range, zero uuid and raid slot 0, of `type` from `slot`. */
export function clusterMsg(type: MsgType, slot: number, fields: Partial<Omit<ClusterMsg, 'type' | 'slot'>> = {}): ClusterMsg {
  return { type, slot, low: fields.low ?? 0n, high: fields.high ?? 0n, uuid: fields.uuid ?? new Uint8Array(16), raidSlot: fields.raidSlot ?? 0 };
}

/** Encode into an LVB-sized buffer (the rest is zero). */
export function encodeClusterMsg(m: ClusterMsg, lvblen = MD_LVBLEN): Uint8Array {
  if (m.uuid.length !== 16) throw new RangeError(`uuid must be 16 bytes, got ${m.uuid.length}`);
  const b = new Uint8Array(lvblen);
  const v = new DataView(b.buffer);
  v.setUint32(0, m.type, true);
  v.setUint32(4, m.slot, true);
  v.setBigUint64(8, m.low, true);
  v.setBigUint64(16, m.high, true);
  b.set(m.uuid, 24);
  v.setUint32(40, m.raidSlot, true);
  return b;
}

/** Decode; undefined when the buffer is short or the type unknown (the receiver ignores it). */
export function decodeClusterMsg(b: Uint8Array | null): ClusterMsg | undefined {
  if (!b || b.length < CLUSTER_MSG_LEN) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = v.getUint32(0, true);
  if (type > MSG.CHANGE_CAPACITY) return undefined;
  return {
    type: type as MsgType,
    slot: v.getUint32(4, true),
    low: v.getBigUint64(8, true),
    high: v.getBigUint64(16, true),
    uuid: b.slice(24, 40),
    raidSlot: v.getUint32(40, true),
  };
}

/** A bitmap lock's LVB: the slot's resync range (md-cluster `struct resync_info`: lo, hi). */
export function encodeResyncInfo(low: bigint, high: bigint, lvblen = MD_LVBLEN): Uint8Array {
  const b = new Uint8Array(lvblen);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, low, true);
  v.setBigUint64(8, high, true);
  return b;
}

export function decodeResyncInfo(b: Uint8Array | null): { low: bigint; high: bigint } {
  if (!b || b.length < 16) return { low: 0n, high: 0n };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { low: v.getBigUint64(0, true), high: v.getBigUint64(8, true) };
}
