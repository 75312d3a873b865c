/**
 * The router that originates a span dies (every link of it is cut at once):
 * every other router must drop the span, without exploring stale backup
 * paths one by one. The root-cause notification (the lost link named in the
 * DELETEs' aux, and refused afterwards) keeps the cost within the bound the
 * other mesh tests use (2·K·D·N span messages); before it, 50 routers took
 * ~44,000 messages and 100 routers 2.5 million.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRootCause, encodeRootCause, pathUsesLink } from '../../src/span/root-cause.ts';
import { createMesh, nodeIdOf, quiesce, lcg, randomGraph } from '../helpers/mesh.ts';

describe('origin death', () => {
  it('root-cause records round-trip and match only the lost incarnation', () => {
    const rc = { a: nodeIdOf(1), b: nodeIdOf(2), inc: 7 };
    expect(decodeRootCause(encodeRootCause(rc))).toEqual(rc);
    expect(decodeRootCause(new Uint8Array(0))).toBeNull();
    const path = [nodeIdOf(1), nodeIdOf(2), nodeIdOf(3)];
    expect(pathUsesLink(path, [0, 7, 1], rc)).toBe(true);
    expect(pathUsesLink(path, [0, 8, 1], rc)).toBe(false); // a restored link: new incarnation
    expect(pathUsesLink(path, undefined, rc)).toBe(false);
  });

  it('every router drops the span within 2·K·D·N span messages (property, seed 9101)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 6, max: 40 }), fc.integer({ min: 2, max: 40 }), fc.nat(), async (n, extra, seed) => {
        const edges = randomGraph(n, extra, lcg(seed));
        const mesh = createMesh(n, edges);
        try {
          await quiesce(mesh, 'mesh up');
          const origin = seed % n;
          mesh.routers[origin]!.advertise({ service: 'svc' });
          await quiesce(mesh, 'advertised');
          const others = mesh.routers.filter((_, i) => i !== origin);
          const msgs = (): number => others.reduce((a, r) => a + r.stats().spanMessagesSent, 0);
          const before = msgs();
          for (const l of mesh.links) if (l.a === origin || l.b === origin) l.cut();
          await quiesce(mesh, 'origin died');
          for (const r of others) expect(r.spans('svc'), r.name).toEqual([]);
          const cost = msgs() - before;
          expect(cost, `n=${n} links=${edges.length} seed=${seed}`).toBeLessThanOrEqual(2 * 1 * (2 * edges.length) * n);
        } finally {
          await mesh.close();
        }
      }),
      { seed: 9101, numRuns: 12 },
    );
  });
});
