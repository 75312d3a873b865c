/**
 * `dmsg top HOST:PORT`: a terminal view of a relay, read from the
 * /stats.json of its --metrics port: its links with message and byte rates,
 * its spans, its error counters; refreshed every --interval-ms, until `q`
 * (or Ctrl-C) is pressed. On a terminal it uses the alternate screen; on a
 * pipe it prints each frame as plain text (use --count to stop).
 */
import { intOption, CommandError, UsageError, type Command, type CommandContext } from '../command.ts';
import { parseMetricsAddress } from '../ops/relay-ops.ts';
import type { RelayStats } from '../ops/relay-observer.ts';
import { renderTop } from '../ops/top-view.ts';

interface TtyLike {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  setRawMode?: (on: boolean) => unknown;
}

async function fetchStats(address: string, signal: AbortSignal): Promise<RelayStats> {
  const res = await fetch(`http://${address}/stats.json`, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
  if (res.status !== 200) throw new Error(`GET /stats.json: HTTP ${res.status}`);
  return (await res.json()) as RelayStats;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export const topCommand: Command = {
  name: 'top',
  summary: "watch a relay's links, spans and message rates (reads its --metrics port)",
  usage: 'dmsg top HOST:PORT',
  details: [
    'HOST:PORT is the --metrics address of a relay (dmsg relay --metrics HOST:PORT).',
    'Shows its links (peer, transport, direction, auth state, message and byte rates, open and',
    'relayed transactions, queued bytes), its spans (distance, next hop, path) and its error',
    'counters, refreshed every --interval-ms. Press q (or Ctrl-C) to quit.',
  ].join('\n'),
  options: {
    'interval-ms': { type: 'string', valueName: 'MS', description: 'refresh interval (default 1000)' },
    count: { type: 'string', valueName: 'N', description: 'stop after N frames (default 0: until q)' },
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const target = positionals[0];
    if (target === undefined) throw new UsageError('missing HOST:PORT (the relay\'s --metrics address)', 'top');
    let address: string;
    try {
      const { host, port } = parseMetricsAddress(target);
      if (port === 0) throw new Error('port 0');
      address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    } catch {
      throw new UsageError(`HOST:PORT expected, got ${JSON.stringify(target)}`, 'top');
    }
    const intervalMs = intOption(values, 'interval-ms', 1000, 50, 3_600_000, 'top');
    const count = intOption(values, 'count', 0, 0, 1_000_000, 'top');

    const out = io.stdout as TtyLike & { write(s: string): unknown };
    const tty = out.isTTY === true;
    const stdin = io.stdin as AsyncIterable<Uint8Array> & TtyLike;
    const quit = new AbortController();
    if (io.shutdown) io.shutdown.addEventListener('abort', () => quit.abort(), { once: true });
    const raw = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
    if (raw) stdin.setRawMode!(true);
    const keys = (async () => {
      try {
        for await (const chunk of stdin) {
          if (chunk.includes(0x71) || chunk.includes(0x51) || chunk.includes(0x03)) {
            quit.abort();
            break;
          }
        }
      } catch {
        // stdin closed or unreadable: keys are simply not read
      }
    })();
    if (tty) out.write('\x1b[?1049h\x1b[?25l'); // alternate screen, hide cursor
    let prev: RelayStats | null = null;
    let frames = 0;
    let failure: Error | null = null;
    try {
      while (!quit.signal.aborted) {
        let lines: string[];
        try {
          const cur = await fetchStats(address, quit.signal);
          lines = renderTop(prev, cur, { columns: out.columns ?? 120, rows: out.rows ?? 60 }, address);
          prev = cur;
        } catch (err) {
          if (quit.signal.aborted) break;
          if (frames === 0 && !tty) {
            failure = err as Error;
            break;
          }
          lines = [`dmsg top - ${address}: ${(err as Error).message}; retrying every ${intervalMs} ms  [q quits]`];
        }
        out.write(tty ? `\x1b[H\x1b[2J${lines.join('\n')}` : `${lines.join('\n')}\n\n`);
        frames++;
        if (count > 0 && frames >= count) break;
        await wait(intervalMs, quit.signal);
      }
    } finally {
      if (tty) out.write('\x1b[?25h\x1b[?1049l');
      if (raw) stdin.setRawMode!(false);
      quit.abort();
      // Stop reading keys: a real stdin would otherwise keep the process alive.
      (stdin as unknown as { pause?: () => void }).pause?.();
      void keys;
    }
    if (failure) throw new CommandError('CONNECT_FAILED', `cannot read ${address}/stats.json: ${failure.message}`);
    return 0;
  },
};
