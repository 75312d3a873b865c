/**
 * Issue 12: "a service that moves: stopped on one host and started on
 * another; clients follow it" (test/hosts/moving-service.ts). Skipped, with
 * the reason as the test name, unless namespaces can be used under
 * `npm run test:hosts`.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runMovingService } from './moving-service.ts';
import { hostsSkipReason } from './skip.ts';
import { loadTopology } from './topology.ts';

const why = hostsSkipReason();
const topo = loadTopology(fileURLToPath(new URL('./topologies/ring7.json', import.meta.url)));

if (why !== null) {
  describe('hosts: a service that moves', () => {
    it.skip(`skipped: ${why}`, () => undefined);
  });
} else {
  describe('hosts: a service that moves', () => {
    it('stopped on h1 and started on h4, then started on h1 and stopped on h4: clients on h2 and h5 follow it', async () => {
      const run = await runMovingService(topo, { a: 'h1', b: 'h4', clients: ['h2', 'h5'] }, (l) => console.log(l));
      for (const v of [...run.breakBeforeMake, ...run.makeBeforeBreak]) {
        const what = `client on ${v.client}: ${JSON.stringify(v)}`;
        expect(v.gapMs, `${what}: reached the new host`).not.toBeNull();
        expect(v.after, `${what}: calls after the first on the new host`).toBeGreaterThanOrEqual(20);
        expect(v.afterElsewhere, `${what}: every call after the first on the new host reaches it`).toEqual([]);
        expect(v.oldAfterStopped, `${what}: no answer from the stopped host`).toBe(0);
        expect(v.duplicates, what).toBe(0);
      }
    }, 600_000);
  });
}
