/**
 * Discovery as the Router's users see it: spans$ up/down/changed events with
 * service, instance, dist and via; spans(service) filtering; waitForSpan;
 * and make-before-break: when a better path appears, routers that already see
 * a span get 'changed', never a 'down' in between.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SpanEvent } from '../../src/span/router.ts';
import { topologies } from './sim-mesh.ts';
import { bfs, createMesh, quiesce } from '../helpers/mesh.ts';

function record(events: SpanEvent[]) {
  return (e: SpanEvent) => events.push(e);
}

const brief = (e: SpanEvent) => ({ type: e.type, service: e.span.service, instance: e.span.instance, dist: e.span.dist, via: e.span.via, viaName: e.span.viaName });

describe('spans$ and spans()', () => {
  it('emits up, changed and down with service, instance, dist and via', async () => {
    const mesh = createMesh(3, [[0, 1], [1, 2]]);
    const [r0, , r2] = mesh.routers as [typeof mesh.routers[0], unknown, typeof mesh.routers[0]];
    const at0: SpanEvent[] = [];
    const at2: SpanEvent[] = [];
    r0.spans$.subscribe(record(at0));
    r2.spans$.subscribe(record(at2));
    const ad = r0.advertise({ service: 'svc', instance: 'inst' });
    await quiesce(mesh);
    expect(at0.map(brief)).toEqual([{ type: 'up', service: 'svc', instance: 'inst', dist: 0, via: null, viaName: null }]);
    expect(at2.map(brief)).toEqual([{ type: 'up', service: 'svc', instance: 'inst', dist: 1, via: 'c1', viaName: 'n1' }]);
    expect(at2[0]!.span.node).toBe(r0.nodeId);
    expect(at2[0]!.span.instanceId).toBe(ad.span.instanceId);
    // A shortcut: the better path is taken without a gap.
    const shortcut = mesh.connect(0, 2);
    await quiesce(mesh);
    expect(at2.slice(1).map(brief)).toEqual([{ type: 'changed', service: 'svc', instance: 'inst', dist: 0, via: 'c2', viaName: 'n0' }]);
    // And back when it goes: the older path was still held.
    shortcut.cut();
    await quiesce(mesh);
    expect(at2.slice(2).map(brief)).toEqual([{ type: 'changed', service: 'svc', instance: 'inst', dist: 1, via: 'c1', viaName: 'n1' }]);
    ad.close();
    await quiesce(mesh);
    expect(at2.slice(3).map(brief)).toEqual([{ type: 'down', service: 'svc', instance: 'inst', dist: 1, via: 'c1', viaName: 'n1' }]);
    expect(at0.slice(1).map((e) => e.type)).toEqual(['down']);
    expect(r2.spans()).toEqual([]);
    await mesh.close();
  });

  it('spans(service) filters by service name; open() by name picks a remote span', async () => {
    const mesh = createMesh(3, [[0, 1], [1, 2]]);
    const [r0, r1, r2] = mesh.routers as [typeof mesh.routers[0], typeof mesh.routers[0], typeof mesh.routers[0]];
    r0.advertise({ service: 'alpha', instance: 'a0' });
    r0.advertise({ service: 'beta', instance: 'b0' });
    r1.advertise({ service: 'alpha', instance: 'a1' });
    r2.advertise({ service: 'gamma' });
    await quiesce(mesh);
    expect(r2.spans().map((s) => `${s.service}/${s.instance}`).sort()).toEqual(['alpha/a0', 'alpha/a1', 'beta/b0', 'gamma/n2']);
    // Nearest first (issue 8 defect 3).
    expect(r2.spans('alpha').map((s) => [s.instance, s.dist])).toEqual([['a1', 0], ['a0', 1]]);
    expect(r2.spans('beta').map((s) => s.instance)).toEqual(['b0']);
    expect(r2.spans('gamma').map((s) => [s.instance, s.dist, s.via])).toEqual([['n2', 0, null]]);
    expect(r2.spans('nothing')).toEqual([]);
    expect(r2.spans('')).toEqual([]);
    // A local-only service opens through the in-process path; an unknown one is NO_SPAN.
    expect(r2.open('gamma', 0x00500102).canSend).toBe(true);
    expect(() => r2.open('nothing', 0x00500102)).toThrow(/no reachable span of nothing/);
    await mesh.close();
  });

  it('waitForSpan resolves when a span arrives and rejects when aborted', async () => {
    const mesh = createMesh(2, [[0, 1]]);
    const [r0, r1] = mesh.routers as [typeof mesh.routers[0], typeof mesh.routers[0]];
    const waiting = r1.waitForSpan('later');
    const ac = new AbortController();
    const never = r1.waitForSpan('never', ac.signal);
    r0.advertise({ service: 'later', instance: 'x' });
    const s = await waiting;
    expect([s.service, s.instance, s.dist, s.via]).toEqual(['later', 'x', 0, 'c1']);
    expect((await r1.waitForSpan('later')).instance).toBe('x'); // known already: at once
    ac.abort();
    await expect(never).rejects.toMatchObject({ code: 'NO_SPAN' });
    await mesh.close();
  });
});

describe('make before break', () => {
  it('a shortcut to a router on the current path: the far end sees changed only', async () => {
    // n3's path [n0 n1 n2] runs through n1; linking n1-n3 makes n1 a direct
    // peer of n3 before n1's spans arrive. Judging the path stale then (the
    // planner's consistency check) made n4 see down, then up.
    const mesh = createMesh(5, [[0, 1], [1, 2], [2, 3], [3, 4]]);
    mesh.routers[0]!.advertise({ service: 'svc', instance: 'i' });
    await quiesce(mesh);
    const events: string[] = [];
    mesh.routers.forEach((r, i) => r.spans$.subscribe((e) => events.push(`${e.type} n${i} dist=${e.span.dist}`)));
    mesh.connect(1, 3);
    await quiesce(mesh);
    expect(events).toEqual(['changed n3 dist=1', 'changed n4 dist=2']);
    await mesh.close();
  });

  it('when better paths appear, no router ever sees a down, only changed to the BFS distance (property, fixed seed)', async () => {
    const seed = 301;
    const arb = fc.record({
      n: fc.integer({ min: 4, max: 24 }),
      extra: fc.integer({ min: 0, max: 6 }),
      topoSeed: fc.integer(),
      advertiser: fc.nat(),
      adds: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 6 }),
    });
    let maxChanged = 0;
    const result = await fc.check(
      fc.asyncProperty(arb, async ({ n, extra, topoSeed, advertiser, adds }) => {
        const edges = topologies.random(n, extra, topoSeed);
        const mesh = createMesh(n, edges);
        try {
          const adv = advertiser % n;
          mesh.routers[adv]!.advertise({ service: 'svc', instance: 'i' });
          await quiesce(mesh);
          const events: Array<SpanEvent & { at: number }> = [];
          mesh.routers.forEach((r, i) => r.spans$.subscribe((e) => events.push({ ...e, at: i })));
          const have = new Set(edges.map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`));
          for (const [x, y] of adds) {
            const a = x % n;
            const b = y % n;
            const key = `${Math.min(a, b)}-${Math.max(a, b)}`;
            if (a === b || have.has(key)) continue;
            have.add(key);
            edges.push([a, b]);
            const before = events.length;
            mesh.connect(a, b);
            await quiesce(mesh);
            const now = events.slice(before);
            expect(now.filter((e) => e.type !== 'changed').map((e) => `${e.type} at n${e.at}`), `adding n${a}-n${b}`).toEqual([]);
            maxChanged = Math.max(maxChanged, now.length);
            const hops = bfs(n, edges, adv);
            mesh.routers.forEach((r, i) => {
              if (i === adv) return;
              const s = r.spans('svc');
              expect(s.map((x) => x.dist), `n${i} after adding n${a}-n${b}`).toEqual([hops.get(i)! - 1]);
            });
            // Each router's last event (if any) tells its current best path.
            for (const e of now) if (e === now.filter((x) => x.at === e.at).at(-1)) expect(e.span.dist).toBe(hops.get(e.at)! - 1);
          }
        } finally {
          await mesh.close();
        }
      }),
      { seed, numRuns: 40, endOnFailure: true },
    );
    if (result.failed) throw new Error(`property failed; reproduce with seed ${seed}, path ${result.counterexamplePath}\n${fc.defaultReportMessage(result)}`);
    console.log(`make-before-break: at most ${maxChanged} 'changed' events per added link, no 'down'`);
  }, 30000);
});
