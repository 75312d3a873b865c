/**
 * The payloads (`rc_buf`) of the recovery messages (spec §3.8), encoded and
 * decoded with every length checked (a malformed payload throws a
 * DlmError('EBADMSG'), which the receiver counts and drops):
 * - STATUS: `rs_flags` u32 (0x1 = "please send slots"), then this
 *   implementation's member-list key u32;
 * - STATUS_REPLY: the config (lvblen u32 @0, lsflags u32 @4, flags u32 @8,
 *   our_slot u16 @12, num_slots u16 @14, generation u32 @20) then the
 *   member-list key u32 @24; when slots were asked for and the sender has a
 *   table for this recovery, num_slots entries follow at 28, 8 bytes each
 *   (`rcom_slot`: nodeid u32, slot u16, 2 unused bytes);
 * - NAMES_REPLY: records `[u16 big-endian length][name]`, 0 ends a chunk,
 *   0xFFFF ends the dump;
 * - LOCK / LOCK_REPLY: `rcom_lock` (ids, flags, modes, status, asts,
 *   wait_type, namelen, name[64], LVB).
 */
import { DlmError } from '../errors.ts';
import { FENCE_GENERATION_UNIT } from '../fence-rules.ts';
import { MAX_SLOTS, type DlmSlot } from './slots.ts';

export const RCOM_NAME_MAX = 64;
/** The highest generation (2**21 - 1): its fencing tokens (generation * 2**32 + counter) stay JS safe integers. A peer announcing more is refused. */
export const MAX_GENERATION = Math.floor(Number.MAX_SAFE_INTEGER / FENCE_GENERATION_UNIT);
const STATUS_LEN = 8;
const CONFIG_LEN = 28;
const SLOT_LEN = 8;
/** `lsflags` bit of a NODIR lockspace (DLM_LSFL_NODIR). */
export const DLM_LSFL_NODIR = 0x1;
/** `rs_flags` of a STATUS: the reply should carry the slot table (DLM_RSF_NEED_SLOTS). */
export const RS_NEED_SLOTS = 0x1;
/** rcom_lock without its LVB. */
export const RCOM_LOCK_LEN = 44 + RCOM_NAME_MAX;

function bad(what: string, got: number): never {
  throw new DlmError('EBADMSG', `RCOM payload: ${what}, got ${got} bytes`);
}

/** A key naming the member list a node recovers to (FNV-1a over the sorted ids). */
export function membersKey(members: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const m of members) {
    for (let s = 0; s < 32; s += 8) {
      h ^= (m >>> s) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

export function encodeStatusRequest(key: number, flags = 0): Uint8Array {
  const out = new Uint8Array(STATUS_LEN);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, flags >>> 0, true);
  dv.setUint32(4, key >>> 0, true);
  return out;
}

/** The `rs_flags` of a STATUS request (0 when the payload is too short to carry them). */
export function statusRequestFlags(buf: Uint8Array): number {
  if (buf.length < 4) return 0;
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0, true);
}

export interface StatusConfig {
  lvblen: number;
  generation: number;
  key: number;
  /** DLM_LSFL_* of the sender's lockspace (NODIR). @default 0 */
  lsflags?: number;
  /** The sender's slot (0: none). @default 0 */
  ourSlot?: number;
  /** The sender's slot table for this recovery (only when asked for and assigned). @default none */
  slots?: readonly DlmSlot[];
  /** Who sent it (set by the receiver, not on the wire). */
  nodeid?: number;
}

export function encodeStatusReply(c: StatusConfig): Uint8Array {
  const slots = c.slots ?? [];
  if (slots.length > MAX_SLOTS) throw new DlmError('EINVAL', `STATUS_REPLY: ${slots.length} slots exceed ${MAX_SLOTS}`);
  const out = new Uint8Array(CONFIG_LEN + SLOT_LEN * slots.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, c.lvblen >>> 0, true);
  dv.setUint32(4, (c.lsflags ?? 0) >>> 0, true);
  dv.setUint16(12, (c.ourSlot ?? 0) & 0xffff, true);
  dv.setUint16(14, slots.length, true);
  dv.setUint32(20, c.generation >>> 0, true);
  dv.setUint32(24, c.key >>> 0, true);
  for (let i = 0; i < slots.length; i++) {
    dv.setUint32(CONFIG_LEN + SLOT_LEN * i, slots[i]!.nodeid >>> 0, true);
    dv.setUint16(CONFIG_LEN + SLOT_LEN * i + 4, slots[i]!.slot & 0xffff, true);
  }
  return out;
}

export function decodeStatusReply(buf: Uint8Array): StatusConfig {
  if (buf.length < CONFIG_LEN) bad(`STATUS_REPLY config needs ${CONFIG_LEN} bytes`, buf.length);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const generation = dv.getUint32(20, true);
  // A generation's fencing tokens (generation * 2**32 + counter) must stay JS safe integers.
  if (generation > MAX_GENERATION) bad(`STATUS_REPLY generation ${generation} > ${MAX_GENERATION}`, buf.length);
  const ourSlot = dv.getUint16(12, true);
  const numSlots = dv.getUint16(14, true);
  if (ourSlot > MAX_SLOTS) bad(`STATUS_REPLY our_slot ${ourSlot} > ${MAX_SLOTS}`, buf.length);
  if (numSlots > MAX_SLOTS || buf.length < CONFIG_LEN + SLOT_LEN * numSlots) bad(`STATUS_REPLY with ${numSlots} slots needs ${CONFIG_LEN + SLOT_LEN * numSlots} bytes`, buf.length);
  const slots: DlmSlot[] = [];
  const nodes = new Set<number>();
  const used = new Set<number>();
  for (let i = 0; i < numSlots; i++) {
    const nodeid = dv.getUint32(CONFIG_LEN + SLOT_LEN * i, true);
    const slot = dv.getUint16(CONFIG_LEN + SLOT_LEN * i + 4, true);
    if (nodeid === 0 || slot === 0 || slot > MAX_SLOTS || nodes.has(nodeid) || used.has(slot)) bad(`STATUS_REPLY slot entry ${i} (node ${nodeid}, slot ${slot}) is zero, out of range or repeated`, buf.length);
    nodes.add(nodeid);
    used.add(slot);
    slots.push({ nodeid, slot });
  }
  return { lvblen: dv.getUint32(0, true), lsflags: dv.getUint32(4, true), generation, key: dv.getUint32(24, true), ourSlot, slots };
}

export const NAMES_END_CHUNK = 0;
export const NAMES_END_DUMP = 0xffff;

/**
 * One NAMES_REPLY chunk: as many of `names` (from `start`) as fit in
 * `room` bytes. Returns the bytes and the index of the first name left out
 * (names.length when the dump ended).
 */
export function encodeNamesChunk(names: readonly Uint8Array[], start: number, room: number): { buf: Uint8Array; next: number } {
  let size = 0;
  let i = start;
  while (i < names.length && size + 2 + names[i]!.length + 2 <= room) size += 2 + names[i++]!.length;
  const out = new Uint8Array(size + 2);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (let j = start; j < i; j++) {
    const n = names[j]!;
    dv.setUint16(o, n.length, false);
    out.set(n, o + 2);
    o += 2 + n.length;
  }
  dv.setUint16(o, i >= names.length ? NAMES_END_DUMP : NAMES_END_CHUNK, false);
  return { buf: out, next: i };
}

export function decodeNamesChunk(buf: Uint8Array): { names: Uint8Array[]; done: boolean } {
  const names: Uint8Array[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  for (;;) {
    if (o + 2 > buf.length) bad('NAMES_REPLY record runs past the end', buf.length);
    const len = dv.getUint16(o, false);
    o += 2;
    if (len === NAMES_END_DUMP) return { names, done: true };
    if (len === NAMES_END_CHUNK) return { names, done: false };
    if (len > RCOM_NAME_MAX || o + len > buf.length) bad(`NAMES_REPLY name of ${len} bytes`, buf.length);
    names.push(buf.slice(o, o + len));
    o += len;
  }
}

/** `struct rcom_lock`, the fields this implementation uses. */
export interface RcomLock {
  ownpid: number;
  lkid: number;
  remid: number;
  exflags: number;
  flags: number;
  lvbseq: number;
  result: number;
  rqmode: number;
  grmode: number;
  status: number;
  asts: number;
  waitType: number;
  name: Uint8Array;
  lvb: Uint8Array;
}

export function encodeRcomLock(l: RcomLock): Uint8Array {
  if (l.name.length > RCOM_NAME_MAX) throw new DlmError('EINVAL', `rcom_lock name of ${l.name.length} bytes exceeds ${RCOM_NAME_MAX}`);
  const out = new Uint8Array(RCOM_LOCK_LEN + l.lvb.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, l.ownpid >>> 0, true);
  dv.setUint32(4, l.lkid >>> 0, true);
  dv.setUint32(8, l.remid >>> 0, true);
  // 12, 16: parent_lkid, parent_remid (unused)
  dv.setUint32(20, l.exflags >>> 0, true);
  dv.setUint32(24, l.flags >>> 0, true);
  dv.setUint32(28, l.lvbseq >>> 0, true);
  dv.setInt32(32, l.result | 0, true);
  dv.setInt8(36, l.rqmode);
  dv.setInt8(37, l.grmode);
  dv.setInt8(38, l.status);
  dv.setInt8(39, l.asts);
  dv.setUint16(40, l.waitType, true);
  dv.setUint16(42, l.name.length, true);
  out.set(l.name, 44);
  out.set(l.lvb, RCOM_LOCK_LEN);
  return out;
}

export function decodeRcomLock(buf: Uint8Array): RcomLock {
  if (buf.length < RCOM_LOCK_LEN) bad(`rcom_lock needs ${RCOM_LOCK_LEN} bytes`, buf.length);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const namelen = dv.getUint16(42, true);
  if (namelen > RCOM_NAME_MAX) bad(`rcom_lock namelen ${namelen} > ${RCOM_NAME_MAX}`, buf.length);
  const rqmode = dv.getInt8(36);
  const grmode = dv.getInt8(37);
  const status = dv.getInt8(38);
  if (rqmode < -1 || rqmode > 5 || grmode < -1 || grmode > 5) bad(`rcom_lock modes ${grmode}/${rqmode}`, buf.length);
  if (status < 1 || status > 3) bad(`rcom_lock status ${status}`, buf.length);
  return {
    ownpid: dv.getUint32(0, true),
    lkid: dv.getUint32(4, true),
    remid: dv.getUint32(8, true),
    exflags: dv.getUint32(20, true),
    flags: dv.getUint32(24, true),
    lvbseq: dv.getUint32(28, true),
    result: dv.getInt32(32, true),
    rqmode,
    grmode,
    status,
    asts: dv.getInt8(39),
    waitType: dv.getUint16(40, true),
    name: buf.slice(44, 44 + namelen),
    lvb: buf.slice(RCOM_LOCK_LEN),
  };
}
