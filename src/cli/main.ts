/**
 * The `dmsg` command. `main(argv, io)` runs one command in-process and
 * returns its exit code (0 ok, 1 failed, 2 bad command line); run as a
 * program (tsx src/cli/main.ts, or bin/dmsg.js) it uses the process's streams.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DmsgError } from '../wire/errors.ts';
import { EXIT, UsageError, type CliIo, type Command, type OptionSpec } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { formatOverview } from './commands/help.ts';

export type { CliIo } from './command.ts';

function parseCommandArgs(cmd: Command, args: readonly string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const options: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries<OptionSpec>(cmd.options)) {
    options[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (err) {
    // parseArgs' messages name the flag; drop its advice about '--' which does not apply here.
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(msg, cmd.name);
  }
}

/** Run `dmsg <argv>`; resolves to the exit code. Never throws for command-line or command errors. */
export async function main(argv: readonly string[], io: CliIo = processIo(), commands: readonly Command[] = COMMANDS): Promise<number> {
  let name: string | undefined;
  try {
    const [first, ...rest] = argv;
    if (first === '--version' || first === '-V') {
      io.stdout.write(`dmsg ${packageVersion()}\n`);
      return EXIT.OK;
    }
    if (first === undefined || first === '--help' || first === '-h') {
      io.stdout.write(formatOverview(commands));
      return EXIT.OK;
    }
    if (first.startsWith('-')) throw new UsageError(`unknown option '${first}': a command comes first`);
    const cmd = commands.find((c) => c.name === first);
    if (!cmd) throw new UsageError(`unknown command '${first}'; commands: ${commands.map((c) => c.name).join(', ')}`);
    name = cmd.name;
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values['help'] === true) return await runHelpFor(cmd, io, commands);
    const max = cmd.maxPositionals ?? 0;
    if (positionals.length > max) {
      throw new UsageError(`unexpected argument${positionals.length - max > 1 ? 's' : ''} ${positionals.slice(max).map((p) => `'${p}'`).join(' ')}; usage: ${cmd.usage}`, cmd.name);
    }
    return await cmd.run({ values, positionals, io, commands });
  } catch (err) {
    const who = name ? `dmsg ${name}` : 'dmsg';
    if (err instanceof UsageError) {
      const topic = err.command ?? name;
      io.stderr.write(`${who}: ${err.message}\nRun 'dmsg help${topic ? ` ${topic}` : ''}' for usage.\n`);
      return EXIT.USAGE;
    }
    if (err instanceof DmsgError) {
      io.stderr.write(`${who}: ${err.code}: ${err.message}\n`);
      return EXIT.FAILED;
    }
    // A bug, not a user error: keep the stack.
    io.stderr.write(`${who}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.FAILED;
  }
}

async function runHelpFor(cmd: Command, io: CliIo, commands: readonly Command[]): Promise<number> {
  const help = commands.find((c) => c.name === 'help');
  if (!help) return EXIT.USAGE;
  return help.run({ values: {}, positionals: [cmd.name], io, commands });
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

/** The version in the package's package.json (two levels up from src/cli and from dist/cli alike). */
export function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const v = (pkg as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Run the CLI as this process: argv from the command line, exit code into
 * `process.exitCode`. What bin/dmsg.js and `tsx src/cli/main.ts` call.
 */
export async function runAsProgram(): Promise<void> {
  // `dmsg decode big.bin | head` closes stdout early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  process.exitCode = await main(process.argv.slice(2));
}

/** True when this file itself is the program (`tsx src/cli/main.ts`); bin/dmsg.js calls runAsProgram itself. */
function startedAsProgram(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (startedAsProgram()) await runAsProgram();
