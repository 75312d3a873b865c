import { describe, expect, it } from 'vitest';
import { DMSG_PEER } from '../../src/wire/constants.ts';
import type { RelayConn } from '../../src/span/filters.ts';
import { planRelays, planRelaysForNode, staleLinks } from '../../src/span/relay-plan.ts';
import type { ExistingRelay, RelayPlan } from '../../src/span/relay-plan.ts';
import { SpanTable } from '../../src/span/span-table.ts';
import type { SpanOptions } from '../../src/span/options.ts';
import { OWN, conn, fields, id } from './fixtures.ts';

const CTX = { localRnss: 7 };

/** Applies a plan to a relay list, as a Router would, giving new ids. */
function apply(existing: ExistingRelay[], plan: RelayPlan, ids = { n: 0 }): ExistingRelay[] {
  const gone = new Set(plan.delete);
  return [...existing.filter((r) => !gone.has(r.relayId)), ...plan.create.map((s) => ({ ...s, relayId: `r${ids.n++}` }))];
}

function setup(options: SpanOptions = {}) {
  const table = new SpanTable({ ownNodeId: OWN, options });
  // Conns to peers 1, 2, 3.
  const conns: RelayConn[] = [conn('c1', id(1)), conn('c2', id(2)), conn('c3', id(3))];
  return { table, conns };
}

describe('planRelays', () => {
  it('relays the best link with dist+1, rnss+local, path+own; never back; not to peers on the path', () => {
    const { table, conns } = setup();
    table.add({ linkId: 'a', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 2, rnss: 0xfffffffe }), path: [id(9), id(8), id(1)] });
    const plan = planRelays(table, conns, [], CTX);
    expect(plan.delete).toEqual([]);
    expect(plan.create.map((c) => c.connId)).toEqual(['c2', 'c3']);
    for (const c of plan.create) {
      expect(c.sourceLinkId).toBe('a');
      expect(c.fields.dist).toBe(3);
      expect(c.fields.rnss).toBe(5); // wraps mod 2^32
      expect(c.path).toEqual([id(9), id(8), id(1), OWN]);
    }
    // Peer 2 is on the path of this one: c2 gets nothing.
    table.add({ linkId: 'b', connId: 'c1', peerNodeId: id(1), fields: fields({ nodeLabel: 'b' }), path: [id(2), id(1)] });
    const plan2 = planRelays(table, conns, apply([], plan), CTX);
    expect(plan2.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([['c3', 'b']]);
  });

  it('sends a local advertisement everywhere with dist 0 and path [own]', () => {
    const { table, conns } = setup();
    table.add({ linkId: 'local', connId: null, peerNodeId: null, fields: fields({ rnss: 0 }), path: null });
    const plan = planRelays(table, conns, [], CTX);
    expect(plan.create.map((c) => c.connId)).toEqual(['c1', 'c2', 'c3']);
    for (const c of plan.create) {
      expect(c.fields.dist).toBe(0);
      expect(c.fields.rnss).toBe(0);
      expect(c.path).toEqual([OWN]);
    }
  });

  it('falls back to the next link when the best is filtered (DragonFly breaks)', () => {
    const { table, conns } = setup();
    table.add({ linkId: 'best', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 0 }), path: [id(1)] });
    table.add({ linkId: 'second', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 1 }), path: [id(4), id(2)] });
    const plan = planRelays(table, conns, [], CTX);
    expect(plan.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([
      ['c1', 'second'], // best came from c1: fall back
      ['c2', 'best'],
      ['c3', 'best'],
    ]);
  });

  it('node-wide filters (peer_mask, CLIENT) drop the node on that conn only', () => {
    const table = new SpanTable({ ownNodeId: OWN });
    table.add({ linkId: 'client-span', connId: 'c1', peerNodeId: id(1), fields: fields({ peerType: DMSG_PEER.CLIENT, nodeLabel: 'n' }), path: [id(1)] });
    table.add({ linkId: 'router-span', connId: 'c2', peerNodeId: id(2), fields: fields({ peerType: DMSG_PEER.CLIENT, nodeLabel: 'n', dist: 4 }), path: [id(2)] });
    const conns = [conn('c3', id(3), { peerType: DMSG_PEER.CLIENT }), conn('c4', id(4), { peerMask: 1n << 63n })];
    const plan = planRelays(table, conns, [], CTX);
    expect(plan.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([['c4', 'client-span']]);
  });

  it('falls back when the best path holds the peer or would be too long', () => {
    const { table, conns } = setup({ maxPathLength: 4 });
    table.add({ linkId: 'via3', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 1 }), path: [id(3), id(1)] });
    table.add({ linkId: 'long', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 1, rnss: 1 }), path: [id(7), id(6), id(5), id(1)] });
    table.add({ linkId: 'ok', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 2 }), path: [id(8), id(9), id(1)] });
    const plan = planRelays(table, conns, [], CTX);
    expect(plan.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([
      ['c2', 'via3'],
      ['c3', 'ok'], // via3 holds peer 3, long would be 5 > 4
    ]);
  });

  it('relays up to maxRelayedPaths distinct links per (node, conn)', () => {
    const { table, conns } = setup({ maxRelayedPaths: 2 });
    table.add({ linkId: 'x', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 0 }), path: [id(1)] });
    table.add({ linkId: 'y', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 1 }), path: [id(5), id(2)] });
    table.add({ linkId: 'z', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 2 }), path: [id(6), id(5), id(2)] });
    const plan = planRelays(table, conns, [], CTX);
    const by = (c: string) => plan.create.filter((s) => s.connId === c).map((s) => s.sourceLinkId);
    expect(by('c1')).toEqual(['y', 'z']);
    expect(by('c2')).toEqual(['x']); // y and z came from c2
    expect(by('c3')).toEqual(['x', 'y']);
  });

  it('is idempotent: applying a plan and planning again yields nothing', () => {
    const { table, conns } = setup({ maxRelayedPaths: 2 });
    table.add({ linkId: 'local', connId: null, peerNodeId: null, fields: fields({ nodeLabel: 'me' }), path: null });
    table.add({ linkId: 'x', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 0 }), path: [id(1)] });
    table.add({ linkId: 'y', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 1 }), path: [id(5), id(2)] });
    const first = planRelays(table, conns, [], CTX);
    const relays = apply([], first);
    const again = planRelays(table, conns, relays, CTX);
    expect(again.create).toEqual([]);
    expect(again.delete).toEqual([]);
    expect(again.keep.sort()).toEqual(relays.map((r) => r.relayId).sort());
  });

  it('make before break: a better path creates the new relay and deletes the old one', () => {
    const { table, conns } = setup();
    table.add({ linkId: 'old', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 3 }), path: [id(7), id(6), id(5), id(1)] });
    let relays = apply([], planRelays(table, conns, [], CTX));
    const oldOnC3 = relays.find((r) => r.connId === 'c3')!.relayId;
    table.add({ linkId: 'new', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 1 }), path: [id(7), id(2)] });
    const plan = planRelaysForNode(table, table.link('new')!.nodeKey, conns, relays, CTX);
    expect(plan.create.map((c) => [c.connId, c.sourceLinkId])).toEqual([
      ['c1', 'new'],
      ['c3', 'new'],
    ]);
    expect(plan.delete).toContain(oldOnC3);
    // c2 keeps 'old' (new came from c2, so c2 falls back to old).
    expect(plan.keep.length).toBe(1);
    relays = apply(relays, plan);
    expect(planRelays(table, conns, relays, CTX)).toMatchObject({ create: [], delete: [] });
  });

  it('replaces a relay whose source link changed (update) and deletes relays of gone links, nodes and conns', () => {
    const { table, conns } = setup();
    table.add({ linkId: 'a', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 3 }), path: [id(1)] });
    let relays = apply([], planRelays(table, conns, [], CTX));
    table.update('a', fields({ dist: 2 }), [id(1)]);
    const plan = planRelays(table, conns, relays, CTX);
    expect(plan.create.map((c) => c.fields.dist)).toEqual([3, 3]);
    expect(plan.delete.length).toBe(2);
    relays = apply(relays, plan);
    // conn c3 goes away: its relay is deleted by a full plan.
    const plan2 = planRelays(table, conns.slice(0, 2), relays, CTX);
    expect(plan2.create).toEqual([]);
    expect(plan2.delete).toEqual([relays.find((r) => r.connId === 'c3')!.relayId]);
    relays = apply(relays, plan2);
    const key = table.link('a')!.nodeKey;
    table.remove('a');
    const plan3 = planRelaysForNode(table, key, conns, relays, CTX);
    expect(plan3.delete).toEqual(relays.map((r) => r.relayId));
  });

  it('the scoped plan ignores other nodes', () => {
    const { table, conns } = setup();
    table.add({ linkId: 'a', connId: 'c1', peerNodeId: id(1), fields: fields({ nodeLabel: 'a' }), path: [id(1)] });
    table.add({ linkId: 'b', connId: 'c1', peerNodeId: id(1), fields: fields({ nodeLabel: 'b' }), path: [id(1)] });
    const relays = apply([], planRelaysForNode(table, table.link('a')!.nodeKey, conns, [], CTX));
    expect(relays.every((r) => r.sourceLinkId === 'a')).toBe(true);
    const planB = planRelaysForNode(table, table.link('b')!.nodeKey, conns, relays, CTX);
    expect(planB.delete).toEqual([]);
    expect(planB.keep).toEqual([]);
    expect(planB.create.map((c) => c.sourceLinkId)).toEqual(['b', 'b']);
  });

  it('consistency assertion: a path through a direct peer that has not sent us as good a span is stale', () => {
    const { table, conns } = setup();
    // From peer 1: a path that crosses peer 2 at hop 1 (so 2 had dist 1 avoiding us).
    table.add({ linkId: 'via2', connId: 'c1', peerNodeId: id(1), fields: fields({ dist: 2 }), path: [id(9), id(2), id(1)] });
    const node = () => table.node(table.link('via2')!.nodeKey)!;
    const peerConns = new Map(conns.map((c) => [c.connId, c.peerNodeId!]));
    expect([...staleLinks(node(), peerConns)].map((l) => l.linkId)).toEqual(['via2']);
    expect(planRelays(table, conns, [], { ...CTX, consistencyCheck: true }).create).toEqual([]);
    expect(planRelays(table, conns, [], CTX).create.map((c) => c.connId)).toEqual(['c3']); // off by default
    // Peer 2 sends a worse span (dist 2 > 1): still stale.
    table.add({ linkId: 'from2', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 2 }), path: [id(9), id(8), id(2)] });
    expect(staleLinks(node(), peerConns).has(table.link('via2')!)).toBe(true);
    // Peer 2 sends dist 1: consistent.
    table.add({ linkId: 'from2b', connId: 'c2', peerNodeId: id(2), fields: fields({ dist: 1 }), path: [id(7), id(2)] });
    expect(staleLinks(node(), peerConns).size).toBe(0);
    // Hop 0 (the originator, maybe a DragonFly peer) and peers we have no conn to are never checked.
    expect(staleLinks(node(), new Map([['c1', id(1)]])).size).toBe(0);
  });
});
