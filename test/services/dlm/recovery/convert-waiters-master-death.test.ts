/**
 * Two conversions in flight to a master that dies. Suspected from the
 * 5-process SIGKILL run (seed 43, three copies at once under load): node
 * 1939060750 had CW->PR and CW->PR NOQUEUE in flight on r1 when r1's master
 * was killed; after recovery (every node granting in the new view) its
 * locks still named the dead master's node id, one had lost its CW, and the
 * new master granted PW and EX to another node (an overlap). In that run
 * the killed master came back with the same node id 1.5 s later and was
 * re-admitted.
 *
 * This test is the base case on the simulator, without the restart: node 1
 * holds two CW locks mastered on node 3 and converts both to PR (one
 * NOQUEUE); the messages never reach node 3, which dies. It passes: after
 * recovery both locks keep CW or PR and node 2's NOQUEUE EX is refused. So
 * the process failure needs more than this (the returning node id is the
 * first suspect); see docs/faults.md, "The 5-process run under load".
 */
import { describe, expect, it } from 'vitest';
import { LKF, LKM } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, CW, PR, EX } = LKM;

describe('conversions in flight when their master dies', () => {
  it('CW->PR and CW->PR NOQUEUE lost with the master: both locks keep a mode that excludes EX', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    c.lock(m, NL, 'd0m'); // directory node 1; node 3 masters the resource
    await c.settle();
    const a = c.holder(1, 'A');
    const b = c.holder(1, 'B');
    c.lock(a, CW, 'd0m');
    c.lock(b, CW, 'd0m');
    expect((await c.settle()).sort()).toEqual(['A ast 0', 'B ast 0']);
    c.unlock(m);
    await c.settle();
    c.sim.hold(1, 3);
    c.convert(a, PR);
    c.convert(b, PR, LKF.NOQUEUE);
    c.kill(3);
    await c.recover();
    await c.settle();
    const ga = c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode;
    const gb = c.ls.get(1)!.lockById(b.lksb.lkid)!.grmode;
    expect([ga, gb].every((g) => g === CW || g === PR), `grmodes ${ga} ${gb}; ${c.queues(1, 'd0m')} / ${c.queues(2, 'd0m')}`).toBe(true);
    const x = c.holder(2, 'X');
    c.lock(x, EX, 'd0m', LKF.NOQUEUE);
    expect(await c.settle()).toEqual(['X ast EAGAIN']);
  });
});
