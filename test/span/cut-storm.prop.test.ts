/**
 * One link cut at a time, on grids, rings and random meshes of Routers over
 * memory links (issue 8, defect 4: a cut next to a service's origin used to
 * storm a 10×10 grid with up to 35,188 span messages, and routers that stayed
 * reachable saw their span go down and up again).
 *
 * Every router adds a seeded random rnss (as DragonFly's per-process
 * DMsgRNSS), so equal-length paths rank differently in every run; half of the
 * cuts are next to an advertising router. After each cut, run to quiescence:
 * - span messages (Router.stats().spanMessagesSent, CREATEs and DELETEs) ≤
 *   2 · D · K, D the directed links before the cut and K the instances with
 *   a span over the cut link (each relay replaced at most once: a CREATE and
 *   a DELETE);
 * - no router that can still reach an instance saw `down` for it;
 * - every router sees exactly the instances it can reach, at the BFS dist;
 * - no repair hold is left waiting, and none ran out of time (they all
 *   ended by their neighbours' replacements, not by the safety timer).
 * Restores come in between, so later cuts start from other states; they are
 * checked for the end state and for `down` events, not for the bound.
 *
 * The in-suite version is small; `npm run test:soak` (DMSG_SOAK=1) runs the
 * same properties on bigger meshes and more seeds.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { topologies } from './sim-mesh.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { bfs, createMesh, quiesce, type Mesh, type MeshLink } from '../helpers/mesh.ts';
import { ManualClock } from '../../src/util/clock.ts';

const SOAK = process.env['DMSG_SOAK'] === '1';

type Kind = 'grid' | 'ring' | 'random';

interface Scenario {
  readonly kind: Kind;
  /** Grid side, or router count. */
  readonly size: number;
  readonly extra: number;
  readonly seed: number;
  /** Advertising router of each instance (service i % 2, instance i). */
  readonly advertisers: readonly number[];
  /** Each event: cut a link next to an advertiser (near) or any link; or restore a cut one. */
  readonly events: readonly { readonly near: boolean; readonly pick: number; readonly restore: boolean }[];
}

function grid(side: number): [number, number][] {
  const out: [number, number][] = [];
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const i = r * side + c;
      if (c + 1 < side) out.push([i, i + 1]);
      if (r + 1 < side) out.push([i, i + side]);
    }
  }
  return out;
}

function routerCount(s: Scenario): number {
  return s.kind === 'grid' ? s.size * s.size : s.size;
}

function edgesOf(s: Scenario): [number, number][] {
  if (s.kind === 'grid') return grid(s.size);
  if (s.kind === 'ring') return topologies.ring(s.size);
  return topologies.random(s.size, s.extra, s.seed);
}

function scenario(kind: Kind, min: number, max: number, maxEvents: number): fc.Arbitrary<Scenario> {
  return fc.integer({ min, max }).chain((size) => {
    const n = kind === 'grid' ? size * size : size;
    return fc.record({
      kind: fc.constant(kind),
      size: fc.constant(size),
      extra: fc.integer({ min: 0, max: kind === 'random' ? Math.ceil(n * 1.2) : 0 }),
      seed: fc.integer(),
      // A corner first on grids (the reported case), then anywhere.
      advertisers: fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 2 }).map((a) => (kind === 'grid' ? [0, ...a.slice(1)] : a)),
      events: fc.array(fc.record({ near: fc.boolean(), pick: fc.nat(), restore: fc.boolean() }), { minLength: 1, maxLength: maxEvents }),
    });
  });
}

const observed = { cuts: 0, messages: 0, worstPerSlot: 0, worst: '', restores: 0 };

/** Instances (by instance name) with a span received over `link`, at either end (from describeTree()). */
function instancesOver(mesh: Mesh, link: MeshLink): Set<string> {
  const out = new Set<string>();
  const ends: Array<[number, string]> = [[link.a, link.connIds[0]], [link.b, link.connIds[1]]];
  for (const [r, connId] of ends) {
    let node = '';
    for (const line of mesh.routers[r]!.describeTree().split('\n')) {
      const m = /^ {2}node (\S+) /.exec(line);
      if (m) node = m[1]!;
      else if (line.includes(` via=${connId}(`)) out.add(node);
    }
  }
  return out;
}

function spanMessages(mesh: Mesh): number {
  return mesh.routers.reduce((sum, r) => sum + r.stats().spanMessagesSent, 0);
}

/** What is wrong at quiescence: every router must see exactly the instances it can reach, at the BFS dist. */
function endState(mesh: Mesh, n: number, s: Scenario, up: [number, number][]): string[] {
  const out: string[] = [];
  const hops = s.advertisers.map((adv) => bfs(n, up, adv));
  mesh.routers.forEach((r, i) => {
    if (r.stats().spansRefused !== 0) out.push(`n${i} refused ${r.stats().spansRefused} spans`);
    if (r.stats().repairHoldsExpired !== 0) out.push(`n${i}: ${r.stats().repairHoldsExpired} repair holds ran out of time`);
    if (r.stats().repairHolds !== 0) out.push(`n${i}: ${r.stats().repairHolds} repair holds still waiting at quiescence`);
    const seen = new Map(r.spans().map((sp) => [sp.instance, sp]));
    s.advertisers.forEach((adv, k) => {
      const sp = seen.get(`i${k}`);
      const h = hops[k]!.get(i);
      if (h === undefined) {
        if (sp) out.push(`n${i} sees i${k} of n${adv}, unreachable`);
      } else if (!sp) out.push(`n${i} misses i${k} of n${adv} (${h} hops)`);
      else if (sp.dist !== (adv === i ? 0 : h - 1)) out.push(`n${i}: i${k} of n${adv} at dist ${sp.dist}, BFS hops ${h}`);
    });
  });
  return out;
}

async function run(s: Scenario): Promise<void> {
  const n = routerCount(s);
  const edges = edgesOf(s);
  const rnss = mulberry32(s.seed ^ 0x2545f491);
  // Reach caps well above the longest path (a cut ring of 100 is a line of 100 hops).
  const mesh = createMesh(n, edges, { maxDist: 4096, maxPathLength: 4096, perRouter: () => ({ localRnss: 1 + Math.floor(rnss() * 0x7ffffffe) }) });
  const slots = [...mesh.links];
  const downs: Array<{ router: number; instance: string }> = [];
  try {
    mesh.routers.forEach((r, i) => r.spans$.subscribe((e) => { if (e.type === 'down') downs.push({ router: i, instance: e.span.instance }); }));
    s.advertisers.forEach((adv, k) => mesh.routers[adv]!.advertise({ service: `svc${k % 2}`, instance: `i${k}` }));
    await quiesce(mesh, 'initial', 3, 200_000);
    for (const [i, ev] of s.events.entries()) {
      const cutSlots = slots.map((l, j) => [l, j] as const).filter(([l]) => !l.up);
      downs.length = 0;
      if (ev.restore && cutSlots.length > 0) {
        const [link, j] = cutSlots[ev.pick % cutSlots.length]!;
        slots[j] = mesh.connect(link.a, link.b);
        await quiesce(mesh, `restore ${i}`, 3, 200_000);
        observed.restores++;
        const up = slots.filter((l) => l.up).map((l) => [l.a, l.b] as [number, number]);
        expect(downs, `restore n${link.a}-n${link.b}: down events`).toEqual([]);
        expect(endState(mesh, n, s, up), `after restoring n${link.a}-n${link.b}`).toEqual([]);
        continue;
      }
      const live = slots.filter((l) => l.up);
      if (live.length === 0) continue;
      const near = live.filter((l) => s.advertisers.includes(l.a) || s.advertisers.includes(l.b));
      const pool = ev.near && near.length > 0 ? near : live;
      const link = pool[ev.pick % pool.length]!;
      const D = 2 * live.length;
      const K = instancesOver(mesh, link).size;
      const before = spanMessages(mesh);
      link.cut();
      await quiesce(mesh, `cut ${i}`, 3, 200_000);
      const count = spanMessages(mesh) - before;
      const up = slots.filter((l) => l.up).map((l) => [l.a, l.b] as [number, number]);
      const what = `${s.kind} ${s.size} (${n} routers, ${edges.length} links), cut n${link.a}-n${link.b}, ${K} instance(s) over it`;
      observed.cuts++;
      observed.messages += count;
      if (K > 0 && count / (K * D) > observed.worstPerSlot) {
        observed.worstPerSlot = count / (K * D);
        observed.worst = `${what}: ${count} span messages`;
      }
      expect(count, `${what}: ${count} span messages > 2·D·K = ${2 * D * K}`).toBeLessThanOrEqual(2 * D * K);
      // A router that still reaches an instance must never have seen it go down.
      const hops = s.advertisers.map((adv) => bfs(n, up, adv));
      const falseDowns = downs.filter((d) => hops[Number(d.instance.slice(1))]!.has(d.router)).map((d) => `n${d.router}: ${d.instance}`);
      expect(falseDowns, `${what}: down at routers that stay reachable`).toEqual([]);
      expect(endState(mesh, n, s, up), what).toEqual([]);
    }
  } finally {
    await mesh.close();
  }
}

/** Issue 8, defect 4: a 10×10 grid, the service on corner n0, the link n0-n1 cut. */
function reportedCase(seed: number): Promise<void> {
  return run({ kind: 'grid', size: 10, extra: 0, seed, advertisers: [0], events: [{ near: true, pick: 0, restore: false }] });
}

function check(name: string, arb: fc.Arbitrary<Scenario>, numRuns: number, seed: number, timeout = 60_000): void {
  it(name, async () => {
    const result = await fc.check(fc.asyncProperty(arb, run), { seed, numRuns, endOnFailure: true });
    if (result.failed) {
      const cause = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
      throw new Error(`property failed; reproduce with seed ${seed}, path ${result.counterexamplePath}\n${cause}\n${fc.defaultReportMessage(result)}`);
    }
  }, timeout);
}

describe('a single link cut costs ≤ 2 span messages per directed link per instance over it, and no reachable router sees down', () => {
  it('the reported case: a 10×10 grid, the service on a corner, the link next to it cut (3 rnss seeds; 12 in the soak)', async () => {
    for (let seed = 1; seed <= 3; seed++) await reportedCase(seed);
  });
  check('grids up to 7×7', scenario('grid', 2, 7, 4), 12, 8101);
  check('rings up to 24', scenario('ring', 3, 24, 5), 20, 8102);
  check('random meshes up to 40 routers', scenario('random', 4, 40, 5), 20, 8103);
});

describe('a valley: the only way round runs through the cut router\'s own neighbours', () => {
  // n1's only ways round the lost link 0-1 run through its own neighbours n2
  // and n3, which offered n1 nothing before the cut (their best paths
  // avoiding n1 did not exist: n4 relayed them its path through n1's other
  // neighbour). n1 has nothing left for a moment, and n2 and n3 have nothing
  // either; n4 then switches to the long way 0-7-6-5-4 and all three get a
  // path back. No local rule can tell n1 that a neighbour will find a path
  // later, so discovery holds a lost span for downGraceMs (down-grace.ts)
  // before `down`: the path returns within it, and each of n1, n2, n3 sees
  // one `changed` instead of `down` then `up`.
  it('a cut whose only way round runs through the cut router\'s own neighbours: no down, one changed at n1, n2, n3', async () => {
    const edges: [number, number][] = [[0, 1], [1, 2], [1, 3], [2, 4], [3, 4], [4, 5], [5, 6], [6, 7], [7, 0]];
    // A manual clock that never moves: the repair must come within the grace
    // without any timer (repair hold or down grace) firing.
    const clock = new ManualClock();
    const mesh = createMesh(8, edges, { clock });
    try {
      mesh.routers[0]!.advertise({ service: 'svc', instance: 'i0' });
      await quiesce(mesh, 'initial');
      const events: string[] = [];
      mesh.routers.forEach((r, i) => {
        r.spans$.subscribe((e) => events.push(`n${i} ${e.type}`));
        r.members$('svc').subscribe((e) => events.push(`n${i} ${e.type}`));
      });
      mesh.links[0]!.cut();
      await quiesce(mesh, 'cut');
      const hops = bfs(8, edges.slice(1), 0);
      mesh.routers.forEach((r, i) => {
        expect(r.spans('svc').map((sp) => sp.dist), `n${i}`).toEqual([i === 0 ? 0 : hops.get(i)! - 1]);
        expect(r.members('svc').length, `n${i} members`).toBe(1);
        expect(r.stats().repairHoldsExpired, `n${i} repair holds expired`).toBe(0);
        expect(r.stats().downGraces, `n${i} spans still held before down`).toBe(0);
        expect(r.stats().downGracesExpired, `n${i} graces ended in down`).toBe(0);
      });
      expect(events.filter((e) => / (down|leave)$/.test(e))).toEqual([]);
      // The three routers of the valley lost their path for a moment: each sees it change (to the long way), no up.
      for (const i of [1, 2, 3]) expect(events.filter((e) => e === `n${i} changed`).length, `n${i} changed`).toBeGreaterThanOrEqual(1);
      expect(events.filter((e) => / (up|join)$/.test(e))).toEqual([]);
      expect(mesh.routers.filter((r) => r.stats().downGracesReturned > 0).map((r) => r.name).sort()).toEqual(['n1', 'n2', 'n3']);
    } finally {
      await mesh.close();
    }
  });
});

describe.skipIf(!SOAK)('soak (npm run test:soak)', () => {
  it('the reported case, rnss seeds 4-12', async () => {
    for (let seed = 4; seed <= 12; seed++) await reportedCase(seed);
  }, 600_000);
  check('grids up to 15×15', scenario('grid', 8, 15, 6), 30, 8201, 600_000);
  check('rings up to 100', scenario('ring', 25, 100, 6), 30, 8202, 600_000);
  check('random meshes up to 150 routers', scenario('random', 41, 150, 6), 40, 8203, 600_000);
});

afterAll(() => {
  console.log(
    `cut storm: ${observed.cuts} cuts, ${observed.restores} restores, ${observed.messages} span messages on cuts; ` +
      `max span messages / (D·K) = ${observed.worstPerSlot.toFixed(2)} (${observed.worst}); asserted ≤ 2`,
  );
});
