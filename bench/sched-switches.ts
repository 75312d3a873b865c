/**
 * DLM_BENCH_SCHED=1: how a measuring window's hops were scheduled, from the
 * two processes' context-switch counters (Linux `/proc/PID/status`, the
 * main thread: the event loop). A process that blocks to wait for its peer
 * counts a voluntary switch; one switched out while runnable counts an
 * involuntary one. On a sequential round trip the second happens when the
 * peer it just woke runs on its own CPU and preempts it (the two share a
 * CPU for that hop, ~8 µs, where a hop to the other, halted CPU costs
 * ~35 µs on this machine): the share of such hops is what makes one
 * window's rate so different from the next (docs/dlm.md, "Ninth session:
 * the measurement"). Off, or where /proc is missing, nothing is read.
 */
import { readFileSync } from 'node:fs';

export interface SwitchCounts {
  voluntary: number;
  involuntary: number;
}

/** The two counters from a `/proc/PID/status` text, or null when either is missing. */
export function parseSwitches(status: string): SwitchCounts | null {
  const vol = /^voluntary_ctxt_switches:\s*(\d+)\s*$/m.exec(status);
  const invol = /^nonvoluntary_ctxt_switches:\s*(\d+)\s*$/m.exec(status);
  if (vol === null || invol === null) return null;
  return { voluntary: Number(vol[1]), involuntary: Number(invol[1]) };
}

/** The counters of `pid`'s main thread now, or null where they cannot be read. */
export function readSwitches(pid: number): SwitchCounts | null {
  try {
    return parseSwitches(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}

/** `after - before`, or null when either is null or a counter went back (another process took the pid). */
export function switchesBetween(before: SwitchCounts | null, after: SwitchCounts | null): SwitchCounts | null {
  if (before === null || after === null) return null;
  const voluntary = after.voluntary - before.voluntary;
  const involuntary = after.involuntary - before.involuntary;
  return voluntary < 0 || involuntary < 0 ? null : { voluntary, involuntary };
}

/** On when DLM_BENCH_SCHED=1. */
export const SCHED_ON = process.env.DLM_BENCH_SCHED === '1';
