/**
 * One vitest test per topology file: the routing scenario with its
 * assertions. Skipped, with the reason as the test name, unless namespaces
 * can be used under `npm run test:hosts`.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EventRecord } from './host-mesh.ts';
import { KEEPALIVE_TIMEOUT_MS, runRoutingScenario, type RoutingRun } from './routing-scenario.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

/** Scenario budget: the safety net of the whole test, far above a normal run (about a minute). */
const TEST_SAFETY_MS = 600_000;

export function defineRoutingTest(file: string, tag: string): void {
  const why = hostsSkipReason();
  const topo = loadTopology(fileURLToPath(new URL(`./topologies/${file}`, import.meta.url)));
  if (why !== null) {
    describe(`hosts: ${topo.name}`, () => {
      it.skip(`skipped: ${why}`, () => undefined);
    });
    return;
  }
  describe(`hosts: ${topo.name}`, () => {
    let run: RoutingRun | undefined;
    const one = (k: string): EventRecord => run!.report.rows.find((r) => r.record.kind === k)!.record;

    it('reaches the service from every host at the right distance, converges after cut/restore, kill/restart, freeze/thaw, partition/heal', async () => {
      run = await runRoutingScenario(topo, tag, (l) => console.log(l));
      expect(run.reachStart.length).toBe(topo.hosts.length - 1);
      expect(run.reachEnd.length).toBe(topo.hosts.length - 1);
      for (const r of [...run.reachStart, ...run.reachEnd]) {
        expect(r.dist, `${r.host}: distance of the service`).toBe(r.wantDist);
        expect(r.echo).toBe(`hello from ${r.host}`);
      }
      // A killed relay (its sockets reset by the kernel) is withdrawn everywhere well within the keepalive timeout.
      expect(one('kill').convergenceMs).toBeLessThan(KEEPALIVE_TIMEOUT_MS);
      // A frozen relay says nothing: only keepalive can find it, so withdrawal takes at least the timeout.
      expect(one('freeze').convergenceMs).toBeGreaterThanOrEqual(KEEPALIVE_TIMEOUT_MS - 1000);
      expect(one('freeze').spanEvents.down).toBeGreaterThan(0);
      expect(one('partition').spanEvents.down).toBeGreaterThan(0);
      expect(one('heal').spanEvents.up).toBeGreaterThan(0);
      expect(run.report.total!.duplicated).toBe(0);
      expect(run.report.total!.delivered).toBeGreaterThan(0);
    }, TEST_SAFETY_MS);

    // Issue 12: "a link cut moves traffic to the other path with no down at hosts that stay
    // reachable". The cut is next to the service's host: this is issue 8 defect 4's case, and
    // fails (some runs, some topologies) while that defect is open.
    it('a cut link on a cycle: no span down at hosts that stay reachable', () => {
      expect(run, 'the scenario above ran').toBeDefined();
      expect(one('cut').downsAtReachableDetail, 'span down at hosts that stay reachable after a cut').toEqual([]);
    });
  });
}
