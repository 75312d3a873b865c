/**
 * Which links may be relayed on which conn (libdmsg dmsg_relay_scan_specific's
 * filters, plus the path-vector rule). Pure: a link and a conn in, a reason
 * out. The planner skips a refused link and falls back to the next one;
 * DragonFly stopped at the first refusal.
 */
import { DMSG_PEER } from '../wire/constants.ts';
import type { NodeId } from './path-record.ts';
import type { ResolvedSpanOptions } from './options.ts';
import type { SpanLink } from './span-table.ts';

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** What the peer said about itself in its LNK_CONN. */
export interface PeerConnInfo {
  /** peer_mask (u64): bit N set ⇒ "send me spans with peer_type N". */
  readonly peerMask: bigint;
  /** peer_type of the peer (CLIENT 63 …). */
  readonly peerType: number;
  /** peer_id: a CLIENT's cluster filter; nil or null means none. */
  readonly peerId: NodeId | null;
  /** pfs_mask (u64): bit N set ⇒ "send me spans with pfs_type N". Absent: no filter. */
  readonly pfsMask?: bigint;
  /** cl_label: when non-empty, spans of the peer's own peer_type must carry this cluster label (2015 libdmsg). Absent or '': no filter. */
  readonly clusterLabel?: string;
}

/** One outgoing link (conn) of this router, as the planner sees it. */
export interface RelayConn {
  readonly connId: string;
  /** The peer router's node id, when known; needed for the path rule. */
  readonly peerNodeId: NodeId | null;
  readonly peerConn: PeerConnInfo;
}

export type RelayFilterReason =
  /** The link arrived on this conn (split horizon). */
  | 'SAME_CONN'
  /** The peer is already on the span's path (path vector: it would loop). */
  | 'PEER_IN_PATH'
  /** The peer's peer_mask lacks 1 << span peer_type. */
  | 'PEER_MASK'
  /** The peer's pfs_mask lacks 1 << span pfs_type. */
  | 'PFS_MASK'
  /** The peer's non-empty cl_label differs from the span's cluster label (same peer_type). */
  | 'CLUSTER_LABEL'
  /** Both the peer and the span are CLIENTs: clients do not see each other. */
  | 'CLIENT_TO_CLIENT'
  /** The peer is a CLIENT filtering on another cluster id. */
  | 'CLIENT_CLUSTER'
  /** dist above maxDist (sanity cap, not the loop guard). */
  | 'MAX_DIST'
  /** The relayed path would exceed maxPathLength (the peer would refuse it). */
  | 'PATH_TOO_LONG';

export type FilterOptions = Pick<ResolvedSpanOptions, 'maxDist' | 'maxPathLength'>;

/** Why `link` must not be relayed on `conn`, or null if it may. */
export function relayFilter(link: SpanLink, conn: RelayConn, options: FilterOptions): RelayFilterReason | null {
  if (link.connId !== null && link.connId === conn.connId) return 'SAME_CONN';
  if (conn.peerNodeId !== null && link.path.includes(conn.peerNodeId)) return 'PEER_IN_PATH';
  const peer = conn.peerConn;
  const peerType = link.fields.peerType;
  if (((peer.peerMask >> BigInt(peerType)) & 1n) === 0n) return 'PEER_MASK';
  if (peer.pfsMask !== undefined && ((peer.pfsMask >> BigInt(link.fields.pfsType & 63)) & 1n) === 0n) return 'PFS_MASK';
  if (peer.clusterLabel && peerType === peer.peerType && peer.clusterLabel !== link.fields.clusterLabel) return 'CLUSTER_LABEL';
  if (peer.peerType === DMSG_PEER.CLIENT) {
    if (peerType === DMSG_PEER.CLIENT) return 'CLIENT_TO_CLIENT';
    if (peer.peerId !== null && peer.peerId !== NIL_UUID && peer.peerId !== link.fields.clusterId) {
      return 'CLIENT_CLUSTER';
    }
  }
  if (link.connId !== null && link.fields.dist > options.maxDist) return 'MAX_DIST';
  if (link.path.length + 1 > options.maxPathLength) return 'PATH_TOO_LONG';
  return null;
}
