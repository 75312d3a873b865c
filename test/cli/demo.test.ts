import { describe, expect, it } from 'vitest';
import { lines, runCli } from './io.ts';

describe('dmsg demo', () => {
  it('--quick: ring of relays, discovery, transactions through relays, a cut and the failover, exit 0', async () => {
    const r = await runCli(['demo', '--quick']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(lines(out).filter((l) => /^   n\d listens on 127\.0\.0\.1:\d+/.test(l))).toHaveLength(5);
    expect(out).toContain("found 'echo' on n2: dist 2");
    expect(out).toContain("found 'upper' on n3: dist 2");
    expect(out).toMatch(/echo\('hello, mesh'\) -> 'hello, mesh' {2}via 2 relays/);
    expect(out).toMatch(/upper\('hello, mesh'\) -> 'HELLO, MESH' {2}via 2 relays/);
    expect(out).toContain("span event 'changed': echo/n2 now at dist 3");
    expect(out).toMatch(/echo\('still there\?'\) -> 'still there\?' {2}via 3 relays/);
    expect(out).not.toContain('headers/s');
    expect(out).not.toContain('The wire format');
  });

  it('full run: codec intro and a short throughput measurement; --relays changes the ring', async () => {
    const r = await runCli(['demo', '--seconds', '0.1', '--relays', '6']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1. The wire format');
    expect(r.stdout).toContain("service 'echo', instance 'n2', dist 0");
    expect(lines(r.stdout).filter((l) => /^   n\d listens on/.test(l))).toHaveLength(6);
    // Six relays: 'upper' on n3 is three hops either way; after the cut echo goes round the long side (4).
    expect(r.stdout).toContain("found 'upper' on n3: dist 3");
    expect(r.stdout).toMatch(/via 4 relays/);
    const rates = [...r.stdout.matchAll(/([\d,]+) headers\/s/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
    expect(rates).toHaveLength(2);
    for (const v of rates) expect(v).toBeGreaterThan(0);
  });

  it('rejects bad options with exit 2', async () => {
    for (const argv of [['demo', '--seconds=-1'], ['demo', '--relays', '2'], ['demo', '--timeout-ms', 'x']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/must be/);
    }
  });
});
