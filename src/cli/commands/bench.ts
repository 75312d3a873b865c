/**
 * `dmsg bench <headers|wire>`: the wire benchmarks, run in this process
 * through the library (the same code as `npm run bench`).
 * `dmsg bench ADDR SERVICE[/INSTANCE]`: load on a live mesh (live-bench.ts).
 */
import { Reporter, formatNumber, type BenchContext } from '../bench-harness.ts';
import { run as runWireBench, runHeaderBench } from '../wire-bench.ts';
import { intOption, numberOption, stringOption, UsageError, type Command, type CommandContext, type TextSink } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, parseServiceTarget } from '../client.ts';
import { runLiveBench, type LiveBenchMode, type LiveBenchResult } from '../live-bench.ts';

const TARGETS: Readonly<Record<string, { summary: string; run(ctx: BenchContext): void }>> = {
  headers: { summary: '64-byte header encode+CRC and decode+verify per second, with baselines', run: runHeaderBench },
  wire: { summary: 'headers, plus 4 KiB and 1 MiB aux encode/decode (msgs/s, GB/s)', run: runWireBench },
};

/** The end-of-run table of a live bench. */
export function formatLiveBench(r: LiveBenchResult): string {
  const rows: Array<[string, string]> = [
    ['mode', r.mode === 'rr' ? 'request/reply (echo)' : 'one-way (sink)'],
    ['target', r.targets.join(', ')],
    ['connections', String(r.connections)],
    ['message', `${r.size} B aux`],
    ['load', r.rate > 0 ? `${formatNumber(r.rate)} msgs/s target` : 'open loop'],
    ['duration', `${r.durationS.toFixed(2)} s`],
    ['sent', formatNumber(r.sent)],
    [r.mode === 'rr' ? 'echoed' : 'arrived', formatNumber(r.messages)],
    ['msgs/s', formatNumber(r.msgsPerSec)],
    ['MB/s', formatNumber(r.mbPerSec)],
  ];
  if (r.latency) {
    const l = r.latency;
    rows.push(['latency ms', `p50 ${formatNumber(l.p50)}  p90 ${formatNumber(l.p90)}  p99 ${formatNumber(l.p99)}  p99.9 ${formatNumber(l.p999)}  max ${formatNumber(l.max)}  (${formatNumber(l.samples)} samples)`]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

async function runLive({ values, positionals, io }: CommandContext): Promise<number> {
  const [target, serviceText] = positionals;
  const settings = clientSettings(target, values, 'bench');
  if (serviceText === undefined) throw new UsageError('missing SERVICE (a service of dmsg relay --advertise answers as echo and sink)', 'bench');
  const { service, instance } = parseServiceTarget(serviceText, 'bench');
  const mode = stringOption(values, 'mode', 'bench') ?? 'rr';
  if (mode !== 'rr' && mode !== 'oneway') throw new UsageError(`--mode must be rr or oneway, got ${JSON.stringify(mode)}`, 'bench');
  const json = values['json'] === true;
  const progress = (text: string): void => { io.stderr.write(`${text}\n`); };
  const r = await runLiveBench({
    settings,
    service,
    ...(instance === undefined ? {} : { instance }),
    mode: mode as LiveBenchMode,
    connections: intOption(values, 'connections', 1, 1, 1024, 'bench'),
    size: intOption(values, 'size', 64, 1, 1 << 20, 'bench'),
    rate: numberOption(values, 'rate', 0, 0, 1e9, 'bench'),
    durationMs: Math.round(numberOption(values, 'duration', 5, 0.01, 86_400, 'bench') * 1000),
    inflight: intOption(values, 'inflight', 1, 1, 65_536, 'bench'),
    progress: (p) => progress(`bench: ${(p.elapsedMs / 1000).toFixed(1)} s  sent ${formatNumber(p.sent)}${mode === 'rr' ? `  echoed ${formatNumber(p.received)}` : ''}  ~${formatNumber((mode === 'rr' ? p.received : p.sent) / (p.elapsedMs / 1000))} msgs/s`),
  });
  io.stdout.write(json ? JSON.stringify(r) + '\n' : formatLiveBench(r));
  return 0;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure wire codec throughput here, or load a live mesh (ADDR SERVICE)',
  usage: 'dmsg bench <headers|wire> | dmsg bench ADDR SERVICE[/INSTANCE]',
  details: [
    'targets:',
    ...Object.entries(TARGETS).map(([n, t]) => `  ${n.padEnd(8)} ${t.summary}`),
    '',
    'ADDR SERVICE[/INSTANCE]: --connections links to the relay at ADDR, each with one transaction on the',
    'nearest instance of SERVICE (anywhere in the mesh, through relays); --size-byte messages, open loop or',
    '--rate msgs/s in total, for --duration seconds; a progress line each second on stderr, then msgs/s,',
    'MB/s (aux bytes, 1 MB = 1e6 B) and, for --mode rr, latency percentiles (HdrHistogram; with --rate',
    'measured from when each message was due). The services of dmsg relay --advertise echo (rr) and',
    'count (oneway).',
  ].join('\n'),
  options: {
    json: { type: 'boolean', description: 'codec: one JSON object per line {"bench","metric","value","unit"}; live: one JSON object' },
    seconds: { type: 'string', valueName: 'N', description: 'codec: measured seconds per metric (default 1)' },
    mode: { type: 'string', valueName: 'rr|oneway', description: 'live: request/reply to an echo, or one-way into a sink (default rr)' },
    connections: { type: 'string', short: 'c', valueName: 'N', description: 'live: client links (default 1)' },
    size: { type: 'string', valueName: 'BYTES', description: 'live: aux bytes per message (default 64)' },
    rate: { type: 'string', valueName: 'N', description: 'live: target messages per second in total (default 0: open loop)' },
    duration: { type: 'string', valueName: 'S', description: 'live: seconds of load (default 5)' },
    inflight: { type: 'string', valueName: 'N', description: 'live, rr open loop: messages outstanding per link (default 1)' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 2,
  async run(ctx: CommandContext): Promise<number> {
    const { values, positionals, io } = ctx;
    const target = positionals[0];
    if (target === undefined) throw new UsageError(`missing target; expected one of: ${Object.keys(TARGETS).join(', ')}, or ADDR SERVICE`, 'bench');
    const t = Object.hasOwn(TARGETS, target) ? TARGETS[target] : undefined;
    if (!t) {
      if (/:/.test(target)) return runLive(ctx);
      throw new UsageError(`unknown bench target '${target}'; expected one of: ${Object.keys(TARGETS).join(', ')}, or ADDR SERVICE`, 'bench');
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'; usage: dmsg bench ${target}`, 'bench');
    const seconds = numberOption(values, 'seconds', 1, 0.01, 3600, 'bench');
    const reporter = new Reporter({ json: values['json'] === true, out: io.stdout as TextSink, err: io.stderr });
    t.run({ reporter, seconds });
    reporter.endBench();
    return 0;
  },
};
