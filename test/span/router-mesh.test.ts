/**
 * Routers over in-memory links: line, ring, star, full mesh and random
 * connected graphs up to 50 routers, with random link cuts and restores
 * (a restore is a new memory link between the same two routers).
 *
 * At quiescence after every event (see quiesce() in test/helpers/mesh.ts):
 * - every router sees exactly the advertised instances it can reach (none
 *   stale, none missing), its own with dist 0 and via null;
 * - each remote span has dist = BFS hop count - 1 (0 at a direct neighbour),
 *   and its best path is a simple path over links that are up, originator
 *   first, ending with the neighbour it arrived from;
 * - no router ever refused a span (a received path with a repeated node or
 *   the receiver itself would be refused and counted in stats().spansRefused);
 * - every link holds only the CONN pair and the spans at both ends agree
 *   (leftoverTransactions());
 * - after a restore (which only adds paths) no router saw a 'down' event
 *   (make before break).
 *
 * LNK_SPAN messages per event (stats().spanMessagesSent: span CREATEs and
 * DELETEs, acks not counted) are bounded as in the simulation
 * (test/span/sim-mesh.prop.test.ts): messages ≤ 2 · K · D · N with K
 * advertised instances, D = 2 · edges (directed links), N routers: at
 * quiescence each (instance, directed link) slot holds at most one relay,
 * each change of a slot costs a CREATE and a DELETE, and a path vector
 * settles within N rounds after one change. The observed maxima are printed.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { topologies } from './sim-mesh.ts';
import { bfs, createMesh, leftoverTransactions, nodeIdOf, quiesce, type Mesh, type MeshLink } from '../helpers/mesh.ts';

type Kind = 'line' | 'ring' | 'star' | 'full' | 'random';

interface Scenario {
  kind: Kind;
  n: number;
  extra: number;
  topoSeed: number;
  /** Router index advertising each instance (service i % 2, instance i). */
  advertisers: number[];
  /** Edge slots to flip (cut if up, restore if down). */
  events: number[];
}

const observed = { events: 0, total: 0, maxPerEvent: 0, worst: '', maxRatio: 0, worstRatio: '' };

function scenario(kind: Kind, minN: number, maxN: number, maxEvents: number): fc.Arbitrary<Scenario> {
  return fc.integer({ min: minN, max: maxN }).chain((n) =>
    fc.record({
      kind: fc.constant(kind),
      n: fc.constant(n),
      extra: fc.integer({ min: 0, max: kind === 'random' ? Math.ceil(n * 1.2) : 0 }),
      topoSeed: fc.integer(),
      advertisers: fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 3 }),
      events: fc.array(fc.nat(), { minLength: 1, maxLength: maxEvents }),
    }),
  );
}

function edgesOf(s: Scenario): [number, number][] {
  return s.kind === 'random' ? topologies.random(s.n, s.extra, s.topoSeed) : topologies[s.kind](s.n);
}

function spanMessages(mesh: Mesh): number {
  return mesh.routers.reduce((sum, r) => sum + r.stats().spanMessagesSent, 0);
}

/** Everything that is wrong at quiescence, one line each. */
function problems(mesh: Mesh, s: Scenario, slots: MeshLink[]): string[] {
  const out: string[] = [];
  const up = slots.filter((l) => l.up).map((l) => [l.a, l.b] as [number, number]);
  const adjacent = new Set(up.flatMap(([a, b]) => [`${nodeIdOf(a)} ${nodeIdOf(b)}`, `${nodeIdOf(b)} ${nodeIdOf(a)}`]));
  const hops = s.advertisers.map((adv) => bfs(s.n, up, adv));
  mesh.routers.forEach((r, i) => {
    if (r.stats().spansRefused !== 0) out.push(`n${i} refused ${r.stats().spansRefused} spans`);
    const seen = new Map(r.spans().map((sp) => [sp.instance, sp]));
    s.advertisers.forEach((adv, k) => {
      const inst = `i${k}`;
      const sp = seen.get(inst);
      seen.delete(inst);
      const h = hops[k]!.get(i);
      if (h === undefined) {
        if (sp) out.push(`n${i} sees ${inst} of n${adv}, unreachable (stale)`);
        return;
      }
      if (!sp) return void out.push(`n${i} misses ${inst} of n${adv} (${h} hops)`);
      if (sp.service !== `svc${k % 2}`) out.push(`n${i}: ${inst} has service ${sp.service}`);
      if (adv === i) {
        if (sp.dist !== 0 || sp.via !== null) out.push(`n${i}: own ${inst} dist ${sp.dist} via ${sp.via}`);
        return;
      }
      if (sp.dist !== h - 1) out.push(`n${i}: ${inst} of n${adv} dist ${sp.dist}, BFS hops ${h}`);
      const p = sp.path;
      if (new Set(p).size !== p.length) out.push(`n${i}: ${inst} path repeats a node: ${p.join(' ')}`);
      if (p.length !== sp.dist + 1) out.push(`n${i}: ${inst} path length ${p.length} for dist ${sp.dist}`);
      if (p[0] !== nodeIdOf(adv) || sp.node !== nodeIdOf(adv)) out.push(`n${i}: ${inst} path starts at ${p[0]}, node ${sp.node}, not n${adv}`);
      const full = [...p, nodeIdOf(i)];
      for (let j = 0; j + 1 < full.length; j++) {
        if (!adjacent.has(`${full[j]} ${full[j + 1]}`)) out.push(`n${i}: ${inst} path uses ${full[j]}-${full[j + 1]}, not a live link`);
      }
      const via = mesh.links.find((l) => l.up && ((l.a === i && l.connIds[0] === sp.via) || (l.b === i && l.connIds[1] === sp.via)));
      const neighbour = via ? (via.a === i ? via.b : via.a) : -1;
      if (p.at(-1) !== nodeIdOf(neighbour)) out.push(`n${i}: ${inst} arrives via ${sp.via} (n${neighbour}) but its path ends with ${p.at(-1)}`);
    });
    for (const extra of seen.keys()) out.push(`n${i} sees unknown instance ${extra}`);
  });
  out.push(...leftoverTransactions(mesh));
  return out;
}

async function run(s: Scenario): Promise<void> {
  const edges = edgesOf(s);
  const mesh = createMesh(s.n, edges);
  const slots = [...mesh.links];
  try {
    s.advertisers.forEach((adv, k) => mesh.routers[adv]!.advertise({ service: `svc${k % 2}`, instance: `i${k}` }));
    await quiesce(mesh, 'initial');
    expect(problems(mesh, s, slots), 'initial').toEqual([]);
    const K = s.advertisers.length;
    const D = 2 * edges.length;
    const N = s.n;
    const bound = 2 * K * D * N;
    // Make before break: a restore only adds paths, so nobody may see a down.
    const downs: string[] = [];
    mesh.routers.forEach((r, i) => r.spans$.subscribe((e) => { if (e.type === 'down') downs.push(`n${i}: ${e.span.instance}`); }));
    for (const [i, ev] of s.events.entries()) {
      const slot = ev % slots.length;
      const link = slots[slot]!;
      const before = spanMessages(mesh);
      const restore = !link.up;
      downs.length = 0;
      if (link.up) link.cut();
      else slots[slot] = mesh.connect(link.a, link.b);
      await quiesce(mesh, `event ${i}`);
      if (restore) expect(downs, `restore n${link.a}-n${link.b}: down events`).toEqual([]);
      const count = spanMessages(mesh) - before;
      observed.events++;
      observed.total += count;
      if (count > observed.maxPerEvent) {
        observed.maxPerEvent = count;
        observed.worst = `${s.kind} N=${N} E=${edges.length} K=${K}`;
      }
      if (count / (K * D) > observed.maxRatio) {
        observed.maxRatio = count / (K * D);
        observed.worstRatio = `${s.kind} N=${N} E=${edges.length} K=${K}: ${count}`;
      }
      expect(count, `event ${i} (${link.up ? 'restore' : 'cut'} n${link.a}-n${link.b}): ${count} span messages > bound ${bound}`).toBeLessThanOrEqual(bound);
      expect(problems(mesh, s, slots), `after event ${i}: ${link.up ? 'cut' : 'restore'} n${link.a}-n${link.b}`).toEqual([]);
    }
  } finally {
    await mesh.close();
  }
}

function check(name: string, arb: fc.Arbitrary<Scenario>, numRuns: number, seed: number, timeout = 30000): void {
  it(name, async () => {
    const result = await fc.check(fc.asyncProperty(arb, run), { seed, numRuns, endOnFailure: true });
    if (result.failed) {
      throw new Error(`property failed; reproduce with seed ${seed}, path ${result.counterexamplePath}\n${fc.defaultReportMessage(result)}`);
    }
  }, timeout);
}

describe('Router meshes over memory links: cuts and restores, checked at quiescence', () => {
  check('line', scenario('line', 2, 16, 8), 40, 201);
  check('ring', scenario('ring', 3, 16, 8), 40, 202);
  check('star', scenario('star', 2, 16, 8), 40, 203);
  check('full mesh', scenario('full', 2, 8, 8), 25, 204);
  check('random connected graphs up to 25 routers', scenario('random', 2, 25, 8), 40, 205);
  check('random connected graphs of 30-50 routers', scenario('random', 30, 50, 6), 10, 206);

  it('the worked example: a ring of 6, cut and restore one link', async () => {
    const s: Scenario = { kind: 'ring', n: 6, extra: 0, topoSeed: 0, advertisers: [0], events: [0, 0] };
    await run(s);
  });
});

afterAll(() => {
  console.log(
    `router mesh: ${observed.events} events, ${observed.total} LNK_SPAN messages; max ${observed.maxPerEvent} per event (${observed.worst}); ` +
      `max per (instance, directed link) ${observed.maxRatio.toFixed(2)} (${observed.worstRatio}); asserted bound 2·K·D·N`,
  );
});
