/** The relay daemon's budgets: flags and config keys to a shared Budget, exposed in stats(). */
import { describe, expect, it } from 'vitest';
import { Subject, config as rxjsConfig, firstValueFrom, map } from 'rxjs';
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

  it('a relay has a Budget (defaults unless configured) shared by all its links, shown in stats(); past maxConnections its listeners refuse a newcomer, logged', async () => {
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
    // The third connection is closed by the listener (before any protocol work): its client sees the stream end.
    await firstValueFrom(clients[2]!.closed$);
    const stats = relay.stats();
    expect(stats.budget).toMatchObject({ connections: 2 });
    expect(stats.router.links).toBe(2);
    expect(lines.some((l) => /refused a connection from 127\.0\.0\.1:\d+: maxConnections \(2\) are open/.test(l))).toBe(true);
    expect(await clients[0]!.ping()).toBeGreaterThanOrEqual(0);
    for (const c of clients) c.destroy();
    await turn();
    await relay.stop();
    expect(relay.budget.stats().connections).toBe(0);
  });

  it("a relay's links flush a turn's first KiB early (earlyFlushBytes 1024 unless configured)", async () => {
    for (const [iocom, want] of [[undefined, 1024], [{ earlyFlushBytes: 0 }, 0]] as const) {
      const relay = await startRelay({ listen: ['127.0.0.1:0'], ...(iocom ? { iocom } : {}) });
      const sock = await connectTcp({ host: '127.0.0.1', port: Number(/:(\d+)$/.exec(relay.addresses[0]!)![1]) });
      sock.on('error', () => {});
      const client = new Iocom(sock, { name: 'c', pingIntervalMs: 0, linkTimeoutMs: 0 });
      try {
        await client.ping(); // answered: the relay's link exists
        const links = relay.router.links;
        expect(links).toHaveLength(1);
        expect(links[0]!.iocom.options.earlyFlushBytes).toBe(want);
      } finally {
        client.destroy();
        await turn();
        await relay.stop();
      }
    }
  });

  it('a shared Budget passed in is used as is; bad per-link options fail before anything binds', async () => {
    const budget = new Budget({ maxTransactions: 7 });
    const relay = await startRelay({ listen: ['127.0.0.1:0'], budget });
    expect(relay.budget).toBe(budget);
    await relay.stop();
    await expect(startRelay({ listen: ['127.0.0.1:0'], iocom: { maxQueuedBytes: 1024 } })).rejects.toThrow(/maxQueuedBytes must be an integer/);
  });

  it('while a relay runs, what rxjs would rethrow from a subscriber outside the iocom is logged instead; stop() restores rxjs', async () => {
    const lines: string[] = [];
    expect(rxjsConfig.onUnhandledError).toBeNull();
    const relay = await startRelay({ listen: ['127.0.0.1:0'], log: (l) => lines.push(l) });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => {
      uncaught.push(e);
    };
    process.on('uncaughtException', onUncaught);
    try {
      const s = new Subject<number>();
      // A pipe() chain whose error nobody handles: rxjs reports it from a timer.
      s.pipe(map(() => { throw new Error('handler bug outside the iocom'); })).subscribe(() => {});
      s.next(1);
      await new Promise((r) => setTimeout(r, 0)); // rxjs reports on its timeout provider: let it run once
      await new Promise((r) => setImmediate(r));
      expect(uncaught).toEqual([]);
      expect(lines.some((l) => /an rxjs subscriber threw \(caught, not rethrown\): handler bug outside the iocom/.test(l))).toBe(true);
    } finally {
      process.off('uncaughtException', onUncaught);
      await relay.stop();
    }
    expect(rxjsConfig.onUnhandledError).toBeNull();
  });
});
