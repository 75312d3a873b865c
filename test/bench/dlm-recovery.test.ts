/**
 * bench/dlm-recovery.ts at a small scale: a round runs to its end and its
 * own checks pass (every queued request granted after the member's death,
 * every survivor's lock kept), and the rows come out as rows. No timing is
 * asserted (speed is measured by `npm run bench -- dlm`, not here).
 */
import { describe, expect, it } from 'vitest';
import { recoveryRound, runRecoveryRows } from '../../bench/dlm-recovery.ts';
import { Reporter } from '../../bench/harness.ts';

describe('bench/dlm-recovery', () => {
  it('one round of 3 and of 7 nodes on 700 resources: recovery completes, the victim\'s resources remastered', () => {
    for (const n of [3, 7]) {
      const r = recoveryRound(n, 700);
      expect(r.remastered, `${n} nodes`).toBeGreaterThan(0);
      expect(r.recoveryMs).toBeGreaterThanOrEqual(0);
      expect(r.lockMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('reports a row per cluster size with its baseline, or a failed row (never a throw)', async () => {
    let out = '';
    const sink = { write: (s: string) => void (out += s) };
    const reporter = new Reporter({ json: true, out: sink, err: { write: () => {} } });
    await runRecoveryRows({ reporter, seconds: 1 }, 'dlm', { resources: 300, rounds: 1 });
    const rows = out.trim().split('\n').map((l) => JSON.parse(l) as { metric: string; unit: string; value: number | null });
    const metrics = rows.map((r) => r.metric);
    for (const n of [3, 7]) {
      expect(metrics).toContain(`dlm_recovery_ms_${n}_nodes`);
      expect(metrics).toContain(`dlm_lock_10k_ms_${n}_nodes`);
    }
    expect(rows.filter((r) => r.unit === 'failed')).toEqual([]);
    expect(reporter.failures).toEqual([]);
  });
});
