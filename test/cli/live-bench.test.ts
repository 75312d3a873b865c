/** `dmsg bench ADDR SERVICE`: load through in-process relays, small counts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import { startRelay, type RelayHandle } from '../../src/cli/relay-daemon.ts';
import type { LiveBenchResult } from '../../src/cli/live-bench.ts';
import { runCli } from './io.ts';
import { runBin } from './bin.ts';
import { DBG_SINK } from '../../src/cli/echo-service.ts';

let a: RelayHandle;
let b: RelayHandle;
beforeAll(async () => {
  a = await startRelay({ name: 'a', listen: ['127.0.0.1:0'], advertise: ['svc/a'] });
  b = await startRelay({ name: 'b', listen: ['127.0.0.1:0'], connect: [a.addresses[0]!] });
  // The client dials b; the service is one relay further, on a.
  if (!b.router.spans('svc').some((s) => s.via !== null)) {
    await firstValueFrom(b.router.spans$.pipe(filter((e) => e.type !== 'down' && e.span.service === 'svc')));
  }
});
afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

async function bench(args: string[]): Promise<{ r: LiveBenchResult; stderr: string }> {
  const out = await runCli(['bench', b.addresses[0]!, 'svc', '--json', ...args]);
  expect(out.code, out.stderr).toBe(0);
  return { r: JSON.parse(out.stdout) as LiveBenchResult, stderr: out.stderr };
}

describe('dmsg bench ADDR SERVICE', () => {
  it('a misbehaving service (double echoes, a sink answer that is not JSON) fails the run in one line, never crashes it', async () => {
    const ad = b.router.advertise({ service: 'liar', instance: 'x' });
    ad.transactions$.subscribe((tx) =>
      tx.rx$.subscribe({
        next: (m) => {
          if (m.aux.length > 0 && tx.canSend) for (let i = 0; i < 2; i++) tx.send(m.header.cmd & 0xfffff, { aux: m.aux });
        },
        complete: () => { if (tx.canSend) tx.send(DBG_SINK, { aux: new TextEncoder().encode('not json{'), delete: true }); },
        error: () => {},
      }),
    );
    try {
      const rr = await runCli(['bench', b.addresses[0]!, 'liar', '--json', '--duration', '0.2']);
      expect(rr.code, rr.stderr).toBe(0);
      const r = JSON.parse(rr.stdout) as LiveBenchResult;
      // Each message counted once although it came back twice.
      expect(r.latency!.samples).toBe(r.sent);
      expect(r.messages).toBeLessThanOrEqual(r.sent);
      const ow = await runCli(['bench', b.addresses[0]!, 'liar', '--mode', 'oneway', '--duration', '0.2']);
      expect(ow.code).toBe(1);
      expect(ow.stderr).toMatch(/^dmsg bench: NO_SINK: liar\/x closed the transaction without a count/);
    } finally {
      ad.close();
    }
  });

  it('rr, open loop, 2 connections x 4 in flight: every message echoed through a relay, latency percentiles in order', async () => {
    const { r } = await bench(['--connections', '2', '--inflight', '4', '--duration', '0.3', '--size', '100']);
    expect(r).toMatchObject({ mode: 'rr', connections: 2, size: 100, rate: 0 });
    expect(r.targets).toEqual([expect.stringMatching(/^svc\/a \(dist \d+\)$/)]);
    expect(r.messages).toBeGreaterThan(0);
    expect(r.messages).toBeLessThanOrEqual(r.sent);
    // Drained before closing: every message sent has its latency recorded.
    const l = r.latency!;
    expect(l.samples).toBe(r.sent);
    expect(l.p50).toBeGreaterThan(0);
    for (const [lo, hi] of [[l.p50, l.p90], [l.p90, l.p99], [l.p99, l.p999], [l.p999, l.max]] as const) expect(lo).toBeLessThanOrEqual(hi);
    expect(r.msgsPerSec).toBeCloseTo(r.messages / r.durationS, 6);
    expect(r.mbPerSec).toBeCloseTo((r.messages * 100) / r.durationS / 1e6, 6);
  });

  it('oneway into the sink: the sink counts exactly what was sent', async () => {
    const { r } = await bench(['--mode', 'oneway', '--connections', '3', '--duration', '0.3']);
    expect(r.mode).toBe('oneway');
    expect(r.sent).toBeGreaterThan(0);
    expect(r.messages).toBe(r.sent);
    expect(r.latency).toBeUndefined();
  });

  it('--rate: sends on a schedule (never ahead of it) and prints a progress line each second', async () => {
    const { r, stderr } = await bench(['--rate', '500', '--duration', '1.2']);
    expect(r.rate).toBe(500);
    // Never ahead of the schedule: at most what it allowed by the run's measured end (500/s x the
    // elapsed time, plus the one due at t0). The nominal 1.2 s is not the bound: on a loaded
    // machine the end-of-run timer fires late and sending rightly goes on until it does.
    // (A timer may also read a hair early on performance.now(), hence the nominal 1.2 s as the floor.)
    expect(r.sent).toBeLessThanOrEqual(Math.floor(Math.max(1.2, r.durationS) * 500) + 1);
    expect(r.sent).toBeGreaterThan(0);
    expect(r.latency!.samples).toBe(r.sent);
    expect(stderr).toMatch(/^bench: 1\.\d s {2}sent [\d,]+ {2}echoed [\d,]+ {2}~[\d,.]+ msgs\/s$/m);
  });

  it('table output from the real bin; a missing service is NO_SPAN (exit 1); a bad --mode is exit 2', async () => {
    const t = await runBin(['bench', b.addresses[0]!, 'svc/a', '--duration', '0.2']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^mode +request\/reply \(echo\)$/m);
    expect(t.stdout).toMatch(/^msgs\/s +[\d,.]+$/m);
    expect(t.stdout).toMatch(/^latency ms +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +p99\.9 [\d.]+ +max [\d.]+/m);
    const none = await runCli(['bench', b.addresses[0]!, 'nosuch', '--timeout-ms', '200', '--duration', '0.1']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^dmsg bench: NO_SPAN: no span of 'nosuch'/);
    const bad = await runCli(['bench', b.addresses[0]!, 'svc', '--mode', 'pubsub']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mode must be rr or oneway/);
  });
});
