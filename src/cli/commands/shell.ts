/**
 * `dmsg shell ADDR CMD...`: one DBG_SHELL command (one-way, aux "CMD\0"),
 * print the relay's DBG_SHELL|REPLY text. The router answers help, tree, links.
 */
import { filter, firstValueFrom, timeout } from 'rxjs';
import { DMSG, DMSGF } from '../../wire/constants.ts';
import { CommandError, UsageError, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialIocom } from '../client.ts';

export const shellCommand: Command = {
  name: 'shell',
  summary: "run a debug shell command on a relay (help, tree, links) and print its answer",
  usage: 'dmsg shell ADDR CMD...',
  options: { ...CLIENT_OPTIONS },
  maxPositionals: 64,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const [target, ...words] = positionals;
    const settings = clientSettings(target, values, 'shell');
    if (words.length === 0) throw new UsageError('missing shell command, e.g. help, tree or links', 'shell');
    const iocom = await dialIocom(settings);
    try {
      const reply = firstValueFrom(
        iocom.messages$.pipe(
          filter((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.DBG_SHELL && (m.header.cmd & DMSGF.REPLY) !== 0),
          timeout(settings.timeoutMs),
        ),
      );
      iocom.sendOneWay(DMSG.DBG_SHELL, { aux: new TextEncoder().encode(`${words.join(' ')}\0`) });
      const msg = await reply.catch((err: unknown) => {
        throw new CommandError('NO_REPLY', `no DBG_SHELL reply from ${target} within ${settings.timeoutMs} ms (${(err as Error).message})`, { cause: err });
      });
      const text = new TextDecoder().decode(msg.aux).replace(/\0[\s\S]*$/, '');
      io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      return 0;
    } finally {
      await iocom.close();
    }
  },
};
