/** Run a program of examples/ as a user would (`npx tsx examples/NAME.ts`), with the repo's source condition. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `examples/<name>.ts`; killed after `safetyMs` (a safety net only: a hung example fails instead of the test timing out). */
export function runExample(name: string, safetyMs = 25_000): Promise<ExampleRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=dmsg-mesh-source', '--import', 'tsx', `examples/${name}.ts`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), safetyMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
