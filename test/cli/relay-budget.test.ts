/** The relay daemon's budgets: flags and config keys to a shared Budget, exposed in stats(). */
import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { mergeSettings, parseConfigObject, toRelayConfig } from '../../src/cli/relay-config.ts';
import { startRelay } from '../../src/cli/relay-daemon.ts';
import { Budget } from '../../src/iocom/budget.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import { BUDGET_DEFAULTS } from '../../src/iocom/options.ts';
import { connectTcp } from '../../src/transport/tcp.ts';
import { flagSettings } from '../../src/cli/commands/relay.ts';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('relay budgets', () => {
  it('config keys and flags map to the Budget and the per-link options', () => {
    const file = parseConfigObject({ listen: ['127.0.0.1:0'], 'max-connections': 10, 'max-queued-bytes': 1 << 20, 'handshake-timeout-ms': 2000 }, 'cfg', '/');
    const flags = flagSettings({ 'max-connections': '20', 'max-transactions': '500', 'pre-auth-buffer-bytes': '1024', 'link-max-queued-bytes': String(2 << 20) });
    const config = toRelayConfig(mergeSettings(file, flags));
    expect(config.budget).toEqual({ maxConnections: 20, maxQueuedBytes: 1 << 20, maxTransactions: 500 });
    expect(config.iocom).toEqual({ maxQueuedBytes: 2 << 20, authTimeoutMs: 2000, preAuthBufferBytes: 1024 });
    expect(() => parseConfigObject({ 'max-connections': 0 }, 'cfg', '/')).toThrow(/"max-connections" must be a positive integer/);
  });

  it('a relay has a Budget (defaults unless configured) shared by all its links, shown in stats(); past maxConnections a newcomer is refused and logged', async () => {
    const lines: string[] = [];
    const relay = await startRelay({ name: 'r', listen: ['127.0.0.1:0'], budget: { maxConnections: 2 }, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 }, log: (l) => lines.push(l) });
    expect(relay.budget).toBeInstanceOf(Budget);
    expect(relay.budget.limits).toEqual({ ...BUDGET_DEFAULTS, maxConnections: 2 });
    const port = Number(/:(\d+)$/.exec(relay.addresses[0]!)![1]);
    const clients: Iocom[] = [];
    for (let i = 0; i < 3; i++) {
      const sock = await connectTcp({ host: '127.0.0.1', port });
      sock.on('error', () => {});
      const io = new Iocom(sock, { name: `c${i}`, pingIntervalMs: 0, linkTimeoutMs: 0 });
      clients.push(io);
      if (i < 2) {
        await io.ping();
      }
    }
    // The third link is shed at once: its client sees the stream end.
    await firstValueFrom(clients[2]!.closed$);
    const stats = relay.stats();
    expect(stats.budget).toMatchObject({ connections: 2, shed: { connections: 1 } });
    expect(stats.router.links).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => /link shed: daemon-wide budget: 2 connections open; maxConnections is 2/.test(l))).toBe(true);
    expect(await clients[0]!.ping()).toBeGreaterThanOrEqual(0);
    for (const c of clients) c.destroy();
    await turn();
    await relay.stop();
    expect(relay.budget.stats().connections).toBe(0);
  });

  it('a shared Budget passed in is used as is; bad per-link options fail before anything binds', async () => {
    const budget = new Budget({ maxTransactions: 7 });
    const relay = await startRelay({ listen: ['127.0.0.1:0'], budget });
    expect(relay.budget).toBe(budget);
    await relay.stop();
    await expect(startRelay({ listen: ['127.0.0.1:0'], iocom: { maxQueuedBytes: 1024 } })).rejects.toThrow(/maxQueuedBytes must be an integer/);
  });
});
