/**
 * Issue 12's DLM across hosts, a host killed and restarted
 * (test/hosts/dlm-scenario.ts, faults 'kill-restart') on the 5-host
 * topology dlm5. Needs DLM recovery (the survivors must drop the dead
 * member's locks and go on); skipped, saying so, until it is on main. No
 * partition, so no live holder is ever cut off and the plain overlap check
 * (a killed holder's locks end at its kill time) is sound without the views
 * driver. Skipped, with the reason as the test name, unless namespaces can
 * be used under `npm run test:hosts`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDlmAcrossHosts } from './dlm-scenario.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));
const recovery = existsSync(fileURLToPath(new URL('../../src/services/dlm/recovery', import.meta.url)));

if (why !== null) {
  describe('hosts: DLM across hosts, a host killed', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else if (!recovery) {
  describe('hosts: DLM across hosts, a host killed', () => {
    it.skip('skipped: DLM recovery (src/services/dlm/recovery, recov) is not on main yet: without it the survivors refuse the member change while resources are in use', () => undefined);
  });
} else {
  describe('hosts: DLM across hosts, a host killed', () => {
    it('SIGKILL d1 under lock traffic and restart it: the others go on, d1 rejoins, never two incompatible at once, fencing tokens rise', async () => {
      const run = await runDlmAcrossHosts(topo, { faults: 'kill-restart', seed: 3, log: (l) => console.log(l) });
      expect(run.verdict.violations).toEqual([]);
      expect(run.fence.violations, 'fencing tokens rise per resource').toEqual([]);
      for (const [h, c] of run.verdict.perHost) expect(c.grants, `${h} grants`).toBeGreaterThanOrEqual(h === 'd1' ? 80 : 120);
    }, 600_000);
  });
}
