/**
 * dm-log-userspace's `struct dm_ulog_request` (include/uapi/linux/dm-log-userspace.h),
 * little-endian: luid u64, uuid char[129] + 3 pad, version u32 (= 2),
 * error i32, seq u32, request_type u32 (low 8 bits; the upper 24 reserved,
 * zero), data_size u32, then `data_size` bytes of data. 160 bytes of header.
 */

/** Request types (DM_ULOG_*). */
export const ULOG = {
  CTR: 1,
  DTR: 2,
  PRESUSPEND: 3,
  POSTSUSPEND: 4,
  RESUME: 5,
  GET_REGION_SIZE: 6,
  IS_CLEAN: 7,
  IN_SYNC: 8,
  FLUSH: 9,
  MARK_REGION: 10,
  CLEAR_REGION: 11,
  GET_RESYNC_WORK: 12,
  SET_REGION_SYNC: 13,
  GET_SYNC_COUNT: 14,
  STATUS_INFO: 15,
  STATUS_TABLE: 16,
  IS_REMOTE_RECOVERING: 17,
} as const;

export const ULOG_VERSION = 2;
export const ULOG_HEADER_LEN = 160;
/** The kernel's preallocated buffer: header + data must fit (consult_userspace rejects more with -EINVAL). */
export const ULOG_BUFFER_LEN = 512;
export const ULOG_MAX_DATA = ULOG_BUFFER_LEN - ULOG_HEADER_LEN;

/** Negative errno values the protocol uses. */
export const ERRNO = { EINVAL: -22, EAGAIN: -11, ENOSPC: -28, ETIMEDOUT: -110, ENOENT: -2, EIO: -5 } as const;

export interface UlogRequest {
  luid: bigint;
  uuid: string;
  error: number;
  seq: number;
  type: number;
  data: Uint8Array;
}

export function encodeRequest(r: UlogRequest): Uint8Array {
  const uuid = new TextEncoder().encode(r.uuid);
  if (uuid.length > 128) throw new RangeError(`uuid is at most 128 bytes, got ${uuid.length}`);
  if ((r.type & 0xff) !== r.type) throw new RangeError(`request type is 8 bits, got ${r.type}`);
  const b = new Uint8Array(ULOG_HEADER_LEN + r.data.length);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, r.luid, true);
  b.set(uuid, 8);
  v.setUint32(140, ULOG_VERSION, true);
  v.setInt32(144, r.error, true);
  v.setUint32(148, r.seq >>> 0, true);
  v.setUint32(152, r.type, true);
  v.setUint32(156, r.data.length, true);
  b.set(r.data, ULOG_HEADER_LEN);
  return b;
}

/** Decode; undefined when short, of another version, with reserved type bits set, an unterminated uuid or a wrong data_size (dropped by the reader). */
export function decodeRequest(b: Uint8Array): UlogRequest | undefined {
  if (b.length < ULOG_HEADER_LEN) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(140, true) !== ULOG_VERSION) return undefined;
  const type = v.getUint32(152, true);
  if (type > 0xff) return undefined;
  const size = v.getUint32(156, true);
  if (size !== b.length - ULOG_HEADER_LEN) return undefined;
  const raw = b.subarray(8, 137);
  const nul = raw.indexOf(0);
  if (nul < 0) return undefined; // the uuid must be NUL-terminated within its 129 bytes
  return {
    luid: v.getBigUint64(0, true),
    uuid: new TextDecoder().decode(raw.subarray(0, nul)),
    error: v.getInt32(144, true),
    seq: v.getUint32(148, true),
    type,
    data: b.slice(ULOG_HEADER_LEN),
  };
}

/** Little-endian u64 helpers for region numbers and counts in `data`. */
export function u64(...xs: bigint[]): Uint8Array {
  const b = new Uint8Array(8 * xs.length);
  const v = new DataView(b.buffer);
  xs.forEach((x, i) => v.setBigUint64(8 * i, x, true));
  return b;
}

export function readU64s(b: Uint8Array): bigint[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: Math.floor(b.length / 8) }, (_, i) => v.getBigUint64(8 * i, true));
}
