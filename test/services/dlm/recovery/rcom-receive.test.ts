/**
 * The RCOM receive path (§3.8): a STATUS for a lockspace a node does not
 * have is answered -ESRCH and polled again when that node shows up; random
 * and malformed recovery messages from a member never throw, are counted,
 * and leave recovery and locking working.
 */
import { describe, expect, it } from 'vitest';
import { DlmSim, LKM, dlmMessage, lockspaceGlobalId } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { encodeRcom, RCOM, DLM_VERSION } = dlmMessage;

describe('RCOM receive path', () => {
  it('a STATUS for a lockspace not (yet) there is answered -ESRCH; recovery completes once it exists, without timers', async () => {
    const sim = new DlmSim({ nodes: [1, 2] });
    const l1 = sim.node(1).newLockspace('late', { members: [1, 2] });
    l1.stop();
    l1.start([1, 2], { departed: [2] }); // node 2 has no lockspace "late" yet
    await sim.settle({ timers: false });
    expect(sim.node(2).unroutable).toBeGreaterThan(0);
    expect(l1.recovering).toBe(true);
    const l2 = sim.node(2).newLockspace('late', { members: [2] });
    l2.stop();
    l2.start([1, 2]);
    await sim.settle({ timers: false });
    expect([l1.recovering, l2.recovering]).toEqual([false, false]);
    expect(l1.generation).toBe(l2.generation);
  });

  it('random RCOM bytes from a member, while running and while recovering, never throw and are counted', async () => {
    const c = recoveryCluster(3);
    const id = lockspaceGlobalId('ls');
    let s = 12345;
    const rand = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
    const junk = (from: number): Uint8Array => {
      const type = 1 + Math.floor(rand() * 8);
      const buf = new Uint8Array(Math.floor(rand() * 200));
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
      return encodeRcom({ version: DLM_VERSION, lockspace: id, nodeid: from }, { type, result: Math.floor(rand() * 2 ** 31) - 2 ** 30, id: BigInt(Math.floor(rand() * 50)), seq: BigInt(Math.floor(rand() * 5)), seqReply: BigInt(Math.floor(rand() * 5)), buf });
    };
    const a = c.holder(1, 'A');
    c.lock(a, LKM.PR, 'd2z');
    await c.settle();
    for (let i = 0; i < 300; i++) c.sim.inject(2, 1, junk(2));
    await c.settle();
    c.kill(3);
    c.restart();
    for (let i = 0; i < 300; i++) c.sim.inject(1 + (i % 2), 2 - (i % 2), junk(1 + (i % 2)));
    await c.settle();
    expect([c.ls.get(1)!.recovering, c.ls.get(2)!.recovering]).toEqual([false, false]);
    const ignored = c.ls.get(1)!.stats.recovery.rcomIgnored + Object.values(c.ls.get(1)!.stats.refused).reduce((x, y) => x + y, 0);
    expect(ignored).toBeGreaterThan(0);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(LKM.PR);
    const b = c.holder(2, 'B');
    c.lock(b, LKM.EX, 'd2z');
    expect(await c.settle()).toEqual(['A bast EX']);
    c.unlock(a);
    expect(await c.settle()).toEqual(['A ast EUNLOCK', 'B ast 0']);
  });
});
