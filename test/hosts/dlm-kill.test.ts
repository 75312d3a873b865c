/**
 * Issue 12's DLM across hosts, hosts killed and restarted
 * (test/hosts/dlm-scenario.ts with kills only) on the 5-host topology dlm5:
 * relays with `--voters`, the shared lock workload, random hosts SIGKILLed
 * (restarted at once or after the survivors granted again), and the
 * independent history checker over every host's records. A SIGKILL resets
 * the dead relay's sockets, so no keepalive wait (about 45 s). Not in the CI
 * gate while it exposes an open rejoin stall (docs/hosts.md, Findings). Seeded (DLM_HOSTS_SEED=n runs
 * that seed). Skipped, with the reason as the test name, unless namespaces
 * can be used under `npm run test:hosts`.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDlmAcrossHosts } from './dlm-scenario.ts';
import { expectClean, whereOf } from './dlm-expect.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));
const seed = Number(process.env['DLM_HOSTS_SEED'] ?? 3);
/** Kills in the plan (DLM_HOSTS_EVENTS=n for longer seed sweeps, scripts/hosts-dlm-seeds.mjs). */
const events = Number(process.env['DLM_HOSTS_EVENTS'] ?? 2);

if (why !== null) {
  describe('hosts: DLM across hosts, hosts killed', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else {
  describe('hosts: DLM across hosts, hosts killed', () => {
    it(`SIGKILL of random hosts under lock traffic and restarts: the others go on, the dead rejoin, the history checker finds nothing (seed ${seed})`, async () => {
      const run = await runDlmAcrossHosts(topo, { faults: ['kill'], seed, events, log: (l) => console.log(l) });
      expectClean(run, 5);
      const where = whereOf(run);
      expect(run.report.stats.kills, where).toBe(events);
      // Each kill and rejoin went through the views driver: more views than the first one were committed.
      expect(run.views.length, `${where}: views committed ${run.views.join(' ')}`).toBeGreaterThan(1);
    }, Math.max(300_000, events * 90_000));
  });
}
