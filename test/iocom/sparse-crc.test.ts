import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { headerCrc } from '../../src/wire/crc32c.ts';
import { SPARSE_CRC_OK, sparseHeaderCrc } from '../../src/iocom/sparse-crc.ts';

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
