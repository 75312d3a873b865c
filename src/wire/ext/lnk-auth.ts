/**
 * LNK_AUTH extended header (cmd 0x00001002; 128 bytes on the wire). DragonFly
 * defines it with a 64-byte dummy payload and never sends or handles it
 * (authentication happens in the crypto handshake), so it is opaque bytes here.
 */

import { DMSG, DMSGF } from '../constants.ts';
import { requireExt, rawArg, wireExtBytes } from './ext-util.ts';

/** Bytes of the ext on the wire (128 - 64); all of them are payload. */
export const LNK_AUTH_EXT_BYTES = wireExtBytes(DMSG.LNK_AUTH & DMSGF.SIZE);

/** The ext for `payload` (at most 64 bytes), zero-padded to 64. */
export function encodeLnkAuth(payload?: Uint8Array): Uint8Array {
  const ext = new Uint8Array(LNK_AUTH_EXT_BYTES);
  rawArg(payload, LNK_AUTH_EXT_BYTES, 'payload', ext, 0);
  return ext;
}

/**
 * A copy of the 64-byte payload (a copy, so it does not pin the read chunk).
 * `bigEndian` is accepted for a uniform signature; opaque bytes are not swapped.
 */
export function decodeLnkAuth(ext: Uint8Array, bigEndian = false): Uint8Array {
  void bigEndian;
  requireExt(ext, LNK_AUTH_EXT_BYTES, 'LNK_AUTH');
  return ext.slice(0, LNK_AUTH_EXT_BYTES);
}
