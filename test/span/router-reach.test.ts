/**
 * Default reach (issue 8 defect 5): with the default options a service
 * reaches every router of a 100-router ring and of a 1000-router line (the
 * path vector excludes loops; maxDist and maxPathLength are sanity limits
 * set above that), and the path-id budget bounds what long paths may hold.
 */
import { describe, expect, it } from 'vitest';
import { SPAN_DEFAULTS } from '../../src/span/options.ts';
import { SpanTable } from '../../src/span/span-table.ts';
import { serviceClusterId } from '../../src/span/service-id.ts';
import { createMesh, nodeIdOf, quiesce, until } from '../helpers/mesh.ts';

describe('default reach', () => {
  it('defaults admit a 1000-router line (maxDist, maxPathLength >= 1000)', () => {
    expect(SPAN_DEFAULTS.maxDist).toBeGreaterThanOrEqual(999);
    expect(SPAN_DEFAULTS.maxPathLength).toBeGreaterThanOrEqual(1000);
  });

  it('a service on one router of a 100-router ring reaches all 100', async () => {
    const n = 100;
    const mesh = createMesh(n, Array.from({ length: n }, (_, i) => [i, (i + 1) % n] as [number, number]));
    mesh.routers[0]!.advertise({ service: 'ring' });
    await quiesce(mesh, 'ring converged', 3, 200_000);
    const dists = mesh.routers.map((r) => r.spans('ring')[0]?.dist);
    expect(dists.filter((d) => d !== undefined)).toHaveLength(n);
    expect(Math.max(...(dists as number[]))).toBe(n / 2 - 1);
    await mesh.close();
  }, 60_000);

  it('a service at one end of a 1000-router line reaches the other end, with the defaults', async () => {
    const n = 1000;
    const mesh = createMesh(n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
    mesh.routers[0]!.advertise({ service: 'line' });
    await until(() => mesh.routers[n - 1]!.spans('line').length === 1, 'the far end sees it', 400_000);
    await quiesce(mesh, 'line converged');
    const far = mesh.routers[n - 1]!.spans('line')[0];
    expect(far?.dist).toBe(n - 2);
    expect(far?.path).toHaveLength(n - 1);
    expect(mesh.routers.every((r) => r.spans('line').length === 1)).toBe(true);
    await mesh.close();
  }, 120_000);
});

describe('path-id budget (maxPathIdsTotal)', () => {
  it('refuses a received span whose path would pass the budget, and frees room on removal', () => {
    const t = new SpanTable({ ownNodeId: nodeIdOf(0xfff), options: { maxPathIdsTotal: 10 } });
    const fields = (i: number) => ({ peerType: 4, pfsType: 0, clusterId: serviceClusterId('s'), nodeId: nodeIdOf(0x1000 + i), clusterLabel: 's', nodeLabel: `i${i}`, dist: 5, rnss: 0 });
    const path = (len: number, base: number) => Array.from({ length: len }, (_, k) => nodeIdOf(base + k));
    expect(t.add({ linkId: 'a', connId: 'c1', peerNodeId: null, fields: fields(1), path: path(6, 0x100) }).ok).toBe(true);
    const refused = t.add({ linkId: 'b', connId: 'c1', peerNodeId: null, fields: fields(2), path: path(5, 0x200) });
    expect(refused).toMatchObject({ ok: false, reason: 'PATH_BUDGET' });
    expect(t.add({ linkId: 'c', connId: 'c1', peerNodeId: null, fields: fields(3), path: path(4, 0x300) }).ok).toBe(true);
    t.remove('a');
    expect(t.add({ linkId: 'b', connId: 'c1', peerNodeId: null, fields: fields(2), path: path(5, 0x200) }).ok).toBe(true);
    // Local advertisements do not count.
    expect(t.add({ linkId: 'l', connId: null, peerNodeId: null, fields: fields(4), path: null }).ok).toBe(true);
  });
});
