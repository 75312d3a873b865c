/**
 * Attacks by a recovery *member* that speaks the protocol but lies: it
 * claims every barrier, feeds NAMES replies that never end, repeat or are
 * malformed, or (as the low node) hands out an absurd generation. The honest
 * nodes must stay bounded (no message ping-pong, no unbounded names), never
 * throw, keep fencing tokens safe integers, and complete recovery once the
 * manager removes the liar.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { RCOM, type DlmRcom } from '../../../../src/services/dlm/message.ts';
import { encodeRcomLock, encodeStatusReply, NAMES_END_CHUNK, NAMES_END_DUMP } from '../../../../src/services/dlm/recovery/rcom-payloads.ts';
import { expectGranted, useHostileNet, type HostileNet } from '../../../helpers/dlm-hostile-net.ts';
import { mulberry32 } from '../../../helpers/prng.ts';

const hostileNet = useHostileNet();

const enc = new TextEncoder();

function namesChunk(names: readonly string[], end: number): Uint8Array {
  const parts: number[] = [];
  for (const s of names) {
    const b = enc.encode(s);
    parts.push(b.length >> 8, b.length & 0xff, ...b);
  }
  parts.push(end >> 8, end & 0xff);
  return Uint8Array.from(parts);
}

interface Liar {
  generation?: number;
  lvblen?: number;
  names?: (rc: DlmRcom, count: number) => Uint8Array;
}

/** Adversary `id` answers every RCOM like a member that has finished every phase. */
function installLiar(n: HostileNet, id: number, liar: Liar): { namesAsked: number } {
  const seen = { namesAsked: 0 };
  n.onAdversary = ({ from, to, rcom }) => {
    if (to !== id || !rcom) return;
    const reply = (type: number, result: number, buf: Uint8Array): void =>
      n.inject(id, from, n.forge(id, { type, result, id: rcom.id, seq: 1n, seqReply: rcom.seq, buf }));
    switch (rcom.type) {
      case RCOM.STATUS: {
        const key = new DataView(rcom.buf.buffer, rcom.buf.byteOffset).getUint32(4, true);
        return reply(RCOM.STATUS_REPLY, 0xff, encodeStatusReply({ lvblen: liar.lvblen ?? 32, generation: liar.generation ?? 1, key }));
      }
      case RCOM.NAMES:
        seen.namesAsked++;
        return reply(RCOM.NAMES_REPLY, 0, liar.names ? liar.names(rcom, seen.namesAsked) : namesChunk([], NAMES_END_DUMP));
      case RCOM.LOOKUP:
        return reply(RCOM.LOOKUP_REPLY, from, new Uint8Array(0));
      case RCOM.LOCK:
        return reply(RCOM.LOCK_REPLY, 0, rcom.buf);
    }
  };
  return seen;
}

describe('a lying recovery member', () => {
  it('NAMES replies that never end and repeat the same names: no ping-pong, bounded, recovery completes without the liar', async () => {
    const n = hostileNet([1, 2], { members: [1, 2, 3] });
    n.lock(1, 'a', LKM.EX, 'd0a');
    n.lock(2, 'b', LKM.EX, 'd1b');
    await expectGranted(n, ['a', 'b']);
    // Always the same chunk, never the end of the dump (names node 1 is directory node for).
    const liar = installLiar(n, 3, { names: () => namesChunk(['d0zz', 'd0zz'], NAMES_END_CHUNK) });
    n.restart([1, 2], [1, 2, 3]); // the manager re-runs recovery with the same list after a blip
    n.restart([1, 2], [1, 2, 3], { departed: [3] });
    await n.runFor(20_000);
    expect(n.errors).toEqual([]);
    // A chunk that does not move past the last name is refused, not asked again at once.
    expect(liar.namesAsked).toBeLessThan(100);
    expect(n.ls.get(1)!.stats.refused['NAMES_NO_PROGRESS'] ?? 0).toBeGreaterThan(0);
    expect(n.ls.get(1)!.rsbs.size).toBeLessThan(10);
    // The manager removes the liar: recovery completes among the honest nodes and locks go on.
    n.restart([1, 2], [1, 2]);
    await n.runFor(20_000);
    expect(n.ls.get(1)!.recovering).toBe(false);
    expect(n.ls.get(2)!.recovering).toBe(false);
    n.lock(2, 'c', LKM.PR, 'd0c');
    n.lock(1, 'd', LKM.EX, 'd1b');
    await n.runFor(100);
    expect(n.log).toEqual(['c 0']);
    expect(n.errors).toEqual([]);
  });

  it('malformed NAMES replies are counted and asked again after a delay, not at once', async () => {
    const n = hostileNet([1, 2], { members: [1, 2, 3] });
    const liar = installLiar(n, 3, { names: () => Uint8Array.from([0, 70, 1, 2, 3]) });
    n.restart([1, 2], [1, 2, 3], { departed: [3] });
    await n.runFor(10_000);
    expect(n.errors).toEqual([]);
    expect(liar.namesAsked).toBeGreaterThan(1);
    expect(liar.namesAsked).toBeLessThan(100);
    expect(n.ls.get(1)!.stats.recovery.rcomIgnored).toBeGreaterThan(0);
    n.restart([1, 2], [1, 2]);
    await n.runFor(20_000);
    expect(n.ls.get(1)!.recovering).toBe(false);
  });

  it('a liar claiming to be the low node with generation 2^32-1: generation and fencing tokens stay safe integers', async () => {
    // Node 1 (the low node of [1, 2, 3]) is the attacker.
    const n = hostileNet([2, 3], { members: [1, 2, 3] });
    installLiar(n, 1, { generation: 0xffffffff });
    n.restart([2, 3], [1, 2, 3], { departed: [1] });
    await n.runFor(20_000);
    expect(n.errors).toEqual([]);
    for (const id of [2, 3]) {
      expect(n.ls.get(id)!.generation * 2 ** 32).toBeLessThan(Number.MAX_SAFE_INTEGER);
      expect(n.ls.get(id)!.stats.recovery.rcomIgnored).toBeGreaterThan(0);
    }
    // The liar goes: the honest nodes recover and grant with safe tokens.
    n.restart([2, 3], [2, 3]);
    await n.runFor(20_000);
    expect(n.ls.get(2)!.recovering).toBe(false);
    const sb = n.lock(3, 'w', LKM.EX, 'd1w');
    await n.runFor(100);
    expect(n.log).toEqual(['w 0']);
    expect(Number.isSafeInteger(sb.fence)).toBe(true);
    expect(sb.fence).toBeGreaterThan(0);
    expect(n.errors).toEqual([]);
  });

  it('a member announcing another LVB length is refused at every barrier poll (Linux check_rcom_config); recovery completes without it', async () => {
    const n = hostileNet([1, 2], { members: [1, 2, 3] });
    installLiar(n, 3, { lvblen: 8 });
    n.restart([1, 2], [1, 2, 3], { departed: [3] });
    await n.runFor(10_000);
    expect(n.errors).toEqual([]);
    expect(n.ls.get(1)!.recovering).toBe(true);
    expect(n.ls.get(1)!.stats.refused['RCOM_CONFIG_LVBLEN'] ?? 0).toBeGreaterThan(0);
    n.restart([1, 2], [1, 2]);
    await n.runFor(20_000);
    expect(n.ls.get(1)!.recovering).toBe(false);
    expect(n.ls.get(2)!.recovering).toBe(false);
  });

  it.each([51, 52, 53])('seed %i: a member rebuilding hostile LOCK records during recovery (IV modes, colliding lkids, odd LVBs, unknown names): no throw, honest locks go on once it is removed', async (seed) => {
    const rnd = mulberry32(seed);
    const ctx = `seed=${seed}`;
    const n = hostileNet([1, 2], { members: [1, 2, 3] });
    n.lock(1, 'a', LKM.PR, 'd0a');
    n.lock(2, 'b', LKM.PR, 'd0a');
    await expectGranted(n, ['a', 'b'], ctx);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    installLiar(n, 3, {});
    let sent = 0;
    n.onSend = (from, to, bytes) => {
      // After each STATUS poll to the liar, it also rebuilds garbage locks on node 1 or 2 (it is a member: accepted in the run).
      if (to !== 3 || bytes[14] !== 2 || sent >= 300) return;
      for (let i = 0; i < 3; i++, sent++) {
        const buf = encodeRcomLock({
          ownpid: 0, lkid: pick([1, 2, 3, sent]), remid: pick([0, 1, 0xffffffff]), exflags: pick([0, 8, 0xffffffff]), flags: 0, lvbseq: pick([0, 0xffffffff]),
          result: 0, rqmode: pick([-1, 0, 5]), grmode: pick([-1, 3, 5]), status: pick([1, 2, 3]), asts: pick([0, 3]), waitType: 0,
          name: pick([enc.encode('d0a'), enc.encode('d1z'), enc.encode('nope'), new Uint8Array(64).fill(0x64)]),
          lvb: new Uint8Array(pick([0, 7, 32, 300])),
        });
        n.inject(3, from, n.forge(3, { type: RCOM.LOCK, id: BigInt(1000 + sent), seq: 1n, buf }));
      }
    };
    n.restart([1, 2], [1, 2, 3], { departed: [3] });
    await n.runFor(20_000);
    n.onSend = null;
    expect(n.errors, ctx).toEqual([]);
    expect(sent, ctx).toBeGreaterThan(0);
    const fromLiar = (): number => [...n.ls.values()].flatMap((l) => [...l.rsbs.values()]).flatMap((r) => [...r.locks]).filter((l) => l.masterCopy && l.nodeid === 3).length;
    expect(fromLiar(), `${ctx}: some hostile records were taken as the liar's locks`).toBeGreaterThan(0);
    // The liar is removed: its locks are purged, honest locks complete.
    n.restart([1, 2], [1, 2]);
    await n.runFor(20_000);
    expect(fromLiar(), ctx).toBe(0);
    expect(n.ls.get(1)!.recovering, ctx).toBe(false);
    n.lock(1, 'c', LKM.PR, 'd0a');
    n.lock(2, 'd', LKM.EX, 'd1z');
    await n.runFor(100);
    expect(n.log.sort(), ctx).toEqual(['c 0', 'd 0']);
    expect(n.errors, ctx).toEqual([]);
  });
});
