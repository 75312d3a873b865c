/**
 * `dmsg top`: the pure screen (rates from two snapshots), a plain run on a
 * pipe, and the real thing under a pseudo-terminal (tmux): the screen is
 * read with capture-pane, follows a link cut, and `q` quits.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { renderTop, formatBytes, formatDuration } from '../../src/cli/ops/top-view.ts';
import type { RelayStats } from '../../src/cli/ops/relay-observer.ts';
import { runCli } from '../cli/io.ts';
import { Relays, waitFor } from './helpers.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const relays = new Relays();
afterEach(() => relays.stopAll());

function snapshot(time: number, msgs: number, bytes: number): RelayStats {
  return {
    node: { name: 'A', nodeId: 'aaaaaaaa-0000-0000-0000-000000000000', uptimeSeconds: 125, listening: ['127.0.0.1:1'], ready: true },
    time,
    links: [{ connId: 'c1', peerName: 'B', peerNodeId: 'bbbbbbbb-0000-0000-0000-000000000000', transport: 'tcp', direction: 'in', auth: 'verified', upSeconds: 61, messagesIn: msgs, messagesOut: msgs * 2, bytesIn: bytes, bytesOut: bytes, openTransactions: 4, relayedOpen: 1, queuedBytes: 0 }],
    spans: [{ service: 'echo', instance: 'x', node: 'cccccccc-1111-0000-0000-000000000000', dist: 1, via: 'c1', viaName: 'B', path: ['cccccccc-1111-0000-0000-000000000000', 'bbbbbbbb-0000-0000-0000-000000000000'] }],
    totals: {
      linksUp: 1, linksOpened: 3, linksClosed: { 'peer-closed': 1, BAD_HDR_CRC: 1 }, messagesIn: msgs, messagesOut: msgs * 2, bytesIn: bytes, bytesOut: bytes, relayedOpen: 1,
      spanRelays: 1, spanMessagesSent: 4, spansRefused: 0, refusedBeforeConn: 0, spanEvents: { up: 2, down: 1, changed: 0 }, protocolErrors: { BAD_HDR_CRC: 1 }, crcErrors: 1, keepaliveLosses: 0,
    },
  };
}

describe('renderTop', () => {
  it('shows rates from two snapshots, names path routers it knows, counts errors', () => {
    const lines = renderTop(snapshot(1000, 100, 4096), snapshot(3000, 300, 4096 + 2 * 2048), { columns: 200, rows: 50 }, '127.0.0.1:9');
    const text = lines.join('\n');
    expect(lines[0]).toMatch(/^dmsg top - A \(aaaaaaaa\) via 127\.0\.0\.1:9 +up 2m05s +ready/);
    expect(text).toMatch(/msgs\/s in 100 out 200/);
    expect(text).toMatch(/in 2\.0 KiB\/s out 2\.0 KiB\/s/);
    expect(text).toMatch(/protocol errors 1 \(BAD_HDR_CRC 1\)/);
    expect(text).toMatch(/links 1 up, 3 opened, 2 closed/);
    expect(text).toMatch(/^c1 +B +tcp +in +verified +1m01s +100 +200 +2\.0 KiB\/s +2\.0 KiB\/s +4 +1 +0 B$/m);
    expect(text).toMatch(/^echo +x +1 +B +cccccccc > B$/m);
  });

  it('shows - before a second snapshot, and fits a small terminal', () => {
    const first = renderTop(null, snapshot(0, 5, 5), { columns: 40, rows: 6 }, 'h:1');
    expect(first).toHaveLength(6);
    expect(first.every((l) => l.length <= 40)).toBe(true);
    expect(first[5]).toMatch(/more lines/);
    expect(renderTop(null, snapshot(0, 5, 5), { columns: 300, rows: 60 }, 'h:1').join('\n')).toMatch(/msgs\/s in - out -/);
    expect([formatBytes(10), formatBytes(1536), formatDuration(59), formatDuration(3 * 86400 + 3600)]).toEqual(['10 B', '1.5 KiB', '59s', '3d01h']);
  });
});

describe('dmsg top', () => {
  it('on a pipe prints plain frames; --count stops; an unreachable address exits 1, a bad one 2', async () => {
    const a = await relays.start({ name: 'TA', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    const r = await runCli(['top', a.ops.metricsAddress!, '--count', '2', '--interval-ms', '50']);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^dmsg top - TA /gm)).toHaveLength(2);
    expect(r.stdout).not.toContain('\x1b[');
    expect(r.stdout).toContain('(no links)');
    await a.stop();
    const down = await runCli(['top', a.ops.metricsAddress!, '--count', '1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('CONNECT_FAILED');
    expect((await runCli(['top', 'nonsense'])).code).toBe(2);
  });
});

async function tmuxAvailable(): Promise<boolean> {
  try {
    await run('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

const HAVE_TMUX = await tmuxAvailable();
if (!HAVE_TMUX) console.warn('tmux not installed: the pseudo-terminal test of dmsg top is skipped (apt-get install -y tmux)');

describe.skipIf(!HAVE_TMUX)('dmsg top under a pseudo-terminal (tmux)', () => {
  const socket = `dmsg-ops-top-${process.pid}`;
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args], { cwd: ROOT });
  afterAll(async () => {
    await tmux('kill-server').catch(() => {});
  });

  it('draws links and spans, follows a link cut, quits on q', async () => {
    const a = await relays.start({ name: 'TA', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    const b = await relays.start({ name: 'TB', connect: [a.addresses[0]!], advertise: ['echo/tb1'] });
    await waitFor(() => a.router.spans('echo').length > 0, 'TA to see echo');
    await tmux('new-session', '-d', '-s', 'top', '-x', '160', '-y', '40', `node bin/dmsg.js top ${a.ops.metricsAddress} --interval-ms 200`);
    const screen = async (): Promise<string> => (await tmux('capture-pane', '-p', '-t', 'top')).stdout;
    const drawn = await waitFor(async () => {
      const s = await screen();
      return /^c\d+ +TB +tcp +in +none/m.test(s) && /^echo +tb1 +0 +TB +TB$/m.test(s) ? s : undefined;
    }, 'top to draw TB and its span', 30_000);
    expect(drawn).toMatch(/^dmsg top - TA /m);
    b.disconnect(b.peers[0]!.target);
    await waitFor(async () => {
      const s = await screen();
      return s.includes('(no links)') && s.includes('(no spans)');
    }, 'top to show the cut', 30_000);
    await tmux('send-keys', '-t', 'top', 'q');
    await waitFor(async () => {
      try {
        await tmux('has-session', '-t', 'top');
        return false;
      } catch {
        return true; // the session ended: top exited on q
      }
    }, 'top to quit on q', 15_000);
  });
});
