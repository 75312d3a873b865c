import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSwitches, readSwitches, switchesBetween } from '../../bench/sched-switches.ts';

const STATUS = ['Name:\tnode', 'State:\tS (sleeping)', 'Threads:\t7', 'voluntary_ctxt_switches:\t1234', 'nonvoluntary_ctxt_switches:\t56', ''].join('\n');

describe('DLM_BENCH_SCHED: context-switch counters', () => {
  it('parses both counters from a status text', () => {
    expect(parseSwitches(STATUS)).toEqual({ voluntary: 1234, involuntary: 56 });
  });

  it('gives null, not a guess, when a counter is missing or malformed', () => {
    expect(parseSwitches('Name:\tnode\nvoluntary_ctxt_switches:\t3\n')).toBeNull();
    expect(parseSwitches('nonvoluntary_ctxt_switches:\t3\n')).toBeNull();
    expect(parseSwitches('voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t1\n')).toBeNull();
    expect(parseSwitches('')).toBeNull();
  });

  it('takes differences, null when either side is unknown or a counter went back', () => {
    expect(switchesBetween({ voluntary: 10, involuntary: 2 }, { voluntary: 15, involuntary: 9 })).toEqual({ voluntary: 5, involuntary: 7 });
    expect(switchesBetween(null, { voluntary: 1, involuntary: 1 })).toBeNull();
    expect(switchesBetween({ voluntary: 1, involuntary: 1 }, null)).toBeNull();
    expect(switchesBetween({ voluntary: 10, involuntary: 2 }, { voluntary: 9, involuntary: 3 })).toBeNull();
  });

  it('reads a live process (Linux) and gives null for a pid no process has', async () => {
    expect(readSwitches(1 << 23)).toBeNull();
    if (!existsSync('/proc/self/status')) {
      console.warn('sched-switches live read skipped: no /proc');
      return;
    }
    // A child that blocks and wakes 20 times counts at least 20 voluntary switches.
    const child = spawn(process.execPath, ['-e', 'let n = 0; const t = setInterval(() => { if (++n === 20) { clearInterval(t); process.stdout.write("done\\n"); setInterval(() => {}, 1000); } }, 1);'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const before = readSwitches(child.pid!);
      expect(before).not.toBeNull();
      await new Promise<void>((res) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('done') && res()));
      const d = switchesBetween(before, readSwitches(child.pid!));
      expect(d).not.toBeNull();
      expect(d!.voluntary).toBeGreaterThanOrEqual(20);
    } finally {
      child.kill('SIGKILL');
      await new Promise((res) => child.once('exit', res));
    }
  });
});
