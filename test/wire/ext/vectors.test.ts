/**
 * Known-answer tests of the extended-header codecs against the vectors made
 * with DragonFly's C code (test/fixtures/headers.json) and a real libdmsg
 * handshake (session-handshake-*).
 */
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../../src/wire/constants.ts';
import { FrameDecoder } from '../../../src/wire/frame-decoder.ts';
import {
  decodeBlkOpen, decodeBlkRw, decodeLnkAuth, decodeLnkConn, decodeLnkConnSeed, decodeLnkSpan,
  encodeBlkOpen, encodeBlkRw, encodeLnkAuth, encodeLnkConn, encodeLnkConnSeed, encodeLnkSpan,
  LNK_SPAN_MEDIA_OFFSET, LNK_SPAN_MEDIA_SIZE,
} from '../../../src/wire/ext/index.ts';
import type { BlkOpen, BlkRw, LnkConn, LnkConnSeed, LnkSpan } from '../../../src/wire/ext/index.ts';
import { loadSession, loadVectors } from '../../helpers/vectors.ts';

const { cases } = loadVectors();
type Raw = Record<string, string | number>;

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const big = (v: string | number | undefined): bigint => BigInt(v as string);
const int = (v: string | number | undefined): number => Number(v);

function seedFromFixture(e: Raw): LnkConnSeed {
  return {
    mediaId: e.mediaid as string,
    pfsClid: e.pfs_clid as string,
    pfsFsid: e.pfs_fsid as string,
    peerMask: big(e.peer_mask),
    peerType: int(e.peer_type),
    pfsType: int(e.pfs_type),
    protoVersion: int(e.proto_version),
    status: int(e.status),
    rnss: int(e.rnss),
    pfsMask: big(e.pfs_mask),
    clLabel: e.cl_label as string,
    fsLabel: e.fs_label as string,
  };
}

function spanFromFixture(e: Raw): LnkSpan {
  return {
    peerId: e.pfs_clid as string,
    pfsId: e.pfs_fsid as string,
    pfsType: int(e.pfs_type),
    peerType: int(e.peer_type),
    protoVersion: int(e.proto_version),
    status: int(e.status),
    dist: int(e.dist),
    rnss: int(e.rnss),
    mediaBlockBytes: big(e.media_block_bytes ?? '0'),
    mediaBlockSize: int(e.media_block_blksize ?? 0),
    peerLabel: e.cl_label as string,
    pfsLabel: e.fs_label as string,
  };
}

const blkRwFromFixture = (e: Raw): BlkRw => ({ keyid: big(e.keyid), offset: big(e.offset), bytes: int(e.bytes), flags: int(e.flags) });
const blkOpenFromFixture = (e: Raw): BlkOpen => ({ modes: int(e.modes) });

const extCases = cases.filter((c) => c.ext !== undefined);

describe('extended headers of headers.json', () => {
  it('has every case with an ext that we expect', () => {
    expect(extCases.map((c) => c.name).sort()).toEqual(
      [
        'aux_1048576', 'aux_4096_blk_write', 'blk_open_rdwr', 'blk_read', 'lnk_conn_filled',
        'lnk_conn_service_default', 'lnk_span_block', 'lnk_span_hammer2',
      ].sort(),
    );
  });

  for (const c of extCases) {
    const ext = c.encoded.slice(64, c.hdrBytes);
    const e = c.ext!;
    const cmd = c.header.cmd;
    it(`${c.name}: decodes to the ext fields and encodes back to the same bytes`, () => {
      expect(ext.length).toBe(c.hdrBytes - 64);
      switch (e.struct) {
        case 'lnk_conn': {
          expect(cmd & DMSGF.BASECMDMASK).toBe(DMSG.LNK_CONN);
          const want = seedFromFixture(e);
          expect(decodeLnkConnSeed(ext)).toEqual(want);
          expect(hexOf(encodeLnkConnSeed(want))).toBe(hexOf(ext));
          // Through the normalized shape as well.
          const n = decodeLnkConn(cmd, ext);
          expect(n.layout).toBe('seed');
          expect(n.peerId).toBe(want.pfsClid);
          expect(n.peerLabel).toBe(want.clLabel);
          expect(hexOf(encodeLnkConn(n))).toBe(hexOf(ext));
          break;
        }
        case 'lnk_span': {
          expect(cmd & DMSGF.BASECMDMASK).toBe(DMSG.LNK_SPAN);
          const want = spanFromFixture(e);
          expect(decodeLnkSpan(ext)).toEqual(want);
          expect(hexOf(encodeLnkSpan(want))).toBe(hexOf(ext));
          break;
        }
        case 'blk_open': {
          expect(cmd & DMSGF.BASECMDMASK).toBe(DMSG.BLK_OPEN);
          const want = blkOpenFromFixture(e);
          expect(decodeBlkOpen(ext)).toEqual(want);
          expect(hexOf(encodeBlkOpen(want))).toBe(hexOf(ext));
          break;
        }
        case 'blk_rw': {
          expect([DMSG.BLK_READ, DMSG.BLK_WRITE, DMSG.BLK_FLUSH, DMSG.BLK_FREEBLKS]).toContain(cmd & DMSGF.BASECMDMASK);
          const want = blkRwFromFixture(e);
          expect(decodeBlkRw(ext)).toEqual(want);
          expect(hexOf(encodeBlkRw(want))).toBe(hexOf(ext));
          break;
        }
        default:
          throw new Error(`unexpected ext struct ${String(e.struct)} in ${c.name}`);
      }
    });
  }

  it('lnk_auth_dummy: the 64-byte payload round-trips (the vector fills it with 0x5a)', () => {
    const c = cases.find((x) => x.name === 'lnk_auth_dummy')!;
    expect(c.header.cmd & DMSGF.BASECMDMASK).toBe(DMSG.LNK_AUTH);
    const ext = c.encoded.slice(64, c.hdrBytes);
    expect(ext.length).toBe(64);
    const payload = decodeLnkAuth(ext);
    expect(hexOf(payload)).toBe('5a'.repeat(64));
    expect(hexOf(encodeLnkAuth(payload))).toBe(hexOf(ext));
    expect(hexOf(encodeLnkAuth())).toBe('00'.repeat(64));
  });
});

describe('LNK_CONN and LNK_SPAN of a real libdmsg handshake', () => {
  for (const dir of ['c2s', 's2c'] as const) {
    const { bytes, decoded } = loadSession(dir);
    const withExt = decoded.messages.filter((m) => m.lnk_conn !== undefined || m.lnk_span !== undefined);

    it(`${dir}: has the LNK_CONN${dir === 's2c' ? ' and LNK_SPAN' : ''} we expect`, () => {
      expect(withExt.length).toBe(dir === 's2c' ? 2 : 1);
    });

    for (const m of withExt) {
      const raw = fromHex(m.hex as string);
      const cmd = int(m.cmd as string);
      const ext = raw.slice(64);
      it(`${dir} ${m.name as string} @${m.offset as number}: decodes to the decoded.json fields and re-encodes exactly`, () => {
        expect(ext.length).toBe(((cmd & DMSGF.SIZE) - 1) * 64);
        if (m.lnk_conn !== undefined) {
          const want = seedFromFixture(m.lnk_conn as Raw);
          const got = decodeLnkConn(cmd, ext);
          const expected: LnkConn = {
            layout: 'seed', mediaId: want.mediaId, peerId: want.pfsClid, pfsId: want.pfsFsid,
            peerMask: want.peerMask, peerType: want.peerType, pfsType: want.pfsType,
            protoVersion: want.protoVersion, status: want.status, rnss: want.rnss,
            pfsMask: want.pfsMask, peerLabel: want.clLabel, pfsLabel: want.fsLabel,
          };
          expect(got).toEqual(expected);
          expect(hexOf(encodeLnkConnSeed(want))).toBe(hexOf(ext));
        } else {
          const s = m.lnk_span as Raw;
          const got = decodeLnkSpan(ext);
          expect(got).toEqual(spanFromFixture(s));
          expect(hexOf(ext.subarray(LNK_SPAN_MEDIA_OFFSET, LNK_SPAN_MEDIA_OFFSET + LNK_SPAN_MEDIA_SIZE))).toBe(s.media_hex);
          expect(hexOf(encodeLnkSpan(got))).toBe(hexOf(ext));
        }
      });
    }

    it(`${dir}: decodes the ext of the frame decoder's messages`, () => {
      const d = new FrameDecoder();
      const msgs = d.push(bytes);
      d.end();
      const conns = msgs.filter((msg) => (msg.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_CONN);
      expect(conns).toHaveLength(1);
      const conn = decodeLnkConn(conns[0]!.header.cmd, conns[0]!.ext);
      expect(conn.peerType).toBe(1);
      expect(conn.peerMask).toBe(0xffff_ffff_ffff_ffffn);
      const spans = msgs.filter((msg) => (msg.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_SPAN);
      expect(spans).toHaveLength(dir === 's2c' ? 1 : 0);
      if (spans[0]) expect(decodeLnkSpan(spans[0].ext).peerLabel).toBe('libdmsg-ref');
    });
  }
});
