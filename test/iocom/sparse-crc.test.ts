import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { headerCrc } from '../../src/wire/crc32c.ts';
import { HeaderCrcMaker, SPARSE_CRC_OK, sparseHeaderCrc } from '../../src/iocom/sparse-crc.ts';

describe('sparseHeaderCrc', () => {
  it('equals headerCrc for headers with any mix of zero and non-zero words, any hdr_crc slot, 64 to 512 bytes (property)', () => {
    expect(SPARSE_CRC_OK).toBe(true); // x86-64 / arm64 test hosts are little-endian
    const word = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }), fc.constant(0xff000000));
    fc.assert(
      fc.property(fc.array(word, { minLength: 128, maxLength: 128 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 3 }), (words, units, at) => {
        const buf = new Uint8Array(4096);
        const o = at * 64;
        const dv = new DataView(buf.buffer);
        for (let i = 0; i < units * 16; i++) dv.setUint32(o + i * 4, words[i]!, true);
        const W = new Int32Array(buf.buffer);
        expect(sparseHeaderCrc(buf, W, 0, o, units * 64)).toBe(headerCrc(buf, o, units * 64));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('reads through a word view that starts before the bytes (base offset)', () => {
    const backing = new Uint8Array(1024);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 37 + 11) & 0xff;
    const bytes = backing.subarray(256, 768);
    const W = new Int32Array(backing.buffer);
    for (const o of [0, 64, 128]) expect(sparseHeaderCrc(bytes, W, 256, o, 128)).toBe(headerCrc(bytes, o, 128));
  });

  it('an all-zero header has the CRC of 64 zero bytes', () => {
    const buf = new Uint8Array(64);
    expect(sparseHeaderCrc(buf, new Int32Array(buf.buffer), 0, 0, 64)).toBe(headerCrc(buf, 0, 64));
  });
});

describe('HeaderCrcMaker', () => {
  /** The 64-byte header the writer builds from these fields (everything else zero). */
  const build = (seq: number, msgid: number, circuit: number, cmd: number, auxCrc: number, auxBytes: number, error: number): Uint8Array => {
    const b = new Uint8Array(64);
    const v = new DataView(b.buffer);
    v.setUint16(0, 0x4832, true);
    b[4] = seq;
    v.setBigUint64(0x08, BigInt(msgid), true);
    v.setBigUint64(0x10, BigInt(circuit), true);
    v.setUint32(0x20, cmd >>> 0, true);
    v.setUint32(0x24, auxCrc >>> 0, true);
    v.setUint32(0x28, auxBytes, true);
    v.setUint32(0x2c, error >>> 0, true);
    v.setUint32(0x3c, 0xdeadbeef, true); // taken as zero
    return b;
  };
  const u32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 255 }));
  const id = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(2 ** 32), fc.constant(Number.MAX_SAFE_INTEGER));
  const fields = fc.tuple(fc.integer({ min: 0, max: 255 }), id, id, fc.oneof(fc.constant(0x12300001), u32), u32, fc.oneof(fc.constant(64), u32), u32);

  it('equals headerCrc of the header built from the same fields, over runs of calls on one maker (its caches hit and miss) (property)', () => {
    fc.assert(
      fc.property(fc.array(fields, { minLength: 1, maxLength: 40 }), (runs) => {
        const maker = new HeaderCrcMaker();
        for (const f of runs) {
          for (const seq of [f[0], (f[0] + 1) & 0xff]) {
            const h = build(seq, f[1], f[2], f[3], f[4], f[5], f[6]);
            expect(maker.crc(seq, f[1], f[2], f[3], f[4], f[5], f[6])).toBe(headerCrc(h, 0, 64));
          }
        }
      }),
      { seed: 1313, numRuns: 500 },
    );
  });

  it('takes a signed aux CRC or error (as Int32 arithmetic gives them) as its unsigned bits', () => {
    const maker = new HeaderCrcMaker();
    const h = build(7, 1, 0, 0x12300001, 0x80000001, 64, 0xffffffff);
    expect(maker.crc(7, 1, 0, 0x12300001, 0x80000001 | 0, 64, -1)).toBe(headerCrc(h, 0, 64));
  });
});
