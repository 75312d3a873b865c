/**
 * Benchmark runner: `npm run bench -- [--json] [--seconds N] [NAME...]`.
 * Runs every registered benchmark, or only the named ones.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLOCKS, Reporter, oneLine, setClock, type BenchModule, type ClockName } from './harness.ts';

/** name → module exporting `run(ctx)`. Add a benchmark with one line. */
export const BENCHMARKS: Readonly<Record<string, () => Promise<BenchModule>>> = {
  wire: () => import('./wire.ts'),
  iocom: () => import('./iocom.ts'),
  relay: () => import('./relay.ts'),
  convergence: () => import('./convergence.ts'),
  dlm: () => import('./dlm.ts'),
  'span-drop': () => import('./span-drop.ts'),
  midcomms: () => import('./midcomms.ts'),
  'md-cluster': () => import('./md-cluster.ts'),
};

const USAGE = `usage: npm run bench -- [--json] [--seconds N] [--clock cpu|wall] [NAME...]
  --json        one JSON object per line: {"bench","metric","value","unit"}
  --seconds N   measured seconds per metric (default 1; the DLM's two-process
                rows measure 3 x N: 15 interleaved rounds of N/5)
  --clock C     cpu: this process's CPU time, steady on a busy machine (default);
                wall: elapsed time
benchmarks: ${Object.keys(BENCHMARKS).join(', ')}
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, seconds: { type: 'string' }, clock: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seconds = values.seconds === undefined ? 1 : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    process.stderr.write(`bench: --seconds must be a positive number, got ${values.seconds}\n`);
    return 2;
  }
  const clock = values.clock ?? 'cpu';
  if (!Object.hasOwn(CLOCKS, clock)) {
    process.stderr.write(`bench: --clock must be cpu or wall, got ${clock}\n`);
    return 2;
  }
  setClock(clock as ClockName);
  const unknown = positionals.filter((n) => !Object.hasOwn(BENCHMARKS, n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const names = positionals.length > 0 ? positionals : Object.keys(BENCHMARKS);
  const reporter = new Reporter({ json: values.json ?? false, out: process.stdout, err: process.stderr });
  if (!reporter.json) reporter.note(`node ${process.version}, ${process.platform}/${process.arch}, clock: ${clock}`);
  const failures = await runBenchmarks(names, reporter, seconds);
  if (failures > 0) {
    process.stderr.write(`bench: ${failures} case(s) failed: ${reporter.failures.map((f) => `${f.bench}/${f.metric}`).join(', ')}\n`);
    return 1;
  }
  return 0;
}

/**
 * Run the named benchmarks in order. A benchmark that throws is a failed row
 * in the report, never a stack trace, and the others still run. Resolves to
 * the number of failed cases (rows).
 */
export async function runBenchmarks(names: readonly string[], reporter: Reporter, seconds: number, registry: Readonly<Record<string, () => Promise<BenchModule>>> = BENCHMARKS): Promise<number> {
  for (const name of names) {
    try {
      const mod = await registry[name]!();
      await mod.run({ reporter, seconds });
    } catch (err) {
      reporter.failed({ bench: name, metric: 'run', reason: oneLine(err) });
    }
    reporter.endBench();
  }
  return reporter.failures.length;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) process.exitCode = await main(process.argv.slice(2));
