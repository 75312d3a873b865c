/**
 * Fencing tokens (fence-rules.ts, docs/dlm.md "Fencing tokens"): every
 * grant of PW/EX carries a per-resource token that only rises, across
 * holders, conversions, nodes, and master changes by retirement; grants
 * below PW carry 0; the wire carriage leaves the kernel layout alone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKM } from '../../../src/services/dlm/index.ts';
import { FENCE_GENERATION_UNIT, fenceOnGrant, fenceOnOwnerGrant, nextFence, peerFloor, readFence, writeFence } from '../../../src/services/dlm/fence-rules.ts';
import { decodeMessage, DLM_VERSION, emptyMessage, encodeMessage, MSG } from '../../../src/services/dlm/message.ts';
import { cluster, type RemoteHolder } from './cluster.ts';
import { singleNode } from './harness.ts';

const le32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);

describe('fence rules (pure)', () => {
  it('a raising grant to PW/EX draws above the mark, the floor and the generation base', () => {
    const r = { fenceHigh: 0 };
    const ctx = { generation: 0, fenceFloor: 0 };
    expect(fenceOnGrant(r, LKM.IV, LKM.EX, 0, ctx)).toBe(1);
    expect(fenceOnGrant(r, LKM.PR, LKM.PW, 0, ctx)).toBe(2);
    expect(fenceOnGrant(r, LKM.PW, LKM.EX, 2, ctx)).toBe(3);
    expect(r.fenceHigh).toBe(3);
    // Down or same-mode at PW/EX keeps the lock's token; below PW none.
    expect(fenceOnGrant(r, LKM.EX, LKM.PW, 3, ctx)).toBe(3);
    expect(fenceOnGrant(r, LKM.PW, LKM.PW, 3, ctx)).toBe(3);
    expect(fenceOnGrant(r, LKM.EX, LKM.PR, 3, ctx)).toBe(0);
    expect(fenceOnGrant(r, LKM.IV, LKM.PR, 0, ctx)).toBe(0);
    expect(r.fenceHigh).toBe(3);
    expect(fenceOnGrant(r, LKM.IV, LKM.EX, 0, { generation: 0, fenceFloor: 40 })).toBe(41);
    expect(fenceOnGrant(r, LKM.IV, LKM.EX, 0, { generation: 2, fenceFloor: 40 })).toBe(2 * FENCE_GENERATION_UNIT + 1);
    // A mark already past the generation base (a counter that overflowed) still rises.
    expect(nextFence(3 * FENCE_GENERATION_UNIT + 5, 0, 2)).toBe(3 * FENCE_GENERATION_UNIT + 6);
  });

  it('the owner takes the master token on a raising grant, keeps its own on a down-conversion', () => {
    const m = emptyMessage(MSG.GRANT);
    writeFence(m, 77);
    expect(fenceOnOwnerGrant(m, LKM.IV, LKM.EX, 0)).toBe(77);
    expect(fenceOnOwnerGrant(m, LKM.IV, LKM.PR, 0)).toBe(0);
    expect(fenceOnOwnerGrant(null, LKM.EX, LKM.PW, 12)).toBe(12);
    expect(fenceOnOwnerGrant(null, LKM.EX, LKM.CR, 12)).toBe(0);
    // A kernel master sends zeros: no token.
    expect(fenceOnOwnerGrant(emptyMessage(MSG.GRANT), LKM.IV, LKM.EX, 0)).toBe(0);
  });

  it('wire: the token rides m_parent_lkid (low 32) / m_parent_remid (high), the rest of the layout unchanged', () => {
    const token = 5 * FENCE_GENERATION_UNIT + 0xfffffffe;
    const m = emptyMessage(MSG.REQUEST_REPLY);
    Object.assign(m, { nodeid: 2, lkid: 4, remid: 5, grmode: 5, rqmode: -1, result: 0 });
    const plain = encodeMessage({ version: DLM_VERSION, lockspace: 9, nodeid: 2 }, m).slice();
    writeFence(m, token);
    const b = encodeMessage({ version: DLM_VERSION, lockspace: 9, nodeid: 2 }, m).slice();
    expect(le32(b, 36)).toBe(0xfffffffe);
    expect(le32(b, 40)).toBe(5);
    // Every other byte is what the kernel layout gives without a token.
    for (let i = 0; i < b.length; i++) if (i < 36 || i >= 44) expect(b[i], `byte ${i}`).toBe(plain[i]);
    expect(readFence(decodeMessage(b, 32).msg)).toBe(token);
    expect(readFence(decodeMessage(plain, 32).msg)).toBe(0);
  });

  it('wire: a high part that would leave the safe integers reads as no token', () => {
    const m = emptyMessage(MSG.GRANT);
    m.parentRemid = 2 ** 21;
    m.parentLkid = 1;
    expect(readFence(m)).toBe(0);
    m.parentRemid = 2 ** 21 - 1;
    m.parentLkid = 0xffffffff;
    expect(readFence(m)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('a floor from a peer is taken only up to one generation ahead of ours', () => {
    const m = emptyMessage(MSG.REMOVE);
    writeFence(m, 2 * FENCE_GENERATION_UNIT - 1);
    expect(peerFloor(m, 0)).toBe(2 * FENCE_GENERATION_UNIT - 1);
    writeFence(m, 2 * FENCE_GENERATION_UNIT);
    expect(peerFloor(m, 0)).toBe(0);
    expect(peerFloor(m, 1)).toBe(2 * FENCE_GENERATION_UNIT);
  });
});

describe('one master', () => {
  it('tokens rise across holders; PR carries none; conversions up draw new ones, EX->PW keeps', () => {
    const t = singleNode();
    const a = t.holder('a');
    const b = t.holder('b');
    const c = t.holder('c');
    expect(t.lock(a, LKM.EX)).toBe(0);
    expect(t.run()).toEqual(['a ast 0']);
    const ta = a.lksb.fence!;
    expect(ta).toBeGreaterThan(0);
    // b queues behind a, granted by the grant pass when a unlocks.
    expect(t.lock(b, LKM.PW)).toBe(0);
    t.run();
    expect(t.unlock(a)).toBe(0);
    expect(t.run()).toEqual(['a ast EUNLOCK', 'b ast 0']);
    expect(a.lksb.fence).toBe(0);
    const tb = b.lksb.fence!;
    expect(tb).toBeGreaterThan(ta);
    // PW -> EX draws a new one, EX -> PW keeps it, PW -> PR drops to 0.
    expect(t.convert(b, LKM.EX)).toBe(0);
    t.run();
    const tb2 = b.lksb.fence!;
    expect(tb2).toBeGreaterThan(tb);
    expect(t.convert(b, LKM.PW)).toBe(0);
    t.run();
    expect(b.lksb.fence).toBe(tb2);
    expect(t.convert(b, LKM.PR)).toBe(0);
    t.run();
    expect(b.lksb.fence).toBe(0);
    // A PR grant carries none; PR -> PW by conversion draws one above all before.
    expect(t.lock(c, LKM.PR)).toBe(0);
    t.run();
    expect(c.lksb.fence).toBe(0);
    expect(t.unlock(b)).toBe(0);
    expect(t.convert(c, LKM.PW)).toBe(0);
    t.run();
    expect(c.lksb.fence).toBeGreaterThan(tb2);
  });

  it('a cancelled up-conversion keeps the token of the mode still held; a failed NOQUEUE request gets none', () => {
    const t = singleNode();
    const a = t.holder('a');
    const b = t.holder('b');
    t.lock(a, LKM.PW);
    t.lock(b, LKM.CR);
    t.run();
    const ta = a.lksb.fence!;
    t.convert(b, LKM.EX);
    t.run();
    expect(t.unlock(b, LKF.CANCEL)).toBe(0);
    expect(t.run()).toEqual(['b ast ECANCEL']);
    expect(b.lksb.fence).toBe(0);
    const c = t.holder('c');
    t.lock(c, LKM.EX, LKF.NOQUEUE);
    expect(t.run()).toEqual(['c ast EAGAIN']);
    expect(c.lksb.fence).toBe(0);
    expect(a.lksb.fence).toBe(ta);
  });

  it('through the TypeScript API: lk.fence', async () => {
    const { Dlm } = await import('../../../src/services/dlm/index.ts');
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('fence-api');
    const w1 = await ls.lock('r', 'EX');
    const f1 = w1.fence;
    expect(f1).toBeGreaterThan(0);
    await w1.convert('PR');
    expect(w1.fence).toBe(0);
    const r2 = await ls.lock('r', 'PR');
    expect(r2.fence).toBe(0);
    await r2.unlock();
    await w1.convert('PW');
    expect(w1.fence).toBeGreaterThan(f1);
    await w1.unlock();
    await ls.leave();
  });
});

describe('several nodes', () => {
  it('a remote master hands tokens to holders on every node (REQUEST_REPLY, GRANT, CONVERT_REPLY)', () => {
    const c = cluster(3);
    // 'd0...' has directory node 1; node 2 asks first and becomes master.
    const h2 = c.holder(2, 'h2');
    const h3 = c.holder(3, 'h3');
    const h1 = c.holder(1, 'h1');
    expect(c.lock(h2, LKM.EX, 'd0r')).toBe(0);
    c.run();
    const t2 = h2.lksb.fence!;
    expect(t2).toBeGreaterThan(0);
    expect(c.lock(h3, LKM.EX, 'd0r')).toBe(0); // REQUEST_REPLY EINPROGRESS, then GRANT
    c.run();
    expect(c.lock(h1, LKM.PR, 'd0r')).toBe(0);
    c.run();
    expect(c.unlock(h2)).toBe(0);
    c.run();
    const t3 = h3.lksb.fence!;
    expect(t3).toBeGreaterThan(t2);
    expect(c.unlock(h3)).toBe(0);
    c.run();
    expect(h1.lksb.status).toBe(0);
    expect(h1.lksb.fence).toBe(0);
    expect(c.convert(h1, LKM.PW)).toBe(0); // CONVERT_REPLY 0
    c.run();
    expect(h1.lksb.fence).toBeGreaterThan(t3);
    expect(c.ls.get(2)!.dump().find((r) => r.name === 'd0r')!.master).toBe(2);
  });

  for (const [what, firstMaster, dirNode] of [
    ['a non-directory master (REMOVE carries the mark)', 2, 1],
    ['the directory node as master (its floor)', 1, 1],
  ] as const) {
    it(`tokens keep rising when the resource retires and is mastered elsewhere: ${what}`, async () => {
      const c = cluster(3, { tossMs: 100 });
      const name = `d${dirNode - 1}q`;
      let last = 0;
      const masters: number[] = [];
      // Alternate the first requester so the master moves every round.
      const order = [firstMaster, 3, firstMaster === 1 ? 2 : 1, 3, firstMaster];
      for (const [i, node] of order.entries()) {
        const h = c.holder(node, `h${i}`);
        expect(c.lock(h, LKM.EX, name)).toBe(0);
        c.run();
        expect(h.lksb.status).toBe(0);
        expect(h.lksb.fence!).toBeGreaterThan(last);
        last = h.lksb.fence!;
        masters.push(c.ls.get(node)!.dump().find((r) => r.name === name)!.master);
        expect(c.unlock(h)).toBe(0);
        // Let the master retire the resource (and tell the directory).
        await c.sim.settle();
        for (const ls of c.ls.values()) expect(ls.rsbs.size).toBe(0);
      }
      expect(masters).toEqual(order);
    });
  }

  it('property: random lock/convert/unlock/cancel on 3 nodes with retirement: per resource, tokens of PW/EX grants strictly rise (seeded)', async () => {
    const seed = 0x5eed14;
    const names = ['d0a', 'd1b', 'd2c'];
    const op = fc.record({
      node: fc.integer({ min: 1, max: 3 }),
      slot: fc.integer({ min: 0, max: 3 }),
      name: fc.constantFrom(...names),
      kind: fc.constantFrom('lock', 'lock', 'lock', 'convert', 'unlock', 'unlock', 'cancel', 'settle', 'settle'),
      mode: fc.integer({ min: 0, max: 5 }),
      noqueue: fc.boolean(),
    });
    let checkedGrants = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 80 }), async (ops) => {
        const c = cluster(3, { tossMs: 50 });
        const holders = new Map<string, RemoteHolder & { name: string; live: boolean }>();
        // Per resource: the highest token seen and which lock had it; per lock its last token.
        const high = new Map<string, number>();
        const lastOfLock = new Map<string, number>();
        const failures: string[] = [];
        let made = 0;
        const watch = (key: string, h: RemoteHolder & { name: string; live: boolean }): void => {
          const inner = h.ast;
          h.ast = () => {
            inner();
            const st = h.lksb.status;
            const lkb = c.ls.get(h.node)!.lockById(h.lksb.lkid);
            if (st === DLM_ERRNO.EUNLOCK || !lkb) h.live = false;
            if (st !== 0 || !lkb) return;
            const f = h.lksb.fence ?? 0;
            if (lkb.grmode >= LKM.PW && f <= 0) failures.push(`${key} holds ${lkb.grmode} without a token`);
            if (lkb.grmode < LKM.PW && f !== 0) failures.push(`${key} holds ${lkb.grmode} with token ${f}`);
            if (f === 0) return;
            checkedGrants++;
            if (lastOfLock.get(key) === f) return; // kept across a down-conversion
            const hi = high.get(h.name) ?? 0;
            if (!(f > hi)) failures.push(`${h.name}: token ${f} of ${key} not above ${hi}`);
            high.set(h.name, Math.max(hi, f));
            lastOfLock.set(key, f);
          };
        };
        for (const o of ops) {
          const key = `${o.node}/${o.slot}`;
          let h = holders.get(key);
          if (o.kind === 'settle') {
            await c.sim.settle();
            continue;
          }
          if (o.kind === 'lock') {
            if (h?.live) continue;
            const fresh = Object.assign(c.holder(o.node, key), { name: o.name, live: true });
            watch(`${key}#${made++}`, fresh);
            holders.set(key, fresh);
            if (c.lock(fresh, o.mode, o.name, o.noqueue ? LKF.NOQUEUE : 0) !== 0) fresh.live = false;
          } else if (h?.live) {
            if (o.kind === 'convert') c.convert(h, o.mode, o.noqueue ? LKF.NOQUEUE : 0);
            else if (o.kind === 'unlock') c.unlock(h);
            else c.unlock(h, LKF.CANCEL);
          }
          c.run();
          h = undefined;
        }
        for (const h of holders.values()) if (h.live) c.unlock(h, LKF.FORCEUNLOCK);
        await c.sim.settle();
        expect(failures).toEqual([]);
      }),
      { seed, numRuns: 100, verbose: true },
    );
    console.log(`fence property: ${checkedGrants} PW/EX completions checked`);
    expect(checkedGrants).toBeGreaterThan(100);
  }, 30_000);
});

describe('hostile carriage', () => {
  it('property: random parent fields in REMOVE / LOOKUP_REPLY / REQUEST / GRANT / PURGE from a member never throw, keep floors safe and tokens rising (seeded)', () => {
    const seed = 0xfe11ce;
    const types = [MSG.REMOVE, MSG.LOOKUP_REPLY, MSG.REQUEST, MSG.GRANT, MSG.PURGE, MSG.REQUEST_REPLY, MSG.CONVERT_REPLY] as const;
    fc.assert(
      fc.property(
        fc.array(fc.record({ type: fc.constantFrom(...types), lo: fc.oneof(fc.constant(0xffffffff), fc.nat({ max: 0xffffffff })), hi: fc.oneof(fc.constantFrom(0, 1, 2, 2 ** 21 - 1, 2 ** 21), fc.nat({ max: 0xffffffff })), lkid: fc.nat({ max: 8 }), remid: fc.nat({ max: 8 }), pid: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 25 }),
        (msgs) => {
          const c = cluster(2);
          const ls1 = c.ls.get(1)!;
          let last = 0;
          const grantEx = (): void => {
            const h = c.holder(1, 'h');
            expect(c.lock(h, LKM.EX, 'd0h')).toBe(0);
            c.run();
            expect(h.lksb.status).toBe(0);
            expect(Number.isSafeInteger(h.lksb.fence)).toBe(true);
            expect(h.lksb.fence!).toBeGreaterThan(last);
            last = h.lksb.fence!;
            expect(c.unlock(h)).toBe(0);
            c.run();
          };
          grantEx();
          for (const x of msgs) {
            const m = emptyMessage(x.type);
            Object.assign(m, { nodeid: 2, lkid: x.lkid || 1, remid: x.remid, pid: x.pid, parentLkid: x.lo, parentRemid: x.hi, rqmode: LKM.EX, grmode: LKM.IV });
            // Another resource: an injected REQUEST makes a real lock, which must not block 'd0h'.
            if (x.type === MSG.REMOVE || x.type === MSG.REQUEST) m.extra = new TextEncoder().encode('d0z');
            if (x.type === MSG.PURGE) m.nodeid = 1;
            c.sim.inject(2, 1, encodeMessage({ version: DLM_VERSION, lockspace: ls1.globalId, nodeid: 2 }, m).slice());
            c.run();
            expect(Number.isSafeInteger(ls1.fenceFloor)).toBe(true);
          }
          grantEx();
          expect(ls1.stats.refused['INTERNAL']).toBeUndefined();
        },
      ),
      { seed, numRuns: 60 },
    );
  });
});

describe('writeFence splits a token without a floating-point remainder', () => {
  it('low and high words equal token % 2**32 and floor(token / 2**32), for tokens across the safe range and the edges (fast-check, seed 12)', () => {
    const check = (token: number): void => {
      const m = emptyMessage(MSG.GRANT);
      writeFence(m, token);
      expect([m.parentLkid, m.parentRemid]).toEqual([token % FENCE_GENERATION_UNIT >>> 0, Math.floor(token / FENCE_GENERATION_UNIT) >>> 0]);
      // A token in the range readFence accepts (high word below 2**21) reads back as itself.
      if (token >= 0 && Math.floor(token / FENCE_GENERATION_UNIT) < 2 ** 21) expect(readFence(m)).toBe(token);
    };
    for (const t of [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 7 * 2 ** 32 + 123, 2 ** 53 - 1, -1, -(2 ** 32) - 3]) check(t);
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), check), { seed: 12, numRuns: 500 });
  });
});
