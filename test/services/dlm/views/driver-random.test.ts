/**
 * The views driver under seeded random faults (fake targets, fake network on
 * one ManualClock): partitions of any shape, heals, crashes and restarts from
 * the store, proposals of what each node reaches. Checked after every 2 ms of
 * virtual time: all granting lockspaces run the same view, and every target
 * call is well-formed (a start's generation only rises); at the end, after a
 * heal, every node grants under one view with all members. The seed is in
 * the test name; DRIVER_SOAK=1 runs 100 seeds.
 */
import { describe, expect, it } from 'vitest';
import { MemoryViewsStore } from '../../../../src/services/dlm/views/index.ts';
import { lcg } from '../../../helpers/mesh.ts';
import { FakeCluster } from './driver-harness.ts';

const SEEDS = process.env.DRIVER_SOAK ? 100 : 6;
const EVENTS = 20;

describe('views driver under random faults', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: ${EVENTS} fault events on 5 nodes, one granting view at every instant, convergence after the heal`, () => {
      const rand = lcg(seed * 7727);
      const voters = [1, 2, 3, 4, 5];
      const c = new FakeCluster(voters, { lease: 200, heartbeatInterval: 30, electionMin: 80, electionMax: 160, driftMargin: 20 }, 3);
      const stores = new Map<number, MemoryViewsStore>([...c.nodes.values()].map((n) => [n.id, n.store]));
      const down = new Set<number>();
      const log: string[] = [];
      c.advance(500, 2);
      for (let e = 0; e < EVENTS; e++) {
        const r = rand();
        if (r < 0.35) {
          const side = voters.filter(() => rand() < 0.4);
          c.heal();
          c.partition(side);
          log.push(`partition ${side.join(',')}`);
        } else if (r < 0.55) {
          c.heal();
          log.push('heal');
        } else if (r < 0.75 && down.size < 2) {
          const id = voters[Math.floor(rand() * voters.length)]!;
          if (!down.has(id)) {
            c.crash(id);
            down.add(id);
            log.push(`crash ${id}`);
          }
        } else if (down.size > 0) {
          const id = [...down][Math.floor(rand() * down.size)]!;
          c.boot(id, stores.get(id)!);
          down.delete(id);
          log.push(`restart ${id}`);
        }
        c.proposeReachable();
        c.advance(50 + Math.floor(rand() * 400), 2);
        c.proposeReachable();
        expect(c.violations, `seed ${seed} after ${log.join('; ')}`).toEqual([]);
      }
      for (const id of [...down]) c.boot(id, stores.get(id)!);
      c.heal();
      for (let i = 0; i < 10; i++) {
        c.proposeReachable();
        c.advance(400, 2);
      }
      expect(c.violations, `seed ${seed}: ${log.join('; ')}`).toEqual([]);
      const views = new Set([...c.nodes.values()].map((n) => n.driver.stats.view));
      expect(views.size, `seed ${seed}: ${log.join('; ')}`).toBe(1);
      for (const n of c.nodes.values()) {
        expect(n.target.grants, `node ${n.id} grants; seed ${seed}: ${log.join('; ')}`).toBe(true);
        expect(n.driver.stats.members).toEqual(voters);
        expect(n.target.members).toEqual(voters);
        expect(n.driver.stats.targetErrors, `node ${n.id} target errors`).toBe(0);
      }
    });
  }
});
