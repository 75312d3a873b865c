/** examples/reliable-session.ts runs to completion and loses nothing when the relay on its path stops. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function runExample(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=dmsg-mesh-source', '--import', 'tsx', `examples/${name}.ts`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // Safety net only: a hung example fails here instead of at the test timeout.
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('examples/reliable-session.ts', () => {
  it('a relay on the path stops mid-stream; every message arrives once, in order', async () => {
    const r = await runExample('reliable-session');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stopping relay r[12] \(on the session's path\) mid-stream/);
    expect(r.stdout).toContain('B received 20000 of 20000, 0 out of order');
    expect(r.stdout).toMatch(/0 unacknowledged/);
    expect(r.stdout).toMatch(/nothing lost\n$/);
  }, 60_000);
});
