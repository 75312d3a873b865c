/**
 * Issue 12's DLM across hosts (test/hosts/dlm-scenario.ts) on the 5-host
 * topology dlm5: relays with `--lockspace hosts --voters ... --views-dir
 * ... --node-id ...` running the shared history recorder's lock workload,
 * checked by the independent history checker
 * (test/helpers/dlm-history-checker.ts). Fault-free, and with SIGKILLs,
 * restarts and partitions along cut sets (seeded; DLM_HOSTS_SEED=n runs
 * that seed). Skipped, with the reason as the test name, unless namespaces
 * can be used under `npm run test:hosts`.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDlmAcrossHosts, type DlmRun } from './dlm-scenario.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));
const faultSeed = Number(process.env['DLM_HOSTS_SEED'] ?? 12);
/** The views driver's lease on a mesh (docs/views.md, the relay's default): a cut-off node stops granting within it. */
const LEASE_MS = 1000;

/** The checker's verdict and the run's own floor (every host granted, tokens on every PW/EX grant). */
function expectClean(run: DlmRun, minGrants: number): void {
  const seed = `seed ${run.seed} (rerun: DLM_HOSTS_SEED=${run.seed}; history in ${run.reportDir}/${run.historyFile})`;
  expect(run.report.violations, `${seed}\n${run.violationsText}`).toEqual([]);
  for (const [h, c] of run.perHost) expect(c.grants, `${seed}: ${h} granted requests`).toBeGreaterThanOrEqual(minGrants);
  expect(run.fenced.grants, `${seed}: PW/EX grants`).toBeGreaterThan(0);
  expect(run.fenced.withToken, `${seed}: PW/EX grants with a fencing token`).toBe(run.fenced.grants);
}

if (why !== null) {
  describe('hosts: DLM across hosts', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else {
  describe('hosts: DLM across hosts', () => {
    it('5 hosts with --lockspace and --voters, the shared lock workload, no faults: the history checker finds nothing', async () => {
      const run = await runDlmAcrossHosts(topo, { faults: [], seed: 1, log: (l) => console.log(l) });
      expectClean(run, 5);
      expect(run.report.stats.kills).toBe(0);
    }, 300_000);

    it(`hosts SIGKILLed and restarted and the mesh partitioned along cut sets under lock traffic, healed: the history checker finds nothing (seed ${faultSeed})`, async () => {
      const run = await runDlmAcrossHosts(topo, { faults: ['kill', 'partition'], seed: faultSeed, events: 4, log: (l) => console.log(l) });
      expectClean(run, 5);
      expect(run.plan.length).toBe(4);
      const where = `seed ${run.seed} (rerun: DLM_HOSTS_SEED=${run.seed})`;
      // The minority side stops granting: its leases end before the heal, and no request is granted to it
      // later than one lease after its last lease ended (grants just after it are completions already decided).
      for (const m of run.minority) {
        expect(m.leaseEnd, `${where}: ${m.host} in ${m.partition} still held a lease at the heal`).toBeLessThan(m.healAt);
        expect(m.grantsAfterLease.filter((ms) => ms > LEASE_MS), `${where}: ${m.host} in ${m.partition} granted after its lease (ms after)`).toEqual([]);
      }
    }, 600_000);
  });
}
