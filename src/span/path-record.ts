/**
 * The path vector a span carries in its aux data: the router node ids it has
 * crossed, originator first. The LNK_SPAN extended header stays as DragonFly
 * defines it; DragonFly peers ignore aux on spans, so the record is invisible
 * to them.
 *
 * Record format (little-endian like the rest of DMSG), version 1:
 *
 * | off | size     | field                                          |
 * |-----|----------|------------------------------------------------|
 * | 0   | 4        | magic, ASCII "DMPV" (0x44 0x4D 0x50 0x56)      |
 * | 4   | 2        | version (u16) = 1                              |
 * | 6   | 2        | count (u16): number of node ids                |
 * | 8   | 16*count | node ids, 16-byte uuids in RFC 4122 byte order |
 *
 * Version 2 adds the advertisement's epoch (a random u32 the originator
 * picks for each advertisement and every relay copies): after a withdrawal,
 * routers refuse that epoch of that instance, so no stale backup path is
 * explored, while a new advertisement (a new epoch) passes.
 *
 * | off | size     | field                                          |
 * |-----|----------|------------------------------------------------|
 * | 0   | 4        | magic "DMPV"                                   |
 * | 4   | 2        | version (u16) = 2                              |
 * | 6   | 2        | count (u16)                                    |
 * | 8   | 4        | epoch (u32, non-zero)                          |
 * | 12  | 4        | reserved, 0                                    |
 * | 16  | 16*count | node ids                                       |
 *
 * Version 3 adds, after the ids, one u32 per id: the incarnation of the link
 * that router received the span on (0 at the originator).
 *
 * Version 4 is version 3 plus the originating router's identity, after the
 * incarnations, copied unchanged by every relay (services address nodes and
 * follow their restarts with it):
 *
 * | size  | field                                                     |
 * |-------|-----------------------------------------------------------|
 * | 4     | router incarnation (u32, non-zero; random per Router run) |
 * | 2     | name length n (u16, at most 127)                          |
 * | 2     | reserved, 0                                               |
 * | n     | router name, UTF-8, no NUL                                |
 *
 * Total 8 (v1) or 16 (v2) + 16*count bytes (+ 4*count for v3, + 8 + n for v4). Trailing zero bytes up to the next DMSG_ALIGN (64)
 * boundary (aux padding) are tolerated; anything else after the ids is an error. A path
 * that names one node twice is malformed (it went round a loop).
 */
import { DMSG_IOQ_ERROR, doAlign } from '../wire/constants.ts';
import { InvalidArgumentError, ProtocolError } from '../wire/errors.ts';

/** A router (or span node) id: a canonical lowercase uuid string. */
export type NodeId = string;

export const PATH_RECORD_MAGIC = Uint8Array.of(0x44, 0x4d, 0x50, 0x56); // "DMPV"
export const PATH_RECORD_VERSION = 1;
export const PATH_RECORD_VERSION_EPOCH = 2;
/** Version 3: version 2 plus, after the ids, one u32 per id: the incarnation of the link that router received the span on (0 at the originator). */
export const PATH_RECORD_VERSION_HOPS = 3;
/** Version 4: version 3 plus the originating router's incarnation and name. */
export const PATH_RECORD_VERSION_ORIGIN = 4;
/** Longest router name a version 4 record carries (a DMSG label's room). */
export const ORIGIN_NAME_MAX_BYTES = 127;

/** The router that originated a span: its name and the incarnation of its current run. */
export interface SpanOrigin {
  readonly name: string;
  /** Random non-zero u32 per Router run: a restart changes it. */
  readonly incarnation: number;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
export const PATH_RECORD_HEADER_BYTES = 8;
const HEADER_BYTES_V2 = 16;
export const NODE_ID_BYTES = 16;
/** Default longest path decoded; see SpanOptions.maxPathLength. */
export const PATH_RECORD_DEFAULT_MAX_COUNT = 64;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** True for a canonical (lowercase, hyphenated) uuid string. */
export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** Canonical form of a uuid string (lowercase); throws InvalidArgumentError. */
export function toNodeId(value: string): NodeId {
  const lower = typeof value === 'string' ? value.toLowerCase() : '';
  if (!UUID_RE.test(lower)) throw new InvalidArgumentError(`expected a uuid string, got ${JSON.stringify(value)}`);
  return lower;
}

/** Value of a lowercase hex digit's char code (validated by isNodeId first). */
function nibble(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

/** Char offsets of the 16 bytes in a canonical uuid string. */
const BYTE_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

export function nodeIdToBytes(id: NodeId, out = new Uint8Array(NODE_ID_BYTES), offset = 0): Uint8Array {
  if (!isNodeId(id)) throw new InvalidArgumentError(`expected a canonical uuid string, got ${JSON.stringify(id)}`);
  for (let i = 0; i < NODE_ID_BYTES; i++) {
    const at = BYTE_AT[i]!;
    out[offset + i] = (nibble(id.charCodeAt(at)) << 4) | nibble(id.charCodeAt(at + 1));
  }
  return out;
}

/** Any 16 bytes make a node id: no version/variant check (peers choose them). */
export function bytesToNodeId(bytes: Uint8Array, offset = 0): NodeId {
  let s = '';
  for (let i = 0; i < NODE_ID_BYTES; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[bytes[offset + i]!]!;
  }
  return s;
}

/**
 * Encode a path (and, when non-zero, the advertisement epoch: version 2; and
 * with `hops`, one link incarnation per id: version 3; and with `origin`, the
 * originating router's identity: version 4, which needs `hops`).
 */
export function encodePathRecord(path: readonly NodeId[], epoch = 0, hops?: readonly number[], origin?: SpanOrigin): Uint8Array {
  if (!Array.isArray(path)) throw new InvalidArgumentError('path must be an array of node ids');
  if (path.length > 0xffff) throw new InvalidArgumentError(`path has ${path.length} ids, the record holds at most 65535`);
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) throw new InvalidArgumentError(`epoch must be a u32, got ${epoch}`);
  if (hops !== undefined && (epoch === 0 || hops.length !== path.length)) throw new InvalidArgumentError(`hops need an epoch and one entry per id (${path.length}), got ${hops.length}`);
  let name: Uint8Array | null = null;
  if (origin !== undefined) {
    if (hops === undefined) throw new InvalidArgumentError('an origin needs hops (path record version 4 extends version 3)');
    if (!Number.isInteger(origin.incarnation) || origin.incarnation < 1 || origin.incarnation > 0xffffffff) throw new InvalidArgumentError(`origin incarnation must be a non-zero u32, got ${origin.incarnation}`);
    name = utf8.encode(origin.name);
    if (name.length > ORIGIN_NAME_MAX_BYTES || name.includes(0)) throw new InvalidArgumentError(`origin name must be at most ${ORIGIN_NAME_MAX_BYTES} UTF-8 bytes without NUL`);
  }
  const head = epoch === 0 ? PATH_RECORD_HEADER_BYTES : HEADER_BYTES_V2;
  const hopsEnd = head + NODE_ID_BYTES * path.length + (hops ? 4 * hops.length : 0);
  const out = new Uint8Array(hopsEnd + (name ? 8 + name.length : 0));
  out.set(PATH_RECORD_MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint16(4, name ? PATH_RECORD_VERSION_ORIGIN : hops ? PATH_RECORD_VERSION_HOPS : epoch === 0 ? PATH_RECORD_VERSION : PATH_RECORD_VERSION_EPOCH, true);
  if (name) {
    view.setUint32(hopsEnd, origin!.incarnation >>> 0, true);
    view.setUint16(hopsEnd + 4, name.length, true);
    out.set(name, hopsEnd + 8);
  }
  view.setUint16(6, path.length, true);
  if (epoch !== 0) view.setUint32(8, epoch, true);
  path.forEach((id, i) => nodeIdToBytes(id, out, head + NODE_ID_BYTES * i));
  if (hops) hops.forEach((h, i) => view.setUint32(head + NODE_ID_BYTES * path.length + 4 * i, h >>> 0, true));
  return out;
}

function bad(message: string): ProtocolError {
  return new ProtocolError('BAD_EXT', `path record: ${message}`, DMSG_IOQ_ERROR.FIELD);
}

/**
 * Decodes a path record. Malformed bytes give ProtocolError 'BAD_EXT'; a
 * well-formed path longer than maxCount gives ProtocolError 'LIMIT' (the
 * peer is not broken, we just will not hold it). Nothing else is thrown.
 */
export function decodePathRecord(bytes: Uint8Array, maxCount = PATH_RECORD_DEFAULT_MAX_COUNT): NodeId[] {
  return decodePathRecordWithEpoch(bytes, maxCount).path;
}

/** Like decodePathRecord, with the advertisement epoch (0 for a version 1 record). */
export function decodePathRecordWithEpoch(bytes: Uint8Array, maxCount = PATH_RECORD_DEFAULT_MAX_COUNT): { path: NodeId[]; epoch: number; hops: number[] | null; origin?: SpanOrigin } {
  if (!(bytes instanceof Uint8Array)) throw bad('expected bytes');
  if (bytes.length < PATH_RECORD_HEADER_BYTES) {
    throw bad(`expected at least ${PATH_RECORD_HEADER_BYTES} bytes, got ${bytes.length}`);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== PATH_RECORD_MAGIC[i]) throw bad(`expected magic "DMPV", got ${bytesToHex(bytes.subarray(0, 4))}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version < PATH_RECORD_VERSION || version > PATH_RECORD_VERSION_ORIGIN) throw bad(`expected version 1 to 4, got ${version}`);
  const withHops = version >= PATH_RECORD_VERSION_HOPS;
  const head = version === PATH_RECORD_VERSION ? PATH_RECORD_HEADER_BYTES : HEADER_BYTES_V2;
  if (bytes.length < head) throw bad(`version ${version} needs at least ${head} bytes, got ${bytes.length}`);
  const epoch = version === PATH_RECORD_VERSION ? 0 : view.getUint32(8, true);
  if (version !== PATH_RECORD_VERSION && (epoch === 0 || view.getUint32(12, true) !== 0)) throw bad(`version ${version} needs a non-zero epoch and zero reserved bytes`);
  const count = view.getUint16(6, true);
  const idsEnd = head + NODE_ID_BYTES * count;
  const hopsEnd = idsEnd + (withHops ? 4 * count : 0);
  let need = hopsEnd + (version === PATH_RECORD_VERSION_ORIGIN ? 8 : 0);
  if (bytes.length < need) throw bad(`count ${count} needs ${need} bytes, got ${bytes.length}`);
  let origin: SpanOrigin | undefined;
  if (version === PATH_RECORD_VERSION_ORIGIN) {
    const incarnation = view.getUint32(hopsEnd, true);
    const nameBytes = view.getUint16(hopsEnd + 4, true);
    if (incarnation === 0 || view.getUint16(hopsEnd + 6, true) !== 0 || nameBytes > ORIGIN_NAME_MAX_BYTES) throw bad('version 4 needs a non-zero incarnation, zero reserved bytes and a name of at most 127 bytes');
    need += nameBytes;
    if (bytes.length < need) throw bad(`the origin name needs ${need} bytes, got ${bytes.length}`);
    const raw = bytes.subarray(hopsEnd + 8, need);
    if (raw.includes(0)) throw bad('the origin name holds a NUL');
    let name: string;
    try {
      name = utf8Strict.decode(raw);
    } catch {
      throw bad('the origin name is not UTF-8');
    }
    origin = { name, incarnation };
  }
  if (bytes.length > doAlign(need)) {
    throw bad(`expected ${need} bytes (+ zero padding to ${doAlign(need)}), got ${bytes.length}`);
  }
  for (let i = need; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw bad(`non-zero byte 0x${HEX[bytes[i]!]} in padding at offset ${i}`);
  }
  if (count > maxCount) {
    throw new ProtocolError('LIMIT', `path record: ${count} ids, limit is ${maxCount}`, DMSG_IOQ_ERROR.FIELD);
  }
  const path: NodeId[] = [];
  const seen = new Set<NodeId>();
  for (let i = 0; i < count; i++) {
    const id = bytesToNodeId(bytes, head + NODE_ID_BYTES * i);
    if (seen.has(id)) throw bad(`node ${id} appears twice (the span went round a loop)`);
    seen.add(id);
    path.push(id);
  }
  let hops: number[] | null = null;
  if (withHops) {
    hops = [];
    for (let i = 0; i < count; i++) hops.push(view.getUint32(idsEnd + 4 * i, true));
  }
  return origin ? { path, epoch, hops, origin } : { path, epoch, hops };
}

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => HEX[b]).join('');
}

/**
 * The path of a received span. A span with no path record (a DragonFly peer)
 * is treated as coming from the peer itself: [peerNodeId] when the peer's
 * node id is known, else [].
 */
export function effectivePath(recorded: readonly NodeId[] | null, peerNodeId: NodeId | null): readonly NodeId[] {
  if (recorded !== null) return recorded;
  return peerNodeId === null ? [] : [peerNodeId];
}
