import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DMSG } from '../../src/wire/constants.ts';
import { ProtocolError } from '../../src/wire/errors.ts';
import { DecoderState, FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import { completeHeader } from '../../src/wire/header.ts';
import type { Message } from '../../src/wire/message.ts';
import { messageInput, splitAt } from '../helpers/arbitraries.ts';
import { naiveDecodeHeader } from '../helpers/naive-codec.ts';
import { loadVectors } from '../helpers/vectors.ts';

const SEED = 20261122;
const { cases } = loadVectors();
const small = cases.filter((c) => c.encoded.length <= 8192);

function decodeAll(chunks: Uint8Array[], options?: ConstructorParameters<typeof FrameDecoder>[0]): Message[] {
  const d = new FrameDecoder(options);
  const out: Message[] = [];
  for (const c of chunks) d.pushInto(c, out);
  d.end();
  return out;
}

function hexOf(m: Message): string {
  return Buffer.from(concatBytes(encodeMessage({ header: m.header, ext: m.ext, aux: m.aux }))).toString('hex');
}

describe('FrameDecoder chunking', () => {
  const stream = concatBytes(small.map((c) => c.encoded));
  const whole = decodeAll([stream]);

  it('decodes a stream of every small vector in one chunk', () => {
    expect(whole.length).toBe(small.length);
    whole.forEach((m, i) => expect(m.header).toEqual(small[i]!.header));
  });

  it('gives the same messages fed one byte at a time, with libdmsg state order', () => {
    const d = new FrameDecoder();
    const out: Message[] = [];
    const c = cases.find((x) => x.name === 'aux_4096_blk_write')!;
    const trace: DecoderState[] = [];
    for (let i = 0; i < c.encoded.length; i++) {
      d.pushInto(c.encoded.subarray(i, i + 1), out);
      if (trace.at(-1) !== d.state) trace.push(d.state);
    }
    expect(trace).toEqual([DecoderState.HEADER1, DecoderState.HEADER2, DecoderState.AUX, DecoderState.HEADER1]);
    expect(out).toHaveLength(1);
    expect(out[0]!.header).toEqual(c.header);
  });

  it('gives the same messages split at every offset of the stream', () => {
    const want = whole.map(hexOf);
    for (let cut = 1; cut < stream.length; cut += 7) {
      const got = decodeAll([stream.subarray(0, cut), stream.subarray(cut)]).map(hexOf);
      expect(got).toEqual(want);
    }
  });

  it('returns zero-copy views when a message sits inside one chunk', () => {
    const c = cases.find((x) => x.name === 'aux_4096_blk_write')!;
    const [m] = decodeAll([c.encoded]);
    expect(m!.aux.buffer).toBe(c.encoded.buffer);
    expect(m!.ext.buffer).toBe(c.encoded.buffer);
  });

  it('decodes the 1 MiB aux vector in 64 KiB chunks, holding one message', () => {
    const c = cases.find((x) => x.name === 'aux_1048576')!;
    const d = new FrameDecoder();
    const out: Message[] = [];
    for (let o = 0; o < c.encoded.length; o += 65536) {
      d.pushInto(c.encoded.subarray(o, o + 65536), out);
      expect(d.bufferedBytes).toBeLessThanOrEqual(128 + 1048576);
    }
    d.end();
    expect(out).toHaveLength(1);
    expect(Buffer.from(out[0]!.aux).equals(Buffer.from(c.aux))).toBe(true);
  });

  it('agrees with a naive DataView decoder on every vector', () => {
    for (const c of cases) {
      const [m] = decodeAll([c.encoded]);
      expect(m!.header).toEqual(naiveDecodeHeader(c.encoded));
    }
  });
});

describe('FrameDecoder properties (seed ' + SEED + ')', () => {
  it('encode → decode is the identity for arbitrary messages', () => {
    fc.assert(
      fc.property(messageInput(), (input) => {
        const bytes = concatBytes(encodeMessage(input));
        const [m] = decodeAll([bytes]);
        const h = completeHeader(input.header);
        expect(m!.header.cmd).toBe(h.cmd);
        expect({ ...m!.header, auxCrc: 0, hdrCrc: 0, auxBytes: 0 }).toEqual({ ...h, auxCrc: 0, hdrCrc: 0, auxBytes: 0 });
        expect(m!.header.auxBytes).toBe(input.aux!.length);
        const ext = new Uint8Array(m!.ext.length);
        ext.set(input.ext!);
        expect(Buffer.from(m!.ext).equals(Buffer.from(ext))).toBe(true);
        expect(Buffer.from(m!.aux).equals(Buffer.from(input.aux!))).toBe(true);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('any chunking of a stream of messages yields the same messages', () => {
    fc.assert(
      fc.property(fc.array(messageInput(600), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (inputs, cuts) => {
        const stream = concatBytes(inputs.flatMap((i) => encodeMessage(i)));
        const want = decodeAll([stream]).map(hexOf);
        const got = decodeAll(splitAt(stream, cuts)).map(hexOf);
        expect(got).toEqual(want);
        expect(got.length).toBe(inputs.length);
      }),
      { seed: SEED + 1, numRuns: 200 },
    );
  });

  it('flipping any single bit gives a ProtocolError (at the latest from end())', () => {
    fc.assert(
      fc.property(messageInput(300), fc.nat(), (input, bitSeed) => {
        const bytes = concatBytes(encodeMessage(input));
        const bit = bitSeed % (bytes.length * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        let err: unknown;
        try {
          decodeAll([bytes]);
        } catch (e) {
          err = e;
        }
        expect(err, `flipped bit ${bit} of ${bytes.length} bytes`).toBeInstanceOf(ProtocolError);
      }),
      { seed: SEED + 2, numRuns: 1000 },
    );
  });

  it('flipping each bit of every small vector is caught', () => {
    for (const c of small.filter((x) => x.encoded.length <= 512)) {
      for (let bit = 0; bit < c.encoded.length * 8; bit++) {
        const bytes = c.encoded.slice();
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => decodeAll([bytes]), `${c.name} bit ${bit}`).toThrow(ProtocolError);
      }
    }
  });

  it('arbitrary garbage yields only ProtocolErrors and bounded memory', () => {
    const limits = { maxHeaderBytes: 2048, maxAuxBytes: 65536 };
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.boolean(), (chunks, withMagic) => {
        const d = new FrameDecoder(limits);
        const out: Message[] = [];
        try {
          for (const c of chunks) {
            if (withMagic && c.length >= 2) {
              c[0] = 0x32;
              c[1] = 0x48;
            }
            d.pushInto(c, out);
            expect(d.bufferedBytes).toBeLessThanOrEqual(2048 + 65536);
          }
          d.end();
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect(d.state).toBe(DecoderState.ERROR);
          // Failed for good: every later call throws the same error.
          expect(() => d.push(new Uint8Array(64))).toThrow(e as Error);
        }
      }),
      { seed: SEED + 3, numRuns: 2000 },
    );
  });
});

describe('FrameDecoder at misaligned chunk offsets (the DataView fast path; seed ' + (SEED + 10) + ')', () => {
  /** `bytes` copied to byte `pad` of a fresh buffer, as a Buffer (a TCP read's chunk type). */
  const at = (bytes: Uint8Array, pad: number): Buffer => {
    const b = Buffer.alloc(pad + bytes.length);
    b.set(bytes, pad);
    return b.subarray(pad);
  };

  it('decodes the same messages at every start offset 1..7, without copying them', () => {
    fc.assert(
      fc.property(fc.array(messageInput(400), { minLength: 2, maxLength: 8 }), fc.integer({ min: 1, max: 7 }), (inputs, pad) => {
        const stream = concatBytes(inputs.flatMap((i) => encodeMessage(i)));
        const want = decodeAll([stream]).map(hexOf);
        const chunk = at(stream, pad);
        const got = decodeAll([chunk]);
        expect(got.map(hexOf)).toEqual(want);
        for (const m of got) {
          // Taken by a fast path: plain Uint8Array views of the chunk (the general path gives Buffer views).
          if (m.aux.length > 0) {
            expect(m.aux.buffer).toBe(chunk.buffer);
            expect(Buffer.isBuffer(m.aux)).toBe(false);
          }
        }
      }),
      { seed: SEED + 10, numRuns: 200 },
    );
  });

  it('a message split across reads leaves the next ones misaligned: same messages as one chunk', () => {
    fc.assert(
      fc.property(fc.array(messageInput(300), { minLength: 3, maxLength: 10 }), fc.nat(), (inputs, cutSeed) => {
        const stream = concatBytes(inputs.flatMap((i) => encodeMessage(i)));
        const want = decodeAll([stream]).map(hexOf);
        const cut = 1 + (cutSeed % (stream.length - 1));
        expect(decodeAll([at(stream.subarray(0, cut), 0), at(stream.subarray(cut), 0)]).map(hexOf)).toEqual(want);
      }),
      { seed: SEED + 11, numRuns: 200 },
    );
  });

  it('a flipped bit is reported with the same error code as at an aligned offset', () => {
    fc.assert(
      fc.property(fc.array(messageInput(200), { minLength: 2, maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 7 }), (inputs, bitSeed, pad) => {
        const bytes = concatBytes(inputs.flatMap((i) => encodeMessage(i)));
        const bit = bitSeed % (bytes.length * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        const outcome = (chunk: Uint8Array): string => {
          try {
            return `ok ${decodeAll([chunk]).map(hexOf).join(',')}`;
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            return `error ${(e as ProtocolError).code}`;
          }
        };
        const aligned = outcome(bytes);
        expect(aligned.startsWith('error')).toBe(true);
        expect(outcome(at(bytes, pad))).toBe(aligned);
      }),
      { seed: SEED + 12, numRuns: 500 },
    );
  });
});

describe('FrameDecoder errors', () => {
  function encoded(cmd: number, auxLen = 0): Uint8Array {
    return concatBytes(encodeMessage({ header: { cmd, msgid: 5n }, aux: new Uint8Array(auxLen).fill(9) }));
  }
  function codeOf(fn: () => void): string | undefined {
    try {
      fn();
    } catch (e) {
      return (e as ProtocolError).code;
    }
    return undefined;
  }

  it('BAD_MAGIC says what was expected and what came', () => {
    const b = encoded(DMSG.LNK_PING);
    b[0] = 0x12;
    const d = new FrameDecoder();
    expect(() => d.push(b)).toThrow(/expected 0x4832.*got 0x4812/);
  });

  it('HDR_TOO_SMALL, HDR_TOO_LARGE and AUX_TOO_LARGE are checked before any body is buffered', () => {
    const head = encoded(DMSG.LNK_PING).subarray(0, 64).slice();
    head[0x20] = 0; // size units 0
    expect(codeOf(() => new FrameDecoder().push(head))).toBe('HDR_TOO_SMALL');
    head[0x20] = 33; // 2112 bytes
    const d = new FrameDecoder();
    expect(codeOf(() => d.push(head))).toBe('HDR_TOO_LARGE');
    expect(d.bufferedBytes).toBe(0);
    const big = encoded(DMSG.LNK_PING).subarray(0, 64).slice();
    big[0x28] = 0xff; big[0x29] = 0xff; big[0x2a] = 0xff; big[0x2b] = 0xff;
    const d2 = new FrameDecoder();
    expect(codeOf(() => d2.push(big))).toBe('AUX_TOO_LARGE');
    expect(d2.bufferedBytes).toBe(0);
  });

  it('honours configured limits', () => {
    expect(codeOf(() => new FrameDecoder({ maxAuxBytes: 100 }).push(encoded(DMSG.DBG_SHELL, 101)))).toBe('AUX_TOO_LARGE');
    expect(new FrameDecoder({ maxAuxBytes: 100 }).push(encoded(DMSG.DBG_SHELL, 100))).toHaveLength(1);
    expect(codeOf(() => new FrameDecoder({ maxHeaderBytes: 256 }).push(encoded(DMSG.LNK_SPAN)))).toBe('HDR_TOO_LARGE');
    expect(() => new FrameDecoder({ maxHeaderBytes: 100 })).toThrow(/multiple of 64/);
  });

  it('BAD_HDR_CRC before BAD_AUX_CRC, and the header CRC is checked before the aux arrives', () => {
    const b = encoded(DMSG.DBG_SHELL, 1000);
    b[0x08] ^= 1;
    b[100] ^= 1;
    const d = new FrameDecoder();
    expect(codeOf(() => d.push(b.subarray(0, 64)))).toBe('BAD_HDR_CRC');
    const c = encoded(DMSG.DBG_SHELL, 1000);
    c[100] ^= 1;
    expect(codeOf(() => new FrameDecoder().push(c))).toBe('BAD_AUX_CRC');
  });

  it('TRUNCATED from end() inside a header or an aux', () => {
    const b = encoded(DMSG.DBG_SHELL, 100);
    for (const cut of [1, 63, 64, 100]) {
      const d = new FrameDecoder();
      expect(d.push(b.subarray(0, cut))).toEqual([]);
      expect(codeOf(() => d.end())).toBe('TRUNCATED');
    }
  });

  it('delivers the messages before a bad one through pushInto', () => {
    const good = encoded(DMSG.LNK_PING);
    const bad = encoded(DMSG.LNK_PING);
    bad[0x30] ^= 0x80;
    const out: Message[] = [];
    expect(() => new FrameDecoder().pushInto(concatBytes([good, good, bad]), out)).toThrow(ProtocolError);
    expect(out).toHaveLength(2);
  });

  it('never mutates the chunk it is given', () => {
    const b = encoded(DMSG.DBG_SHELL, 77);
    const copy = b.slice();
    new FrameDecoder().push(b);
    expect(Buffer.from(b).equals(Buffer.from(copy))).toBe(true);
  });
});
