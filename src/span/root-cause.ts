/**
 * Root-cause notification: the aux data of a span DELETE caused by a lost
 * link names that link, so routers downstream drop every path over it at
 * once instead of exploring them one by one (as BGP-RCN does).
 *
 * Record (little-endian): "DMRC", u16 version 1, u16 0, the 16-byte id of
 * the router upstream of the link, the 16-byte id of the router that lost
 * it, and the u32 incarnation of the link at that router (path record v3).
 */
import { DMSG_IOQ_ERROR } from '../wire/constants.ts';
import { ProtocolError } from '../wire/errors.ts';
import { bytesToNodeId, nodeIdToBytes, type NodeId } from './path-record.ts';

export interface RootCause {
  /** Upstream end of the lost link. */
  readonly a: NodeId;
  /** The router that lost it. */
  readonly b: NodeId;
  /** The link's incarnation at `b`. */
  readonly inc: number;
}

const MAGIC = [0x44, 0x4d, 0x52, 0x43]; // "DMRC"
const BYTES = 44;

export function encodeRootCause(rc: RootCause): Uint8Array {
  const out = new Uint8Array(BYTES);
  out.set(MAGIC, 0);
  const v = new DataView(out.buffer);
  v.setUint16(4, 1, true);
  nodeIdToBytes(rc.a, out, 8);
  nodeIdToBytes(rc.b, out, 24);
  v.setUint32(40, rc.inc >>> 0, true);
  return out;
}

/** The root cause in a DELETE's aux, null when there is none; ProtocolError BAD_EXT when malformed. */
export function decodeRootCause(aux: Uint8Array): RootCause | null {
  if (aux.length < 4 || aux[0] !== MAGIC[0] || aux[1] !== MAGIC[1] || aux[2] !== MAGIC[2] || aux[3] !== MAGIC[3]) return null;
  if (aux.length < BYTES) throw new ProtocolError('BAD_EXT', `root-cause record: expected ${BYTES} bytes, got ${aux.length}`, DMSG_IOQ_ERROR.FIELD);
  const v = new DataView(aux.buffer, aux.byteOffset, aux.byteLength);
  if (v.getUint16(4, true) !== 1) throw new ProtocolError('BAD_EXT', `root-cause record: expected version 1, got ${v.getUint16(4, true)}`, DMSG_IOQ_ERROR.FIELD);
  return { a: bytesToNodeId(aux, 8), b: bytesToNodeId(aux, 24), inc: v.getUint32(40, true) };
}

/** Does `path` (with per-id link incarnations `hops`) cross the lost link? */
export function pathUsesLink(path: readonly NodeId[], hops: readonly number[] | undefined, rc: RootCause): boolean {
  if (hops === undefined) return false;
  for (let i = 1; i < path.length; i++) if (path[i] === rc.b && path[i - 1] === rc.a && hops[i] === rc.inc) return true;
  return false;
}
