/**
 * What the span table holds, as types, and the pure orderings, keys and
 * field checks it uses (span-table.ts keeps the table itself).
 */
import { isNodeId } from './path-record.ts';
import type { NodeId, SpanOrigin } from './path-record.ts';
import type { ResolvedSpanOptions, SpanOptions } from './options.ts';

/** The LNK_SPAN fields the span layer looks at, plus opaque extras. */
export interface SpanFields {
  /** peer_type (0..63): ROUTER 1, BLOCK 2, HAMMER2 3, CLIENT 63 … */
  readonly peerType: number;
  /** pfs_type (u8). */
  readonly pfsType: number;
  /** peer_id: the cluster (service) uuid. */
  readonly clusterId: NodeId;
  /** pfs_id: the unique uuid of the advertised node (instance). */
  readonly nodeId: NodeId;
  /** peer_label: the service name. */
  readonly clusterLabel: string;
  /** pfs_label: the instance name. */
  readonly nodeLabel: string;
  /** Relay hops before the sender; the originator sends 0. u32. */
  readonly dist: number;
  /** Random sub-sort, summed along the path. u32. */
  readonly rnss: number;
  /** Carried verbatim to relays (media union, status …); never inspected here. */
  readonly extras?: unknown;
  /** The originating router's name and incarnation (path record v4), copied by relays. */
  readonly origin?: SpanOrigin;
  /** The advertisement's epoch (path record v2), copied by relays; 0 or absent when unknown. */
  readonly epoch?: number;
  /**
   * Link incarnations along the path as this router relays it (path record
   * v3): one per id of the relayed path, this router's last. Absent when a
   * hop did not record them (a DragonFly peer).
   */
  readonly hops?: readonly number[];
}

export interface SpanLinkInput {
  /** Unique per table; the Router's name for the received SPAN transaction. */
  readonly linkId: string;
  /** The conn (link/iocom) it arrived on; null for a local advertisement. */
  readonly connId: string | null;
  /** Node id of that conn's peer, when known from its LNK_CONN. */
  readonly peerNodeId: NodeId | null;
  readonly fields: SpanFields;
  /** Decoded path record; null when the span had none (DragonFly peer, or local). */
  readonly path: readonly NodeId[] | null;
}

/** Opaque key of a node: equal keys ⇔ same (peerType, clusterId, clusterLabel, nodeLabel, nodeId). */
export type NodeKey = string & { readonly __nodeKey: unique symbol };
export type ClusterKey = string & { readonly __clusterKey: unique symbol };

export interface SpanLink {
  readonly linkId: string;
  readonly connId: string | null;
  readonly peerNodeId: NodeId | null;
  readonly fields: SpanFields;
  /** Effective path, originator first (see effectivePath()). */
  readonly path: readonly NodeId[];
  /** Tie-break of last resort: order of first add in this table. */
  readonly seq: number;
  readonly nodeKey: NodeKey;
}

export interface SpanNode {
  readonly key: NodeKey;
  readonly clusterKey: ClusterKey;
  readonly peerType: number;
  readonly clusterId: NodeId;
  readonly clusterLabel: string;
  readonly nodeLabel: string;
  readonly nodeId: NodeId;
  /** Best first. Never empty. */
  readonly links: readonly SpanLink[];
}

export interface SpanCluster {
  readonly key: ClusterKey;
  readonly peerType: number;
  readonly clusterId: NodeId;
  readonly clusterLabel: string;
  /** In node order. Never empty. */
  readonly nodes: readonly SpanNode[];
}

export type SpanRefusal =
  | 'DUPLICATE_LINK'
  | 'UNKNOWN_LINK'
  | 'BAD_FIELDS'
  | 'LOOP'
  | 'PATH_TOO_LONG'
  | 'LINK_LIMIT'
  | 'TOTAL_LIMIT'
  | 'PATH_BUDGET';

export type SpanAddResult =
  | { readonly ok: true; readonly link: SpanLink; readonly previous?: SpanLink }
  | { readonly ok: false; readonly reason: SpanRefusal; readonly message: string };

export interface SpanTableInit {
  /** This router's node id: a span whose path holds it is refused (loop). */
  readonly ownNodeId: NodeId;
  readonly options?: SpanOptions | ResolvedSpanOptions;
}

export function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpPath(a: readonly NodeId[], b: readonly NodeId[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmpStr(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Best-first link order; a total order over links of one table. */
export function compareLinks(a: SpanLink, b: SpanLink): number {
  return (
    a.fields.dist - b.fields.dist ||
    a.fields.rnss - b.fields.rnss ||
    (a.peerNodeId === b.peerNodeId ? 0 : a.peerNodeId === null ? -1 : b.peerNodeId === null ? 1 : cmpStr(a.peerNodeId, b.peerNodeId)) ||
    cmpPath(a.path, b.path) ||
    a.seq - b.seq
  );
}

export function clusterKeyOf(f: SpanFields): ClusterKey {
  return JSON.stringify([f.peerType, f.clusterId, f.clusterLabel]) as ClusterKey;
}

export function nodeKeyOf(f: SpanFields): NodeKey {
  return JSON.stringify([f.peerType, f.clusterId, f.clusterLabel, f.nodeLabel, f.nodeId]) as NodeKey;
}

function isU32(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Why fields are unusable, or null. */
export function checkFields(f: SpanFields): string | null {
  if (typeof f !== 'object' || f === null) return 'fields missing';
  if (!Number.isInteger(f.peerType) || f.peerType < 0 || f.peerType > 63) return `peerType must be 0..63, got ${f.peerType}`;
  if (!Number.isInteger(f.pfsType) || f.pfsType < 0 || f.pfsType > 255) return `pfsType must be 0..255, got ${f.pfsType}`;
  if (!isNodeId(f.clusterId)) return `clusterId must be a canonical uuid, got ${JSON.stringify(f.clusterId)}`;
  if (!isNodeId(f.nodeId)) return `nodeId must be a canonical uuid, got ${JSON.stringify(f.nodeId)}`;
  if (typeof f.clusterLabel !== 'string' || typeof f.nodeLabel !== 'string') return 'labels must be strings';
  if (!isU32(f.dist)) return `dist must be a u32, got ${f.dist}`;
  if (!isU32(f.rnss)) return `rnss must be a u32, got ${f.rnss}`;
  return null;
}
