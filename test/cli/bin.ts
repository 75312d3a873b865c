/**
 * Run the `dmsg` CLI as a child process, as a user would: by default this
 * run's prebuilt bundle of the CLI sources (test/helpers/dmsg-cli.ts: the
 * same `runAsProgram()` bin/dmsg.js runs, without tsx's start-up cost per
 * process); `{ via: 'bin' }` starts the real bin/dmsg.js.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DMSG_BIN, dmsgCliScript } from '../helpers/dmsg-cli.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = DMSG_BIN;

export interface BinResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running bin: its output so far, waits on output lines, and its end. */
export interface RunningBin {
  readonly child: ChildProcess;
  readonly done: Promise<BinResult>;
  /** The first line of stdout or stderr matching `re` (already printed or later); rejects if the process ends first. */
  waitFor(which: 'stdout' | 'stderr', re: RegExp): Promise<RegExpMatchArray>;
  stdout(): string;
  stderr(): string;
}

/**
 * Start `cmd args` (default: node and the prebuilt CLI; `via: 'bin'`: node
 * bin/dmsg.js). `safetyMs` kills a process that hangs so the test fails with
 * its output instead of at the test timeout.
 */
export function startBin(args: readonly string[], options: { cmd?: string; cmdArgs?: readonly string[]; via?: 'bundle' | 'bin'; safetyMs?: number } = {}): RunningBin {
  const cmd = options.cmd ?? process.execPath;
  const child = spawn(cmd, [...(options.cmdArgs ?? [options.via === 'bin' ? BIN : dmsgCliScript()]), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: Array<{ which: 'stdout' | 'stderr'; re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  const poke = (): void => {
    for (const w of [...waiters]) {
      for (const line of (w.which === 'stdout' ? out : err).split('\n')) {
        const m = line.match(w.re);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
          break;
        }
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s; poke(); });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; poke(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.safetyMs ?? 25_000);
  const done = new Promise<BinResult>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return {
    child,
    done,
    waitFor: (which, re) =>
      new Promise((resolve, reject) => {
        waiters.push({ which, re, resolve });
        poke();
        void done.then((r) => {
          const i = waiters.findIndex((w) => w.re === re);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`process ended (${r.code ?? r.signal}) without printing ${re} on ${which}; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`));
          }
        });
      }),
    stdout: () => out,
    stderr: () => err,
  };
}

/** Run the CLI to its end (`via: 'bin'`: the real bin/dmsg.js). */
export function runBin(args: readonly string[], safetyMs?: number, via: 'bundle' | 'bin' = 'bundle'): Promise<BinResult> {
  return startBin(args, safetyMs === undefined ? { via } : { safetyMs, via }).done;
}
