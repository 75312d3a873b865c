/**
 * Withdrawing an advertisement: every router forgets it, with about one span
 * message per link (no exploration of stale backup paths), and a new
 * advertisement of the same instance gets through afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DMSG_ERR_WITHDRAWN } from '../../src/span/router.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { decodePathRecordWithEpoch, encodePathRecord } from '../../src/span/path-record.ts';
import { createMesh, nodeIdOf, quiesce, bfs, lcg, randomGraph } from '../helpers/mesh.ts';

const spanMsgs = (routers: { stats(): { spanMessagesSent: number } }[]): number => routers.reduce((n, r) => n + r.stats().spanMessagesSent, 0);

describe('withdrawal', () => {
  it('path record v2 carries the epoch; v1 still decodes with epoch 0', () => {
    const p = [nodeIdOf(1), nodeIdOf(2)];
    expect(decodePathRecordWithEpoch(encodePathRecord(p, 0xdeadbeef))).toEqual({ path: p, epoch: 0xdeadbeef, hops: null });
    expect(decodePathRecordWithEpoch(encodePathRecord(p, 7, [0, 3]))).toEqual({ path: p, epoch: 7, hops: [0, 3] });
    expect(decodePathRecordWithEpoch(encodePathRecord(p))).toEqual({ path: p, epoch: 0, hops: null });
  });

  it('costs about one span message per link on random meshes, and re-advertising works (property, seed 7001)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 5, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.nat(), async (n, extra, seed) => {
        const edges = randomGraph(n, extra, lcg(seed));
        const mesh = createMesh(n, edges);
        try {
          await quiesce(mesh, 'mesh up');
          const origin = seed % n;
          const ad = mesh.routers[origin]!.advertise({ service: 'svc', instance: 'i' });
          await quiesce(mesh, 'advertised');
          const hops = bfs(n, edges, origin);
          mesh.routers.forEach((r, i) => {
            if (i === origin) return;
            expect(r.spans('svc').map((s) => s.dist), `router ${i}`).toEqual([hops.get(i)! - 1]);
          });
          const before = spanMsgs(mesh.routers);
          ad.close();
          await quiesce(mesh, 'withdrawn');
          const cost = spanMsgs(mesh.routers) - before;
          for (const r of mesh.routers) expect(r.spans('svc')).toEqual([]);
          // One DELETE per relay that existed (at most one per directed link),
          // plus refusals of copies that were in flight: never exploration.
          expect(cost, `n=${n} links=${edges.length}`).toBeLessThanOrEqual(2 * edges.length);
          // A new advertisement of the same instance is not refused.
          mesh.routers[origin]!.advertise({ service: 'svc', instance: 'i' });
          await quiesce(mesh, 're-advertised');
          mesh.routers.forEach((r, i) => {
            if (i !== origin) expect(r.spans('svc').map((s) => s.dist), `router ${i} after re-advertising`).toEqual([hops.get(i)! - 1]);
          });
        } finally {
          await mesh.close();
        }
      }),
      { seed: 7001, numRuns: 15 },
    );
  });

  it('closes relays with DMSG_ERR_WITHDRAWN so the next router knows', async () => {
    const mesh = createMesh(3, [[0, 1], [1, 2]]);
    await quiesce(mesh);
    // Router 2's end of link 1-2: record the error of every span DELETE it receives.
    const errors: number[] = [];
    mesh.links[1]!.iocoms[1].transactions$.subscribe((tx) => {
      if (tx.icmd === DMSG.LNK_SPAN) tx.rx$.subscribe({ next: (m) => { if (m.header.cmd & DMSGF.DELETE) errors.push(m.header.error); }, error: () => {} });
    });
    const ad = mesh.routers[0]!.advertise({ service: 'w' });
    await quiesce(mesh);
    expect(mesh.routers[2]!.spans('w')).toHaveLength(1);
    ad.close();
    await quiesce(mesh);
    expect(mesh.routers[2]!.spans('w')).toEqual([]);
    expect(errors).toEqual([DMSG_ERR_WITHDRAWN]);
    await mesh.close();
  });
});
