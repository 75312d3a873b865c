/**
 * A deliberately plain DataView codec of the 64-byte base header, used to
 * cross-check the fast one (and as a baseline in benchmarks).
 */
import type { Header } from '../../src/wire/header.ts';

export function naiveDecodeHeader(bytes: Uint8Array, offset = 0): Header {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 64);
  const le = v.getUint16(0, true) === 0x4832;
  return {
    magic: v.getUint16(0, le),
    reserved02: v.getUint16(2, le),
    salt: v.getUint32(4, le),
    msgid: v.getBigUint64(8, le),
    circuit: v.getBigUint64(16, le),
    reserved18: v.getBigUint64(24, le),
    cmd: v.getUint32(32, le),
    auxCrc: v.getUint32(36, le),
    auxBytes: v.getUint32(40, le),
    error: v.getUint32(44, le),
    auxDescr: v.getBigUint64(48, le),
    reserved38: v.getUint32(56, le),
    hdrCrc: v.getUint32(60, le),
  };
}
