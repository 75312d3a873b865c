/** Small builders shared by the span unit tests. */
import { DMSG_PEER } from '../../src/wire/constants.ts';
import type { RelayConn } from '../../src/span/filters.ts';
import type { NodeId } from '../../src/span/path-record.ts';
import { serviceClusterId } from '../../src/span/service-id.ts';
import type { SpanFields } from '../../src/span/span-table.ts';

export const OWN: NodeId = '00000000-0000-4000-8000-0000000000ff';
export const id = (n: number): NodeId => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const ALL_TYPES = 0xffffffffffffffffn;

export function fields(over: Partial<SpanFields> = {}): SpanFields {
  return {
    peerType: DMSG_PEER.ROUTER,
    pfsType: 0,
    clusterId: serviceClusterId('svc'),
    nodeId: '22222222-0000-4000-8000-000000000001',
    clusterLabel: 'svc',
    nodeLabel: 'inst',
    dist: 0,
    rnss: 0,
    ...over,
  };
}

export function conn(connId: string, peerNodeId: NodeId | null, over: Partial<RelayConn['peerConn']> = {}): RelayConn {
  return { connId, peerNodeId, peerConn: { peerMask: ALL_TYPES, peerType: DMSG_PEER.ROUTER, peerId: null, ...over } };
}
