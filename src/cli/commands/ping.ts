/** `dmsg ping ADDR`: LNK_PING round trips on one link. */
import { CommandError, intOption, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialLink, withinDeadline } from '../client.ts';

export const pingCommand: Command = {
  name: 'ping',
  summary: 'measure LNK_PING round-trip times to a relay',
  usage: 'dmsg ping ADDR',
  details: 'Exit 1 if the link fails (refused, TLS, authentication, not DMSG) or a ping gets no reply within --timeout-ms.',
  options: {
    count: { type: 'string', short: 'c', valueName: 'N', description: 'pings to send (default 4)' },
    'interval-ms': { type: 'string', valueName: 'MS', description: 'pause between pings (default 200)' },
    json: { type: 'boolean', description: 'one JSON object at the end: {"target","count","times_ms","min_ms","avg_ms","max_ms"}' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const settings = clientSettings(positionals[0], values, 'ping');
    const count = intOption(values, 'count', 4, 1, 1_000_000, 'ping');
    const intervalMs = intOption(values, 'interval-ms', 200, 0, 600_000, 'ping');
    const json = values['json'] === true;
    const link = await dialLink(settings);
    const { iocom } = link;
    const times: number[] = [];
    try {
      for (let i = 0; i < count; i++) {
        if (i > 0 && intervalMs > 0) await Promise.race([new Promise((r) => setTimeout(r, intervalMs)), link.lost]);
        const ms = await withinDeadline(iocom.ping(), link, settings.timeoutMs, () => new CommandError('TIMEOUT', `ping ${i + 1}: no reply from ${positionals[0]} within ${settings.timeoutMs} ms`)).catch((err: unknown) => {
          if (err instanceof CommandError) throw err;
          throw link.failure() ?? new CommandError('PING_FAILED', `ping ${i + 1}: ${(err as Error).message}`, { cause: err });
        });
        times.push(ms);
        if (!json) io.stdout.write(`LNK_PING reply from ${positionals[0]}: seq=${i + 1} time=${ms.toFixed(3)} ms\n`);
      }
      const min = Math.min(...times);
      const max = Math.max(...times);
      const avg = times.reduce((a, b) => a + b, 0) / times.length;
      const r3 = (v: number): number => Number(v.toFixed(3));
      if (json) io.stdout.write(JSON.stringify({ target: positionals[0], count: times.length, times_ms: times.map(r3), min_ms: r3(min), avg_ms: r3(avg), max_ms: r3(max) }) + '\n');
      else io.stdout.write(`${times.length} pings: min/avg/max = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)} ms\n`);
      return 0;
    } finally {
      await iocom.close();
    }
  },
};
