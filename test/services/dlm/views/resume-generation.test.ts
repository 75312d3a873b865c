/**
 * Found by the fault test (kill/restart/partition seed 1012): after the heal
 * every view granted but no lock operation ever completed. The views driver
 * starts a lockspace with `generation: view` and, when its lease returns
 * under the same view, resumes it with a plain `start(members)`. If the
 * lease had lapsed during that view's recovery (stop() aborted it), the
 * resume reran recovery without a generation and the low node picked
 * max + 1: the view's number plus one. The next view's start(generation:
 * view + 1) then threw EINVAL (not above the current generation), the
 * driver counted a target error, and the lockspace stayed stopped for good
 * while the driver believed it ran (on all four survivors).
 *
 * A rerun without a generation now recovers to the generation the aborted
 * run was given (recovery-driver.ts).
 */
import { describe, expect, it } from 'vitest';
import { recoveryCluster } from '../recovery/recovery-cluster.ts';

describe('a recovery resumed after an abort keeps the generation it was given', () => {
  for (const rounds of [0, 1, 2, 3, 5]) {
    it(`aborted ${rounds} delivery rounds into the run for view 5: the resume recovers to 5 and view 6 starts`, async () => {
      const c = recoveryCluster(3);
      c.kill(3);
      c.holdAmong([1, 2]);
      c.restart({ generation: 5 }); // the view driver's start for view 5
      for (let i = 0; i < rounds; i++) c.step([1, 2]);
      // Every lease lapses (stopped), then returns under view 5: the driver resumes without a generation.
      for (const id of [1, 2]) c.ls.get(id)!.stop();
      for (const id of [1, 2]) c.ls.get(id)!.start([1, 2]);
      c.releaseAmong([1, 2]);
      await c.settle();
      for (const id of [1, 2]) {
        const ls = c.ls.get(id)!;
        expect(ls.recovering, `node ${id} recovered`).toBe(false);
        expect(ls.generation, `node ${id}`).toBe(5);
      }
      // View 6 (another member list) is started with generation 6: accepted, recovered to 6.
      for (const id of [1, 2]) c.ls.get(id)!.stop();
      for (const id of [1, 2]) expect(() => c.ls.get(id)!.start([1, 2], { generation: 6, departed: [] })).not.toThrow();
      await c.settle();
      for (const id of [1, 2]) expect(c.ls.get(id)!.generation).toBe(6);
    });
  }
});
