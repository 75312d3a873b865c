import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse as rfcParse } from 'uuid';
import { InvalidArgumentError } from '../../../src/wire/errors.ts';
import { NIL_UUID, isUuid, uuidFromBytes, uuidToBytes } from '../../../src/wire/uuid.ts';

const SEED = 0x5eed_0001;
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function toBytes(text: string, bigEndian = false): Uint8Array {
  const out = new Uint8Array(16);
  uuidToBytes(text, out, 0, bigEndian);
  return out;
}

/** Any 16 bytes as the text of a uuid (no version/variant constraint, as DragonFly). */
const anyUuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const h = hexOf(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});

describe('uuid wire form (struct uuid, host order)', () => {
  it('sends the README example in DragonFly order', () => {
    expect(hexOf(toBytes('01234567-89ab-cdef-0123-456789abcdef'))).toBe('67452301ab89efcd0123456789abcdef');
    expect(hexOf(toBytes('01234567-89ab-cdef-0123-456789abcdef', true))).toBe('0123456789abcdef0123456789abcdef');
    expect(uuidFromBytes(Buffer.from('67452301ab89efcd0123456789abcdef', 'hex'), 0)).toBe('01234567-89ab-cdef-0123-456789abcdef');
  });

  it('writes and reads at an offset, leaving the neighbours alone', () => {
    const buf = new Uint8Array(20).fill(0xee);
    uuidToBytes('fedcba98-7654-3210-fedc-deadbeef0001', buf, 2);
    expect(hexOf(buf)).toBe('eeee' + '98badcfe54761032fedcdeadbeef0001' + 'eeee');
    expect(uuidFromBytes(buf, 2)).toBe('fedcba98-7654-3210-fedc-deadbeef0001');
  });

  it('accepts upper case and answers lower case', () => {
    const b = toBytes('ABCDEF01-2345-6789-ABCD-EF0123456789');
    expect(uuidFromBytes(b, 0)).toBe('abcdef01-2345-6789-abcd-ef0123456789');
  });

  it('NIL_UUID is 16 zero bytes', () => {
    expect(hexOf(toBytes(NIL_UUID))).toBe('00'.repeat(16));
    expect(uuidFromBytes(new Uint8Array(16), 0)).toBe(NIL_UUID);
  });

  it.each([
    ['', 'empty'],
    ['01234567-89ab-cdef-0123-456789abcde', 'short'],
    ['01234567-89ab-cdef-0123-456789abcdef0', 'long'],
    ['0123456789abcdef0123456789abcdef', 'no dashes'],
    ['01234567_89ab-cdef-0123-456789abcdef', 'wrong separator'],
    ['0123456g-89ab-cdef-0123-456789abcdef', 'non-hex'],
    ['{1234567-89ab-cdef-0123-456789abcde}', 'braces'],
    ['０1234567-89ab-cdef-0123-456789abcdef', 'full-width digit'],
    ['01234567-89ab-cdef-0123-456789abcdeé', 'non-ASCII'],
  ])('rejects %j (%s) with InvalidArgumentError', (text) => {
    expect(isUuid(text)).toBe(false);
    expect(() => toBytes(text)).toThrow(InvalidArgumentError);
    expect(() => toBytes(text)).toThrow(/expected a uuid in text form/);
  });

  it('rejects non-strings and out-of-range offsets', () => {
    expect(isUuid(42)).toBe(false);
    expect(() => uuidToBytes(42 as unknown as string, new Uint8Array(16), 0)).toThrow(/got number/);
    expect(() => uuidToBytes(NIL_UUID, new Uint8Array(16), 1)).toThrow(/16 bytes at offset 1, buffer has 16/);
    expect(() => uuidToBytes(NIL_UUID, new Uint8Array(16), -1)).toThrow(InvalidArgumentError);
    expect(() => uuidFromBytes(new Uint8Array(15), 0)).toThrow(InvalidArgumentError);
    expect(() => uuidFromBytes(new Uint8Array(16), 0.5)).toThrow(InvalidArgumentError);
  });

  it('text → bytes → text is the identity (both byte orders)', () => {
    fc.assert(
      fc.property(anyUuid, fc.boolean(), (text, be) => uuidFromBytes(toBytes(text, be), 0, be) === text),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('bytes → text → bytes is the identity (both byte orders)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, be) => {
        return hexOf(toBytes(uuidFromBytes(bytes, 0, be), be)) === hexOf(bytes);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('big-endian form is the RFC byte order of the uuid package; little-endian swaps the first three groups', () => {
    fc.assert(
      fc.property(fc.uuid(), (text) => {
        const rfc = rfcParse(text);
        expect(hexOf(toBytes(text, true))).toBe(hexOf(rfc));
        const le = new Uint8Array(rfc);
        le.subarray(0, 4).reverse();
        le.subarray(4, 6).reverse();
        le.subarray(6, 8).reverse();
        expect(hexOf(toBytes(text))).toBe(hexOf(le));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
