/** examples/dlm-counter.ts runs to completion on its own (as `npx tsx examples/dlm-counter.ts` would) and loses no update. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=dmsg-mesh-source', '--import', 'tsx', `examples/${name}.ts`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // Safety net: an example that hangs fails here instead of at the test timeout.
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

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
