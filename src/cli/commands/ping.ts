/** `dmsg ping ADDR`: LNK_PING round trips on one link. */
import { CommandError, intOption, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialIocom } from '../client.ts';

export const pingCommand: Command = {
  name: 'ping',
  summary: 'measure LNK_PING round-trip times to a relay',
  usage: 'dmsg ping ADDR',
  options: {
    count: { type: 'string', short: 'c', valueName: 'N', description: 'pings to send (default 4)' },
    'interval-ms': { type: 'string', valueName: 'MS', description: 'pause between pings (default 200)' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const settings = clientSettings(positionals[0], values, 'ping');
    const count = intOption(values, 'count', 4, 1, 1_000_000, 'ping');
    const intervalMs = intOption(values, 'interval-ms', 200, 0, 600_000, 'ping');
    const iocom = await dialIocom(settings);
    const times: number[] = [];
    try {
      for (let i = 0; i < count; i++) {
        if (i > 0 && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
        const ms = await iocom.ping(AbortSignal.timeout(settings.timeoutMs)).catch((err: unknown) => {
          throw new CommandError('PING_FAILED', `ping ${i + 1}: ${(err as Error).message}`, { cause: err });
        });
        // A link that closes while a ping is in flight settles it without a time.
        if (!Number.isFinite(ms)) throw new CommandError('PING_FAILED', `ping ${i + 1}: the link closed before the reply (${iocom.isOpen ? 'open' : 'closed'})`);
        times.push(ms);
        io.stdout.write(`LNK_PING reply from ${positionals[0]}: seq=${i + 1} time=${ms.toFixed(3)} ms\n`);
      }
      const min = Math.min(...times);
      const max = Math.max(...times);
      const avg = times.reduce((a, b) => a + b, 0) / times.length;
      io.stdout.write(`${times.length} pings: min/avg/max = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)} ms\n`);
      return 0;
    } finally {
      await iocom.close();
    }
  },
};
