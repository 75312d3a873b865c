/**
 * `dmsg bench <headers|wire> [--json] [--seconds N]`: the wire benchmarks,
 * run in this process through the library (the same code as `npm run bench`).
 */
import { Reporter, type BenchContext } from '../bench-harness.ts';
import { run as runWireBench, runHeaderBench } from '../wire-bench.ts';
import { numberOption, UsageError, type Command, type CommandContext } from '../command.ts';

const TARGETS: Readonly<Record<string, { summary: string; run(ctx: BenchContext): void }>> = {
  headers: { summary: '64-byte header encode+CRC and decode+verify per second, with baselines', run: runHeaderBench },
  wire: { summary: 'headers, plus 4 KiB and 1 MiB aux encode/decode (msgs/s, GB/s)', run: runWireBench },
};

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure wire codec throughput on this machine (one core)',
  usage: 'dmsg bench <headers|wire>',
  details: `targets:\n${Object.entries(TARGETS)
    .map(([n, t]) => `  ${n.padEnd(8)} ${t.summary}`)
    .join('\n')}`,
  options: {
    json: { type: 'boolean', description: 'one JSON object per line: {"bench","metric","value","unit"} (notes go to stderr)' },
    seconds: { type: 'string', valueName: 'N', description: 'measured seconds per metric (default 1)' },
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const target = positionals[0];
    if (target === undefined) throw new UsageError(`missing target; expected one of: ${Object.keys(TARGETS).join(', ')}`, 'bench');
    const t = Object.hasOwn(TARGETS, target) ? TARGETS[target] : undefined;
    if (!t) throw new UsageError(`unknown bench target '${target}'; expected one of: ${Object.keys(TARGETS).join(', ')}`, 'bench');
    const seconds = numberOption(values, 'seconds', 1, 0.01, 3600, 'bench');
    const reporter = new Reporter({ json: values['json'] === true, out: io.stdout, err: io.stderr });
    t.run({ reporter, seconds });
    reporter.endBench();
    return 0;
  },
};
