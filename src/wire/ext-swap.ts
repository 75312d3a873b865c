/**
 * Byte-swapping the extended headers we know, for messages from a big-endian
 * sender. DragonFly swaps only the 64-byte base header and leaves dist, rnss,
 * peer_mask, BLK offsets and so on in the sender's order; we convert them so
 * that every known `Message.ext` reads little-endian.
 *
 * Offsets below are struct offsets (from the start of the header); the ext
 * buffer starts at struct offset 64.
 */
import { DMSG, DMSGF, DMSG_PEER } from './constants.ts';

/** [struct offset, width]; width 16 means a uuid (time_low/mid/hi swapped). */
type Field = readonly [number, 2 | 4 | 8 | 16];

const CONN_SEED: readonly Field[] = [[0x40, 16], [0x50, 16], [0x60, 16], [0x70, 8], [0x7a, 2], [0x7c, 4], [0x80, 4], [0xc0, 8]];
const CONN_V2: readonly Field[] = [[0x40, 16], [0x50, 16], [0x70, 8], [0x7a, 2], [0x7c, 4], [0x80, 4]];
const SPAN: readonly Field[] = [[0x40, 16], [0x50, 16], [0x62, 2], [0x64, 4], [0x68, 8], [0x70, 4], [0x74, 4]];
const SPAN_BLOCK_MEDIA: readonly Field[] = [[0x78, 8], [0x80, 4]];
const BLK_OPEN: readonly Field[] = [[0x40, 4]];
const BLK_RW: readonly Field[] = [[0x40, 8], [0x48, 8], [0x50, 4], [0x54, 4]];
const BLK_ERROR: readonly Field[] = [[0x40, 8], [0x48, 4]];

const LAYOUTS = new Map<number, readonly Field[]>([
  [DMSG.LNK_CONN, CONN_SEED],
  [DMSG.LNK_CONN_V2, CONN_V2],
  [DMSG.LNK_SPAN, SPAN],
  [DMSG.BLK_OPEN, BLK_OPEN],
  [DMSG.BLK_CLOSE, BLK_OPEN],
  [DMSG.BLK_READ, BLK_RW],
  [DMSG.BLK_WRITE, BLK_RW],
  [DMSG.BLK_FLUSH, BLK_RW],
  [DMSG.BLK_FREEBLKS, BLK_RW],
  [DMSG.BLK_ERROR, BLK_ERROR],
]);

/** True when we know the layout of this command's extended header. */
export function isKnownExt(cmd: number): boolean {
  return LAYOUTS.has(cmd & DMSGF.BASECMDMASK);
}

function reverse(b: Uint8Array, o: number, n: number): void {
  for (let i = 0, j = n - 1; i < j; i++, j--) {
    const t = b[o + i]!;
    b[o + i] = b[o + j]!;
    b[o + j] = t;
  }
}

function swapFields(ext: Uint8Array, fields: readonly Field[]): void {
  for (const [structOff, width] of fields) {
    const o = structOff - 64;
    if (o + width > ext.length) continue;
    if (width === 16) {
      reverse(ext, o, 4);
      reverse(ext, o + 4, 2);
      reverse(ext, o + 6, 2);
    } else {
      reverse(ext, o, width);
    }
  }
}

/**
 * Convert a big-endian sender's extended header to little-endian, in a copy.
 * Unknown commands are returned unchanged (their layout is the user's).
 */
export function swapExtToLE(cmd: number, ext: Uint8Array): Uint8Array {
  const base = cmd & DMSGF.BASECMDMASK;
  const fields = LAYOUTS.get(base);
  if (fields === undefined || ext.length === 0) return ext;
  const out = ext.slice();
  swapFields(out, fields);
  if (base === DMSG.LNK_SPAN && out.length > 0x61 - 64 && out[0x61 - 64] === DMSG_PEER.BLOCK) swapFields(out, SPAN_BLOCK_MEDIA);
  return out;
}
