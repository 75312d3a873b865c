/**
 * bench/dlm-recovery-mesh.ts at a small scale: the rounds over real routers
 * run to their end with their own checks (every queued request granted after
 * the kill, every survivor's lock kept) and come out as rows, never a throw.
 * No timing is asserted (speed is measured by `npm run bench -- dlm`).
 */
import { describe, expect, it } from 'vitest';
import { runMeshRecoveryRows } from '../../bench/dlm-recovery-mesh.ts';
import { Reporter } from '../../bench/harness.ts';

describe('bench/dlm-recovery-mesh', () => {
  it('3 and 7 routers, 200 resources, one round each: a row and its baseline per size, nothing failed', async () => {
    let out = '';
    let notes = '';
    const reporter = new Reporter({ json: true, out: { write: (s: string) => void (out += s) }, err: { write: (s: string) => void (notes += s) } });
    await runMeshRecoveryRows({ reporter, seconds: 1 }, 'dlm', { resources: 200, rounds: 1 });
    const rows = out.trim().split('\n').map((l) => JSON.parse(l) as { metric: string; unit: string; value: number | null; error?: string });
    expect(rows.filter((r) => r.unit === 'failed')).toEqual([]);
    expect(reporter.failures).toEqual([]);
    for (const n of [3, 7]) {
      const rec = rows.find((r) => r.metric === `dlm_mesh_recovery_ms_${n}_nodes`);
      expect(rec?.unit).toBe('ms');
      expect(rec!.value).toBeGreaterThan(0);
      expect(rows.map((r) => r.metric)).toContain(`dlm_mesh_lock_10k_ms_${n}_nodes`);
      expect(notes).toMatch(new RegExp(`over routers, ${n} nodes: [1-9]\\d* resources remastered`));
    }
  });
});
