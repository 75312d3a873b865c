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
