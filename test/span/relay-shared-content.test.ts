/**
 * A hub relays one node's span to several links; the relays share their
 * fields object and path array when the content is equal (relay-executor.ts,
 * a memory saving). Every sink, including one that joins later and links
 * whose span content differs, must still see exactly what it would see
 * without sharing: dist, path, origin; and a withdrawal reaches all.
 */
import { describe, expect, it } from 'vitest';
import { createMesh, nodeIdOf, quiesce, spanOf, until } from '../helpers/mesh.ts';

describe('relays of one span to many links', () => {
  it('every sink, early or late, sees the same relayed content; a withdrawal reaches all', async () => {
    // 0 = hub, 1 = advertiser, 2..4 = sinks; 5 joins late; 6 hangs off sink 2 (dist 2);
    // 3 also hears 1 directly, so the hub holds the node by two source links.
    const mesh = createMesh(7, [[0, 1], [0, 2], [0, 3], [0, 4], [2, 6], [1, 3]]);
    try {
      const ad = mesh.routers[1]!.advertise({ service: 'shared', instance: 'one' });
      await quiesce(mesh, 'span spread');
      mesh.connect(0, 5);
      await quiesce(mesh, 'late sink');
      expect(spanOf(mesh.routers[3]!, 'shared')?.dist).toBe(0);
      for (const s of [2, 4, 5]) {
        const span = spanOf(mesh.routers[s]!, 'shared');
        expect(span, `sink ${s}`).toBeDefined();
        expect(span!.dist, `sink ${s}`).toBe(1);
        expect(span!.path, `sink ${s}`).toEqual([nodeIdOf(1), nodeIdOf(0)]);
        expect(span!.nodeName, `sink ${s}`).toBe('n1');
        expect(span!.instanceId).toBe(ad.span.instanceId);
      }
      const far = spanOf(mesh.routers[6]!, 'shared');
      expect(far?.dist).toBe(2);
      expect(far?.path).toEqual([nodeIdOf(1), nodeIdOf(0), nodeIdOf(2)]);
      // The hub relays to 4 sinks + back-paths are not relayed to the advertiser.
      expect(mesh.routers[0]!.stats().relays).toBeGreaterThanOrEqual(4);

      ad.close();
      await quiesce(mesh, 'withdrawal');
      for (const s of [2, 3, 4, 5, 6]) await until(() => spanOf(mesh.routers[s]!, 'shared') === undefined, `sink ${s} lost the span`);
    } finally {
      await mesh.close();
    }
  });

  it('relays of one node from different source links keep their own content', async () => {
    // 1 advertises; 2 and 3 hear it directly; hub 0 hears it via 2 and via 3
    // and relays to 2 the path via 3, to 3 the path via 2 (never a path
    // back), to sinks 4 and 5 one of them.
    const mesh = createMesh(6, [[1, 2], [1, 3], [0, 2], [0, 3], [0, 4], [0, 5]]);
    try {
      mesh.routers[1]!.advertise({ service: 'shared', instance: 'one' });
      await quiesce(mesh, 'span spread');
      const [l12, l13] = [mesh.links[0]!, mesh.links[1]!];
      // Their direct links gone, 2 and 3 are left with what the hub relayed them.
      l12.cut();
      l13.cut();
      await quiesce(mesh, 'after the cuts');
      // The advertiser is now unreachable: both 2 and 3 must lose the span, and
      // never see a path through themselves.
      for (const s of [2, 3]) {
        const span = spanOf(mesh.routers[s]!, 'shared');
        if (span) expect(span.path, `router ${s}`).not.toContain(nodeIdOf(s));
      }
      for (const s of [0, 2, 3, 4, 5]) await until(() => spanOf(mesh.routers[s]!, 'shared') === undefined, `router ${s} lost the span`);
    } finally {
      await mesh.close();
    }
  });

  it('relays from different source links keep their own stored content: a later replan changes none', async () => {
    const mesh = createMesh(7, [[1, 2], [1, 3], [0, 2], [0, 3], [0, 4], [0, 5]]);
    try {
      mesh.routers[1]!.advertise({ service: 'shared', instance: 'one' });
      await quiesce(mesh, 'span spread');
      // describeTree lists every received link: 2 and 3 each hold, besides the
      // direct one, the hub's relay of the other's path (1 -> other -> hub:
      // dist 2, 3 ids); a relay sharing the wrong path would loop and be dropped.
      for (const s of [2, 3]) expect(mesh.routers[s]!.describeTree(), `router ${s}`).toMatch(/dist=2 rnss=\S+ via=c\d+\(n0\) path=3/);
      for (const s of [4, 5]) expect(spanOf(mesh.routers[s]!, 'shared')?.dist).toBe(2);
      // A full replan (a new conn) keeps every existing relay as it is: the
      // stored state of each matches what the planner makes again, so the hub
      // sends only the new sink's relays (one per path it may relay).
      const hub = mesh.routers[0]!;
      const before = hub.stats().spanMessagesSent;
      const relaysBefore = hub.stats().relays;
      mesh.connect(0, 6);
      await quiesce(mesh, 'new sink');
      const added = hub.stats().relays - relaysBefore;
      expect(added).toBeGreaterThan(0);
      expect(hub.stats().spanMessagesSent - before).toBe(added);
    } finally {
      await mesh.close();
    }
  });
});
