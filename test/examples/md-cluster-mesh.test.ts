/**
 * examples/md-cluster over the real stack: three Routers in a line joined by
 * memory links, midcomms sessions (ManualClock for their timers), the DLM's
 * lockspace members taken from spans. The mesh moves on event-loop turns;
 * nothing waits on a timer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dlm, joinOverSpans, MemoryViewsStore, MidcommsEndpoint, type SpanMembership } from '../../src/services/dlm/index.ts';
import { midcomms, type Midcomms } from '../../src/services/midcomms/index.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { dlmLine } from '../helpers/dlm-mesh.ts';
import { createMesh, turn, until, type Mesh } from '../helpers/mesh.ts';
import { MdNode, bitmapName } from '../../examples/md-cluster/md-node.ts';
import { MSG, MD_LVBLEN } from '../../examples/md-cluster/message.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

describe('examples/md-cluster over routers, midcomms and the DLM', () => {
  it('three nodes through a relay: join, one broadcast, two concurrent senders, NEWDISK', async () => {
    const line = await dlmLine(cleanup);
    mesh = line.mesh;
    const { endpoints, dlms } = line;
    const joined: SpanMembership[] = [];
    for (let i = 0; i < 3; i++) joined.push(await joinOverSpans(mesh.routers[i]!, dlms[i]!, 'md-array', { lvblen: MD_LVBLEN }));
    cleanup.push(() => joined.forEach((j) => j.close()));
    await until(() => joined.every((j) => j.lockspace.raw.members.length === 3), 'lockspace members from spans');

    const nodes = joined.map((j, i) => new MdNode(j.lockspace, { slots: 3, acceptDisk: () => true }));
    for (const n of nodes) await n.join();
    expect(nodes[2]!.probes.map((p) => p.state)).toEqual(['alive', 'alive']);
    for (const n of nodes) expect(n.modes()).toMatchObject({ token: 'NL', ack: 'CR', 'no-new-dev': 'CR', [bitmapName(n.mdSlot)]: 'PW' });

    await nodes[0]!.broadcast(MSG.METADATA_UPDATED);
    expect(nodes.map((n) => n.received.length)).toEqual([0, 1, 1]);

    await Promise.all([nodes[1]!.resyncing(10n, 20n), nodes[2]!.resyncing(30n, 40n)]);
    // md slots are the DLM's (by node id), not the join order.
    expect(new Set(nodes.map((n) => n.mdSlot)).size, 'three distinct md slots').toBe(3);
    expect(new Map(nodes[0]!.suspended)).toEqual(
      new Map([
        [nodes[1]!.mdSlot, { low: 10n, high: 20n }],
        [nodes[2]!.mdSlot, { low: 30n, high: 40n }],
      ]),
    );

    expect(await nodes[2]!.addNewDisk(new Uint8Array(16).fill(1), 4)).toBe(true);
    await until(() => nodes.every((n) => n.modes().ack === 'CR' && n.modes()['no-new-dev'] === 'CR'), 'idle again');
    for (const n of nodes) expect(n.errors).toEqual([]);
    // The lockspace did not change members (no recovery was needed or attempted).
    expect(joined.every((j) => j.lockspace.raw.members.length === 3)).toBe(true);
    expect(endpoints.every((e) => e.unknownPeer === 0 && e.sendErrors === 0)).toBe(true);
  });

  it('with voters (views driver): a receiver cut off mid-broadcast goes minority; the majority commits a view without it, recovers, the sender completes and the survivors carry on', async () => {
    mesh = createMesh(3, [
      [0, 1],
      [0, 2],
      [1, 2],
    ]);
    const clock = new ManualClock();
    const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r, { clock }));
    const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
    const dlms = endpoints.map((endpoint) => new Dlm({ endpoint, clock }));
    cleanup.push(() => {
      for (const d of dlms) d.close();
      for (const e of endpoints) e.close();
      for (const m of mcs) m.destroy();
    });
    await until(() => mesh!.routers.every((r) => r.members('midcomms').length === 3), 'midcomms everywhere');
    const voters = endpoints.map((e) => e.nodeid).sort((x, y) => x - y);
    const joined: SpanMembership[] = [];
    for (let i = 0; i < 3; i++) joined.push(await joinOverSpans(mesh.routers[i]!, dlms[i]!, 'md-array', { lvblen: MD_LVBLEN, voters, views: { clock, store: new MemoryViewsStore() } }));
    cleanup.push(() => joined.forEach((j) => j.close()));
    /** Virtual time in 10 ms steps, the mesh delivering between steps (bounded; no sleeps). */
    const runUntil = async (check: () => boolean, what: string, maxMs = 20_000): Promise<void> => {
      for (let t = 0; t < maxMs; t += 10) {
        if (check()) return;
        clock.advance(10);
        for (let k = 0; k < 4; k++) await turn();
      }
      throw new Error(`not reached in ${maxMs} ms of virtual time: ${what}`);
    };
    await runUntil(() => joined.every((j) => /of view 1 \(granting\)/.test(j.state)), 'all granting under view 1 (the first view, naming each run)');
    const nodes = joined.map((j) => new MdNode(j.lockspace, { slots: 3 }));
    for (const n of nodes) await n.join();
    const generation = joined[0]!.lockspace.raw.generation;

    // Node 0 starts a broadcast; node 2 is cut off before anything is delivered.
    let done = false;
    const sending = nodes[0]!.broadcast(MSG.METADATA_UPDATED).then(() => (done = true));
    for (const l of mesh.links) if ((l.a === 2 || l.b === 2) && l.up) l.cut();
    await runUntil(() => done, 'the broadcast completed after the view change and recovery');
    await sending;
    await runUntil(() => /^minority/.test(joined[2]!.state), 'the cut-off node says minority');
    const rest = voters.filter((v) => v !== endpoints[2]!.nodeid);
    for (const j of joined.slice(0, 2)) {
      expect([...j.lockspace.raw.members]).toEqual(rest);
      expect(j.lockspace.raw.generation).toBeGreaterThan(generation);
      expect(j.state).toMatch(/of view 2 \(granting\)/);
    }
    // md slots are the DLM's (slot - 1, by node id order among the voters), not the join order.
    expect(nodes[1]!.received.map((m) => [m.type, m.slot])).toEqual([[MSG.METADATA_UPDATED, nodes[0]!.mdSlot]]);
    let again = false;
    const next = nodes[1]!.broadcast(MSG.RESYNCING, { low: 1n, high: 2n }).then(() => (again = true));
    await runUntil(() => again, 'a broadcast between the survivors');
    await next;
    expect(nodes[0]!.received.map((m) => [m.type, m.slot])).toEqual([[MSG.RESYNCING, nodes[1]!.mdSlot]]);
    expect(new Set(nodes.map((n) => n.mdSlot)).size, 'three distinct md slots').toBe(3);
    for (const n of nodes.slice(0, 2)) expect(n.errors).toEqual([]);
  });
});
