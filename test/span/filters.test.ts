import { describe, expect, it } from 'vitest';
import { DMSG_PEER } from '../../src/wire/constants.ts';
import { NIL_UUID, relayFilter } from '../../src/span/filters.ts';
import { resolveSpanOptions } from '../../src/span/options.ts';
import { serviceClusterId } from '../../src/span/service-id.ts';
import { SpanTable } from '../../src/span/span-table.ts';
import type { SpanFields, SpanLink } from '../../src/span/span-table.ts';
import { OWN, conn, fields, id } from './fixtures.ts';

const opts = resolveSpanOptions();

function link(over: Partial<SpanFields> = {}, connId: string | null = 'in', path = [id(1)]): SpanLink {
  const t = new SpanTable({ ownNodeId: OWN, options: { maxPathLength: 4096 } });
  const r = t.add({ linkId: 'l', connId, peerNodeId: connId === null ? null : id(1), fields: fields(over), path: connId === null ? null : path });
  if (!r.ok) throw new Error(r.message);
  return r.link;
}

describe('relayFilter', () => {
  it('passes an ordinary span to an ordinary router', () => {
    expect(relayFilter(link(), conn('out', id(2)), opts)).toBeNull();
    expect(relayFilter(link({}, null), conn('out', id(2)), opts)).toBeNull();
  });

  it('never sends a span back on the conn it came from', () => {
    expect(relayFilter(link(), conn('in', id(9)), opts)).toBe('SAME_CONN');
  });

  it('never sends a span to a peer on its path', () => {
    expect(relayFilter(link({}, 'in', [id(3), id(2), id(1)]), conn('out', id(2)), opts)).toBe('PEER_IN_PATH');
    expect(relayFilter(link({}, 'in', [id(3), id(2), id(1)]), conn('out', id(4)), opts)).toBeNull();
    // Unknown peer id (DragonFly peer): only the other rules apply.
    expect(relayFilter(link({}, 'in', [id(3), id(2), id(1)]), conn('out', null), opts)).toBeNull();
  });

  it('applies the peer_mask bit of the span peer_type', () => {
    const mask = 1n << BigInt(DMSG_PEER.BLOCK);
    expect(relayFilter(link({ peerType: DMSG_PEER.ROUTER }), conn('out', id(2), { peerMask: mask }), opts)).toBe('PEER_MASK');
    expect(relayFilter(link({ peerType: DMSG_PEER.BLOCK }), conn('out', id(2), { peerMask: mask }), opts)).toBeNull();
    expect(relayFilter(link({ peerType: 63 }), conn('out', id(2), { peerMask: 1n << 63n }), opts)).toBeNull();
    expect(relayFilter(link({ peerType: 63 }), conn('out', id(2), { peerMask: (1n << 63n) - 1n }), opts)).toBe('PEER_MASK');
  });

  it('applies the pfs_mask bit of the span pfs_type, as libdmsg does (absent: no filter)', () => {
    expect(relayFilter(link({ pfsType: 0 }), conn('out', id(2), { pfsMask: 0n }), opts)).toBe('PFS_MASK');
    expect(relayFilter(link({ pfsType: 0 }), conn('out', id(2), { pfsMask: 1n }), opts)).toBeNull();
    expect(relayFilter(link({ pfsType: 3 }), conn('out', id(2), { pfsMask: 1n }), opts)).toBe('PFS_MASK');
    expect(relayFilter(link({ pfsType: 3 }), conn('out', id(2), { pfsMask: 0xffffffffffffffffn }), opts)).toBeNull();
    expect(relayFilter(link({ pfsType: 3 }), conn('out', id(2)), opts)).toBeNull();
  });

  it('applies a non-empty cl_label to spans of the peer\'s own peer_type (2015 libdmsg)', () => {
    const labelled = { peerType: 4, clusterLabel: 'mine' };
    expect(relayFilter(link({ peerType: 4, clusterLabel: 'svc' }), conn('out', id(2), labelled), opts)).toBe('CLUSTER_LABEL');
    expect(relayFilter(link({ peerType: 4, clusterLabel: 'mine' }), conn('out', id(2), labelled), opts)).toBeNull();
    expect(relayFilter(link({ peerType: 1, clusterLabel: 'svc' }), conn('out', id(2), labelled), opts)).toBeNull();
    expect(relayFilter(link({ peerType: 4, clusterLabel: 'svc' }), conn('out', id(2), { peerType: 4, clusterLabel: '' }), opts)).toBeNull();
  });

  it('keeps clients from seeing each other', () => {
    const client = { peerType: DMSG_PEER.CLIENT };
    expect(relayFilter(link({ peerType: DMSG_PEER.CLIENT }), conn('out', id(2), client), opts)).toBe('CLIENT_TO_CLIENT');
    expect(relayFilter(link({ peerType: DMSG_PEER.CLIENT }), conn('out', id(2)), opts)).toBeNull();
  });

  it('honours a CLIENT peer_id cluster filter (nil or null means none)', () => {
    const svc = serviceClusterId('svc');
    const f = { peerType: DMSG_PEER.CLIENT };
    expect(relayFilter(link({ clusterId: svc }), conn('out', id(2), { ...f, peerId: serviceClusterId('other') }), opts)).toBe('CLIENT_CLUSTER');
    expect(relayFilter(link({ clusterId: svc }), conn('out', id(2), { ...f, peerId: svc }), opts)).toBeNull();
    expect(relayFilter(link({ clusterId: svc }), conn('out', id(2), { ...f, peerId: NIL_UUID }), opts)).toBeNull();
    expect(relayFilter(link({ clusterId: svc }), conn('out', id(2), { ...f, peerId: null }), opts)).toBeNull();
    // A router peer's peer_id is not a filter.
    expect(relayFilter(link({ clusterId: svc }), conn('out', id(2), { peerId: serviceClusterId('other') }), opts)).toBeNull();
  });

  it('caps dist (received dist maxDist is still relayed, one more is not)', () => {
    expect(relayFilter(link({ dist: opts.maxDist }), conn('out', id(2)), opts)).toBeNull();
    expect(relayFilter(link({ dist: opts.maxDist + 1 }), conn('out', id(2)), opts)).toBe('MAX_DIST');
    expect(relayFilter(link({ dist: 5 }), conn('out', id(2)), { ...opts, maxDist: 4 })).toBe('MAX_DIST');
  });

  it('does not make a relay whose path the peer would refuse as too long', () => {
    const path = Array.from({ length: opts.maxPathLength }, (_, i) => id(0x10000 + i));
    expect(relayFilter(link({}, 'in', path), conn('out', id(2)), opts)).toBe('PATH_TOO_LONG');
    expect(relayFilter(link({}, 'in', path.slice(1)), conn('out', id(2)), opts)).toBeNull();
  });
});
