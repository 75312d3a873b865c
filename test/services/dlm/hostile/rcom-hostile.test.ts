/**
 * Attack tests for the DLM recovery messages (RCOM, spec §3.8/§4): a
 * malicious or broken peer sends STATUS / NAMES / LOOKUP / LOCK and their
 * replies with valid headers and hostile payloads, at every delivery round
 * of a recovery and while not recovering. Nothing may throw out, every bad
 * message is counted and dropped, state stays bounded, and the honest nodes
 * still finish recovery and their locks. Seeds are fixed and printed on
 * failure.
 */
import { describe, expect, it } from 'vitest';
import { LKM, newLksb } from '../../../../src/services/dlm/index.ts';
import { emptyMessage, MSG, RCOM } from '../../../../src/services/dlm/message.ts';
import { encodeRcomLock, encodeStatusReply, membersKey, RCOM_LOCK_LEN } from '../../../../src/services/dlm/recovery/rcom-payloads.ts';
import { expectGranted, useHostileNet, type HostileNet } from '../../../helpers/dlm-hostile-net.ts';
import { mulberry32 } from '../../../helpers/prng.ts';

const hostileNet = useHostileNet();

const enc = new TextEncoder();

/** A hostile RCOM payload for `type`: random bytes, or a structure with hostile fields. */
function hostilePayload(rnd: () => number, type: number, lvblen: number): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const u32 = (): number => pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, Math.floor(rnd() * 2 ** 32)]);
  if (rnd() < 0.25) return bytes(pick([0, 1, 7, 27, 43, RCOM_LOCK_LEN - 1, 1000, 4096 - 48]));
  switch (type) {
    case RCOM.STATUS_REPLY:
      return encodeStatusReply({ lvblen: pick([lvblen, 0, 8, u32()]), generation: u32(), key: pick([membersKey([1, 2]), membersKey([1, 2, 3]), u32()]) });
    case RCOM.NAMES_REPLY: {
      // Records with lengths that are too long, zero-terminated early, never ending, repeating.
      const out: number[] = [];
      const n = Math.floor(rnd() * 40);
      for (let i = 0; i < n; i++) {
        const len = pick([1, 8, 64, 65, 0xfffe, Math.floor(rnd() * 70)]);
        out.push(len >> 8, len & 0xff);
        const body = len <= 64 ? bytes(len) : bytes(Math.floor(rnd() * 10));
        out.push(...body);
      }
      if (rnd() < 0.7) out.push(...pick([[0, 0], [0xff, 0xff], [0xff]]));
      return Uint8Array.from(out);
    }
    case RCOM.LOCK:
    case RCOM.LOCK_REPLY: {
      const name = pick([enc.encode('d1a'), enc.encode('d2b'), enc.encode('unknown-' + Math.floor(rnd() * 1e6)), new Uint8Array(64).fill(0x64)]);
      const buf = encodeRcomLock({
        ownpid: u32(),
        lkid: pick([1, 2, 3, u32()]),
        remid: u32(),
        exflags: u32(),
        flags: u32(),
        lvbseq: u32(),
        result: u32() | 0,
        rqmode: pick([-1, 0, 3, 5]),
        grmode: pick([-1, 0, 3, 5]),
        status: pick([1, 2, 3]),
        asts: pick([0, 1, 2, 3, -1]),
        waitType: pick([0, 0xffff]),
        name,
        lvb: bytes(pick([0, lvblen, lvblen - 1, lvblen + 1, 300])),
      });
      const dv = new DataView(buf.buffer);
      // Out-of-range modes, status, name lengths.
      if (rnd() < 0.2) dv.setInt8(36, pick([6, 127, -2, -128]));
      if (rnd() < 0.2) dv.setInt8(38, pick([0, 4, -1, 127]));
      if (rnd() < 0.2) dv.setUint16(42, pick([65, 0xffff, 1000]), true);
      return buf;
    }
    case RCOM.LOOKUP:
    case RCOM.NAMES:
      return pick([new Uint8Array(0), enc.encode('d1a'), new Uint8Array(64).fill(0x64), new Uint8Array(65).fill(0x64), bytes(200)]);
    default:
      return bytes(Math.floor(rnd() * 64));
  }
}

/** One hostile RCOM from `from` to `to`, with sequence numbers that are stale, current, future or garbage. */
function hostileRcom(n: HostileNet, rnd: () => number, from: number, to: number): void {
  const type = 1 + Math.floor(rnd() * 8);
  const seqs = [0n, 1n, 2n, 3n, 5n, 2n ** 63n, 2n ** 64n - 1n, BigInt(Math.floor(rnd() * 2 ** 32))];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const bytes = n.forge(from, {
    type,
    result: pick([0, -1, -22, -52, -17, 0xff, 0x7fffffff, Math.floor(rnd() * 2 ** 31)]),
    id: pick([0n, 1n, 2n, 3n, 4n, 7n, 2n ** 64n - 1n, BigInt(Math.floor(rnd() * 100))]),
    seq: pick(seqs),
    seqReply: pick(seqs),
    buf: hostilePayload(rnd, type, 32),
  });
  n.inject(from, to, bytes);
}

describe('hostile RCOM', () => {
  it.each([11, 12, 13, 14])('seed %i: fuzzed RCOM from a non-member and from a dying member at every round of a recovery and while running', async (seed) => {
    const n = hostileNet([1, 2, 3]);
    const rnd = mulberry32(seed);
    const ctx = `seed=${seed}`;
    // Locks before the attack: node 3 masters d2b? pinHash: 'dN..' has directory members[N]; the first requester masters.
    n.lock(1, 'a', LKM.EX, 'd1a');
    n.lock(3, 'b', LKM.PR, 'd2b');
    n.lock(2, 'c', LKM.PR, 'd2b');
    n.lock(3, 'x', LKM.EX, 'd0x');
    // A bystander lockspace on nodes 1 and 2 (not attacked): it keeps granting throughout.
    const by1 = n.nodes.get(1)!.newLockspace('bystander', { lvblen: 32, members: [1, 2] });
    n.nodes.get(2)!.newLockspace('bystander', { lvblen: 32, members: [1, 2] });
    await expectGranted(n, ['a', 'b', 'c', 'x'], ctx);
    const before1 = n.dropped(1);
    const before2 = n.dropped(2);
    // While running: a non-member (9) and a member (3) send garbage.
    for (let i = 0; i < 200; i++) hostileRcom(n, rnd, rnd() < 0.5 ? 9 : 3, rnd() < 0.5 ? 1 : 2);
    await n.runFor(10);
    expect(n.errors, ctx).toEqual([]);
    // Node 3 dies; its identity keeps being used by the attacker during recovery (a broken member).
    n.cut.add('3>1').add('3>2').add('1>3').add('2>3');
    n.ls.get(3)!.stop();
    // Every message of the recovery is followed by hostile ones (bounded), so they land in every phase.
    let sentDuring = 0;
    let bystanderGrants = 0;
    n.onSend = () => {
      if (sentDuring++ > 2000) return;
      if (sentDuring % 10 === 0) {
        const sb = newLksb(32);
        by1.lock(LKM.EX, sb, 0, `d1-by-${sentDuring}`, () => void (sb.status === 0 && bystanderGrants++));
      }
      for (let i = 0; i < 3; i++) hostileRcom(n, rnd, rnd() < 0.5 ? 9 : 3, rnd() < 0.5 ? 1 : 2);
    };
    n.restart([1, 2], [1, 2]);
    await n.runFor(30_000);
    n.onSend = null;
    expect(sentDuring, ctx).toBeGreaterThan(50);
    expect(bystanderGrants, ctx).toBe(Math.floor(Math.min(sentDuring, 2001) / 10));
    expect(by1.stats.refused, ctx).toEqual({});
    expect(by1.stats.recovery.rcomIgnored, ctx).toBe(0);
    expect(n.errors, ctx).toEqual([]);
    expect(n.ls.get(1)!.recovering, ctx).toBe(false);
    expect(n.ls.get(2)!.recovering, ctx).toBe(false);
    expect(n.ls.get(1)!.stats.recovery.completed, ctx).toBeGreaterThanOrEqual(1);
    // Every hostile message was counted somewhere (refused or ignored).
    expect(n.dropped(1) + n.dropped(2) - before1 - before2, ctx).toBeGreaterThan(50);
    // Honest locks survive; the dead node's are purged; new locks complete.
    n.lock(2, 'd', LKM.EX, 'd0x');
    n.lock(1, 'e', LKM.PR, 'd1a');
    n.lock(2, 'f', LKM.EX, 'd2b');
    n.lock(1, 'g', LKM.EX, 'd1-new');
    await n.runFor(100);
    // 'e' waits behind 'a' (EX), 'f' behind c (PR on 2); the others are granted.
    expect(n.log.sort(), ctx).toEqual(['d 0', 'g 0']);
    expect(n.errors, ctx).toEqual([]);
  });

  it('an RCOM LOCK from a member while nobody recovers is dropped: no phantom lock, no growth', async () => {
    // Node 3 is a member run by the attacker.
    const n = hostileNet([1, 2], { members: [1, 2, 3] });
    n.lock(1, 'a', LKM.PR, 'd0a'); // node 1 masters d0a (it is the directory node too)
    await n.runFor(100);
    expect(n.log).toEqual(['a 0']);
    n.log.length = 0;
    const r = n.ls.get(1)!.rsbs.get('d0a')!;
    const locksBefore = r.locks.size;
    const before = n.dropped(1);
    for (let i = 0; i < 1000; i++) {
      const buf = encodeRcomLock({ ownpid: 0, lkid: 1000 + i, remid: 0, exflags: 0, flags: 0, lvbseq: 0, result: 0, rqmode: -1, grmode: LKM.EX, status: 2, asts: 0, waitType: 0, name: enc.encode('d0a'), lvb: new Uint8Array(0) });
      n.inject(3, 1, n.forge(3, { type: RCOM.LOCK, id: BigInt(i + 1), seq: 1n, buf }));
    }
    await n.runFor(10);
    expect(n.errors).toEqual([]);
    expect(r.locks.size).toBe(locksBefore);
    expect(n.dropped(1) - before).toBe(1000);
    // The honest holder still converts to EX: no phantom EX blocks it.
    n.lock(2, 'b', LKM.PR, 'd0a');
    await n.runFor(100);
    expect(n.log).toEqual(['b 0']);
  });

  it('lock messages flooding a stopped lockspace: the request queue stops at maxSavedMessages (counted), the flood is purged with its sender', async () => {
    const n = hostileNet([1, 2], { members: [1, 2, 3], maxSavedMessages: 100 });
    n.ls.get(1)!.stop();
    for (let i = 0; i < 1000; i++) {
      const m = emptyMessage(MSG.REQUEST);
      m.nodeid = 3;
      m.lkid = i + 1;
      m.rqmode = LKM.EX;
      m.extra = enc.encode(`d0-flood-${i}`);
      n.inject(3, 1, n.forgeMessage(3, m));
    }
    await n.runFor(10);
    const ls1 = n.ls.get(1)!;
    expect(ls1.stats.refused['SAVED_OVERFLOW']).toBe(900);
    n.ls.get(2)!.stop();
    n.ls.get(1)!.start([1, 2]);
    n.ls.get(2)!.start([1, 2]);
    await n.runFor(20_000);
    expect(ls1.recovering).toBe(false);
    expect(ls1.stats.recovery.droppedSaved).toBe(100);
    expect([...ls1.rsbs.keys()].filter((k) => k.startsWith('d0-flood'))).toEqual([]);
    expect(n.errors).toEqual([]);
  });
});
