import { describe, expect, it } from 'vitest';
import { lines, runCli } from './io.ts';

/** Ring distance from n0 to position k (the shorter way round). */
const ringHops = (n: number, k: number): number => Math.min(k, n - k);

describe('dmsg demo', () => {
  it('--quick: ring of relays, discovery, transactions through relays, a cut and the failover, exit 0', async () => {
    const r = await runCli(['demo', '--quick']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(lines(out).filter((l) => /^   n\d listens on 127\.0\.0\.1:\d+/.test(l))).toHaveLength(5);
    // dist is printed as the span carries it; the relays crossed follow from the ring.
    expect(out).toMatch(/found 'echo' on n2: dist \d+, so a transaction crosses 2 relays/);
    expect(out).toMatch(/found 'upper' on n3: dist \d+, so a transaction crosses 2 relays/);
    expect(out).toMatch(/echo\('hello, mesh'\) -> 'hello, mesh' {2}via 2 relays/);
    expect(out).toMatch(/upper\('hello, mesh'\) -> 'HELLO, MESH' {2}via 2 relays/);
    expect(out).toContain('Cutting the link n1 - n2');
    expect(out).toMatch(/span event 'changed': echo\/n2 now at dist \d+/);
    expect(out).toContain('2 relays before, 3 relays now');
    expect(out).toMatch(/echo\('still there\?'\) -> 'still there\?' {2}via 3 relays/);
    expect(out).not.toContain('headers/s');
    expect(out).not.toContain('The wire format');
  });

  // Every ring size help promises, each run to the end: the right way round, no call mid-failover.
  for (let n = 4; n <= 12; n++) {
    it(`--relays ${n}: services found on their shortest way, failover the other way round`, async () => {
      const r = await runCli(['demo', '--quick', '--relays', String(n), '--timeout-ms', '20000']);
      expect(r.stderr, r.stdout).toBe('');
      expect(r.code).toBe(0);
      expect(lines(r.stdout).filter((l) => /^   n\d+ listens on/.test(l))).toHaveLength(n);
      const echoAt = Number(/found 'echo' on n(\d+)/.exec(r.stdout)![1]);
      const upperAt = Number(/found 'upper' on n(\d+)/.exec(r.stdout)![1]);
      expect(2 * echoAt).not.toBe(n);
      expect(2 * upperAt).not.toBe(n);
      expect(r.stdout).toMatch(new RegExp(`found 'echo' on n${echoAt}: dist \\d+, so a transaction crosses ${ringHops(n, echoAt)} relays?`));
      expect(r.stdout).toMatch(new RegExp(`found 'upper' on n${upperAt}: dist \\d+, so a transaction crosses ${ringHops(n, upperAt)} relays?`));
      expect(r.stdout).toContain(`${ringHops(n, echoAt)} relay${ringHops(n, echoAt) === 1 ? '' : 's'} before, ${n - ringHops(n, echoAt)} relays now`);
      expect(r.stdout).toMatch(/echo\('still there\?'\) -> 'still there\?'/);
    });
  }

  it('full run: codec intro and a short throughput measurement; --relays changes the ring', async () => {
    const r = await runCli(['demo', '--seconds', '0.1', '--relays', '6']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1. The wire format');
    expect(r.stdout).toContain("service 'echo', instance 'n2', dist 0");
    expect(lines(r.stdout).filter((l) => /^   n\d listens on/.test(l))).toHaveLength(6);
    // Six relays: 'upper' moves off the half-way point n3 to n4, two hops from n0; after the cut echo goes round the long side.
    expect(r.stdout).toMatch(/found 'upper' on n4: dist \d+, so a transaction crosses 2 relays/);
    expect(r.stdout).toMatch(/via 4 relays/);
    const rates = [...r.stdout.matchAll(/([\d,]+) headers\/s/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
    expect(rates).toHaveLength(2);
    for (const v of rates) expect(v).toBeGreaterThan(0);
  });

  it('rejects bad options with exit 2', async () => {
    for (const argv of [['demo', '--seconds=-1'], ['demo', '--relays', '2'], ['demo', '--relays', '13'], ['demo', '--timeout-ms', 'x']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/must be/);
    }
  });
});
