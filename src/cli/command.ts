/**
 * What a `dmsg` command is: a name, its options (parsed by node:util
 * parseArgs) and a `run` that returns an exit code. Adding a command is one
 * file in commands/ plus one line in commands/index.ts.
 */
import { DmsgError } from '../wire/errors.ts';

/** Where a command writes text (`process.stdout`, or a collector in tests). */
export interface TextSink {
  write(text: string): unknown;
}

/** The process's streams, injected so commands run in-process in tests. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  stdin: AsyncIterable<Uint8Array>;
  /**
   * Fires when a long-running command (`dmsg relay`) should stop. Absent in
   * a real process: the command then listens for SIGINT/SIGTERM itself.
   */
  shutdown?: AbortSignal;
}

export interface OptionSpec {
  type: 'boolean' | 'string';
  short?: string;
  /** One line for `dmsg help <command>`. */
  description: string;
  /** Placeholder in help for a string option, e.g. `N`. */
  valueName?: string;
  /** The option may be given more than once; its value is then a string[]. */
  multiple?: boolean;
}

/** Parsed option values: booleans for flags, strings for valued options, string[] for repeatable ones. */
export type OptionValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface CommandContext {
  values: OptionValues;
  positionals: readonly string[];
  io: CliIo;
  /** Every registered command (for `help`). */
  commands: readonly Command[];
}

export interface Command {
  name: string;
  /** One line for `dmsg help`. */
  summary: string;
  /** Usage line without options, e.g. `dmsg decode [FILE|-]`. */
  usage: string;
  /** More text for `dmsg help <command>` (optional). */
  details?: string;
  options: Readonly<Record<string, OptionSpec>>;
  /** Most positional arguments accepted. @default 0 */
  maxPositionals?: number;
  run(ctx: CommandContext): Promise<number>;
}

/** Exit codes: 0 ok, 1 the command failed, 2 the command line was wrong. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** The command line was wrong (unknown command or flag, bad value): exit 2. */
export class UsageError extends DmsgError {
  /** Command the error is about, for the "see help" hint. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super('USAGE', message);
    this.command = command;
  }
}

/** The command could not do its job (unreadable file, bad stream): exit 1. */
export class CommandError extends DmsgError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** A `--seconds`-like option: a finite number in [min, max], or `fallback` when absent. */
export function numberOption(values: OptionValues, name: string, fallback: number, min: number, max: number, command: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}], got ${JSON.stringify(raw)}`, command);
  return n;
}

/** A string option's value, or undefined; a repeated non-repeatable option is a usage error. */
export function stringOption(values: OptionValues, name: string, command: string): string | undefined {
  const raw = values[name];
  if (raw === undefined || typeof raw === 'string') return raw;
  if (Array.isArray(raw)) return raw.at(-1);
  throw new UsageError(`--${name} needs a value`, command);
}

/** A repeatable option's values ([] when absent). */
export function listOption(values: OptionValues, name: string): string[] {
  const raw = values[name];
  if (raw === undefined || typeof raw === 'boolean') return [];
  return typeof raw === 'string' ? [raw] : [...raw];
}

/** A positive integer option (counts, milliseconds). */
export function intOption(values: OptionValues, name: string, fallback: number, min: number, max: number, command: string): number {
  const n = numberOption(values, name, fallback, min, max, command);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(values[name])}`, command);
  return n;
}

/** Usage and options of one command, as `dmsg help <command>` prints them. */
export function formatCommandHelp(cmd: Command): string {
  const lines = [`usage: ${cmd.usage}${Object.keys(cmd.options).length > 0 ? ' [options]' : ''}`, '', cmd.summary];
  if (cmd.details) lines.push('', cmd.details.trimEnd());
  const opts = Object.entries(cmd.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, o.multiple ? `${o.description} (repeatable)` : o.description] as const;
  });
  opts.push(['-h, --help', 'show this help']);
  const w = Math.max(...opts.map(([f]) => f.length));
  lines.push('', 'options:', ...opts.map(([f, d]) => `  ${f.padEnd(w)}  ${d}`));
  return lines.join('\n') + '\n';
}
