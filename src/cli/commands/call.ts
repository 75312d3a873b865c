/**
 * `dmsg call ADDR SERVICE [TEXT]`: find SERVICE through a relay, open a
 * transaction on its span (through every relay on the way) with TEXT as
 * aux, print what comes back. Services of `dmsg relay --advertise` echo it.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { DMSG } from '../../wire/constants.ts';
import type { Message } from '../../wire/message.ts';
import { CommandError, UsageError, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialRouter } from '../client.ts';

export const callCommand: Command = {
  name: 'call',
  summary: 'send TEXT to a service through the mesh and print the reply (relay services echo)',
  usage: 'dmsg call ADDR SERVICE [TEXT]',
  details: 'Waits up to --timeout-ms for the service\'s span, then opens one DBG_SHELL transaction on it\nwith TEXT (default "hello") as aux and closes its side; prints each reply\'s aux and the round-trip time.',
  options: { ...CLIENT_OPTIONS },
  maxPositionals: 3,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const [target, service, text = 'hello'] = positionals;
    const settings = clientSettings(target, values, 'call');
    if (service === undefined) throw new UsageError('missing SERVICE', 'call');
    const router = await dialRouter(settings, 'dmsg-call');
    try {
      const span = await router.waitForSpan(service, AbortSignal.timeout(settings.timeoutMs)).catch((err: unknown) => {
        throw new CommandError('NO_SPAN', `no span of '${service}' seen through ${target} within ${settings.timeoutMs} ms`, { cause: err });
      });
      io.stdout.write(`${span.service}/${span.instance}: dist ${span.dist} via ${span.viaName ?? span.via}\n`);
      const t0 = performance.now();
      const tx = router.open(span, DMSG.DBG_SHELL, { aux: new TextEncoder().encode(text), delete: true });
      const msgs = await lastValueFrom(tx.rx$.pipe(toArray<Message>())).catch((err: unknown) => {
        throw new CommandError('CALL_FAILED', `transaction failed: ${(err as Error).message}`, { cause: err });
      });
      const ms = performance.now() - t0;
      const replies = msgs.filter((m) => m.aux.length > 0);
      for (const m of replies) io.stdout.write(`reply: ${new TextDecoder().decode(m.aux)}\n`);
      const last = msgs.at(-1);
      const err = last?.header.error ?? 0;
      io.stdout.write(`${replies.length} repl${replies.length === 1 ? 'y' : 'ies'} in ${ms.toFixed(3)} ms${err ? `, error 0x${err.toString(16)}` : ''}\n`);
      return err ? 1 : 0;
    } finally {
      await router.close();
    }
  },
};
