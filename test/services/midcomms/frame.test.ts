/**
 * Known-answer tests: frames built by hand from the spec's byte offsets
 * (dlm-midcomms.md §3.6, §5.3), compared with the encoder, and every check
 * of §5.4 applied by the reader.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHALLENGE_DENIED, encodeAck, encodeChallengeFrame, encodeDlmMessage, encodeFin, encodeHello, encodeOptions, encodeOpts } from '../../../src/services/midcomms/frame-encoder.ts';
import { NO_TOKEN, challengeKey, frameLengthAt, helloTokenKey, parseFrame } from '../../../src/services/midcomms/frame-reader.ts';

/** Little-endian writer for hand-built frames. */
function bytes(size: number, fields: Array<[offset: number, width: 1 | 2 | 4, value: number]>): Uint8Array {
  const b = new Uint8Array(size);
  for (const [off, width, value] of fields) {
    for (let i = 0; i < width; i++) b[off + i] = (value >>> (8 * i)) & 0xff;
  }
  return b;
}

/** A hand-built inner MSG of `size` bytes (h_version 3.2, lockspace, nodeid, length, cmd 1). */
function innerMsg(size: number, nodeid: number, lockspace = 0x11223344): Uint8Array {
  return bytes(size, [
    [0, 4, 0x00030002],
    [4, 4, lockspace],
    [8, 4, nodeid],
    [12, 2, size],
    [14, 1, 1],
    [16, 4, 0xcafe],
  ]);
}

describe('frame encoder: known answers', () => {
  it('ACK is a bare 16-byte header: version, h_seq, nodeid, length 16, cmd 4', () => {
    const want = bytes(16, [
      [0, 4, 0x00030002],
      [4, 4, 0xfffffffe],
      [8, 4, 9],
      [12, 2, 16],
      [14, 1, 4],
    ]);
    expect(encodeAck(0x00030002, 9, 0xfffffffe)).toEqual(want);
    expect([...want.subarray(0, 16)]).toEqual([0x02, 0, 0x03, 0, 0xfe, 0xff, 0xff, 0xff, 9, 0, 0, 0, 16, 0, 4, 0]);
  });

  it('OPTS: 24-byte envelope (nextcmd at 16, optlen at 18) then the inner message', () => {
    const inner = innerMsg(88, 5);
    const want = bytes(24 + 88, [
      [0, 4, 0x00030002],
      [4, 4, 77],
      [8, 4, 5],
      [12, 2, 112],
      [14, 1, 3],
      [16, 1, 1],
      [18, 2, 0],
    ]);
    want.set(inner, 24);
    expect(encodeOpts(0x00030002, 5, 77, inner)).toEqual(want);
  });

  it('OPTS with options: TLVs 8-aligned, optlen counts them, inner follows', () => {
    const inner = innerMsg(88, 5);
    const frame = encodeOpts(0x00030002, 5, 1, inner, [{ type: 0x10, value: new Uint8Array([1, 2, 3]) }]);
    // one TLV: type u16, length u16, pad u32, 3 value bytes padded to 8 -> 16 bytes
    expect(frame.length).toBe(24 + 16 + 88);
    expect(frame[18] | (frame[19]! << 8)).toBe(16);
    expect([...frame.subarray(24, 40)]).toEqual([0x10, 0, 3, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0]);
    expect(frame.subarray(40)).toEqual(inner);
    const p = parseFrame(frame);
    expect(p.kind).toBe('opts');
    if (p.kind === 'opts') expect(frame.subarray(p.start, p.end)).toEqual(inner);
    expect(encodeOptions([{ type: 1, value: new Uint8Array(8) }]).length).toBe(16);
  });

  it('FIN: a 16-byte FIN header inside an OPTS envelope (40 bytes, sequenced)', () => {
    const want = bytes(40, [
      [0, 4, 0x00030002],
      [4, 4, 12],
      [8, 4, 3],
      [12, 2, 40],
      [14, 1, 3],
      [16, 1, 5],
      [24, 4, 0x00030002],
      [32, 4, 3],
      [36, 2, 16],
      [38, 1, 5],
    ]);
    expect(encodeFin(0x00030002, 3, 12)).toEqual(want);
    const p = parseFrame(want);
    expect(p).toMatchObject({ kind: 'opts', seq: 12, innerCmd: 5 });
  });

  it('HELLO carries both session ids, flags, the channel token, the resume ticket and the address', () => {
    const token = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const ticket = Uint8Array.from([9, 10, 11, 12, 13, 14, 15, 16]);
    const t = encodeHello(0x00030002, 4, { inc: 0xabc, gen: 2 }, null, 0, 'n', token, ticket);
    expect(t.length).toBe(57);
    expect([...t.subarray(40, 48)]).toEqual([...token]);
    expect([...t.subarray(48, 56)]).toEqual([...ticket]);
    expect(String.fromCharCode(t[56]!)).toBe('n');
    expect(helloTokenKey(t, 0, 0)).toBe('0102030405060708');
    expect(helloTokenKey(t, 0, 1)).toBe('090a0b0c0d0e0f10');
    const h = encodeHello(0x00030002, 4, { inc: 0xabc, gen: 2 }, { inc: 0xdef, gen: 9 }, 1, 'node-x');
    expect(h.length).toBe(62);
    expect(helloTokenKey(h, 0, 0)).toBe(NO_TOKEN);
    expect(parseFrame(h)).toEqual({ kind: 'hello', version: 0x00030002, nodeid: 4, sid: { inc: 0xabc, gen: 2 }, peer: { inc: 0xdef, gen: 9 }, flags: 1, address: 'node-x' });
    expect(parseFrame(encodeHello(0x00030001, 4, { inc: 1, gen: 1 }, null))).toMatchObject({ peer: null, version: 0x00030001 });
  });

  it('CHALLENGE, PROOF and TICKET: 40 bytes, token at 16, nonce at 24, flags at 32', () => {
    const token = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const nonce = Uint8Array.from([0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8]);
    for (const [cmd, kind] of [[0x43, 'challenge'], [0x50, 'proof'], [0x54, 'ticket']] as const) {
      const f = encodeChallengeFrame(cmd, 0x00030002, 7, token, nonce, cmd === 0x43 ? CHALLENGE_DENIED : 0);
      expect(f.length).toBe(40);
      expect(f[14]).toBe(cmd);
      expect(f[12]! | (f[13]! << 8)).toBe(40);
      expect(parseFrame(f)).toEqual({ kind, version: 0x00030002, nodeid: 7, flags: cmd === 0x43 ? 1 : 0, at: 0 });
      expect(challengeKey(f, 0, 0)).toBe('0102030405060708');
      expect(challengeKey(f, 0, 1)).toBe('f1f2f3f4f5f6f7f8');
      expect(parseFrame(f.subarray(0, 32), 0, 32)).toMatchObject({ kind: 'drop', reason: 'tooShort' });
    }
  });

  it('encodeDlmMessage builds the 16-byte header in front of the body', () => {
    const m = encodeDlmMessage(2, 0x99, new Uint8Array(32), 6);
    expect(m).toEqual(
      bytes(48, [
        [0, 4, 0x00030002],
        [4, 4, 0x99],
        [8, 4, 6],
        [12, 2, 48],
        [14, 1, 2],
      ]),
    );
  });
});

describe('frame reader: §5.4 checks', () => {
  it('item 1: h_length outside [16, 4096] breaks the stream; a short tail is truncated', () => {
    expect(frameLengthAt(bytes(16, [[12, 2, 15]]), 0)).toMatchObject({ ok: false, code: 'BAD_FRAME_LENGTH' });
    expect(frameLengthAt(bytes(16, [[12, 2, 4097]]), 0)).toMatchObject({ ok: false, code: 'BAD_FRAME_LENGTH' });
    expect(frameLengthAt(bytes(16, [[12, 2, 32]]), 0)).toMatchObject({ ok: false, code: 'TRUNCATED' });
    expect(frameLengthAt(new Uint8Array(10), 0)).toMatchObject({ ok: false, code: 'TRUNCATED' });
    expect(frameLengthAt(bytes(4096, [[12, 2, 4096]]), 0)).toEqual({ ok: true, length: 4096 });
  });

  it('item 2: an unknown h_version is dropped', () => {
    const f = encodeAck(0x00030002, 1, 0);
    f[0] = 3;
    expect(parseFrame(f)).toMatchObject({ kind: 'drop', reason: 'badVersion' });
    expect(parseFrame(bytes(16, [[0, 4, 0x00040002], [12, 2, 16], [14, 1, 4]]))).toMatchObject({ reason: 'badVersion' });
  });

  it('item 4: raw RCOM only STATUS, STATUS_REPLY, NAMES, NAMES_REPLY; at least 48 bytes', () => {
    for (const type of [1, 2, 5, 6]) {
      expect(parseFrame(bytes(48, [[0, 4, 0x00030002], [12, 2, 48], [14, 1, 2], [16, 4, type]])).kind).toBe('raw');
    }
    for (const type of [3, 4, 7, 8, 0]) {
      expect(parseFrame(bytes(48, [[0, 4, 0x00030002], [12, 2, 48], [14, 1, 2], [16, 4, type]]))).toMatchObject({ reason: 'rawRcomType' });
    }
    expect(parseFrame(bytes(47, [[0, 4, 0x00030002], [12, 2, 47], [14, 1, 2], [16, 4, 1]]))).toMatchObject({ reason: 'tooShort' });
  });

  it('item 4: OPTS size checks against the minimum of o_nextcmd and the inner h_length', () => {
    const good = encodeOpts(0x00030002, 5, 1, innerMsg(88, 5));
    expect(parseFrame(good).kind).toBe('opts');
    // outer too short for a MSG
    const short = encodeOpts(0x00030002, 5, 1, innerMsg(88, 5)).subarray(0, 24 + 87);
    expect(parseFrame(short)).toMatchObject({ reason: 'tooShort' });
    // nextcmd not MSG/RCOM/FIN
    const badNext = good.slice();
    badNext[16] = 4;
    expect(parseFrame(badNext)).toMatchObject({ reason: 'badNextCmd' });
    // nextcmd differs from the inner h_cmd
    const mismatch = good.slice();
    mismatch[16] = 2;
    expect(parseFrame(mismatch)).toMatchObject({ reason: 'badNextCmd' });
    // inner h_length below the minimum / not what remains
    const innerShort = good.slice();
    innerShort[24 + 12] = 80;
    expect(parseFrame(innerShort)).toMatchObject({ reason: 'badInnerLength' });
    const innerLong = good.slice();
    innerLong[24 + 12] = 90;
    expect(parseFrame(innerLong)).toMatchObject({ reason: 'badInnerLength' });
    // options not a multiple of 8, or running past the frame
    const badOpt = good.slice();
    badOpt[18] = 4;
    expect(parseFrame(badOpt)).toMatchObject({ reason: 'badOptlen' });
    const longOpt = good.slice();
    longOpt[18] = 0;
    longOpt[19] = 1;
    expect(parseFrame(longOpt)).toMatchObject({ reason: 'badOptlen' });
    // inner major version
    const badInnerVer = good.slice();
    badInnerVer[24 + 2] = 4;
    expect(parseFrame(badInnerVer)).toMatchObject({ reason: 'badInnerVersion' });
    // OPTS shorter than its envelope
    expect(parseFrame(bytes(20, [[0, 4, 0x00030002], [12, 2, 20], [14, 1, 3]]))).toMatchObject({ reason: 'tooShort' });
  });

  it('item 4: anything but RCOM, OPTS, ACK (and our HELLO) is dropped on the 3.2 path', () => {
    for (const cmd of [0, 1, 5, 6, 0xff]) {
      expect(parseFrame(bytes(88, [[0, 4, 0x00030002], [12, 2, 88], [14, 1, cmd]]))).toMatchObject({ reason: 'badCmd' });
    }
  });

  it('item 5: the 3.1 path takes MSG (>= 88) and RCOM only', () => {
    expect(parseFrame(bytes(88, [[0, 4, 0x00030001], [12, 2, 88], [14, 1, 1]])).kind).toBe('raw');
    expect(parseFrame(bytes(87, [[0, 4, 0x00030001], [12, 2, 87], [14, 1, 1]]))).toMatchObject({ reason: 'tooShort' });
    expect(parseFrame(bytes(48, [[0, 4, 0x00030001], [12, 2, 48], [14, 1, 2], [16, 4, 4]])).kind).toBe('raw');
    for (const cmd of [3, 4, 5]) expect(parseFrame(bytes(40, [[0, 4, 0x00030001], [12, 2, 40], [14, 1, cmd]]))).toMatchObject({ reason: 'badCmd' });
  });

  it('never throws on arbitrary bytes; only typed verdicts (fast-check, seed 42)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (data) => {
        let off = 0;
        while (off < data.length) {
          const c = frameLengthAt(data, off);
          if (!c.ok) {
            expect(['BAD_FRAME_LENGTH', 'TRUNCATED']).toContain(c.code);
            return;
          }
          const p = parseFrame(data.subarray(off, off + c.length));
          expect(['hello', 'opts', 'ack', 'raw', 'drop']).toContain(p.kind);
          off += c.length;
        }
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
