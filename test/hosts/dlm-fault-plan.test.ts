/** The seeded fault plan of the DLM-across-hosts run (pure; runs in the normal suite). */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { majorityPart, planDlmFaults } from './dlm-fault-plan.ts';
import { cutSet, loadTopology, ringTopology } from './topology.ts';

const dlm5 = loadTopology(fileURLToPath(new URL('./topologies/dlm5.json', import.meta.url)));

describe('DLM across hosts: the fault plan', () => {
  it('is the same for the same seed and differs across seeds', () => {
    expect(planDlmFaults(dlm5, 7, 6, ['kill', 'partition'])).toEqual(planDlmFaults(dlm5, 7, 6, ['kill', 'partition']));
    const plans = new Set([1, 2, 3, 4, 5].map((s) => JSON.stringify(planDlmFaults(dlm5, s, 6, ['kill', 'partition']))));
    expect(plans.size).toBeGreaterThan(1);
  });

  it('draws only the kinds asked for, and nothing without kinds', () => {
    expect(planDlmFaults(dlm5, 3, 5, []).length).toBe(0);
    const kills = planDlmFaults(dlm5, 3, 8, ['kill']);
    expect(kills.length).toBe(8);
    for (const f of kills) {
      expect(f.kind).toBe('kill');
      if (f.kind === 'kill') expect(dlm5.hosts).toContain(f.host);
    }
  });

  it('cuts exactly the links between the two sides; the smaller side holds at most half the hosts', () => {
    for (let seed = 1; seed <= 40; seed++) {
      for (const f of planDlmFaults(dlm5, seed, 4, ['partition'])) {
        if (f.kind !== 'partition') throw new Error('kill drawn');
        const side = new Set(f.side);
        expect(side.size).toBeGreaterThan(0);
        expect(side.size * 2).toBeLessThanOrEqual(dlm5.hosts.length);
        expect([...f.cuts]).toEqual(cutSet(dlm5, side));
        for (const k of f.cuts) {
          const [a, b] = dlm5.links[k]!;
          expect(side.has(a)).not.toBe(side.has(b));
        }
        // With 5 hosts and a side of at most 2, the other side, if connected, is the majority.
        if (f.majority) {
          expect(f.majority.length).toBeGreaterThanOrEqual(3);
          for (const h of f.majority) expect(side.has(h)).toBe(false);
        }
      }
    }
  });

  it('finds the majority part, or none', () => {
    expect(majorityPart(dlm5, [])).toEqual([...dlm5.hosts].sort());
    // d0 d1 d2 | d3 d4 along the sites: the triangle is the majority.
    expect(majorityPart(dlm5, cutSet(dlm5, new Set(['d3', 'd4'])))).toEqual(['d0', 'd1', 'd2']);
    // A ring of 6 cut into three pairs: no part holds more than half.
    const ring = ringTopology(6);
    expect(majorityPart(ring, [1, 3, 5])).toBeNull();
  });
});
