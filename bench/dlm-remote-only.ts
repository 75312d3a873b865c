/**
 * Only the two-process rows of the DLM benchmark (bench/dlm-remote.ts), for
 * A/B runs of the remote path without the rest of `npm run bench -- dlm`:
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/dlm-remote-only.ts [SECONDS]
 *
 * SECONDS (default 5) sets the window as `--seconds` does: SECONDS/5 per
 * window, 15 interleaved rounds (DLM_BENCH_ROUNDS=N for another count), so
 * a row measures 3 x SECONDS. DLM_BENCH_HOPS=1 adds where a round trip's
 * time goes (bench/hop-timer.ts). Wall clock, as the full benchmark's rows.
 */
import { Reporter, setClock, type BenchContext } from './harness.ts';
import { runTwoProcessRows } from './dlm-remote.ts';

setClock('wall');
const seconds = Number(process.argv[2] ?? 5);
if (!Number.isFinite(seconds) || seconds <= 0) {
  process.stderr.write(`dlm-remote-only: SECONDS must be a positive number, got ${process.argv[2]}\n`);
  process.exit(2);
}
const reporter = new Reporter({ json: false, out: process.stdout, err: process.stderr });
const ctx: BenchContext = { reporter, seconds };
await runTwoProcessRows(ctx);
reporter.endBench();
process.exitCode = reporter.failures.length > 0 ? 1 : 0;
