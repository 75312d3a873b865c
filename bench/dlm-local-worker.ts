/**
 * The fresh process of the DLM benchmark's local-master row (bench/dlm.ts
 * forks it through bench/dlm-local-fresh.ts): measures the local cycles and
 * the Map baseline, rounds interleaved, in a process that has run nothing
 * else, and sends the two rates back over IPC. Arguments: seconds per
 * metric, clock name. Exits when done, or after MAX_LIFETIME_MS.
 */
import { localBatch, localSink, mapBatch } from './dlm-local-cases.ts';
import { CLOCKS, measureInterleaved, setClock, type ClockName } from './harness.ts';

const MAX_LIFETIME_MS = 5 * 60_000;

export interface LocalFreshResult {
  type: 'local';
  local?: number;
  map?: number;
  /** The process's sink (keeps the work observable). */
  sink?: number;
  error?: string;
}

function send(m: LocalFreshResult): void {
  process.send?.(m, () => process.exit(0));
}

if (process.send === undefined) {
  process.stderr.write('dlm-local-worker: run by bench/dlm.ts (needs an IPC channel)\n');
  process.exit(2);
}
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => process.exit(0));

try {
  const seconds = Number(process.argv[2]);
  const clock = process.argv[3] ?? 'cpu';
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`seconds must be positive, got ${process.argv[2]}`);
  if (!Object.hasOwn(CLOCKS, clock)) throw new Error(`unknown clock ${clock}`);
  setClock(clock as ClockName);
  // The DLM first: its code is compiled for one lockspace, as in a node whose one busy lockspace is mastered here.
  const r = measureInterleaved({ local: localBatch(), map: mapBatch() }, { seconds });
  send({ type: 'local', local: r.local.opsPerSec, map: r.map.opsPerSec, sink: localSink() });
} catch (err) {
  send({ type: 'local', error: err instanceof Error ? err.message : String(err) });
}
