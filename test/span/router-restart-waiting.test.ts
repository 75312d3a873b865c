/**
 * A router restarts (same node id, a new incarnation) while the spans of
 * its old, dead link still wait to leave the table (they leave in replan
 * batches, replan-queue.ts; issue 7 item 3). Meanwhile nothing may choose,
 * report or relay them: spans(), members(), open() and members$ show only
 * the new incarnation's link, and a router behind us is relayed the new
 * one without waiting for the batches. The mesh runs on event-loop turns
 * (memory links, no timers): the order of events is the same on every run.
 * The old link carries BULK extra spans so that the batches take several
 * turns; the test checks that it did see the new span while they waited.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Router, type MemberEvent } from '../../src/span/index.ts';
import { REPLAN_BATCH } from '../../src/span/replan-queue.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG } from '../../src/wire/constants.ts';
import { createMesh, nodeIdOf, turn, until, type Mesh } from '../helpers/mesh.ts';

const BULK = 3 * REPLAN_BATCH;
const CMD = DMSG.BLK_READ;
let mesh: Mesh | null = null;
const extra: Router[] = [];

afterEach(async () => {
  await mesh?.close();
  mesh = null;
  await Promise.all(extra.splice(0).map((r) => r.close()));
});

describe('a restarted router while its dead link\'s spans wait to leave the table', () => {
  it('spans, members, open and members$ show only the new incarnation; the new one is relayed at once', async () => {
    mesh = createMesh(3, [[0, 1], [0, 2]]);
    const [r0, old, r2] = mesh.routers as [Router, Router, Router];
    const n1 = nodeIdOf(1);
    old.serve('svc', (tx) => tx.close());
    for (let i = 0; i < BULK; i++) old.advertise({ service: 'bulk', instance: `b${i}` });
    await until(() => r0.spans('bulk').length === BULK && r2.spans('svc').length === 1, 'the old incarnation known');
    const oldInc = old.incarnation;
    const events: MemberEvent[] = [];
    r0.members$('svc').subscribe((e) => events.push(e));

    // The old router dies with its link: its spans wait in r0's table.
    mesh.links[0]!.cut();
    extra.push(old);
    mesh.routers[1] = new Router({ name: 'n1', nodeId: n1, localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    const fresh = mesh.routers[1];
    expect(fresh.incarnation).not.toBe(oldInc);
    expect(r0.stats().spans).toBeGreaterThan(r0.spans().length); // still waiting
    expect(r0.spans('svc').filter((s) => s.node === n1)).toEqual([]);
    expect(r0.spans('bulk')).toEqual([]);
    expect(r0.members('svc').filter((m) => m.node === n1)).toEqual([]);
    expect(() => r0.open('svc', CMD, { node: n1 })).toThrow(/no reachable span/);

    let calls = 0;
    fresh.serve('svc', (tx) => {
      calls++;
      tx.close();
    });
    const [x, y] = memoryPair();
    const link = r0.attach(x);
    fresh.attach(y);

    let checkedWhileWaiting = 0;
    let relayedWhileWaiting = false;
    for (let i = 0; i < 1000 && r0.stats().spans > r0.spans().length; i++) {
      const svc = r0.spans('svc').filter((s) => s.node === n1);
      if (svc.length > 0) {
        // The new span is here, the old link's spans are not gone yet.
        expect(svc.map((s) => [s.incarnation, s.via])).toEqual([[fresh.incarnation, link.connId]]);
        expect(r0.members('svc').filter((m) => m.node === n1).map((m) => m.incarnation)).toEqual([fresh.incarnation]);
        const tx = r0.open('svc', CMD, { node: n1 });
        tx.rx$.subscribe({ error: () => {} });
        tx.close();
        checkedWhileWaiting++;
        const far = r2.spans('svc').filter((s) => s.node === n1);
        if (far.length === 1 && far[0]!.incarnation === fresh.incarnation) relayedWhileWaiting = true;
      }
      await turn();
    }
    // Preconditions: it did look while the old spans waited, and they left.
    expect(checkedWhileWaiting).toBeGreaterThan(0);
    expect(r0.stats().spans).toBe(r0.spans().length);
    expect(relayedWhileWaiting).toBe(true);
    await until(() => calls === checkedWhileWaiting, 'every open reached the new incarnation');

    await until(() => r2.spans('bulk').length === 0, 'the batches done, relays closed');
    // members$: the old incarnation left once, the new one joined once, in that order.
    const ofN1 = events.filter((e) => e.member.node === n1).map((e) => `${e.type} ${e.member.incarnation === oldInc ? 'old' : e.member.incarnation === fresh.incarnation ? 'new' : '?'}`);
    expect(ofN1).toEqual(['leave old', 'join new']);
    expect(r0.members('svc').filter((m) => m.node === n1).map((m) => m.incarnation)).toEqual([fresh.incarnation]);
    await until(() => r2.spans('svc').some((s) => s.node === n1 && s.incarnation === fresh.incarnation) && r2.spans('bulk').length === 0, 'r2 converged');
    expect(r2.spans('svc').filter((s) => s.node === n1).map((s) => s.incarnation)).toEqual([fresh.incarnation]);
  });
});
