/** examples/fenced-storage.ts runs on its own (as `npx tsx examples/fenced-storage.ts` would): the paused holder's late write is refused. */
import { expect, it } from 'vitest';
import { runExample } from '../../helpers/run-example.ts';

it('examples/fenced-storage.ts: a paused holder\'s late write with a stale token is refused', async () => {
  const r = await runExample('fenced-storage');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const a = /A \(node 1\) holds EX on block-7, token (\d+)\n/.exec(r.stdout);
  const b = /B \(node 2\) holds EX on block-7, token (\d+)\n/.exec(r.stdout);
  expect(a).not.toBeNull();
  expect(b).not.toBeNull();
  expect(Number(b![1])).toBeGreaterThan(Number(a![1]));
  expect(r.stdout).toContain(`A writes "v1 from A" with token ${a![1]}: accepted`);
  expect(r.stdout).toContain(`B writes "v2 from B" with token ${b![1]}: accepted`);
  expect(r.stdout).toContain(`its late write with token ${a![1]}: refused (stale token ${a![1]} < ${b![1]})`);
  expect(r.stdout).toContain('a PR reader writes "v3 from a reader" with token 0: refused');
  expect(r.stdout).toContain('block-7 = "v2 from B"');
  expect(r.stdout).toMatch(/stale write refused: fencing works\n$/);
}, 30_000);
