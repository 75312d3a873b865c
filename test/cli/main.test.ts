import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError, type CliIo, type Command } from '../../src/cli/command.ts';
import { COMMANDS } from '../../src/cli/commands/index.ts';
import { main } from '../../src/cli/main.ts';
import { lines, runCli } from './io.ts';

describe('dmsg help', () => {
  it('lists every registered command with its summary', async () => {
    const r = await runCli(['help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(COMMANDS.map((c) => c.name)).toEqual(expect.arrayContaining(['help', 'decode', 'demo', 'bench']));
  });

  it('prints the overview for no arguments and for --help / -h', async () => {
    const overview = (await runCli(['help'])).stdout;
    for (const argv of [[], ['--help'], ['-h']]) {
      const r = await runCli(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(overview);
    }
  });

  it('shows one command\'s usage and options, also through <command> --help', async () => {
    const a = await runCli(['help', 'bench']);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('usage: dmsg bench <headers|wire>');
    expect(a.stdout).toContain('--seconds N');
    expect(a.stdout).toContain('--json');
    const b = await runCli(['bench', '--help']);
    expect(b.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });

  it('help for an unknown command is a usage error', async () => {
    const r = await runCli(['help', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'nope'");
  });
});

describe('command-line errors exit 2 with a clear message', () => {
  it('unknown command', async () => {
    const r = await runCli(['frobnicate', '--x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("dmsg: unknown command 'frobnicate'");
    expect(r.stderr).toContain('decode');
    expect(r.stderr).toContain("Run 'dmsg help' for usage.");
  });

  it('an option before the command', async () => {
    const r = await runCli(['--json', 'bench']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--json'");
  });

  it('unknown flag of a command', async () => {
    const r = await runCli(['decode', '--bogus', 'x.bin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dmsg decode:');
    expect(r.stderr).toContain('--bogus');
    expect(r.stderr).toContain("Run 'dmsg help decode' for usage.");
  });

  it('a value given to a boolean flag, and a missing value', async () => {
    expect((await runCli(['bench', 'headers', '--json=yes'])).code).toBe(2);
    const r = await runCli(['bench', 'headers', '--seconds']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--seconds');
  });

  it('too many positional arguments', async () => {
    const r = await runCli(['decode', 'a.bin', 'b.bin']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unexpected argument 'b.bin'");
  });
});

describe('the registry', () => {
  const io = (): { io: CliIo; out: () => string; err: () => string } => {
    let out = '';
    let err = '';
    return {
      io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, stdin: (async function* () {})() },
      out: () => out,
      err: () => err,
    };
  };

  it('runs an added command with parsed options and positionals, and lists it in help', async () => {
    const seen: unknown[] = [];
    const echo: Command = {
      name: 'echo',
      summary: 'echo the arguments',
      usage: 'dmsg echo [WORDS...]',
      options: { loud: { type: 'boolean', short: 'l', description: 'upper case' }, sep: { type: 'string', description: 'separator' } },
      maxPositionals: 10,
      async run({ values, positionals, io }) {
        seen.push(values, positionals);
        const text = positionals.join(typeof values['sep'] === 'string' ? values['sep'] : ' ');
        io.stdout.write((values['loud'] === true ? text.toUpperCase() : text) + '\n');
        return 0;
      },
    };
    const commands = [...COMMANDS, echo];
    const a = io();
    expect(await main(['echo', '-l', '--sep', '-', 'a', 'b'], a.io, commands)).toBe(0);
    expect(a.out()).toBe('A-B\n');
    const b = io();
    expect(await main(['help'], b.io, commands)).toBe(0);
    expect(b.out()).toContain('echo    echo the arguments');
  });

  it('maps a UsageError from a command to exit 2, other errors to exit 1', async () => {
    const failing = (err: Error): Command => ({ name: 'fail', summary: 's', usage: 'dmsg fail', options: {}, run: () => Promise.reject(err) });
    const a = io();
    expect(await main(['fail'], a.io, [failing(new UsageError('bad value for --x', 'fail'))])).toBe(2);
    expect(a.err()).toContain('dmsg fail: bad value for --x');
    const b = io();
    expect(await main(['fail'], b.io, [failing(new Error('boom'))])).toBe(1);
    expect(b.err()).toContain('dmsg fail: unexpected error');
    expect(b.err()).toContain('boom');
  });
});

describe('as a program', () => {
  const bin = fileURLToPath(new URL('../../bin/dmsg.js', import.meta.url));

  it('bin/dmsg.js runs the command and sets the exit code', () => {
    const ok = spawnSync(process.execPath, [bin, 'help'], { encoding: 'utf8', timeout: 20_000 });
    expect(ok.status).toBe(0);
    expect(lines(ok.stdout)[0]).toBe('usage: dmsg <command> [options] [args]');
    const bad = spawnSync(process.execPath, [bin, 'nope'], { encoding: 'utf8', timeout: 20_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown command 'nope'");
  });
});
