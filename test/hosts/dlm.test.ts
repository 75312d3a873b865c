/**
 * Issue 12's DLM across hosts (test/hosts/dlm-scenario.ts), fault-free, on
 * the 5-host topology dlm5: relays with `--lockspace hosts --voters ...
 * --views-dir ... --node-id ...` running the shared history recorder's lock
 * workload, checked by the independent history checker
 * (test/helpers/dlm-history-checker.ts). In the CI gate
 * (`npm run test:hosts:gate`). Skipped, with the reason as the test name,
 * unless namespaces can be used under `npm run test:hosts`.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDlmAcrossHosts } from './dlm-scenario.ts';
import { expectClean } from './dlm-expect.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));

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
  });
}
