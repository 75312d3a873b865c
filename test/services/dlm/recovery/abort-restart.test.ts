/**
 * Recovery interrupted (§4.1, §4.6): a stop() during recovery aborts it and
 * a later start() runs it again; stale RCOM replies of the aborted run are
 * ignored; the result is the same as one uninterrupted recovery.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { PR, EX } = LKM;

describe('aborted and restarted recovery', () => {
  for (const rounds of [1, 2, 3, 4, 6, 8]) {
    it(`another node dies ${rounds} delivery rounds into recovery: the rerun converges (survivor keeps PR, waiter granted)`, async () => {
      const c = recoveryCluster(4);
      // Node 4 masters d1r (directory node 2); nodes 1 and 3 hold PR, node 2 waits for EX.
      const m = c.holder(4, 'M');
      c.lock(m, PR, 'd1r');
      await c.settle();
      const a = c.holder(1, 'A');
      const b = c.holder(2, 'B');
      const x = c.holder(3, 'X');
      c.lock(a, PR, 'd1r');
      c.lock(x, PR, 'd1r');
      await c.settle();
      c.lock(b, EX, 'd1r');
      await c.settle();
      c.log.splice(0);
      c.kill(4);
      c.holdAmong([1, 2, 3]);
      c.restart();
      for (let i = 0; i < rounds; i++) c.step([1, 2, 3]);
      expect(c.ls.get(1)!.recovering || c.ls.get(2)!.recovering).toBe(true);
      c.kill(3); // mid-recovery: stop on all, start again
      c.releaseAmong([1, 2]);
      expect(await c.recover()).toEqual([]);
      for (const id of [1, 2]) {
        const ls = c.ls.get(id)!;
        expect(ls.recovering).toBe(false);
        expect(ls.stats.recovery.completed).toBeGreaterThanOrEqual(1);
        expect(ls.stats.recovery.aborted).toBe(1);
      }
      expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(PR);
      c.unlock(a);
      expect((await c.settle()).sort()).toEqual(['A ast EUNLOCK', 'B ast 0']);
      const master = c.ls.get(2)!.dump().find((d) => d.name === 'd1r')?.master;
      expect([1, 2]).toContain(master);
    });
  }

  it('a stop and start with the same list mid-recovery reruns it; generation rises at each run', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    const a = c.holder(1, 'A');
    c.lock(m, EX, 'd1s');
    c.lock(a, PR, 'd1s');
    await c.settle();
    c.log.splice(0);
    const g0 = c.ls.get(1)!.generation;
    c.kill(3);
    c.holdAmong([1, 2]);
    c.restart();
    c.step([1, 2]);
    c.step([1, 2]);
    expect(c.ls.get(2)!.recovering).toBe(true);
    c.releaseAmong([1, 2]);
    expect(await c.recover()).toEqual(['A ast 0']);
    expect(c.ls.get(1)!.generation).toBeGreaterThan(g0);
    expect(c.ls.get(2)!.generation).toBe(c.ls.get(1)!.generation);
    expect(c.ls.get(1)!.stats.recovery.aborted + c.ls.get(2)!.stats.recovery.aborted).toBeGreaterThan(0);
  });

  it('stale RCOM replies of an aborted run are ignored (counted)', async () => {
    const c = recoveryCluster(3);
    c.kill(3);
    c.holdAmong([1, 2]);
    c.restart();
    c.step([1, 2]); // node 1's STATUS reaches node 2; its answer is held
    c.restart(); // aborts; node 1's new run has another sequence
    c.releaseAmong([1, 2]);
    await c.settle();
    expect(c.ls.get(1)!.stats.recovery.rcomIgnored).toBeGreaterThan(0);
    expect(c.ls.get(1)!.recovering).toBe(false);
    expect(c.ls.get(2)!.recovering).toBe(false);
  });

  it('a generation given to start() is used on every node and must rise', async () => {
    const c = recoveryCluster(3);
    c.kill(3);
    await c.recover({ generation: 7 });
    expect([c.ls.get(1)!.generation, c.ls.get(2)!.generation]).toEqual([7, 7]);
    c.ls.get(1)!.stop();
    expect(() => c.ls.get(1)!.start([1, 2], { generation: 7 })).toThrow(/generation 7 must be an integer above the current 7/);
    c.ls.get(1)!.start([1, 2], { generation: 8 });
    expect(c.ls.get(1)!.generation).toBe(8);
  });
});

describe('the request queue (§4.8)', () => {
  it('a REQUEST saved while the master was stopped is replayed after recovery; a message of the departed node is dropped', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(2, 'M');
    c.lock(m, EX, 'd1q'); // node 2: directory and master
    await c.settle();
    const a = c.holder(1, 'A');
    const d = c.holder(3, 'D');
    c.lock(a, PR, 'd1q'); // node 1 knows nothing yet: LOOKUP to node 2 (it answers as master)
    c.lock(d, PR, 'd1q');
    c.ls.get(2)!.stop(); // node 2 stops first: both arrive while it is stopped and are saved
    c.sim.runPending();
    c.kill(3);
    c.restart();
    expect(await c.settle()).toEqual(['M bast PR']);
    // Node 3's LOOKUP was dropped (departed, and directory messages are dropped); node 1's too, and its lookup was redone.
    expect(c.ls.get(2)!.stats.recovery.droppedSaved).toBe(2);
    c.unlock(m);
    expect(await c.settle()).toEqual(['M ast EUNLOCK', 'A ast 0']);
    expect(c.queues(2, 'd1q')).toBe('m2 G[n1:PR] C[] W[]');
  });
});
