/**
 * DLM_BENCH_PIN=1: the two-process DLM benchmark (bench/dlm-remote.ts) pins
 * this process to one CPU and its worker to another, so that the two never
 * share a CPU. Unpinned, Linux sometimes wakes the reader of a loopback
 * socket on the writer's CPU (socket wake-ups are "sync" wake-ups: the
 * writer is expected to sleep soon), and the woken process then waits for
 * whatever the writer does after its write(); on two hosts that cannot
 * happen. Pinned, a round trip measures the two processes' own work and the
 * wake-ups alone. Off by default: the table's figures are unpinned.
 *
 * Uses `taskset` (util-linux). Never throws: a machine without it, or with
 * one CPU, gets a reason instead, and the benchmark runs unpinned.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** On when DLM_BENCH_PIN=1. */
export const PIN_ON = process.env.DLM_BENCH_PIN === '1';

export type PinResult = { ok: true; restore: () => void; what: string } | { ok: false; reason: string };

/** The CPU list `taskset -pc` prints for `pid` ("0,1" or "0-3"), or throws. */
function cpuList(pid: number): string {
  const out = execFileSync('taskset', ['-pc', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /:\s*([0-9,\-]+)\s*$/.exec(out.trim());
  if (m === null) throw new Error(`unexpected taskset output: ${out.trim()}`);
  return m[1]!;
}

function setCpus(pid: number, cpus: string): void {
  execFileSync('taskset', ['-pc', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Pins process `a` to CPU `cpuA` and `b` to `cpuB` (0 and 1 by default).
 * `restore()` gives `a` back the CPUs it had (`b` is the worker: it exits).
 */
export function pinPair(a: number, b: number, cpuA = 0, cpuB = 1): PinResult {
  if (availableParallelism() < 2) return { ok: false, reason: 'fewer than 2 CPUs' };
  let before: string;
  try {
    before = cpuList(a);
  } catch (err) {
    return { ok: false, reason: `taskset unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
  try {
    setCpus(a, String(cpuA));
    setCpus(b, String(cpuB));
  } catch (err) {
    try {
      setCpus(a, before);
    } catch {
      // as good as it gets
    }
    return { ok: false, reason: `taskset failed: ${(err as Error).message.split('\n')[0]}` };
  }
  return {
    ok: true,
    what: `this process on CPU ${cpuA}, the worker on CPU ${cpuB} (DLM_BENCH_PIN=1)`,
    restore: () => {
      try {
        setCpus(a, before);
      } catch {
        // the process keeps the pin; nothing else depends on it
      }
    },
  };
}

/** The CPUs `pid` may run on, as taskset prints them, or null when that cannot be read. */
export function cpusOf(pid: number): string | null {
  try {
    return cpuList(pid);
  } catch {
    return null;
  }
}
