import { once } from 'node:events';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/transport/errors.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { BACKOFF_DEFAULTS } from '../../src/transport/options.ts';
import { backoffCeiling, backoffDelay, reconnectingDialer } from '../../src/transport/reconnect.ts';
import type { Clock, ReconnectingDialer } from '../../src/transport/reconnect.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { destroyAndWait } from './pairs.ts';

/** A manual clock: timers fire only inside `advance()`, in due order. */
class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #timers = new Map<number, { due: number; fn: () => void }>();
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { due: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  /** Due times of pending timers, relative to now. */
  get delays(): number[] {
    return [...this.#timers.values()].map((t) => t.due - this.#now);
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].due <= end && (next === undefined || e[1].due < next[1].due)) next = e;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].due;
      next[1].fn();
    }
    this.#now = end;
  }
}

/** Let promise callbacks settle (bounded loop turns, no timers). */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

describe('backoffDelay (pure)', () => {
  it('follows min * factor^n capped at max, with full jitter', () => {
    const top = () => 0.999999;
    const o = { minMs: 100, maxMs: 30_000, factor: 2 };
    expect([0, 1, 2, 3, 4, 5, 8, 9, 50, 5000].map((n) => backoffCeiling(n, o))).toEqual([
      100, 200, 400, 800, 1600, 3200, 25_600, 30_000, 30_000, 30_000,
    ]);
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, o, top))).toEqual([99, 199, 399, 799]);
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, o, () => 0))).toEqual([0, 0, 0, 0]);
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, o, () => 0.5))).toEqual([50, 100, 200, 400]);
    expect(backoffDelay(0, undefined, () => 0.5)).toBe(BACKOFF_DEFAULTS.minMs / 2);
  });

  it('stays an integer in [0, ceiling) and grows with random (property, seed 42)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        (attempt, r1, r2, minMs, extra, factor) => {
          const o = { minMs, maxMs: minMs + extra, factor };
          const ceiling = backoffCeiling(attempt, o);
          const d1 = backoffDelay(attempt, o, () => r1);
          const d2 = backoffDelay(attempt, o, () => r2);
          expect(Number.isInteger(d1)).toBe(true);
          expect(d1).toBeGreaterThanOrEqual(0);
          expect(d1).toBeLessThan(ceiling);
          expect(ceiling).toBeLessThanOrEqual(o.maxMs);
          if (r1 <= r2) expect(d1).toBeLessThanOrEqual(d2);
          expect(backoffCeiling(attempt + 1, o)).toBeGreaterThanOrEqual(ceiling);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it('validates its inputs with typed errors and hints', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(TransportError);
        expect((err as TransportError).code).toBe('INVALID_ARGUMENT');
        return (err as Error).message;
      }
      throw new Error('expected a throw');
    };
    expect(bad(() => backoffDelay(-1))).toMatch(/attempt must be an integer/);
    expect(bad(() => backoffDelay(0, { minMs: 0 }))).toMatch(/minMs must be an integer in \[1, /);
    expect(bad(() => backoffDelay(0, { minMs: 500, maxMs: 100 }))).toMatch(/maxMs must be >= minMs \(500\), got 100/);
    expect(bad(() => backoffDelay(0, { factor: 0.5 }))).toMatch(/factor must be a finite number in \[1, 1000\], got 0.5/);
    expect(bad(() => backoffDelay(0, { initialDelay: 5 } as never))).toMatch(/unsupported option initialDelay, use minMs instead/);
    expect(bad(() => backoffDelay(0, {}, () => 1))).toMatch(/random\(\) must return a number in \[0, 1\), got 1/);
  });
});

describe('reconnectingDialer', () => {
  const dialers: ReconnectingDialer[] = [];
  const streams: Duplex[] = [];
  afterEach(async () => {
    for (const d of dialers.splice(0)) d.stop();
    await destroyAndWait(...streams.splice(0));
  });

  /** A dialer over memory pairs; `fail` decides per attempt whether dialling fails. */
  function memoryDialer(fail: (attempt: number) => boolean, extra: { resetAfterMs?: number } = {}) {
    const clock = new FakeClock();
    const peers: Duplex[] = [];
    const connected: Duplex[] = [];
    const dialErrors: Array<{ failures: number; delayMs: number }> = [];
    let dials = 0;
    const dialer = reconnectingDialer({
      dial: async () => {
        const n = dials++;
        if (fail(n)) throw new TransportError('CONNECT_FAILED', `attempt ${n} refused`);
        const [a, b] = memoryPair();
        streams.push(a, b);
        peers.push(b);
        return a;
      },
      onConnection: (s) => connected.push(s),
      onDialError: (_err, info) => dialErrors.push(info),
      backoff: { minMs: 100, maxMs: 1000, factor: 2 },
      random: () => 0.5,
      clock,
      ...extra,
    });
    dialers.push(dialer);
    return { dialer, clock, peers, connected, dialErrors, dials: () => dials };
  }

  it('backs off exponentially between failed dials, then connects', async () => {
    const t = memoryDialer((n) => n < 6);
    await settle();
    expect(t.dials()).toBe(1);
    const expected = [50, 100, 200, 400, 500, 500]; // 0.5 × min(1000, 100·2^n)
    for (let i = 0; i < expected.length; i++) {
      expect(t.dialer.state).toBe('waiting');
      expect(t.clock.delays).toEqual([expected[i]]);
      t.clock.advance(expected[i]! - 1);
      expect(t.dials()).toBe(i + 1); // not a millisecond early
      t.clock.advance(1);
      await settle();
      expect(t.dials()).toBe(i + 2);
    }
    expect(t.dialErrors.map((e) => e.delayMs)).toEqual(expected);
    expect(t.dialErrors.map((e) => e.failures)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.dialer.state).toBe('connected');
    expect(t.connected).toHaveLength(1);
    expect(t.clock.pending).toBe(0);
  });

  it('waits for the connection to close before redialling; a short-lived one keeps the backoff growing', async () => {
    const t = memoryDialer(() => false, { resetAfterMs: 10_000 });
    await settle();
    expect(t.connected).toHaveLength(1);
    t.clock.advance(60_000); // nothing happens while connected
    expect(t.dials()).toBe(1);
    expect(t.clock.pending).toBe(0);
    // First drop after a long life: backoff restarts at attempt 0.
    const closed = once(t.connected[0]!, 'close');
    t.peers[0]!.destroy();
    await closed;
    expect(t.dialer.state).toBe('waiting');
    expect(t.clock.delays).toEqual([50]);
    t.clock.advance(50);
    await settle();
    expect(t.connected).toHaveLength(2);
    // Dropped after 1 s (< resetAfterMs): the next delay grows.
    t.clock.advance(1000);
    const closed2 = once(t.connected[1]!, 'close');
    t.peers[1]!.destroy();
    await closed2;
    expect(t.clock.delays).toEqual([100]);
    expect(t.dialer.failures).toBe(2);
    t.clock.advance(100);
    await settle();
    expect(t.connected).toHaveLength(3);
    // Up for resetAfterMs: failures reset, the next delay is back to attempt 0.
    t.clock.advance(10_000);
    const closed3 = once(t.connected[2]!, 'close');
    t.peers[2]!.destroy();
    await closed3;
    expect(t.clock.delays).toEqual([50]);
    expect(t.dialer.failures).toBe(1);
  });

  it('stop() clears the retry timer and aborts a dial in flight (a late stream is destroyed)', async () => {
    const t = memoryDialer(() => true);
    await settle();
    expect(t.clock.pending).toBe(1);
    t.dialer.stop();
    expect(t.clock.pending).toBe(0);
    expect(t.dialer.state).toBe('stopped');
    t.clock.advance(100_000);
    await settle();
    expect(t.dials()).toBe(1);
    t.dialer.stop(); // idempotent

    const clock = new FakeClock();
    let signal!: AbortSignal;
    let deliver!: (s: Duplex) => void;
    const [late, peer] = memoryPair();
    streams.push(late, peer);
    const onConnection: Duplex[] = [];
    const d = reconnectingDialer({
      dial: (sig) => {
        signal = sig;
        return new Promise<Duplex>((resolve) => (deliver = resolve));
      },
      onConnection: (s) => onConnection.push(s),
      clock,
    });
    expect(d.state).toBe('dialing');
    d.stop();
    expect(signal.aborted).toBe(true);
    const lateClosed = once(late, 'close');
    deliver(late);
    await lateClosed;
    expect(onConnection).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('stop({ destroyConnection: true }) destroys the connection it handed out', async () => {
    const t = memoryDialer(() => false);
    await settle();
    const conn = t.connected[0]!;
    const closed = once(conn, 'close');
    t.dialer.stop({ destroyConnection: true });
    await closed;
    expect(t.dialer.current).toBe(null);
    expect(t.clock.pending).toBe(0);
  });

  it('rejects bad options', () => {
    const dial = async (): Promise<Duplex> => memoryPair()[0];
    expect(() => reconnectingDialer({ dial, onConnection: () => {}, resetAfterMs: -1 })).toThrow(/resetAfterMs must be an integer/);
    expect(() => reconnectingDialer({ dial, onConnection: () => {}, backoff: { maxDelay: 1 } as never })).toThrow(
      /use maxMs instead/,
    );
    expect(() => reconnectingDialer({ dial: undefined as never, onConnection: () => {} })).toThrow(TransportError);
  });

  it('reconnects over TCP after the server drops the connection', async () => {
    const accepted: net.Socket[] = [];
    const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (s) => {
      accepted.push(s);
      streams.push(s);
    });
    try {
      const { port } = server.address();
      const clock = new FakeClock();
      const got: net.Socket[] = [];
      let firstConn!: () => void;
      const first = new Promise<void>((r) => (firstConn = r));
      let secondConn!: () => void;
      const second = new Promise<void>((r) => (secondConn = r));
      const dialer = reconnectingDialer({
        dial: (signal) => connectTcp({ host: '127.0.0.1', port, signal }),
        onConnection: (s) => {
          got.push(s);
          streams.push(s);
          s.on('error', () => {});
          s.resume();
          (got.length === 1 ? firstConn : secondConn)();
        },
        random: () => 0,
        clock,
      });
      dialers.push(dialer);
      await first;
      const clientClosed = once(got[0]!, 'close');
      for (let i = 0; i < 50 && accepted.length === 0; i++) await settle(1);
      accepted[0]!.destroy(); // the server drops the link
      await clientClosed;
      expect(dialer.state).toBe('waiting');
      expect(clock.delays).toEqual([0]);
      clock.advance(0);
      await second;
      expect(dialer.connections).toBe(2);
      expect(dialer.state).toBe('connected');
    } finally {
      for (const d of dialers.splice(0)) d.stop({ destroyConnection: true });
      await destroyAndWait(...streams.splice(0));
      await server.close();
    }
  });
});
