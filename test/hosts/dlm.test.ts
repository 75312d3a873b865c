/**
 * Issue 12's DLM across hosts (test/hosts/dlm-scenario.ts) on the 5-host
 * topology dlm5: hosts running `--lockspace hosts` with random lock traffic.
 * Skipped, with the reason as the test name, unless namespaces can be used
 * under `npm run test:hosts`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relayCommand } from '../../src/cli/commands/relay.ts';
import { DlmLock } from '../../src/services/dlm/api.ts';
import { runDlmAcrossHosts } from './dlm-scenario.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));

/**
 * Why the faults run cannot run yet: it needs the pieces of issue 14 other
 * engineers are building (see docs/hosts.md). Each is probed, so the
 * reason names what is still missing.
 */
function faultsSkipReason(): string | null {
  const missing: string[] = [];
  if (!existsSync(fileURLToPath(new URL('../helpers/dlm-history-checker.ts', import.meta.url)))) missing.push('the history checker (test/helpers/dlm-history-checker.ts, faults)');
  if (!('voters' in relayCommand.options)) missing.push('dmsg relay --voters (views driver, vdrive)');
  if (!existsSync(fileURLToPath(new URL('../../src/services/dlm/recovery', import.meta.url)))) missing.push('DLM recovery (src/services/dlm/recovery, recov): without it a member change with resources in use is refused');
  if (missing.length > 0) return `not on main yet: ${missing.join('; ')}`;
  return 'the pieces are on main but this scenario is not yet wired to the history checker';
}

if (why !== null) {
  describe('hosts: DLM across hosts', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else {
  describe('hosts: DLM across hosts', () => {
    it('5 hosts with --lockspace, random lock traffic, no faults: every host is granted locks, never two incompatible at once, fencing tokens rise', async () => {
      const run = await runDlmAcrossHosts(topo, { faults: 'none', seed: 1, log: (l) => console.log(l) });
      expect(run.verdict.perHost.size).toBe(topo.hosts.length);
      for (const [h, c] of run.verdict.perHost) expect(c.grants, `${h} grants`).toBeGreaterThanOrEqual(40);
      expect(run.verdict.violations).toEqual([]);
      expect(run.memberChanges, 'no member list changed while all hosts were up').toBe(0);
      expect(run.fence.violations, 'fencing tokens rise per resource').toEqual([]);
      // Where the DLM has fencing tokens (lk.fence), every PW/EX grant carries one above 0.
      if ('fence' in DlmLock.prototype) {
        expect(run.fence.grants).toBeGreaterThan(0);
        expect(run.records.filter((r) => r.ev === 'grant' && (r.mode === 'PW' || r.mode === 'EX') && !(typeof r.fence === 'number' && r.fence > 0)), 'PW/EX grants without a token').toEqual([]);
      }
    }, 600_000);

    const skip = faultsSkipReason();
    it.skip(`hosts killed and the mesh partitioned under lock traffic, history checker: skipped: ${skip}`, () => undefined);
  });
}
