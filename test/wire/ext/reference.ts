/**
 * A naive, table-driven reference codec for the extended headers, written
 * independently of src/wire/ext: offsets come from the `layout` section of
 * headers.json (as the C compiler laid them out) and, for the v2 LNK_CONN that
 * the vectors do not cover, from spec §5.2. UUIDs are parsed as plain hex in
 * RFC order, then the first three groups are reversed for little-endian.
 * Used to check the fast codecs in both byte orders.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Kind = 'uuid' | 'u8' | 'u16' | 'u32' | 'u64' | 'label' | 'raw';
export interface RefField {
  /** Key in the codec's TS interface. */
  key: string;
  /** Offset in the ext (struct offset - 64). */
  off: number;
  kind: Kind;
  size: number;
}
export interface RefLayout {
  fields: RefField[];
  extBytes: number;
}

const layoutJson = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../fixtures/headers.json', import.meta.url)), 'utf8'),
).layout as Record<string, { wire_hdr_bytes?: number; fields?: Record<string, { offset: number; size: number }> }>;

function kindOf(size: number, key: string): Kind {
  if (key.endsWith('Label')) return 'label';
  if (size === 16) return 'uuid';
  if (size === 1) return 'u8';
  if (size === 2) return 'u16';
  if (size === 4) return 'u32';
  if (size === 8) return 'u64';
  return 'raw';
}

/** Build a layout from headers.json: `names` maps C field name → TS key. */
function fromJson(struct: string, names: Record<string, string>): RefLayout {
  const s = layoutJson[struct]!;
  const fields: RefField[] = [];
  for (const [cName, key] of Object.entries(names)) {
    const f = s.fields![cName];
    if (!f) throw new Error(`layout ${struct} has no field ${cName}`);
    fields.push({ key, off: f.offset - 64, size: f.size, kind: kindOf(f.size, key) });
  }
  return { fields, extBytes: s.wire_hdr_bytes! - 64 };
}

export const REF = {
  connSeed: fromJson('dmsg_lnk_conn', {
    mediaid: 'mediaId', pfs_clid: 'pfsClid', pfs_fsid: 'pfsFsid', peer_mask: 'peerMask',
    peer_type: 'peerType', pfs_type: 'pfsType', proto_version: 'protoVersion', status: 'status',
    rnss: 'rnss', pfs_mask: 'pfsMask', cl_label: 'clLabel', fs_label: 'fsLabel',
  }),
  span: fromJson('dmsg_lnk_span', {
    pfs_clid: 'peerId', pfs_fsid: 'pfsId', pfs_type: 'pfsType', peer_type: 'peerType',
    proto_version: 'protoVersion', status: 'status', dist: 'dist', rnss: 'rnss',
    'media.block.bytes': 'mediaBlockBytes', 'media.block.blksize': 'mediaBlockSize',
    cl_label: 'peerLabel', fs_label: 'pfsLabel',
  }),
  blkOpen: fromJson('dmsg_blk_open', { modes: 'modes' }),
  blkRw: fromJson('dmsg_blk_read', { keyid: 'keyid', offset: 'offset', bytes: 'bytes', flags: 'flags' }),
  blkError: fromJson('dmsg_blk_error', { keyid: 'keyid', resid: 'resid', buf: 'buf' }),
  // Spec §5.2 (not in the vectors): 0x40 media_id, 0x50 peer_id, 0x70 peer_mask,
  // 0x78 peer_type, 0x7A proto_version, 0x7C status, 0x80 rnss, 0xC4 peer_label; 384 on the wire.
  connV2: {
    extBytes: 384 - 64,
    fields: [
      { key: 'mediaId', off: 0x40 - 64, kind: 'uuid', size: 16 },
      { key: 'peerId', off: 0x50 - 64, kind: 'uuid', size: 16 },
      { key: 'peerMask', off: 0x70 - 64, kind: 'u64', size: 8 },
      { key: 'peerType', off: 0x78 - 64, kind: 'u8', size: 1 },
      { key: 'protoVersion', off: 0x7a - 64, kind: 'u16', size: 2 },
      { key: 'status', off: 0x7c - 64, kind: 'u32', size: 4 },
      { key: 'rnss', off: 0x80 - 64, kind: 'u32', size: 4 },
      { key: 'peerLabel', off: 0xc4 - 64, kind: 'label', size: 128 },
    ],
  } satisfies RefLayout,
} as const;

/** Encode `values` (keys of the layout) with plain DataView writes. */
export function refEncode(layout: RefLayout, values: Record<string, unknown>, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(layout.extBytes);
  const dv = new DataView(out.buffer);
  const le = !bigEndian;
  for (const f of layout.fields) {
    const v = values[f.key];
    if (v === undefined) continue;
    switch (f.kind) {
      case 'u8': dv.setUint8(f.off, v as number); break;
      case 'u16': dv.setUint16(f.off, v as number, le); break;
      case 'u32': dv.setUint32(f.off, v as number, le); break;
      case 'u64': dv.setBigUint64(f.off, v as bigint, le); break;
      case 'uuid': {
        // RFC order = big-endian groups. (uuid.parse() would reject the
        // vectors' non-RFC version nibbles, so plain hex.)
        const rfc = Buffer.from((v as string).replaceAll('-', ''), 'hex');
        out.set(rfc, f.off);
        if (le) {
          out.subarray(f.off, f.off + 4).reverse();
          out.subarray(f.off + 4, f.off + 6).reverse();
          out.subarray(f.off + 6, f.off + 8).reverse();
        }
        break;
      }
      case 'label': out.set(Buffer.from(v as string, 'utf8'), f.off); break;
      case 'raw': out.set(v as Uint8Array, f.off); break;
    }
  }
  return out;
}
