import { describe, expect, it } from 'vitest';
import { Reporter, formatNumber, median, measure } from '../../src/cli/bench-harness.ts';
import { lines, runCli } from './io.ts';

interface Rec {
  bench: string;
  metric: string;
  value: number;
  unit: string;
}

describe('dmsg bench headers', () => {
  it('--json --seconds 0.2 prints parseable JSON lines with both header metrics and the ratios', async () => {
    const r = await runCli(['bench', 'headers', '--json', '--seconds', '0.2']);
    expect(r.code).toBe(0);
    const recs = lines(r.stdout).map((l) => JSON.parse(l) as Rec);
    for (const rec of recs) {
      expect(Object.keys(rec).sort()).toEqual(['bench', 'metric', 'unit', 'value']);
      expect(rec.bench).toBe('wire');
      expect(Number.isFinite(rec.value)).toBe(true);
      expect(rec.value).toBeGreaterThan(0);
    }
    const byMetric = new Map(recs.map((x) => [x.metric, x]));
    expect(byMetric.get('encode_crc_headers_per_s')?.unit).toBe('headers/s');
    expect(byMetric.get('decode_verify_headers_per_s')?.unit).toBe('headers/s');
    for (const m of ['decode_verify_vs_naive_decode', 'encode_crc_vs_naive_encode', 'crc_share_of_decode_time', 'crc_share_of_encode_time']) {
      expect(byMetric.get(m)?.unit, m).toBe('ratio');
    }
    const ratio = byMetric.get('decode_verify_vs_naive_decode')!.value;
    expect(ratio).toBeCloseTo(byMetric.get('decode_verify_headers_per_s')!.value / byMetric.get('naive_decode_headers_per_s')!.value, 9);
    // Notes stay off stdout in JSON mode.
    expect(r.stderr).toMatch(/^crc32c: JS slicing-by-16/m);
    expect(r.stderr).not.toContain('not described');
  });

  it('a missing or unknown target, or a bad --seconds, exits 2', async () => {
    for (const argv of [['bench'], ['bench', 'everything'], ['bench', 'headers', '--seconds', '0']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
  });
});

describe('bench harness', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('measure counts the ops a batch reports', () => {
    let calls = 0;
    const m = measure(
      () => {
        calls++;
        return 10;
      },
      { seconds: 0.02, rounds: 3, warmupSeconds: 0 },
    );
    expect(m.rounds).toHaveLength(3);
    expect(m.opsPerSec).toBeGreaterThan(0);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(() => measure(() => 1, { seconds: 0 })).toThrow(RangeError);
  });

  it('table mode: one table per bench, a ratio column for rows with a baseline, explicit ratios as rows', () => {
    let out = '';
    const rep = new Reporter({ out: { write: (s: string) => (out += s) } });
    rep.result({ bench: 'b', metric: 'fast', value: 3000, unit: 'ops/s', baseline: 'slow' });
    rep.result({ bench: 'b', metric: 'slow', value: 1500, unit: 'ops/s' });
    rep.ratio('b', 'slow_share', 'slow', 'fast');
    rep.endBench();
    const rows = lines(out);
    expect(rows[0]).toMatch(/^bench +metric +value +unit +ratio$/);
    expect(rows[1]).toMatch(/^b +fast +3,000 +ops\/s +2x slow$/);
    expect(rows[2]).toMatch(/^b +slow +1,500 +ops\/s$/);
    expect(rows[3]).toMatch(/^b +slow_share +0\.5 +ratio +slow \/ fast$/);
    expect(rows).toHaveLength(4);
  });

  it('JSON mode: results as they come, ratios once both sides are known', () => {
    let out = '';
    let err = '';
    const rep = new Reporter({ json: true, out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
    rep.note('a note');
    rep.result({ bench: 'b', metric: 'fast', value: 3000, unit: 'ops/s', baseline: 'slow', ratioMetric: 'fast_vs_slow' });
    expect(lines(out)).toHaveLength(1);
    rep.result({ bench: 'b', metric: 'slow', value: 1500, unit: 'ops/s' });
    rep.ratio('b', 'never', 'slow', 'missing');
    rep.endBench();
    expect(lines(out).map((l) => JSON.parse(l) as Rec)).toEqual([
      { bench: 'b', metric: 'fast', value: 3000, unit: 'ops/s' },
      { bench: 'b', metric: 'slow', value: 1500, unit: 'ops/s' },
      { bench: 'b', metric: 'fast_vs_slow', value: 2, unit: 'ratio' },
    ]);
    expect(err).toContain('a note');
    expect(err).toContain('ratio never skipped');
  });

  it('formats numbers for the table', () => {
    expect(formatNumber(12345678.9)).toBe('12,345,679');
    expect(formatNumber(3.14159)).toBe('3.142');
    expect(formatNumber(0.012345)).toBe('0.01235');
    expect(formatNumber(0)).toBe('0');
  });
});

describe('bench failures and progress', () => {
  const sink = (): { write(s: string): void; text: () => string } => {
    let t = '';
    return { write: (s: string) => { t += s; }, text: () => t };
  };

  it('a failed case is a row (table) or a record with value null and unit "failed" (JSON), never a stack trace', () => {
    const out = sink();
    const table = new Reporter({ out });
    table.result({ bench: 'b', metric: 'ok_per_s', value: 1000, unit: 'ops/s' });
    table.failed({ bench: 'b', metric: 'bad_per_s', reason: 'no message reached the server through 3 relays' });
    table.endBench();
    expect(out.text()).toMatch(/^b +bad_per_s +FAILED +no message reached the server through 3 relays$/m);
    expect(out.text()).toMatch(/^b +ok_per_s +1,000 +ops\/s/m);
    expect(table.failures).toHaveLength(1);

    const jout = sink();
    const json = new Reporter({ json: true, out: jout });
    json.failed({ bench: 'b', metric: 'bad_per_s', reason: 'boom' });
    json.endBench();
    expect(JSON.parse(jout.text().trim())).toEqual({ bench: 'b', metric: 'bad_per_s', value: null, unit: 'failed', error: 'boom' });
  });

  it('a skipped case is a row "skipped" (table) or a record with unit "skipped" (JSON) and is no failure', () => {
    const out = sink();
    const table = new Reporter({ out });
    table.skipped({ bench: 'b', metric: 'libdmsg_per_s', reason: 'skipped: not built' });
    table.endBench();
    expect(out.text()).toMatch(/^b +libdmsg_per_s +skipped +skipped: not built$/m);
    expect(table.failures).toHaveLength(0);

    const jout = sink();
    const json = new Reporter({ json: true, out: jout });
    json.skipped({ bench: 'b', metric: 'libdmsg_per_s', reason: 'not built' });
    json.endBench();
    expect(JSON.parse(jout.text().trim())).toEqual({ bench: 'b', metric: 'libdmsg_per_s', value: null, unit: 'skipped', error: 'not built' });
    expect(json.failures).toHaveLength(0);
  });

  it('phase() prints a start and an end line on the progress sink and rethrows', async () => {
    const err = sink();
    const r = new Reporter({ out: sink(), err });
    expect(await r.phase('convergence: 1000 routers', async () => 42)).toBe(42);
    await expect(r.phase('relay: chain', async () => { throw new Error('x'); })).rejects.toThrow('x');
    expect(err.text()).toMatch(/^convergence: 1000 routers \.\.\.\nconvergence: 1000 routers: done in [\d.]+ s\nrelay: chain \.\.\.\nrelay: chain: failed after [\d.]+ s\n$/);
  });

  it('the runner reports a throwing benchmark as a failed row and still runs the next one', async () => {
    const { runBenchmarks } = await import('../../bench/run.ts');
    const out = sink();
    const reporter = new Reporter({ out, err: sink() });
    const failures = await runBenchmarks(['broken', 'fine'], reporter, 0.01, {
      broken: async () => ({ run: () => { throw new Error('no message reached the server through 3 relays at onewayRound\n    at stack frame'); } }),
      fine: async () => ({ run: ({ reporter: r }) => r.result({ bench: 'fine', metric: 'x_per_s', value: 5, unit: 'x/s' }) }),
    });
    expect(failures).toBe(1);
    expect(out.text()).toMatch(/^broken +run +FAILED +no message reached the server through 3 relays at onewayRound$/m);
    expect(out.text()).not.toContain('stack frame');
    expect(out.text()).toMatch(/^fine +x_per_s +5 +x\/s/m);
  });
});
