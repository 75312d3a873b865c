/**
 * `dmsg shell ADDR CMD...`: one DBG_SHELL command (one-way, aux "CMD\0"),
 * print every DBG_SHELL|REPLY the node sends back, in order. A DragonFly
 * node answers with one reply per line (`dmsg_printf`), ours with one per
 * command; neither marks the end of the output, so a LNK_PING is sent right
 * after the command: the node answers messages in order, so its PING reply
 * comes after the last line of output.
 */
import { filter } from 'rxjs';
import { DMSG, DMSGF } from '../../wire/constants.ts';
import { CommandError, UsageError, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialRouter, withinDeadline } from '../client.ts';

/** The text of one DBG_SHELL reply: aux up to its NUL. */
function replyText(aux: Uint8Array): string {
  const nul = aux.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? aux : aux.subarray(0, nul));
}

export const shellCommand: Command = {
  name: 'shell',
  summary: 'run a debug shell command on a relay (help, tree, links) and print its answer',
  usage: 'dmsg shell ADDR CMD...',
  details: 'Prints every reply line in order. Exit 1 if the link fails, the node does not answer within\n--timeout-ms, or it answers that the command is unknown.',
  options: { ...CLIENT_OPTIONS },
  maxPositionals: 64,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const [target, ...words] = positionals;
    const settings = clientSettings(target, values, 'shell');
    if (words.length === 0) throw new UsageError('missing shell command, e.g. help, tree or links', 'shell');
    // A relay answers nothing but LNK_CONN before the peer's LNK_CONN (issue 7
    // item 5): a client Router sends ours on attach, ahead of the command.
    const { router, link } = await dialRouter(settings, 'dmsg-shell');
    const { iocom } = link;
    const texts: string[] = [];
    const sub = iocom.messages$
      .pipe(filter((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.DBG_SHELL && (m.header.cmd & DMSGF.REPLY) !== 0))
      .subscribe((m) => texts.push(replyText(m.aux)));
    try {
      iocom.sendOneWay(DMSG.DBG_SHELL, { aux: new TextEncoder().encode(`${words.join(' ')}\0`) });
      // The end-of-output marker (see above).
      await withinDeadline(iocom.ping(), link, settings.timeoutMs, () => new CommandError('TIMEOUT', `${target} did not finish answering within ${settings.timeoutMs} ms (${texts.length} repl${texts.length === 1 ? 'y' : 'ies'} so far)`)).catch((err: unknown) => {
        if (err instanceof CommandError) throw err;
        throw link.failure() ?? new CommandError('SHELL_FAILED', (err as Error).message, { cause: err });
      });
      const text = texts.join('');
      if (text !== '') io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      if (texts.length === 0) throw new CommandError('NO_REPLY', `${target} sent no DBG_SHELL reply`);
      // DBG_SHELL has no status; our relays answer an unknown command with this line.
      if (/^unknown command\b/.test(texts[0]!)) throw new CommandError('UNKNOWN_SHELL_COMMAND', `${target} does not know '${words[0]}' (try: dmsg shell ${target} help)`);
      return 0;
    } finally {
      sub.unsubscribe();
      await router.close();
    }
  },
};
