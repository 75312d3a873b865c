import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpusOf, pinPair } from '../../bench/cpu-pin.ts';

const hasTaskset = spawnSync('taskset', ['-pc', String(process.pid)], { stdio: 'ignore' }).status === 0;
const canPin = hasTaskset && availableParallelism() >= 2;
if (!canPin) console.warn(`cpu-pin tests skipped: ${hasTaskset ? 'fewer than 2 CPUs' : 'taskset (util-linux) not found'}`);

describe.skipIf(!canPin)('DLM_BENCH_PIN: pinPair', () => {
  it('pins two processes to two CPUs and gives the first its CPUs back', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    const before = cpusOf(process.pid);
    try {
      expect(before).not.toBeNull();
      const r = pinPair(process.pid, child.pid!, 0, 1);
      expect(r.ok).toBe(true);
      expect(cpusOf(process.pid)).toBe('0');
      expect(cpusOf(child.pid!)).toBe('1');
      if (r.ok) r.restore();
      expect(cpusOf(process.pid)).toBe(before);
    } finally {
      child.kill('SIGKILL');
      await new Promise((res) => child.once('exit', res));
    }
  });

  it('reports a reason, never throws, and leaves this process as it was when the other cannot be pinned', () => {
    const before = cpusOf(process.pid);
    // A pid no process has (above Linux's pid_max ceiling of 2^22).
    const r = pinPair(process.pid, 4_194_304 + 12_345, 0, 1);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/taskset failed/);
    expect(cpusOf(process.pid)).toBe(before);
  });
});
