import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpanTable, compareLinks } from '../../src/span/span-table.ts';
import { serviceClusterId } from '../../src/span/service-id.ts';
import { OWN, fields, id } from './fixtures.ts';

describe('SpanTable', () => {
  it('orders links by dist, rnss, peer node id, path, then seq', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    const add = (linkId: string, dist: number, rnss: number, peer: number, path: number[]) => {
      const r = t.add({ linkId, connId: `c${peer}`, peerNodeId: id(peer), fields: fields({ dist, rnss }), path: path.map(id) });
      expect(r.ok).toBe(true);
    };
    add('far', 3, 0, 1, [9, 8, 7, 1]);
    add('rnss-high', 1, 50, 1, [9, 1]);
    add('peer-2', 1, 10, 2, [9, 2]);
    add('peer-1-path-b', 1, 10, 1, [8, 1]);
    add('peer-1-path-a', 1, 10, 1, [7, 1]);
    add('seq-2', 1, 10, 2, [9, 2].concat([]).slice(0, 2)); // same everything as peer-2: seq decides
    const node = t.nodes()[0]!;
    expect(node.links.map((l) => l.linkId)).toEqual(['peer-1-path-a', 'peer-1-path-b', 'peer-2', 'seq-2', 'rnss-high', 'far']);
    for (let i = 1; i < node.links.length; i++) expect(compareLinks(node.links[i - 1]!, node.links[i]!)).toBeLessThan(0);
  });

  it('orders independently of insertion order (fuzz)', () => {
    const spec = fc.uniqueArray(
      fc.record({ dist: fc.integer({ min: 0, max: 3 }), rnss: fc.integer({ min: 0, max: 2 }), peer: fc.integer({ min: 1, max: 3 }), tail: fc.integer({ min: 10, max: 12 }) }),
      { minLength: 1, maxLength: 20, selector: (s) => `${s.dist}/${s.rnss}/${s.peer}/${s.tail}` },
    );
    fc.assert(
      fc.property(spec, (links) => {
        const order = (list: typeof links) => {
          const t = new SpanTable({ ownNodeId: OWN });
          list.forEach((l, i) =>
            t.add({ linkId: `l${l.dist}/${l.rnss}/${l.peer}/${l.tail}`, connId: `c${i}`, peerNodeId: id(l.peer), fields: fields({ dist: l.dist, rnss: l.rnss }), path: [id(l.tail), id(l.peer)] }),
          );
          return t.nodes()[0]!.links.map((l) => l.linkId);
        };
        expect(order([...links].reverse())).toEqual(order(links));
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('puts a local advertisement (no peer) before an equal received link', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    t.add({ linkId: 'recv', connId: 'c1', peerNodeId: id(1), fields: fields(), path: [id(1)] });
    t.add({ linkId: 'local', connId: null, peerNodeId: null, fields: fields(), path: null });
    expect(t.nodes()[0]!.links.map((l) => l.linkId)).toEqual(['local', 'recv']);
    expect(t.link('local')!.path).toEqual([]);
  });

  it('orders clusters by (peerType, id, label) and nodes by (label, id); empties vanish', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    const a = serviceClusterId('a');
    const b = serviceClusterId('b');
    const [lo, hi] = a < b ? ['a', 'b'] : ['b', 'a'];
    t.add({ linkId: '1', connId: null, peerNodeId: null, fields: fields({ peerType: 3, clusterId: serviceClusterId('a'), clusterLabel: 'a' }), path: null });
    t.add({ linkId: '2', connId: null, peerNodeId: null, fields: fields({ clusterId: serviceClusterId(hi), clusterLabel: hi, nodeLabel: 'y' }), path: null });
    t.add({ linkId: '3', connId: null, peerNodeId: null, fields: fields({ clusterId: serviceClusterId(lo), clusterLabel: lo }), path: null });
    t.add({ linkId: '4', connId: null, peerNodeId: null, fields: fields({ clusterId: serviceClusterId(hi), clusterLabel: hi, nodeLabel: 'x' }), path: null });
    expect(t.clusters().map((c) => `${c.peerType}:${c.clusterLabel}`)).toEqual([`1:${lo}`, `1:${hi}`, '3:a']);
    expect(t.clusters()[1]!.nodes.map((n) => n.nodeLabel)).toEqual(['x', 'y']);
    expect(t.findService(hi).map((n) => n.nodeLabel)).toEqual(['x', 'y']);
    expect(t.findService('a').length).toBe(2);
    expect(t.findService('a', 3).length).toBe(1);
    expect(t.findService('zzz')).toEqual([]);
    t.remove('4');
    t.remove('2');
    expect(t.findService(hi)).toEqual([]);
    expect(t.clusters().length).toBe(2);
    t.remove('1');
    t.remove('3');
    expect(t.clusters()).toEqual([]);
    expect(t.size).toBe(0);
  });

  it('findService ignores a cluster whose id is not the service uuid', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    t.add({ linkId: '1', connId: null, peerNodeId: null, fields: fields({ clusterId: id(5), clusterLabel: 'svc' }), path: null });
    expect(t.findService('svc')).toEqual([]);
  });

  it('refuses a path that holds this router or repeats a node (LOOP)', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    expect(t.add({ linkId: 'x', connId: 'c', peerNodeId: id(1), fields: fields(), path: [OWN, id(1)] })).toMatchObject({ ok: false, reason: 'LOOP' });
    expect(t.add({ linkId: 'y', connId: 'c', peerNodeId: id(1), fields: fields(), path: [id(1), id(2), id(1)] })).toMatchObject({ ok: false, reason: 'LOOP' });
    // DragonFly peer: no record, so the path is just that peer; refused if it is us.
    expect(t.add({ linkId: 'z', connId: 'c', peerNodeId: OWN, fields: fields(), path: null })).toMatchObject({ ok: false, reason: 'LOOP' });
    expect(t.size).toBe(0);
  });

  it('refuses bad fields as a result, not a throw', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    for (const bad of [fields({ peerType: 64 }), fields({ dist: -1 }), fields({ rnss: 2 ** 32 }), fields({ clusterId: 'x' })]) {
      expect(t.add({ linkId: 'b', connId: 'c', peerNodeId: null, fields: bad, path: [] })).toMatchObject({ ok: false, reason: 'BAD_FIELDS' });
    }
    expect(t.add({ linkId: 'b', connId: 'c', peerNodeId: null, fields: fields(), path: ['nope'] })).toMatchObject({ ok: false, reason: 'BAD_FIELDS' });
    expect(t.add({ linkId: 'b', connId: null, peerNodeId: id(1), fields: fields(), path: null })).toMatchObject({ ok: false, reason: 'BAD_FIELDS' });
  });

  it('enforces maxSpansPerLink, maxSpansTotal and maxPathLength', () => {
    const t = new SpanTable({ ownNodeId: OWN, options: { maxSpansPerLink: 2, maxSpansTotal: 3, maxPathLength: 3 } });
    const add = (linkId: string, connId: string | null, path: number[] = [1]) =>
      t.add({ linkId, connId, peerNodeId: null, fields: fields({ nodeLabel: linkId }), path: connId === null ? null : path.map(id) });
    expect(add('a1', 'a').ok).toBe(true);
    expect(add('a2', 'a').ok).toBe(true);
    expect(add('a3', 'a')).toMatchObject({ ok: false, reason: 'LINK_LIMIT' });
    expect(add('b1', 'b').ok).toBe(true);
    expect(add('c1', 'c')).toMatchObject({ ok: false, reason: 'TOTAL_LIMIT' });
    expect(add('local', null).ok).toBe(true); // local advertisements are not limited
    expect(t.receivedCount).toBe(3);
    t.remove('a1');
    expect(add('c1', 'c', [1, 2, 3, 4])).toMatchObject({ ok: false, reason: 'PATH_TOO_LONG' });
    expect(add('c1', 'c', [1, 2, 3]).ok).toBe(true);
    expect(add('c1', 'c')).toMatchObject({ ok: false, reason: 'DUPLICATE_LINK' });
    expect(t.countOnConn('a')).toBe(1);
  });

  it('update keeps seq, can move the link to another node, and refuses without changing', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    t.add({ linkId: 'x', connId: 'c', peerNodeId: id(1), fields: fields({ dist: 3 }), path: [id(2), id(1)] });
    const up = t.update('x', fields({ dist: 1, nodeLabel: 'other' }), [id(1)]);
    expect(up.ok).toBe(true);
    if (!up.ok) return;
    expect(up.link.seq).toBe(up.previous!.seq);
    expect(up.link.nodeKey).not.toBe(up.previous!.nodeKey);
    expect(t.node(up.previous!.nodeKey)).toBeUndefined();
    expect(t.nodes().map((n) => n.nodeLabel)).toEqual(['other']);
    expect(t.update('x', fields(), [OWN])).toMatchObject({ ok: false, reason: 'LOOP' });
    expect(t.link('x')!.fields.dist).toBe(1);
    expect(t.update('nope', fields(), [])).toMatchObject({ ok: false, reason: 'UNKNOWN_LINK' });
  });

  it('removeConn drops every link of the conn; snapshot is a frozen copy', () => {
    const t = new SpanTable({ ownNodeId: OWN });
    t.add({ linkId: '1', connId: 'c', peerNodeId: id(1), fields: fields(), path: [id(1)] });
    t.add({ linkId: '2', connId: 'c', peerNodeId: id(1), fields: fields({ nodeLabel: 'b' }), path: [id(1)] });
    t.add({ linkId: '3', connId: 'd', peerNodeId: id(2), fields: fields(), path: [id(2)] });
    const snap = t.snapshot();
    expect(t.removeConn('c').map((l) => l.linkId).sort()).toEqual(['1', '2']);
    expect(t.size).toBe(1);
    expect(t.countOnConn('c')).toBe(0);
    expect(snap[0]!.nodes.length).toBe(2);
    expect(snap[0]!.nodes.find((n) => n.nodeLabel === 'inst')!.links.length).toBe(2);
    expect(Object.isFrozen(snap[0]!.nodes[0]!.links)).toBe(true);
  });
});
