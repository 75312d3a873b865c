/**
 * Issue 12's DLM across hosts with kills and partitions
 * (test/hosts/dlm-scenario.ts) on the 5-host topology dlm5: relays with
 * `--voters`, the shared lock workload, hosts SIGKILLed and restarted and
 * the mesh partitioned along cut sets (a seeded plan; DLM_HOSTS_SEED=n
 * runs seed n), healed, then the independent history checker over every
 * host's records. Skipped, with the reason as the test name, unless
 * namespaces can be used under `npm run test:hosts`.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDlmAcrossHosts } from './dlm-scenario.ts';
import { expectClean, whereOf } from './dlm-expect.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));
const seed = Number(process.env['DLM_HOSTS_SEED'] ?? 12);
/** Faults in the plan (DLM_HOSTS_EVENTS=n for longer seed sweeps, scripts/hosts-dlm-seeds.mjs). */
const events = Number(process.env['DLM_HOSTS_EVENTS'] ?? 4);
/** The views driver's lease on a mesh (docs/views.md, the relay's default): a cut-off node stops granting within it. */
const LEASE_MS = 1000;

if (why !== null) {
  describe('hosts: DLM across hosts, kills and partitions', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else {
  describe('hosts: DLM across hosts, kills and partitions', () => {
    it(`hosts SIGKILLed and restarted and the mesh partitioned along cut sets under lock traffic, healed: the history checker finds nothing, the minority stops granting (seed ${seed})`, async () => {
      const run = await runDlmAcrossHosts(topo, { faults: ['kill', 'partition'], seed, events, log: (l) => console.log(l) });
      expectClean(run, 5);
      expect(run.plan.length).toBe(events);
      const where = whereOf(run);
      // The minority side stops granting: its leases end before the heal, and no request is granted to it
      // later than one lease after its last lease ended (grants just after it are completions already decided).
      for (const m of run.minority) {
        expect(m.leaseEnd, `${where}: ${m.host} in ${m.partition} still held a lease at the heal`).toBeLessThan(m.healAt);
        expect(m.grantsAfterLease.filter((ms) => ms > LEASE_MS), `${where}: ${m.host} in ${m.partition} granted after its lease (ms after)`).toEqual([]);
      }
    }, Math.max(600_000, events * 150_000));
  });
}
