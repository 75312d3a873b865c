/** examples/dlm-counter.ts runs to completion on its own (as `npx tsx examples/dlm-counter.ts` would) and loses no update. */
import { expect, it } from 'vitest';
import { runExample } from '../../helpers/run-example.ts';


it('examples/dlm-counter.ts: three nodes through a relay increment an LVB counter under EX, no lost update', async () => {
  const r = await runExample('dlm-counter');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/lockspace "counters": members \d+, \d+, \d+\n/);
  expect(r.stdout).toContain('increments per node: 200, 200, 200');
  // Exactly one node masters the counter.
  expect(r.stdout).toMatch(/resources mastered per node: (1, 0, 0|0, 1, 0|0, 0, 1)\n/);
  expect(r.stdout).toContain('counter = 600 (expected 600)');
  expect(r.stdout).toMatch(/no lost update\n$/);
}, 30_000);
