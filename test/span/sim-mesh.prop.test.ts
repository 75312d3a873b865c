/**
 * Property tests of the span layer over the simulated mesh (sim-mesh.ts):
 * random topologies, services, link cuts and restores, random delivery order.
 *
 * Checked on EVERY delivered span: no repeated node in its path, receiver not
 * on it, dist = path length - 1 (sim-mesh `violations`), and no span is ever
 * refused by a table (the planner filters before sending).
 * Checked at quiescence: every router sees exactly the service nodes it can
 * reach (none stale, none missing), the best link is a BFS-shortest path, all
 * paths are simple paths over links that are up, senders and receivers agree,
 * and the planner has nothing left to do.
 *
 * Message bound per event (cut or restore, run to quiescence):
 *   messages ≤ 2 · maxRelayedPaths · K · D · N
 * K advertised service nodes, D = 2 · edges (directed links), N routers.
 * Why: at quiescence each (service node, directed link) holds at most
 * maxRelayedPaths relays, and each change of one costs ≤ 2 messages (create +
 * delete). In synchronous rounds a shortest-path path vector settles within N
 * rounds after one change (explored paths lengthen every round and a simple
 * path has < N hops), so each slot changes ≤ N times. This is not a proof for
 * every asynchronous interleaving (path-vector exploration is exponential in
 * the worst case, as BGP's), so it is a regression guard with a rationale;
 * the observed maximum is printed and far below it. Routers run with
 * PlanOptions.consistencyCheck on (and plan fully on every conn change);
 * without it path exploration after a cut costs about 10x more messages and
 * gets close to the bound (seen: 1.93 · K·D·N on a 43-router graph).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SimMesh, topologies } from './sim-mesh.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { check, expectClean, observed, quiescentRun, scenario } from './sim-scenarios.ts';

describe('span relaying over a simulated mesh', () => {
  check('line: cuts and restores, quiescent', scenario('line', 30, 10), quiescentRun, 80, 101);
  check('ring: cuts and restores, quiescent', scenario('ring', 30, 10), quiescentRun, 80, 102);
  check('star: cuts and restores, quiescent', scenario('star', 30, 10), quiescentRun, 80, 103);
  check('full mesh: cuts and restores, quiescent', scenario('full', 12, 10), quiescentRun, 40, 104);
  check('random connected graphs up to 50 routers, quiescent', scenario('random', 50, 10), quiescentRun, 80, 105);
  check('random connected graphs of 30-50 routers, quiescent', scenario('random', 50, 10, 30), quiescentRun, 20, 106);

  it('a long line beyond maxDist: far routers do not see the service, near ones do', () => {
    const mesh = new SimMesh({ nodes: 12, edges: topologies.line(12), seed: 1, options: { maxDist: 4 } });
    mesh.advertise(0, 'svc', 0, 0);
    mesh.runToQuiescence();
    expectClean(mesh, 'line');
    expect(mesh.routers[6]!.table.findService('svc').length).toBe(1); // 6 hops = dist 5: relayed from dist 4
    expect(mesh.routers[7]!.table.findService('svc').length).toBe(0);
  });

  it('the simulation is deterministic for a seed', () => {
    const run = (seed: number) => {
      const m = new SimMesh({ nodes: 30, edges: topologies.random(30, 20, 9), seed });
      m.advertise(3, 'svc', 0, 0);
      m.runToQuiescence();
      const rnd = mulberry32(seed);
      for (let i = 0; i < 10; i++) {
        const e = Math.floor(rnd() * m.edges.length);
        if (m.edges[e]!.up) m.cut(e);
        else m.restore(e);
        m.deliver(15);
      }
      m.runToQuiescence();
      return `${m.messages}/${m.delivered}/${JSON.stringify(m.routers.map((r) => r.table.snapshot()))}`;
    };
    expect(run(77)).toBe(run(77));
  });
});

afterAll(() => {
  console.log(
    `span sim: ${observed.events} quiescent events, ${observed.totalMessages} span messages, ` +
      `max ${observed.maxPerEvent} per event, max messages/(K·D·N) = ${observed.maxRatio.toFixed(3)} (${observed.worst}); ` +
      `max messages/(K·D) = ${observed.maxPerSlot.toFixed(2)} (${observed.worstSlot}); asserted bound 2·paths·K·D·N`,
  );
});
