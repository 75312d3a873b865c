import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../../src/wire/errors.ts';
import { LABEL_MAX_BYTES, labelFromBytes, labelToBytes, validateLabel } from '../../../src/wire/label.ts';

const SEED = 0x5eed_0002;

function enc(text: string): Uint8Array {
  const out = new Uint8Array(128);
  labelToBytes(text, out, 0);
  return out;
}
const utf8Len = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('128-byte NUL-padded labels', () => {
  it('empty label is 128 zero bytes and back', () => {
    expect(enc('').every((b) => b === 0)).toBe(true);
    expect(labelFromBytes(new Uint8Array(128), 0)).toBe('');
  });

  it('ASCII is written as is and padded with NUL', () => {
    const b = enc('myhost/xa0');
    expect(Buffer.from(b.subarray(0, 10)).toString('latin1')).toBe('myhost/xa0');
    expect(b.subarray(10).every((x) => x === 0)).toBe(true);
    expect(labelFromBytes(b, 0)).toBe('myhost/xa0');
  });

  it('127 bytes of UTF-8 fit; the 128th byte stays NUL', () => {
    const s = 'a'.repeat(127);
    const b = enc(s);
    expect(b[127]).toBe(0);
    expect(labelFromBytes(b, 0)).toBe(s);
    expect(LABEL_MAX_BYTES).toBe(127);
  });

  it('128 bytes are rejected with the sizes in the message', () => {
    expect(() => enc('a'.repeat(128))).toThrow(InvalidArgumentError);
    expect(() => enc('a'.repeat(128))).toThrow('label must be at most 127 bytes of UTF-8, got 128 bytes');
    expect(() => labelToBytes('b'.repeat(200), new Uint8Array(128), 0, 'peerLabel')).toThrow(/^peerLabel must be at most 127 bytes of UTF-8, got 200 bytes$/);
  });

  it.each([
    ['é'.repeat(63) + 'a', 127, true],
    ['é'.repeat(64), 128, false],
    ['a' + 'é'.repeat(63), 127, true],
    ['€'.repeat(42) + 'a', 127, true],
    ['€'.repeat(42) + 'ab', 128, false],
    ['😀'.repeat(31) + 'abc', 127, true],
    ['😀'.repeat(31) + 'abcd', 128, false],
    ['a'.repeat(124) + '😀', 128, false],
    ['a'.repeat(123) + '😀', 127, true],
  ])('multibyte at the boundary: %j (%i bytes) fits=%s', (s, bytes, fits) => {
    expect(utf8Len(s)).toBe(bytes);
    if (fits) {
      const b = enc(s);
      expect(b[127]).toBe(0);
      expect(labelFromBytes(b, 0)).toBe(s);
    } else {
      expect(() => enc(s)).toThrow(`got ${bytes} bytes`);
    }
  });

  it('rejects NUL, lone surrogates and non-strings', () => {
    expect(() => enc('ab\0cd')).toThrow(/must not contain NUL/);
    expect(() => enc('\0')).toThrow(InvalidArgumentError);
    expect(() => enc('x\uD800y')).toThrow(/lone surrogate/);
    expect(() => enc('\uDC00')).toThrow(/lone surrogate/);
    expect(() => validateLabel(5 as unknown as string)).toThrow(/must be a string, got number/);
  });

  it('rejects a destination too short for 128 bytes', () => {
    expect(() => labelToBytes('x', new Uint8Array(200), 73)).toThrow(/needs 128 bytes at offset 73, buffer has 200/);
  });

  it('clears stale bytes of a reused buffer', () => {
    const b = new Uint8Array(128).fill(0x41);
    labelToBytes('hi', b, 0);
    expect(labelFromBytes(b, 0)).toBe('hi');
    expect(b.subarray(2).every((x) => x === 0)).toBe(true);
  });

  it('decode forces termination at the 128th byte (dmsg_termstr)', () => {
    const b = new Uint8Array(256).fill(0x42);
    expect(labelFromBytes(b, 0)).toBe('B'.repeat(127));
    expect(labelFromBytes(b, 100)).toBe('B'.repeat(127));
  });

  it('decode stops at the first NUL and ignores what follows', () => {
    const b = new Uint8Array(128);
    b.set(Buffer.from('ROOT\0garbage'), 0);
    expect(labelFromBytes(b, 0)).toBe('ROOT');
  });

  it('decode is lenient: invalid or cut UTF-8 becomes U+FFFD, a BOM is kept', () => {
    expect(labelFromBytes(Uint8Array.from([0x61, 0xff, 0x62, 0]), 0)).toBe('a\uFFFDb');
    // 'é' cut by the forced terminator: its first byte is the 127th.
    const b = new Uint8Array(128);
    b.fill(0x61, 0, 126);
    b[126] = 0xc3;
    b[127] = 0xa9;
    expect(labelFromBytes(b, 0)).toBe('a'.repeat(126) + '\uFFFD');
    expect(labelFromBytes(Uint8Array.from([0xef, 0xbb, 0xbf, 0x78, 0]), 0)).toBe('\uFEFFx');
  });

  it('decode of a buffer that ends early reads to its end; out-of-range offsets give ""', () => {
    expect(labelFromBytes(Buffer.from('abc'), 0)).toBe('abc');
    expect(labelFromBytes(Buffer.from('abc'), 10)).toBe('');
    expect(labelFromBytes(Buffer.from('abc'), -5)).toBe('abc');
  });

  it('round-trips every string of at most 127 UTF-8 bytes without NUL, and rejects longer ones', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s0) => {
        const s = s0.replaceAll('\0', '');
        if (utf8Len(s) <= 127) {
          expect(labelFromBytes(enc(s), 0)).toBe(s);
        } else {
          expect(() => enc(s)).toThrow(InvalidArgumentError);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('decode never throws and never returns NUL, on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 160 }), fc.integer({ min: 0, max: 40 }), (bytes, off) => {
        const s = labelFromBytes(bytes, off);
        expect(s.includes('\0')).toBe(false);
        expect(utf8Len(s)).toBeLessThanOrEqual(127 * 3);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
