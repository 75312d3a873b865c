/**
 * `dmsg shell ADDR CMD...`: one DBG_SHELL command (one-way, aux "CMD\0"),
 * print the relay's DBG_SHELL|REPLY text. The router answers help, tree, links.
 */
import { runShellCommand } from '../../span/shell-client.ts';
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
      const lines = await runShellCommand(iocom, words.join(' '), AbortSignal.timeout(settings.timeoutMs)).catch((err: unknown) => {
        throw new CommandError('NO_REPLY', `no complete DBG_SHELL answer from ${target} within ${settings.timeoutMs} ms (${(err as Error).message})`, { cause: err });
      });
      // One reply per line (libdmsg and our router): print them all, in order.
      for (const text of lines) io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      return 0;
    } finally {
      await iocom.close();
    }
  },
};
