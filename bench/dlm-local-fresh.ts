/**
 * Runs bench/dlm-local-worker.ts in a fresh process and returns its rates:
 * the DLM's local-master cycles and the Map baseline, measured where no
 * other case ran before (see bench/dlm.ts for why that differs).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LocalFreshResult } from './dlm-local-worker.ts';

/** Safety net beyond the measuring time (never a measurement). */
const SLACK_MS = 60_000;

/**
 * `execArgv`: the child's node flags (default: this process's, which carry
 * tsx's loader, without a --cpu-prof meant for this process). Rejects with
 * the worker's error, or when it exits or does not answer in time.
 */
export async function measureLocalFresh(seconds: number, clock: string, execArgv = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'))): Promise<{ local: number; map: number }> {
  const child = fork(fileURLToPath(new URL('./dlm-local-worker.ts', import.meta.url)), [String(seconds), clock], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = await new Promise<LocalFreshResult>((resolve, reject) => {
      child.once('message', (m: LocalFreshResult) => resolve(m));
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`local worker exited with ${signal ?? code} before answering`)));
      // Measuring takes about 2 x seconds (two metrics) plus warm-up and start-up.
      timer = setTimeout(() => reject(new Error(`local worker: no answer within ${2 * seconds * 1000 + SLACK_MS} ms`)), 2 * seconds * 1000 + SLACK_MS);
    });
    if (result.error !== undefined) throw new Error(`local worker: ${result.error}`);
    if (result.local === undefined || result.map === undefined) throw new Error('local worker: incomplete answer');
    return { local: result.local, map: result.map };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}
