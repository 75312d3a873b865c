/**
 * Issue 14 (fault seed 43): can the views start a survivor's recovery
 * WITHOUT naming a restarted member in `departed`, or name different
 * departed sets on two members of one view? The departed-agreement check
 * (departed-agreement.ts) over every lockspace call of a 5-node cluster
 * under seeded kills, quick restarts (the same node killed again), minority
 * and even partitions and heals, with proposals made as on the mesh (a dead
 * run's span lingers next to its successor's, new runs show late, a leader
 * short of a majority keeps answering members: mesh-like-cluster.ts).
 * Every pair of members recovering to one view must agree on which of them
 * lost its state. 6 seeds in the suite; AGREE_SOAK=1 runs 300.
 *
 * Found: none. The lockspace planner computes `departed` from consecutive
 * committed views, the same on every member, so the seed-43 overlap came
 * from a member told late (restarted-master-lag.test.ts), not untold.
 */
import { describe, expect, it } from 'vitest';
import type { MemoryViewsStore } from '../../../../src/services/dlm/views/index.ts';
import { lcg } from '../../../helpers/mesh.ts';
import { departedAgreement, type AgreementCall } from './departed-agreement.ts';
import { MeshLikeCluster } from './mesh-like-cluster.ts';

const SEEDS = process.env.AGREE_SOAK ? 300 : 6;
const EVENTS = 40;
const TIMING = { lease: 200, heartbeatInterval: 30, electionMin: 80, electionMax: 160, driftMargin: 20 };

interface Run {
  calls: AgreementCall[];
  log: string[];
  kills: number;
}

function runSeed(seed: number): Run {
  const rand = lcg(seed * 104729);
  const voters = [1, 2, 3, 4, 5];
  const c = new MeshLikeCluster(voters, TIMING, 3, true).configure(rand, 200 + Math.floor(rand() * 2000), Math.floor(rand() * 400));
  for (const id of voters) c.boot(id, c.nodes.get(id)!.store); // boot again with the seeded span delays
  const stores = new Map<number, MemoryViewsStore>([...c.nodes.values()].map((n) => [n.id, n.store]));
  const down = new Map<number, number>();
  const log: string[] = [];
  let kills = 0;
  for (let i = 0; i < 10; i++) {
    c.proposeReachable();
    c.advance(100, 2);
  }
  for (let e = 0; e < EVENTS; e++) {
    const r = rand();
    if (r < 0.2) {
      const side = voters.filter(() => rand() < 0.4);
      c.heal();
      c.partition(side);
      log.push(`partition ${side.join(',')}`);
    } else if (r < 0.35) {
      c.heal();
      log.push('heal');
    } else if (r < 0.7 && down.size < 2) {
      const id = voters[Math.floor(rand() * voters.length)]!;
      if (!down.has(id)) {
        c.crash(id);
        kills++;
        down.set(id, Math.floor(rand() * 4)); // 0: back within the same step (a restart within one view)
        log.push(`kill ${id}`);
      }
    }
    for (const [id, k] of [...down]) {
      if (k > 0) {
        down.set(id, k - 1);
        continue;
      }
      c.boot(id, stores.get(id)!);
      down.delete(id);
      log.push(`boot ${id}`);
    }
    const steps = 1 + Math.floor(rand() * 8);
    for (let s = 0; s < steps; s++) {
      c.proposeReachable();
      c.advance(10 + Math.floor(rand() * 60), 2);
    }
  }
  return { calls: c.agreementCalls, log, kills };
}

/** Over the seeds run: kills, and starts naming a restarted member departed (the check had something to agree on). */
const total = { seeds: 0, kills: 0, departedStarts: 0 };

describe('every member of a view computes the same departed (views on a mesh-like cluster)', () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}: ${EVENTS} fault events (kills, quick restarts, partitions), every recovery agrees on who lost its state`, () => {
      const run = runSeed(seed);
      const violations = departedAgreement(run.calls);
      expect(violations, `seed ${seed}: ${run.log.join('; ')}`).toEqual([]);
      total.seeds++;
      total.kills += run.kills;
      total.departedStarts += run.calls.filter((x) => x.call === 'start' && (x.departed?.length ?? 0) > 0).length;
    });
  }

  it('the seeds above killed nodes and recovered restarted ones as departed', () => {
    expect(total.seeds).toBe(SEEDS);
    expect(total.kills).toBeGreaterThan(SEEDS * 5);
    expect(total.departedStarts).toBeGreaterThan(SEEDS * 3);
  });

  it('the check catches a member started without the restarted node in departed (the calls of seed 1, departed dropped on one node)', () => {
    const run = runSeed(1);
    let dropped = false;
    const sabotaged = run.calls.map((x) => {
      if (!dropped && x.call === 'start' && (x.departed?.length ?? 0) > 0) {
        dropped = true;
        return { ...x, departed: [] };
      }
      return x;
    });
    expect(dropped).toBe(true);
    expect(departedAgreement(sabotaged).join('\n')).toMatch(/treats node \d as new/);
  });

  it('the check on hand-made calls: a restarted master not named by one owner is reported; named by both, nothing', () => {
    const base: AgreementCall[] = [
      { node: 1, call: 'boot' },
      { node: 2, call: 'boot' },
      { node: 3, call: 'boot' },
      ...[1, 2, 3].map((node): AgreementCall => ({ node, call: 'start', members: [1, 2, 3], generation: 1 })),
      { node: 3, call: 'boot' },
    ];
    const good: AgreementCall[] = [...base, ...[1, 2].map((node): AgreementCall => ({ node, call: 'start', members: [1, 2, 3], generation: 2, departed: [3] })), { node: 3, call: 'start', members: [1, 2, 3], generation: 2 }];
    expect(departedAgreement(good)).toEqual([]);
    const bad: AgreementCall[] = [...base, { node: 1, call: 'start', members: [1, 2, 3], generation: 2 }, { node: 2, call: 'start', members: [1, 2, 3], generation: 2, departed: [3] }, { node: 3, call: 'start', members: [1, 2, 3], generation: 2 }];
    expect(departedAgreement(bad)).toEqual(['generation 2: node 1 does not treat node 3 as new, node 3 treats node 1 as new']);
  });
});
