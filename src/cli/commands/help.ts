/** `dmsg help [COMMAND]`: list the commands, or one command's usage. */
import { formatCommandHelp, UsageError, type Command, type CommandContext } from '../command.ts';

export function formatOverview(commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: dmsg <command> [options] [args]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    "Run 'dmsg help <command>' or 'dmsg <command> --help' for a command's options.",
    '',
  ].join('\n');
}

export const helpCommand: Command = {
  name: 'help',
  summary: 'list commands, or show the usage of one',
  usage: 'dmsg help [COMMAND]',
  options: {},
  maxPositionals: 1,
  async run({ positionals, io, commands }: CommandContext): Promise<number> {
    const name = positionals[0];
    if (name === undefined) {
      io.stdout.write(formatOverview(commands));
      return 0;
    }
    const cmd = commands.find((c) => c.name === name);
    if (!cmd) throw new UsageError(`unknown command '${name}'; commands: ${commands.map((c) => c.name).join(', ')}`);
    io.stdout.write(formatCommandHelp(cmd));
    return 0;
  },
};
