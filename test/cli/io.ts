/** In-memory CliIo for running `main` in-process. */
import type { CliIo } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Yield `bytes` in reads of `size` bytes (as a socket or pipe would). */
export async function* chunksOf(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, o + size);
}

export async function runCli(argv: string[], stdin: AsyncIterable<Uint8Array> = chunksOf(new Uint8Array(0), 1)): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** stdout split into non-empty lines. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

export interface InProcessCli {
  /** Resolves with the first stdout line matching `re` (already written or later). */
  waitForStdout(re: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the first stderr line matching `re`. */
  waitForStderr(re: RegExp): Promise<RegExpMatchArray>;
  readonly done: Promise<RunResult>;
  stdout(): string;
  stderr(): string;
}

/** Run a long-lived command (dmsg relay) in-process; `shutdown` stands in for SIGTERM. */
export function startCli(argv: string[], shutdown: AbortSignal): InProcessCli {
  let out = '';
  let err = '';
  const waiters: Array<{ which: 'out' | 'err'; re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  const find = (text: string, re: RegExp): RegExpMatchArray | null => {
    for (const line of text.split('\n')) {
      const m = line.match(re);
      if (m) return m;
    }
    return null;
  };
  const poke = (): void => {
    for (const w of [...waiters]) {
      const m = find(w.which === 'out' ? out : err, w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  const io: CliIo = {
    stdout: { write: (s: string) => { out += s; poke(); } },
    stderr: { write: (s: string) => { err += s; poke(); } },
    stdin: chunksOf(new Uint8Array(0), 1),
    shutdown,
  };
  const done = main(argv, io).then((code) => ({ code, stdout: out, stderr: err }));
  const wait = (which: 'out' | 'err') => (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      waiters.push({ which, re, resolve });
      poke();
      // A command that ends without printing it never will.
      void done.then(() => { const i = waiters.findIndex((w) => w.re === re); if (i >= 0) { waiters.splice(i, 1); reject(new Error(`command ended without printing ${re}; stdout:\n${out}\nstderr:\n${err}`)); } });
    });
  return { waitForStdout: wait('out'), waitForStderr: wait('err'), done, stdout: () => out, stderr: () => err };
}
