import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PATH_RECORD_MAGIC,
  bytesToNodeId,
  decodePathRecord,
  effectivePath,
  encodePathRecord,
  isNodeId,
  nodeIdToBytes,
  toNodeId,
} from '../../src/span/path-record.ts';
import { InvalidArgumentError, ProtocolError } from '../../src/wire/errors.ts';

const A = '00000000-0000-4000-8000-000000000001';
const B = 'ffffffff-0000-4000-8000-0000000000ab';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).code;
  }
  throw new Error('expected a throw');
}

const nodeIdArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => bytesToNodeId(b));

describe('path record', () => {
  it('encodes the documented layout', () => {
    const bytes = encodePathRecord([A, B]);
    expect(bytes.length).toBe(8 + 32);
    expect([...bytes.subarray(0, 4)]).toEqual([...PATH_RECORD_MAGIC]);
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('DMPV');
    expect([...bytes.subarray(4, 8)]).toEqual([1, 0, 2, 0]);
    expect(Buffer.from(bytes.subarray(8, 24)).toString('hex')).toBe(A.replaceAll('-', ''));
    expect(decodePathRecord(bytes)).toEqual([A, B]);
  });

  it('round-trips the empty path and tolerates zero padding to 64 bytes', () => {
    expect(decodePathRecord(encodePathRecord([]))).toEqual([]);
    const padded = new Uint8Array(64);
    padded.set(encodePathRecord([A]));
    expect(decodePathRecord(padded)).toEqual([A]);
  });

  it('rejects each kind of bad bytes with BAD_EXT', () => {
    const good = encodePathRecord([A, B]);
    expect(codeOf(() => decodePathRecord(good.subarray(0, 7)))).toBe('BAD_EXT');
    const badMagic = good.slice();
    badMagic[0] = 0x45;
    expect(codeOf(() => decodePathRecord(badMagic))).toBe('BAD_EXT');
    const badVersion = good.slice();
    badVersion[4] = 2;
    expect(codeOf(() => decodePathRecord(badVersion))).toBe('BAD_EXT');
    expect(codeOf(() => decodePathRecord(good.subarray(0, good.length - 1)))).toBe('BAD_EXT');
    const nonZeroPad = new Uint8Array(64);
    nonZeroPad.set(good);
    nonZeroPad[63] = 1;
    expect(codeOf(() => decodePathRecord(nonZeroPad))).toBe('BAD_EXT');
    const tooMuchPad = new Uint8Array(128);
    tooMuchPad.set(good);
    expect(codeOf(() => decodePathRecord(tooMuchPad))).toBe('BAD_EXT');
    const dup = encodePathRecord([A, B]);
    dup.set(dup.subarray(8, 24), 24);
    expect(codeOf(() => decodePathRecord(dup))).toBe('BAD_EXT');
  });

  it('refuses a path over maxCount with LIMIT', () => {
    const ids = Array.from({ length: 5 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    expect(decodePathRecord(encodePathRecord(ids), 5)).toEqual(ids);
    expect(codeOf(() => decodePathRecord(encodePathRecord(ids), 4))).toBe('LIMIT');
    const long = Array.from({ length: 65 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    expect(codeOf(() => decodePathRecord(encodePathRecord(long)))).toBe('LIMIT'); // default max 64
  });

  it('encode rejects non-uuid ids with InvalidArgumentError', () => {
    expect(() => encodePathRecord(['nope'])).toThrow(InvalidArgumentError);
    expect(() => encodePathRecord([B.toUpperCase()])).toThrow(InvalidArgumentError);
    expect(toNodeId(B.toUpperCase())).toBe(B);
    expect(() => toNodeId('x')).toThrow(InvalidArgumentError);
  });

  it('node id bytes round-trip', () => {
    fc.assert(
      fc.property(nodeIdArb, (id) => {
        expect(isNodeId(id)).toBe(true);
        expect(bytesToNodeId(nodeIdToBytes(id))).toBe(id);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('round-trips any duplicate-free path (fuzz)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(nodeIdArb, { maxLength: 64 }), (path) => {
        expect(decodePathRecord(encodePathRecord(path))).toEqual(path);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('random bytes only ever give a path or a ProtocolError (fuzz)', () => {
    const magicPrefixed = fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 200 }))
      .map(([version, count, rest]) => {
        const out = new Uint8Array(8 + rest.length);
        out.set(PATH_RECORD_MAGIC);
        out[4] = version;
        out[6] = count;
        out.set(rest, 8);
        return out;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), magicPrefixed), fc.integer({ min: 0, max: 70 }), (bytes, max) => {
        try {
          const path = decodePathRecord(bytes, max);
          expect(path.length).toBeLessThanOrEqual(max);
          expect(new Set(path).size).toBe(path.length);
        } catch (err) {
          if (!(err instanceof ProtocolError) || (err.code !== 'BAD_EXT' && err.code !== 'LIMIT')) throw err;
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('effectivePath: no record means [peer] or []', () => {
    expect(effectivePath(null, A)).toEqual([A]);
    expect(effectivePath(null, null)).toEqual([]);
    expect(effectivePath([B], A)).toEqual([B]);
  });
});
