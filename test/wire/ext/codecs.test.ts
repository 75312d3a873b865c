/**
 * Property and error tests of the extended-header codecs: encode → decode
 * identity, agreement with the naive reference codec (reference.ts) in both
 * byte orders, agreement with the frame decoder's ext swap, short exts,
 * argument validation, in-place SPAN rewrites.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DMSG, DMSG_PEER } from '../../../src/wire/constants.ts';
import { InvalidArgumentError, ProtocolError } from '../../../src/wire/errors.ts';
import { swapExtToLE } from '../../../src/wire/ext-swap.ts';
import {
  BLK_ERROR_EXT_BYTES, BLK_ERROR_EXT_MIN, BLK_OPEN_EXT_BYTES, BLK_OPEN_EXT_MIN, BLK_RW_EXT_BYTES, BLK_RW_EXT_MIN,
  LNK_AUTH_EXT_BYTES, LNK_CONN_SEED_EXT_BYTES, LNK_CONN_SEED_EXT_MIN, LNK_CONN_V2_EXT_BYTES, LNK_CONN_V2_EXT_MIN,
  LNK_SPAN_EXT_BYTES, LNK_SPAN_EXT_MIN, NIL_UUID,
  decodeBlkError, decodeBlkOpen, decodeBlkRw, decodeLnkAuth, decodeLnkConn, decodeLnkConnSeed, decodeLnkConnV2,
  decodeLnkSpan, encodeBlkError, encodeBlkOpen, encodeBlkRw, encodeLnkAuth, encodeLnkConn, encodeLnkConnSeed,
  encodeLnkConnV2, encodeLnkSpan, lnkConnCmd, readSpanDist, readSpanRnss, relaySpanExt, setSpanDistRnss,
} from '../../../src/wire/ext/index.ts';
import type { BlkError, LnkConnSeed, LnkConnV2, LnkSpan } from '../../../src/wire/ext/index.ts';
import { REF, refEncode } from './reference.ts';
import type { RefLayout } from './reference.ts';

const SEED = 0x5eed_0003;
const RUNS = 300;
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ------------------------------------------------------------- arbitraries

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const h = hexOf(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const label = fc
  .string({ unit: 'binary', maxLength: 50 })
  .map((s) => s.replaceAll('\0', ''))
  .filter((s) => Buffer.byteLength(s, 'utf8') <= 127);

const connSeedArb: fc.Arbitrary<LnkConnSeed> = fc.record({
  mediaId: uuidArb, pfsClid: uuidArb, pfsFsid: uuidArb, peerMask: u64, peerType: u8, pfsType: u8,
  protoVersion: u16, status: u32, rnss: u32, pfsMask: u64, clLabel: label, fsLabel: label,
});
const connV2Arb: fc.Arbitrary<LnkConnV2> = fc.record({
  mediaId: uuidArb, peerId: uuidArb, peerMask: u64, peerType: u8, protoVersion: u16, status: u32, rnss: u32, peerLabel: label,
});
const spanArb: fc.Arbitrary<LnkSpan> = fc.record({
  peerId: uuidArb, pfsId: uuidArb, pfsType: u8,
  peerType: fc.oneof(u8, fc.constant(DMSG_PEER.BLOCK as number)),
  protoVersion: u16, status: u32, dist: u32, rnss: u32, mediaBlockBytes: u64, mediaBlockSize: u32,
  peerLabel: label, pfsLabel: label,
});
const blkOpenArb = fc.record({ modes: u32 });
const blkRwArb = fc.record({ keyid: u64, offset: u64, bytes: u32, flags: u32 });
const blkErrorArb: fc.Arbitrary<BlkError> = fc.record({
  keyid: u64, resid: u32, buf: fc.uint8Array({ minLength: 64, maxLength: 64 }),
});

interface Codec<T> {
  name: string;
  cmd: number;
  arb: fc.Arbitrary<T>;
  ref: RefLayout;
  encode: (f: Partial<T>) => Uint8Array;
  decode: (ext: Uint8Array, bigEndian?: boolean) => T;
  wire: number;
  min: number;
}

function codec<T>(c: Codec<T>): Codec<unknown> {
  return c as unknown as Codec<unknown>;
}

const CODECS: Codec<unknown>[] = [
  codec({ name: 'LNK_CONN seed', cmd: DMSG.LNK_CONN, arb: connSeedArb, ref: REF.connSeed, encode: encodeLnkConnSeed, decode: decodeLnkConnSeed, wire: LNK_CONN_SEED_EXT_BYTES, min: LNK_CONN_SEED_EXT_MIN }),
  codec({ name: 'LNK_CONN v2', cmd: DMSG.LNK_CONN_V2, arb: connV2Arb, ref: REF.connV2, encode: encodeLnkConnV2, decode: decodeLnkConnV2, wire: LNK_CONN_V2_EXT_BYTES, min: LNK_CONN_V2_EXT_MIN }),
  codec({ name: 'LNK_SPAN', cmd: DMSG.LNK_SPAN, arb: spanArb, ref: REF.span, encode: encodeLnkSpan, decode: decodeLnkSpan, wire: LNK_SPAN_EXT_BYTES, min: LNK_SPAN_EXT_MIN }),
  codec({ name: 'BLK_OPEN', cmd: DMSG.BLK_OPEN, arb: blkOpenArb, ref: REF.blkOpen, encode: encodeBlkOpen, decode: decodeBlkOpen, wire: BLK_OPEN_EXT_BYTES, min: BLK_OPEN_EXT_MIN }),
  codec({ name: 'BLK_READ', cmd: DMSG.BLK_READ, arb: blkRwArb, ref: REF.blkRw, encode: encodeBlkRw, decode: decodeBlkRw, wire: BLK_RW_EXT_BYTES, min: BLK_RW_EXT_MIN }),
  codec({ name: 'BLK_ERROR', cmd: DMSG.BLK_ERROR, arb: blkErrorArb, ref: REF.blkError, encode: encodeBlkError, decode: decodeBlkError, wire: BLK_ERROR_EXT_BYTES, min: BLK_ERROR_EXT_MIN }),
];

function run(prop: fc.IPropertyWithHooks<unknown> | fc.IProperty<unknown>): void {
  const out = fc.check(prop, { seed: SEED, numRuns: RUNS });
  if (out.failed) {
    throw new Error(`property failed (seed ${SEED}, path ${out.counterexamplePath}): ${fc.defaultReportMessage(out)}`);
  }
}

describe('sizes match the C layout', () => {
  it.each([
    ['seed LNK_CONN', LNK_CONN_SEED_EXT_BYTES, 448, LNK_CONN_SEED_EXT_MIN, 456 - 64],
    ['v2 LNK_CONN', LNK_CONN_V2_EXT_BYTES, 320, LNK_CONN_V2_EXT_MIN, 0xc4 + 128 - 64],
    ['LNK_SPAN', LNK_SPAN_EXT_BYTES, 384, LNK_SPAN_EXT_MIN, 432 - 64],
    ['LNK_AUTH', LNK_AUTH_EXT_BYTES, 64, LNK_AUTH_EXT_BYTES, 64],
    ['BLK_OPEN', BLK_OPEN_EXT_BYTES, 64, BLK_OPEN_EXT_MIN, 72 - 64],
    ['BLK_RW', BLK_RW_EXT_BYTES, 64, BLK_RW_EXT_MIN, 96 - 64],
    ['BLK_ERROR', BLK_ERROR_EXT_BYTES, 128, BLK_ERROR_EXT_MIN, 144 - 64],
  ])('%s: wire %i (want %i), fields %i (want %i)', (_n, wire, wantWire, min, wantMin) => {
    expect(wire).toBe(wantWire);
    expect(min).toBe(wantMin);
  });
});

describe.each(CODECS)('$name', (c) => {
  it('encode → decode is the identity, and encode gives the wire size', () => {
    run(fc.property(c.arb, (f) => {
      const ext = c.encode(f as Partial<unknown>);
      expect(ext.length).toBe(c.wire);
      expect(c.decode(ext)).toEqual(f);
    }));
  });

  it('encode agrees byte for byte with the reference codec (C offsets)', () => {
    run(fc.property(c.arb, (f) => {
      expect(hexOf(c.encode(f as Partial<unknown>))).toBe(hexOf(refEncode(c.ref, f as Record<string, unknown>, false)));
    }));
  });

  it('decodes a big-endian sender’s ext with bigEndian = true', () => {
    run(fc.property(c.arb, (f) => {
      const be = refEncode(c.ref, f as Record<string, unknown>, true);
      expect(c.decode(be, true)).toEqual(f);
    }));
  });

  it('agrees with the frame decoder’s swapExtToLE for big-endian senders', () => {
    run(fc.property(c.arb, (f) => {
      const be = refEncode(c.ref, f as Record<string, unknown>, true);
      const want = c.decode(be, true) as Record<string, unknown>;
      const got = c.decode(swapExtToLE(c.cmd, be)) as Record<string, unknown>;
      // ext-swap knows the SPAN media union only for BLOCK: elsewhere it is opaque bytes.
      if (c.cmd === DMSG.LNK_SPAN && want.peerType !== DMSG_PEER.BLOCK) {
        delete want.mediaBlockBytes; delete want.mediaBlockSize;
        delete got.mediaBlockBytes; delete got.mediaBlockSize;
      }
      expect(got).toEqual(want);
    }));
  });

  it('decodes a view at an odd offset into a larger buffer', () => {
    run(fc.property(c.arb, fc.integer({ min: 1, max: 63 }), (f, pad) => {
      const ext = c.encode(f as Partial<unknown>);
      const big = new Uint8Array(pad + ext.length + 7).fill(0xa5);
      big.set(ext, pad);
      expect(c.decode(big.subarray(pad, pad + ext.length))).toEqual(f);
    }));
  });

  it('accepts an ext exactly as long as its fields, rejects one byte less with BAD_EXT', () => {
    const ext = c.encode({});
    expect(() => c.decode(ext.subarray(0, c.min))).not.toThrow();
    let err: unknown;
    try {
      c.decode(ext.subarray(0, c.min - 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('BAD_EXT');
    expect((err as ProtocolError).message).toContain(`expected at least ${c.min} bytes`);
    expect((err as ProtocolError).message).toContain(`got ${c.min - 1}`);
    expect(() => c.decode(new Uint8Array(0))).toThrow(ProtocolError);
  });

  it('missing fields encode as zeros', () => {
    expect(c.encode({}).every((b) => b === 0)).toBe(true);
  });
});

describe('LNK_CONN normalized', () => {
  it('picks the layout from the cmd size units, flags ignored', () => {
    run(fc.property(connSeedArb, connV2Arb, (s, v) => {
      const a = decodeLnkConn(DMSG.LNK_CONN | 0x80000000, encodeLnkConnSeed(s));
      expect(a).toEqual({
        layout: 'seed', mediaId: s.mediaId, peerId: s.pfsClid, pfsId: s.pfsFsid, peerMask: s.peerMask,
        peerType: s.peerType, pfsType: s.pfsType, protoVersion: s.protoVersion, status: s.status, rnss: s.rnss,
        pfsMask: s.pfsMask, peerLabel: s.clLabel, pfsLabel: s.fsLabel,
      });
      expect(hexOf(encodeLnkConn(a))).toBe(hexOf(encodeLnkConnSeed(s)));
      const b = decodeLnkConn(DMSG.LNK_CONN_V2 | 0xc0000000, encodeLnkConnV2(v));
      expect(b).toEqual({
        layout: 'v2', mediaId: v.mediaId, peerId: v.peerId, pfsId: NIL_UUID, peerMask: v.peerMask,
        peerType: v.peerType, pfsType: 0, protoVersion: v.protoVersion, status: v.status, rnss: v.rnss,
        pfsMask: 0xffff_ffff_ffff_ffffn, peerLabel: v.peerLabel, pfsLabel: '',
      });
      expect(hexOf(encodeLnkConn(b))).toBe(hexOf(encodeLnkConnV2(v)));
      // Big-endian through the normalized entry point too.
      expect(decodeLnkConn(DMSG.LNK_CONN_V2, refEncode(REF.connV2, v as unknown as Record<string, unknown>, true), true)).toEqual(b);
    }));
  });

  it('encodeLnkConn defaults to the seed layout and can be told v2', () => {
    expect(encodeLnkConn({}).length).toBe(448);
    expect(encodeLnkConn({ layout: 'v2' }).length).toBe(320);
    expect(encodeLnkConn({ layout: 'v2' }, 'seed').length).toBe(448);
    expect(lnkConnCmd()).toBe(DMSG.LNK_CONN);
    expect(lnkConnCmd('v2')).toBe(DMSG.LNK_CONN_V2);
    const ext = encodeLnkConn({ peerId: '01234567-89ab-cdef-0123-456789abcdef', peerLabel: 'me', pfsLabel: 'dropped' }, 'v2');
    expect(decodeLnkConnV2(ext)).toMatchObject({ peerId: '01234567-89ab-cdef-0123-456789abcdef', peerLabel: 'me' });
  });

  it('rejects other header sizes with BAD_EXT', () => {
    expect(() => decodeLnkConn(0x00001107, new Uint8Array(448))).toThrow(ProtocolError);
    expect(() => decodeLnkConn(0x00001107, new Uint8Array(448))).toThrow(/expected a header size of 8 units .* or 6 units .*, got 7/);
  });
});

describe('LNK_SPAN relay helpers', () => {
  it('setSpanDistRnss rewrites 8 bytes in place and nothing else', () => {
    run(fc.property(spanArb, u32, u32, (s, dist, rnss) => {
      const ext = encodeLnkSpan(s);
      const before = ext.slice();
      setSpanDistRnss(ext, dist, rnss);
      expect(readSpanDist(ext)).toBe(dist);
      expect(readSpanRnss(ext)).toBe(rnss);
      expect(decodeLnkSpan(ext)).toEqual({ ...s, dist, rnss });
      expect(hexOf(ext.subarray(0, 0x30))).toBe(hexOf(before.subarray(0, 0x30)));
      expect(hexOf(ext.subarray(0x38))).toBe(hexOf(before.subarray(0x38)));
    }));
  });

  it('setSpanDistRnss writes big-endian when asked', () => {
    const be = refEncode(REF.span, { dist: 1, rnss: 2 }, true);
    setSpanDistRnss(be, 7, 0x01020304, true);
    expect(readSpanDist(be, true)).toBe(7);
    expect(hexOf(be.subarray(0x30, 0x38))).toBe('0000000701020304');
  });

  it('relaySpanExt adds 1 to dist, keeps unknown bytes, and leaves the input alone', () => {
    run(fc.property(spanArb.filter((s) => s.dist < 0xffffffff), fc.option(u32, { nil: undefined }), (s, rnss) => {
      const ext = encodeLnkSpan(s);
      ext[0x28] = 0x77; // reserved02
      ext[0x50] = 0x99; // media union past block.blksize
      const copy = ext.slice();
      const out = relaySpanExt(ext, false, rnss);
      expect(hexOf(ext)).toBe(hexOf(copy));
      expect(out).not.toBe(ext);
      expect(decodeLnkSpan(out)).toEqual({ ...s, dist: s.dist + 1, rnss: rnss ?? s.rnss });
      expect(out[0x28]).toBe(0x77);
      expect(out[0x50]).toBe(0x99);
    }));
  });

  it('relaySpanExt turns a big-endian ext into little-endian', () => {
    run(fc.property(spanArb.filter((s) => s.dist < 0xffffffff), (s) => {
      const be = refEncode(REF.span, s as unknown as Record<string, unknown>, true);
      const out = relaySpanExt(be, true);
      const got = decodeLnkSpan(out);
      if (s.peerType === DMSG_PEER.BLOCK) {
        expect(got).toEqual({ ...s, dist: s.dist + 1 });
      } else {
        // The media union of other peer types is opaque: carried as it came.
        const { mediaBlockBytes: _a, mediaBlockSize: _b, ...rest } = got;
        const { mediaBlockBytes: _c, mediaBlockSize: _d, ...want } = s;
        expect(rest).toEqual({ ...want, dist: s.dist + 1 });
        expect(hexOf(out.subarray(0x38, 0x70))).toBe(hexOf(be.subarray(0x38, 0x70)));
      }
    }));
  });

  it('relaySpanExt refuses to wrap dist, and short exts', () => {
    const ext = encodeLnkSpan({ dist: 0xffffffff });
    expect(() => relaySpanExt(ext)).toThrow(ProtocolError);
    expect(() => relaySpanExt(new Uint8Array(100))).toThrow(/expected at least 368 bytes/);
    expect(() => setSpanDistRnss(new Uint8Array(0x37), 1, 1)).toThrow(InvalidArgumentError);
    expect(() => setSpanDistRnss(new Uint8Array(384), -1, 1)).toThrow(/dist must be an integer/);
  });
});

describe('LNK_AUTH', () => {
  it('round-trips any payload of at most 64 bytes, zero-padded', () => {
    run(fc.property(fc.uint8Array({ maxLength: 64 }), (p) => {
      const ext = encodeLnkAuth(p);
      expect(ext.length).toBe(64);
      const want = new Uint8Array(64);
      want.set(p);
      expect(hexOf(decodeLnkAuth(ext))).toBe(hexOf(want));
      expect(hexOf(decodeLnkAuth(ext, true))).toBe(hexOf(want));
    }));
  });

  it('rejects 65 bytes and short exts; decode returns a copy', () => {
    expect(() => encodeLnkAuth(new Uint8Array(65))).toThrow('payload must be at most 64 bytes, got 65');
    expect(() => decodeLnkAuth(new Uint8Array(63))).toThrow(ProtocolError);
    const ext = new Uint8Array(64).fill(1);
    const p = decodeLnkAuth(ext);
    ext[0] = 2;
    expect(p[0]).toBe(1);
  });
});

describe('argument validation on encode', () => {
  it.each([
    ['peerType 256', () => encodeLnkConnSeed({ peerType: 256 }), 'peerType must be an integer in [0, 255], got 256'],
    ['protoVersion 1.5', () => encodeLnkSpan({ protoVersion: 1.5 }), 'protoVersion must be an integer in [0, 65535], got 1.5'],
    ['rnss -1', () => encodeLnkConnV2({ rnss: -1 }), 'rnss must be an integer in [0, 4294967295], got -1'],
    ['dist 2^32', () => encodeLnkSpan({ dist: 2 ** 32 }), 'dist must be an integer in [0, 4294967295], got 4294967296'],
    ['peerMask 2^64', () => encodeLnkConnSeed({ peerMask: 2n ** 64n }), 'peerMask must be a bigint in [0, 2^64-1], got 18446744073709551616n'],
    ['offset as number', () => encodeBlkRw({ offset: 5 as unknown as bigint }), 'offset must be a bigint in [0, 2^64-1], got 5'],
    ['keyid -1n', () => encodeBlkError({ keyid: -1n }), 'keyid must be a bigint in [0, 2^64-1], got -1n'],
    ['bad uuid', () => encodeLnkSpan({ peerId: 'nope' }), 'peerId must be a uuid in text form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, got "nope"'],
    ['long label', () => encodeLnkSpan({ pfsLabel: 'x'.repeat(128) }), 'pfsLabel must be at most 127 bytes of UTF-8, got 128 bytes'],
    ['NUL label', () => encodeLnkConnSeed({ clLabel: 'a\0b' }), 'clLabel must not contain NUL'],
    ['buf 65', () => encodeBlkError({ buf: new Uint8Array(65) }), 'buf must be at most 64 bytes, got 65'],
    ['modes NaN', () => encodeBlkOpen({ modes: Number.NaN }), 'modes must be an integer in [0, 4294967295], got NaN'],
  ])('%s → InvalidArgumentError', (_n, fn, msg) => {
    expect(fn).toThrow(InvalidArgumentError);
    expect(fn).toThrow(msg);
  });
});

describe('BLK_ERROR buf', () => {
  it('a short buf is zero-padded; decode returns a copy', () => {
    const ext = encodeBlkError({ keyid: 1n, resid: 512, buf: Uint8Array.from([1, 2, 3]) });
    const d = decodeBlkError(ext);
    expect(d.resid).toBe(512);
    expect(hexOf(d.buf)).toBe('010203' + '00'.repeat(61));
    ext[0x10] = 9;
    expect(d.buf[0]).toBe(1);
  });
});
