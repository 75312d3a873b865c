/**
 * The kernel message layouts (§3.6-§3.8) and receive-path validation:
 * offsets checked byte by byte against the spec's tables, every field
 * checked on decode, and fuzzing: the decoder throws only DlmError, and a
 * lockspace fed garbage never throws and counts what it refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, DlmError, jhash } from '../../../src/services/dlm/index.ts';
import { decodeHeader, decodeMessage, decodeRcom, DLM_MAX_MSG_LEN, DLM_MSG_FIXED_LEN, DLM_RCOM_FIXED_LEN, DLM_VERSION, emptyMessage, encodeMessage, encodeRcom, MessageScratch, MSG } from '../../../src/services/dlm/message.ts';
import { Dlm, LKM, newLksb, type DlmMessageEvent } from '../../../src/services/dlm/index.ts';
import { cluster } from './cluster.ts';

const H = { version: DLM_VERSION, lockspace: 0x11223344, nodeid: 7 };
const le32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);

describe('layouts', () => {
  it('lock message: 16-byte header + 18 u32 = 88 bytes, fields at the spec offsets', () => {
    const m = emptyMessage(MSG.CONVERT_REPLY);
    Object.assign(m, { nodeid: 2, pid: 3, lkid: 4, remid: 5, parentLkid: 6, parentRemid: 7, exflags: 8, sbflags: 1, flags: 0x10002, lvbseq: 11, hash: 12, status: 2, grmode: 3, rqmode: 5, bastmode: -1, asts: 3, result: DLM_ERRNO.EINPROGRESS, extra: new Uint8Array([1, 2, 3]) });
    const b = encodeMessage(H, m);
    expect(DLM_MSG_FIXED_LEN).toBe(88);
    expect(b.length).toBe(91);
    expect(le32(b, 0)).toBe(0x00030002);
    expect(le32(b, 4)).toBe(0x11223344);
    expect(le32(b, 8)).toBe(7);
    expect(b[12]! | (b[13]! << 8)).toBe(91);
    expect(b[14]).toBe(1); // MSG
    const want = [MSG.CONVERT_REPLY, 2, 3, 4, 5, 6, 7, 8, 1, 0x10002, 11, 12, 2, 3, 5, 0xffffffff, 3, (DLM_ERRNO.EINPROGRESS >>> 0)];
    for (let i = 0; i < 18; i++) expect(le32(b, 16 + 4 * i), `field ${i}`).toBe(want[i]);
    expect([...b.subarray(88)]).toEqual([1, 2, 3]);
    const d = decodeMessage(b, 32);
    expect(d.msg).toMatchObject({ ...m, flags: 0x0002, extra: new Uint8Array([1, 2, 3]) });
  });

  it('recovery message: 48 bytes fixed, u64 fields little-endian', () => {
    const b = encodeRcom(H, { type: 4, result: -17, id: 0x0102030405060708n, seq: 9n, seqReply: 10n, buf: new Uint8Array([9]) });
    expect(DLM_RCOM_FIXED_LEN).toBe(48);
    expect(b.length).toBe(49);
    expect(b[14]).toBe(2);
    expect(le32(b, 16)).toBe(4);
    expect(le32(b, 20)).toBe(-17 >>> 0);
    expect(le32(b, 24)).toBe(0x05060708);
    expect(le32(b, 28)).toBe(0x01020304);
    expect(decodeRcom(b).rcom).toEqual({ type: 4, result: -17, id: 0x0102030405060708n, seq: 9n, seqReply: 10n, buf: new Uint8Array([9]) });
  });

  it('jhash matches the lookup3 reference values', () => {
    expect(jhash(new Uint8Array(0))).toBe(0xdeadbeef);
    expect(jhash(new TextEncoder().encode('Four score and seven years ago'))).toBe(0x17770551);
  });
});

describe('validation on decode', () => {
  const good = (): DataView => {
    const m = emptyMessage(MSG.REQUEST);
    m.lkid = 1;
    m.rqmode = 3;
    m.extra = new TextEncoder().encode('res');
    // A copy with a buffer of its own (encoded messages share a slab).
    const b = encodeMessage(H, m).slice();
    return new DataView(b.buffer);
  };
  const cases: [string, (dv: DataView) => void, RegExp][] = [
    ['major version', (dv) => dv.setUint32(0, 0x00040002, true), /h_version/],
    ['minor 0', (dv) => dv.setUint32(0, 0x00030000, true), /h_version/],
    ['h_length', (dv) => dv.setUint16(12, 90, true), /h_length/],
    ['h_cmd', (dv) => dv.setUint8(14, 9), /h_cmd/],
    ['rcom as msg', (dv) => dv.setUint8(14, 2), /h_cmd/],
    ['m_type 0', (dv) => dv.setUint32(16, 0, true), /m_type/],
    ['m_type 15', (dv) => dv.setUint32(16, 15, true), /m_type/],
    ['unknown exflags', (dv) => dv.setUint32(16 + 28, 0x80000000, true), /m_exflags/],
    ['unknown sbflags', (dv) => dv.setUint32(16 + 32, 8, true), /m_sbflags/],
    ['status 4', (dv) => dv.setUint32(16 + 48, 4, true), /m_status/],
    ['grmode 6', (dv) => dv.setInt32(16 + 52, 6, true), /m_grmode/],
    ['rqmode IV in REQUEST', (dv) => dv.setInt32(16 + 56, -1, true), /m_rqmode/],
    ['asts 4', (dv) => dv.setUint32(16 + 64, 4, true), /m_asts/],
    ['result in a REQUEST', (dv) => dv.setInt32(16 + 68, -11, true), /m_result/],
    ['lkid 0 in a REQUEST', (dv) => dv.setUint32(16 + 12, 0, true), /m_lkid/],
  ];
  for (const [what, mutate, re] of cases) {
    it(`refuses ${what}`, () => {
      const dv = good();
      mutate(dv);
      const b = new Uint8Array(dv.buffer);
      expect(() => decodeMessage(b, 32)).toThrow(re);
      try {
        decodeMessage(b, 32);
      } catch (err) {
        expect(err).toBeInstanceOf(DlmError);
        expect((err as DlmError).code).toBe('EBADMSG');
      }
    });
  }
  it('refuses a name longer than 64, an empty name, an LVB longer than lvblen, a truncated message', () => {
    const m = emptyMessage(MSG.REQUEST);
    m.lkid = 1;
    m.rqmode = 0;
    m.extra = new Uint8Array(65);
    expect(() => decodeMessage(encodeMessage(H, m), 32)).toThrow(/name length/);
    m.extra = new Uint8Array(0);
    expect(() => decodeMessage(encodeMessage(H, m), 32)).toThrow(/name length/);
    const g = emptyMessage(MSG.GRANT);
    g.extra = new Uint8Array(40);
    expect(() => decodeMessage(encodeMessage(H, g), 32)).toThrow(/LVB length/);
    expect(() => decodeHeader(new Uint8Array(10))).toThrow(DlmError);
    const short = encodeMessage(H, emptyMessage(MSG.BAST)).slice(0, 60);
    new DataView(short.buffer).setUint16(12, 60, true);
    expect(() => decodeMessage(short, 32)).toThrow(/>= 88/);
  });
  it('accepts each reply type only with the results the spec lists', () => {
    const ok: [number, number][] = [
      [MSG.REQUEST_REPLY, DLM_ERRNO.EINPROGRESS],
      [MSG.CONVERT_REPLY, DLM_ERRNO.EDEADLK],
      [MSG.UNLOCK_REPLY, DLM_ERRNO.EUNLOCK],
      [MSG.CANCEL_REPLY, DLM_ERRNO.ECANCEL],
      [MSG.CANCEL_REPLY, 0],
    ];
    for (const [type, result] of ok) {
      const m = emptyMessage(type as 5);
      m.result = result;
      expect(() => decodeMessage(encodeMessage(H, m), 32)).not.toThrow();
    }
    const bad: [number, number][] = [
      [MSG.UNLOCK_REPLY, 0],
      [MSG.GRANT, DLM_ERRNO.EAGAIN],
      [MSG.CONVERT_REPLY, DLM_ERRNO.EBADR],
      [MSG.BAST, DLM_ERRNO.EAGAIN],
    ];
    for (const [type, result] of bad) {
      const m = emptyMessage(type as 5);
      m.result = result;
      m.bastmode = 3;
      expect(() => decodeMessage(encodeMessage(H, m), 32)).toThrow(/m_result/);
    }
  });
});

describe('fuzz (fixed seeds)', () => {
  it('the decoder yields a message or a DlmError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeMessage(bytes, 32);
        } catch (err) {
          if (!(err instanceof DlmError)) throw err;
        }
      }),
      { seed: 0x5eed, numRuns: 3000 },
    );
  });

  it('mutated valid messages fed to a lockspace never throw; refusals are counted', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    c.lock(a, EXmode(), 'd1f');
    c.run();
    const target = c.ls.get(1)!;
    let fed = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 14 }), fc.array(fc.tuple(fc.nat(120), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.uint8Array({ maxLength: 40 }), (type, flips, extra) => {
        const m = emptyMessage(type as 1);
        m.lkid = 1;
        m.remid = a.lksb.lkid;
        m.rqmode = 3;
        m.bastmode = 5;
        m.extra = extra;
        const b = encodeMessage({ version: DLM_VERSION, lockspace: target.globalId, nodeid: 2 }, m);
        for (const [off, v] of flips) if (off < b.length) b[off] = v;
        fed++;
        c.sim.inject(2, 1, b);
        c.sim.runPending();
      }),
      { seed: 42, numRuns: 1500 },
    );
    expect(fed).toBe(1500);
    const refused = Object.values(target.stats.refused).reduce((x, y) => x + y, 0);
    expect(refused + target.stats.received + target.stats.ignored + c.sim.node(1).unroutable).toBeGreaterThan(0);
    expect(target.stats.refused.INTERNAL ?? 0).toBe(0);
    expect(target.stats.refused.EBADMSG).toBeGreaterThan(0);
  });
});

function EXmode(): number {
  return 5;
}

describe('encoded messages share a slab', () => {
  it('each is its own byte range: encoding more never changes an earlier one', () => {
    const first = emptyMessage(MSG.REQUEST);
    first.lkid = 7;
    first.rqmode = 5;
    first.extra = new TextEncoder().encode('first');
    const a = encodeMessage(H, first);
    const copy = a.slice();
    for (let i = 0; i < 500; i++) {
      const m = emptyMessage(MSG.GRANT);
      m.lkid = i + 1;
      encodeMessage(H, m);
    }
    expect([...a]).toEqual([...copy]);
    expect(decodeMessage(a, 32).msg).toMatchObject({ lkid: 7, rqmode: 5 });
    expect(a.length).toBe(DLM_MSG_FIXED_LEN + 5);
  });
});

describe('encodeMessage writes every field little-endian', () => {
  it('matches a DataView encoding of the same fields, u32 above 2^31 and negative modes included (fast-check, fixed seed)', () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const mode = fc.integer({ min: -1, max: 5 });
    const FIELDS = ['type', 'nodeid', 'pid', 'lkid', 'remid', 'parentLkid', 'parentRemid', 'exflags', 'sbflags', 'flags', 'lvbseq', 'hash', 'status', 'grmode', 'rqmode', 'bastmode', 'asts', 'result'] as const;
    fc.assert(
      fc.property(fc.array(u32, { minLength: 18, maxLength: 18 }), mode, fc.integer({ min: -200, max: 0 }), fc.uint8Array({ maxLength: 64 }), u32, (vals, rq, status, extra, lockspace) => {
        const m = emptyMessage(MSG.REQUEST);
        const r = m as unknown as Record<string, number>;
        FIELDS.forEach((f, i) => (r[f] = vals[i]!));
        m.rqmode = rq;
        m.status = status;
        m.extra = extra;
        const h = { version: DLM_VERSION, lockspace, nodeid: vals[1]! };
        const out = encodeMessage(h, m);
        const want = new Uint8Array(DLM_MSG_FIXED_LEN + extra.length);
        const dv = new DataView(want.buffer);
        dv.setUint32(0, DLM_VERSION, true);
        dv.setUint32(4, lockspace, true);
        dv.setUint32(8, vals[1]!, true);
        dv.setUint16(12, want.length, true);
        dv.setUint8(14, 1); // h_cmd MSG
        FIELDS.forEach((f, i) => dv.setInt32(16 + 4 * i, r[f]!, true));
        want.set(extra, DLM_MSG_FIXED_LEN);
        expect([...out]).toEqual([...want]);
      }),
      { seed: 10, numRuns: 300 },
    );
  });

  it('encodes a message too big for the slab byte by byte, the same layout', () => {
    const m = emptyMessage(MSG.CONVERT);
    m.lkid = 0xfedcba98;
    m.grmode = -1;
    m.extra = new Uint8Array(3000).fill(7);
    const out = encodeMessage(H, m);
    const dv = new DataView(out.buffer, out.byteOffset, out.length);
    expect(out.length).toBe(DLM_MSG_FIXED_LEN + 3000);
    expect(dv.getUint16(12, true)).toBe(out.length);
    expect(dv.getUint32(28, true)).toBe(0xfedcba98);
    expect(dv.getInt32(68, true)).toBe(-1);
    expect(out[DLM_MSG_FIXED_LEN + 2999]).toBe(7);
  });
});

describe('MessageScratch (one reused buffer, for endpoints that copy on send)', () => {
  it('encodes the same bytes as encodeMessage, message after message into the same memory (fast-check, fixed seed)', () => {
    const scratch = new MessageScratch();
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const FIELDS = ['nodeid', 'pid', 'lkid', 'remid', 'parentLkid', 'parentRemid', 'exflags', 'sbflags', 'flags', 'lvbseq', 'hash', 'asts'] as const;
    const seen = new Map<number, Uint8Array>();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 14 }), fc.array(u32, { minLength: 12, maxLength: 12 }), fc.integer({ min: -1, max: 5 }), fc.integer({ min: -200, max: 0 }), fc.uint8Array({ maxLength: 80 }), (type, vals, mode, result, extra) => {
        const m = emptyMessage(type as (typeof MSG)[keyof typeof MSG]);
        const r = m as unknown as Record<string, number>;
        FIELDS.forEach((f, i) => (r[f] = vals[i]!));
        m.grmode = mode;
        m.result = result;
        m.extra = extra;
        const out = scratch.encode(H, m);
        expect([...out]).toEqual([...encodeMessage(H, m)]);
        // One view per length, over the same buffer.
        const before = seen.get(out.length);
        if (before) expect(out).toBe(before);
        seen.set(out.length, out);
        expect(out.byteOffset).toBe(0);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('refuses a message over DLM_MAX_MSG_LEN with EINVAL, as encodeMessage does', () => {
    const m = emptyMessage(MSG.CONVERT);
    m.extra = new Uint8Array(DLM_MAX_MSG_LEN);
    expect(() => new MessageScratch().encode(H, m)).toThrow(DlmError);
    expect(() => encodeMessage(H, m)).toThrow(DlmError);
  });

  it('a lockspace over a copiesOnSend endpoint sends each message before its observer runs: an observer that sends cannot change it', () => {
    // Node 1 alone in this process; node 2 is the directory of every name (hash -> slot 1), so each lock() sends a LOOKUP.
    const sent: Uint8Array[] = [];
    let reentered = false;
    const events: DlmMessageEvent[] = [];
    let ls: ReturnType<Dlm['newLockspace']> | null = null;
    const dlm = new Dlm({
      endpoint: { nodeid: 1, copiesOnSend: true, send: (_to, bytes) => void sent.push(bytes.slice()), setReceiver: () => {} },
      hash: () => 1 << 16,
      observer: (e) => {
        events.push(e);
        if (!reentered) {
          reentered = true;
          expect(ls!.lock(LKM.PR, newLksb(0), 0, 'second', () => {})).toBe(0); // sends from inside the observer
        }
      },
    });
    ls = dlm.newLockspace('obs', { members: [1, 2] });
    expect(ls.lock(LKM.EX, newLksb(0), 0, 'first', () => {})).toBe(0);
    expect(sent.map((b) => new TextDecoder().decode(decodeMessage(b, 32).msg.extra))).toEqual(['first', 'second']);
    expect(sent.map((b) => decodeMessage(b, 32).msg.type)).toEqual([MSG.LOOKUP, MSG.LOOKUP]);
    expect(events.map((e) => e.name).sort()).toEqual(['first', 'second']);
    dlm.close();
  });
});
