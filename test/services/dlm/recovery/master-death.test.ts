/**
 * Recovery when a resource's master dies (§4.2, §4.5, §4.6): survivors keep
 * their granted modes, queued requests and conversions are rebuilt on the
 * new master and granted when possible, and the dead node's locks are gone.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, PR, PW, EX } = LKM;

describe('the master of a resource dies', () => {
  it('survivors keep granted modes; a queued request blocked only by the dead node is granted after recovery', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(m, EX, 'd1x'); // node 3 asks the directory (node 2) first: master 3
    await c.settle();
    c.lock(a, PR, 'd1x');
    c.lock(b, PR, 'd1x');
    expect(await c.settle()).toEqual(['M bast PR']);
    expect(c.queues(3, 'd1x')).toMatch(/^m3 G\[own:EX\] C\[\] W\[n[12]:>PR n[12]:>PR\]$/);
    const gen = c.ls.get(1)!.generation;
    c.kill(3);
    expect((await c.recover()).sort()).toEqual(['A ast 0', 'B ast 0']);
    for (const id of [1, 2]) {
      expect(c.ls.get(id)!.generation).toBe(gen + 1);
      expect(c.ls.get(id)!.recovering).toBe(false);
    }
    // The directory node (2 of [1, 2]) gave mastery to the first asker.
    const master = c.ls.get(1)!.dump().find((d) => d.name === 'd1x')!.master;
    expect([1, 2]).toContain(master);
    expect(c.queues(master, 'd1x')).toMatch(/^m[12] G\[(own|n[12]):PR (own|n[12]):PR\] C\[\] W\[\]$/);
    const stats = [1, 2].map((id) => c.ls.get(id)!.stats.recovery);
    expect(stats.reduce((s, x) => s + x.remastered, 0)).toBe(1);
    expect(stats.reduce((s, x) => s + x.rebuilt, 0)).toBe(1); // the other survivor's lock
    expect(stats.every((x) => x.runs === 1 && x.completed === 1 && x.aborted === 0)).toBe(true);
  });

  it('granted locks of survivors are kept and a waiter blocked by a survivor stays queued until that survivor unlocks', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(m, NL, 'd0y'); // directory node 1; node 3 asks first: master 3
    await c.settle();
    c.lock(a, PW, 'd0y');
    await c.settle();
    c.lock(b, EX, 'd0y');
    expect(await c.settle()).toEqual(['A bast EX']);
    c.kill(3);
    expect(await c.recover()).toEqual([]);
    const master = c.ls.get(2)!.dump().find((d) => d.name === 'd0y')!.master;
    const line = c.queues(master, 'd0y');
    expect(line).toContain(':PW');
    expect(line).toMatch(/W\[(own|n2):>EX\]/);
    expect(c.unlock(a)).toBe(0);
    expect(await c.settle()).toEqual(['A ast EUNLOCK', 'B ast 0']);
  });

  it('a queued conversion of a survivor is rebuilt on the convert queue and granted out of order when compatible', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(m, PR, 'd1z');
    await c.settle();
    c.lock(a, PR, 'd1z');
    c.lock(b, PR, 'd1z');
    await c.settle();
    c.convert(a, EX); // queued behind M's and B's PR
    expect(await c.settle()).toEqual(['M bast EX', 'B bast EX']);
    c.kill(3);
    expect(await c.recover()).toEqual([]); // still blocked by B
    expect(c.unlock(b)).toBe(0);
    expect(await c.settle()).toEqual(['B ast EUNLOCK', 'A ast 0']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(EX);
  });

  it('a lock request after recovery finds the new master through the rebuilt directory', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    const a = c.holder(1, 'A');
    const x = c.holder(2, 'X');
    c.lock(m, PR, 'd1w');
    c.lock(a, PR, 'd1w');
    await c.settle();
    c.kill(3);
    await c.recover();
    c.lock(x, EX, 'd1w');
    expect(await c.settle()).toEqual(['A bast EX']);
    c.unlock(a);
    expect(await c.settle()).toEqual(['A ast EUNLOCK', 'X ast 0']);
  });
});
