/**
 * The pure parts of the test-host harness (run in the normal suite, no root
 * needed): topology files, the address plan, hop counts, cut sets and
 * expected span tables.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NETNS_ROOT, removeNamespacesWithPrefix, runPrefix } from './netns.ts';
import {
  TopologyError, cutSet, expectedServiceSpans, expectedSpans, gridTopology, hops, isConnected, loadTopology, parseTopology, planLinks, randomMeshTopology, ringTopology,
  type Topology,
} from './topology.ts';

const dir = fileURLToPath(new URL('./topologies/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const all = (t: Topology): Set<string> => new Set(t.hosts);

describe('topology files', () => {
  it('are all present, valid, connected, and split by their sites into connected halves', () => {
    expect(files.sort()).toEqual(['grid3x3.json', 'random12.json', 'ring7.json', 'two-sites.json']);
    for (const f of files) {
      const t = loadTopology(dir + f);
      expect(t.sites, f).toBeDefined();
      for (const site of t.sites!) expect(isConnected(t, new Set(cutSet(t, new Set(site))), new Set(site)), `${f} site ${site.join(',')}`).toBe(true);
      expect(cutSet(t, new Set(t.sites![0])).length, f).toBeGreaterThan(0);
    }
  });

  it('two sites are joined by exactly one link', () => {
    const t = loadTopology(dir + 'two-sites.json');
    expect(cutSet(t, new Set(t.sites![0]))).toHaveLength(1);
  });

  it('rejects malformed topologies with BAD_TOPOLOGY', () => {
    const bad: unknown[] = [
      null, [], { name: 'x', hosts: ['a'], links: [['a', 'a']] },
      { name: 'x', hosts: ['a', 'b'], links: [] },
      { name: 'x', hosts: ['a', 'A'], links: [['a', 'A']] },
      { name: 'x', hosts: ['a', 'b'], links: [['a', 'c']] },
      { name: 'x', hosts: ['a', 'b'], links: [['a', 'b'], ['b', 'a']] },
      { name: 'x', hosts: ['a', 'b', 'c'], links: [['a', 'b']] },
      { name: 'x', hosts: ['a', 'b'], links: [['a', 'b']], sites: [['a'], ['a']] },
      { name: 'x', hosts: ['a', 'b'], links: [['a', 'b']], extra: 1 },
      { name: 'x', hosts: ['a', 'a'], links: [['a', 'b']] },
    ];
    for (const b of bad) {
      expect(() => parseTopology(b), JSON.stringify(b)).toThrow(TopologyError);
      try { parseTopology(b); } catch (err) { expect((err as TopologyError).code).toBe('BAD_TOPOLOGY'); }
    }
  });
});

describe('address plan', () => {
  it('gives every link its own /30 in 10.99.0.0/16 and distinct interface names', () => {
    const t = randomMeshTopology(40, 200, 7);
    const plan = planLinks(t);
    const addrs = plan.flatMap((l) => [l.addrA, l.addrB]);
    expect(new Set(addrs).size).toBe(addrs.length);
    expect(new Set(plan.map((l) => l.ifname)).size).toBe(plan.length);
    for (const l of plan) {
      expect(l.addrA).toMatch(/^10\.99\.\d+\.\d+$/);
      expect(l.ifname.length).toBeLessThanOrEqual(15);
      const last = (a: string): number => Number(a.split('.')[3]);
      expect(last(l.addrA) % 4).toBe(1); // .1 and .2 of a /30: never the network or broadcast address
      expect(last(l.addrB)).toBe(last(l.addrA) + 1);
      expect(l.addrA.split('.').slice(0, 3)).toEqual(l.addrB.split('.').slice(0, 3));
    }
  });
});

describe('graph questions', () => {
  it('hop counts on a ring, with a cut and with a host down', () => {
    const t = ringTopology(7);
    expect([...hops(t, 'h0', new Set(), all(t))].sort()).toEqual([['h0', 0], ['h1', 1], ['h2', 2], ['h3', 3], ['h4', 3], ['h5', 2], ['h6', 1]].sort());
    expect(hops(t, 'h0', new Set([0]), all(t)).get('h1')).toBe(6);
    const noH1 = new Set(t.hosts.filter((h) => h !== 'h1'));
    expect(hops(t, 'h0', new Set(), noH1).get('h2')).toBe(5);
    expect(hops(t, 'h1', new Set(), noH1).size).toBe(0);
  });

  it('expected spans: a neighbour at 0, nothing across a partition, nothing of itself', () => {
    const t = gridTopology(3, 3);
    const e = expectedSpans(t, new Set(), all(t));
    expect(e.get('g00')!.get('g01')).toBe(0);
    expect(e.get('g00')!.get('g22')).toBe(3);
    expect(e.get('g00')!.has('g00')).toBe(false);
    const cut = new Set(cutSet(t, new Set(['g00', 'g01', 'g02'])));
    const p = expectedSpans(t, cut, all(t));
    expect([...p.get('g00')!.keys()].sort()).toEqual(['g01', 'g02']);
    expect(p.get('g22')!.has('g00')).toBe(false);
  });

  it('expected spans of a service run by programs: at the hop count from each origin, 0 at its own host', () => {
    const t = ringTopology(7);
    const e = expectedServiceSpans(t, new Set(), all(t), ['h1', 'h4']);
    expect([...e.get('h1')!]).toEqual([['h1', 0], ['h4', 3]]);
    expect([...e.get('h5')!]).toEqual([['h1', 3], ['h4', 1]]);
    expect(expectedServiceSpans(t, new Set(), all(t), []).get('h0')!.size).toBe(0);
    const live = new Set(t.hosts.filter((h) => h !== 'h0' && h !== 'h2'));
    const e2 = expectedServiceSpans(t, new Set(), live, ['h1']);
    expect([...e2.keys()].sort()).toEqual([...live].sort());
    expect(e2.get('h1')!.get('h1')).toBe(0);
    expect(e2.get('h3')!.has('h1')).toBe(false);
  });

  it('property: hops are symmetric and a cut set disconnects exactly the two sides (seeded)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 14 }), fc.integer({ min: 0, max: 20 }), fc.integer(), fc.integer({ min: 1, max: 2 ** 16 }), (n, extra, seed, mask) => {
        const t = randomMeshTopology(n, extra, seed);
        expect(isConnected(t, new Set(), all(t))).toBe(true);
        const a = t.hosts[0]!;
        for (const b of t.hosts) expect(hops(t, a, new Set(), all(t)).get(b)).toBe(hops(t, b, new Set(), all(t)).get(a));
        const side = new Set(t.hosts.filter((_, i) => (mask >> i) & 1));
        const cut = new Set(cutSet(t, side));
        for (const x of side) for (const y of hops(t, x, cut, all(t)).keys()) expect(side.has(y)).toBe(true);
      }),
      { seed: 1212, numRuns: 200 },
    );
  });
});

describe('namespace names', () => {
  it('a run prefix is ours and names the creating pid; removal refuses anything else', () => {
    const p = runPrefix('t');
    expect(p.startsWith(`${NETNS_ROOT}${process.pid}-t`)).toBe(true);
    expect(() => removeNamespacesWithPrefix('')).toThrow();
    expect(() => removeNamespacesWithPrefix(NETNS_ROOT)).toThrow();
    expect(() => removeNamespacesWithPrefix('netns-of-someone-else')).toThrow();
  });
});
