/**
 * The span table (libdmsg's h2span_cluster → h2span_node → h2span_link), as
 * plain data with no I/O: clusters keyed by (peerType, clusterId,
 * clusterLabel), nodes by (nodeLabel, nodeId), and one link per received
 * SPAN transaction (or local advertisement), kept in best-first order.
 *
 * Link order is total and deterministic (DragonFly broke ties on pointer
 * values): dist, rnss, the node id of the peer the link arrived on (local
 * first), the path (element-wise, shorter first), then a sequence number the
 * table assigns on first add.
 *
 * Refusals (loops, limits, bad fields) are results, not throws: they come
 * from peers, and the Router answers them on the wire.
 */
import { effectivePath, isNodeId } from './path-record.ts';
import type { NodeId, SpanOrigin } from './path-record.ts';
import { resolveSpanOptions } from './options.ts';
import type { ResolvedSpanOptions, SpanOptions } from './options.ts';
import { serviceClusterId } from './service-id.ts';

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

function cmpStr(a: string, b: string): number {
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

function clusterKeyOf(f: SpanFields): ClusterKey {
  return JSON.stringify([f.peerType, f.clusterId, f.clusterLabel]) as ClusterKey;
}

export function nodeKeyOf(f: SpanFields): NodeKey {
  return JSON.stringify([f.peerType, f.clusterId, f.clusterLabel, f.nodeLabel, f.nodeId]) as NodeKey;
}

function isU32(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Why fields are unusable, or null. */
function checkFields(f: SpanFields): string | null {
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

interface MutableNode {
  readonly key: NodeKey;
  readonly clusterKey: ClusterKey;
  readonly peerType: number;
  readonly clusterId: NodeId;
  readonly clusterLabel: string;
  readonly nodeLabel: string;
  readonly nodeId: NodeId;
  readonly links: SpanLink[];
}

interface MutableCluster {
  readonly key: ClusterKey;
  readonly peerType: number;
  readonly clusterId: NodeId;
  readonly clusterLabel: string;
  readonly nodes: Map<NodeKey, MutableNode>;
  sortedNodes: MutableNode[] | null;
}

function compareClusters(a: MutableCluster, b: MutableCluster): number {
  return a.peerType - b.peerType || cmpStr(a.clusterId, b.clusterId) || cmpStr(a.clusterLabel, b.clusterLabel);
}

function compareNodes(a: MutableNode, b: MutableNode): number {
  return cmpStr(a.nodeLabel, b.nodeLabel) || cmpStr(a.nodeId, b.nodeId);
}

export class SpanTable {
  readonly ownNodeId: NodeId;
  readonly options: ResolvedSpanOptions;
  #clusters = new Map<ClusterKey, MutableCluster>();
  #sortedClusters: MutableCluster[] | null = null;
  #nodes = new Map<NodeKey, MutableNode>();
  #links = new Map<string, SpanLink>();
  #byConn = new Map<string, Set<string>>();
  #byLabel = new Map<string, Set<ClusterKey>>();
  /**
   * Path edges by their downstream id and link incarnation (random per link,
   * so nearly unique) → links whose path crosses them; linksOverEdge checks
   * the upstream id. Nested maps: no key string per path element.
   */
  #byEdge = new Map<NodeId, Map<number, Set<string>>>();
  #received = 0;
  /** Sum of the path lengths of received links (maxPathIdsTotal). */
  #pathIds = 0;
  #seq = 0;

  constructor(init: SpanTableInit) {
    if (!isNodeId(init.ownNodeId)) {
      // Programming error, not peer input.
      throw new TypeError(`ownNodeId must be a canonical uuid, got ${JSON.stringify(init.ownNodeId)}`);
    }
    this.ownNodeId = init.ownNodeId;
    this.options = resolveSpanOptions(init.options ?? {});
  }

  /** Links held (received and local). */
  get size(): number {
    return this.#links.size;
  }

  /** Nodes (advertised instances) held. */
  get nodeCount(): number {
    return this.#nodes.size;
  }

  /** Keys of every node, in no particular order. */
  nodeKeys(): IterableIterator<NodeKey> {
    return this.#nodes.keys();
  }

  /** Received links held (what maxSpansTotal limits). */
  get receivedCount(): number {
    return this.#received;
  }

  countOnConn(connId: string): number {
    return this.#byConn.get(connId)?.size ?? 0;
  }

  link(linkId: string): SpanLink | undefined {
    return this.#links.get(linkId);
  }

  node(key: NodeKey): SpanNode | undefined {
    return this.#nodes.get(key);
  }

  /** Links that arrived on a conn, in no particular order. */
  linksOnConn(connId: string): SpanLink[] {
    const ids = this.#byConn.get(connId);
    return ids ? [...ids].map((id) => this.#links.get(id)!) : [];
  }

  /** Adds a link. Refusals are returned, never thrown. */
  add(input: SpanLinkInput): SpanAddResult {
    if (this.#links.has(input.linkId)) {
      return refuse('DUPLICATE_LINK', `link ${input.linkId} already exists`);
    }
    const checked = this.#check(input, null);
    if (!checked.ok) return checked;
    const link: SpanLink = Object.freeze({
      linkId: input.linkId,
      connId: input.connId,
      peerNodeId: input.peerNodeId,
      fields: Object.freeze({ ...input.fields }),
      path: checked.path,
      seq: this.#seq++,
      nodeKey: nodeKeyOf(input.fields),
    });
    this.#insert(link);
    return { ok: true, link };
  }

  /**
   * Replaces a link's fields and path (its conn and seq stay). The node may
   * change; `previous` tells which it was. On refusal the link is unchanged.
   */
  update(linkId: string, fields: SpanFields, path: readonly NodeId[] | null): SpanAddResult {
    const previous = this.#links.get(linkId);
    if (!previous) return refuse('UNKNOWN_LINK', `no link ${linkId}`);
    const checked = this.#check({ ...previous, fields, path }, previous);
    if (!checked.ok) return checked;
    const link: SpanLink = Object.freeze({
      ...previous,
      fields: Object.freeze({ ...fields }),
      path: checked.path,
      nodeKey: nodeKeyOf(fields),
    });
    this.#delete(previous);
    this.#insert(link);
    return { ok: true, link, previous };
  }

  /** Removes a link; its node and cluster go when empty. */
  remove(linkId: string): SpanLink | undefined {
    const link = this.#links.get(linkId);
    if (link) this.#delete(link);
    return link;
  }

  /** Removes every link that arrived on a conn (the conn went away). */
  removeConn(connId: string): SpanLink[] {
    const removed = this.linksOnConn(connId);
    for (const link of removed) this.#delete(link);
    return removed;
  }

  /**
   * Links whose path crosses the link from router `a` to router `b` with
   * incarnation `inc` at `b` (see root-cause.ts pathUsesLink); from an
   * index, so the cost is the number of links returned.
   */
  linksOverEdge(a: NodeId, b: NodeId, inc: number): SpanLink[] {
    const ids = this.#byEdge.get(b)?.get(inc);
    if (!ids) return [];
    const out: SpanLink[] = [];
    for (const id of ids) {
      const link = this.#links.get(id)!;
      const hops = link.fields.hops!;
      for (let i = 1; i < link.path.length; i++) {
        if (link.path[i] === b && hops[i] === inc && link.path[i - 1] === a) {
          out.push(link);
          break;
        }
      }
    }
    return out;
  }

  /** Clusters in order, each with its nodes in order. */
  clusters(): SpanCluster[] {
    if (this.#sortedClusters === null) {
      this.#sortedClusters = [...this.#clusters.values()].sort(compareClusters);
    }
    return this.#sortedClusters.map((c) => ({
      key: c.key,
      peerType: c.peerType,
      clusterId: c.clusterId,
      clusterLabel: c.clusterLabel,
      nodes: sortedNodes(c),
    }));
  }

  /** Every node, cluster order then node order. */
  nodes(): SpanNode[] {
    return this.clusters().flatMap((c) => c.nodes);
  }

  /**
   * Nodes of a service: clusters labelled `serviceName` whose id is the
   * service's cluster uuid (so a label collision cannot hijack a name).
   */
  findService(serviceName: string, peerType?: number): SpanNode[] {
    const keys = this.#byLabel.get(serviceName);
    if (!keys || serviceName.length === 0) return [];
    let clusterId: string;
    try {
      clusterId = serviceClusterId(serviceName);
    } catch {
      return [];
    }
    return [...keys]
      .map((k) => this.#clusters.get(k)!)
      .filter((c) => c.clusterId === clusterId && (peerType === undefined || c.peerType === peerType))
      .sort(compareClusters)
      .flatMap((c) => sortedNodes(c));
  }

  /** A deep, frozen copy in iteration order, for inspection and tests. */
  snapshot(): readonly SpanCluster[] {
    return Object.freeze(
      this.clusters().map((c) =>
        Object.freeze({
          ...c,
          nodes: Object.freeze(c.nodes.map((n) => Object.freeze({ ...n, links: Object.freeze([...n.links]) }))),
        }),
      ),
    );
  }

  #check(
    input: SpanLinkInput,
    previous: SpanLink | null,
  ): { ok: true; path: readonly NodeId[] } | { ok: false; reason: SpanRefusal; message: string } {
    const why = checkFields(input.fields);
    if (why !== null) return refuse('BAD_FIELDS', why);
    if (input.connId === null && input.peerNodeId !== null) {
      return refuse('BAD_FIELDS', 'a local advertisement (connId null) has no peer node');
    }
    const path = Object.freeze([...effectivePath(input.path, input.peerNodeId)]);
    if (path.length > this.options.maxPathLength) {
      return refuse('PATH_TOO_LONG', `path has ${path.length} ids, limit is ${this.options.maxPathLength}`);
    }
    const seen = new Set<NodeId>();
    for (const id of path) {
      if (!isNodeId(id)) return refuse('BAD_FIELDS', `path id ${JSON.stringify(id)} is not a canonical uuid`);
      if (id === this.ownNodeId) return refuse('LOOP', `path already holds this router ${id}`);
      if (seen.has(id)) return refuse('LOOP', `path names ${id} twice`);
      seen.add(id);
    }
    if (input.connId !== null && previous === null) {
      const onConn = this.countOnConn(input.connId);
      if (onConn >= this.options.maxSpansPerLink) {
        return refuse('LINK_LIMIT', `conn ${input.connId} already has ${onConn} spans (maxSpansPerLink)`);
      }
      if (this.#received >= this.options.maxSpansTotal) {
        return refuse('TOTAL_LIMIT', `table already has ${this.#received} received spans (maxSpansTotal)`);
      }
    }
    if (input.connId !== null) {
      const held = this.#pathIds - (previous?.connId != null ? previous.path.length : 0);
      if (held + path.length > this.options.maxPathIdsTotal) {
        return refuse('PATH_BUDGET', `table already holds ${held} path ids; ${path.length} more exceed maxPathIdsTotal ${this.options.maxPathIdsTotal}`);
      }
    }
    return { ok: true, path };
  }

  #insert(link: SpanLink): void {
    const f = link.fields;
    const clusterKey = clusterKeyOf(f);
    let cluster = this.#clusters.get(clusterKey);
    if (!cluster) {
      cluster = {
        key: clusterKey,
        peerType: f.peerType,
        clusterId: f.clusterId,
        clusterLabel: f.clusterLabel,
        nodes: new Map(),
        sortedNodes: null,
      };
      this.#clusters.set(clusterKey, cluster);
      this.#sortedClusters = null;
      let labelSet = this.#byLabel.get(f.clusterLabel);
      if (!labelSet) this.#byLabel.set(f.clusterLabel, (labelSet = new Set()));
      labelSet.add(clusterKey);
    }
    let node = cluster.nodes.get(link.nodeKey);
    if (!node) {
      node = {
        key: link.nodeKey,
        clusterKey,
        peerType: f.peerType,
        clusterId: f.clusterId,
        clusterLabel: f.clusterLabel,
        nodeLabel: f.nodeLabel,
        nodeId: f.nodeId,
        links: [],
      };
      cluster.nodes.set(link.nodeKey, node);
      cluster.sortedNodes = null;
      this.#nodes.set(link.nodeKey, node);
    }
    node.links.splice(lowerBound(node.links, link), 0, link);
    this.#links.set(link.linkId, link);
    const hops = f.hops;
    if (hops !== undefined) {
      for (let i = 1; i < link.path.length; i++) {
        const b = link.path[i]!;
        let byInc = this.#byEdge.get(b);
        if (!byInc) this.#byEdge.set(b, (byInc = new Map()));
        let ids = byInc.get(hops[i]!);
        if (!ids) byInc.set(hops[i]!, (ids = new Set()));
        ids.add(link.linkId);
      }
    }
    if (link.connId !== null) {
      let ids = this.#byConn.get(link.connId);
      if (!ids) this.#byConn.set(link.connId, (ids = new Set()));
      ids.add(link.linkId);
      this.#received++;
      this.#pathIds += link.path.length;
    }
  }

  #delete(link: SpanLink): void {
    const node = this.#nodes.get(link.nodeKey)!;
    node.links.splice(node.links.indexOf(link), 1);
    this.#links.delete(link.linkId);
    const hops = link.fields.hops;
    if (hops !== undefined) {
      for (let i = 1; i < link.path.length; i++) {
        const b = link.path[i]!;
        const byInc = this.#byEdge.get(b);
        const ids = byInc?.get(hops[i]!);
        if (!ids) continue;
        ids.delete(link.linkId);
        if (ids.size === 0) {
          byInc!.delete(hops[i]!);
          if (byInc!.size === 0) this.#byEdge.delete(b);
        }
      }
    }
    if (link.connId !== null) {
      const ids = this.#byConn.get(link.connId)!;
      ids.delete(link.linkId);
      if (ids.size === 0) this.#byConn.delete(link.connId);
      this.#received--;
      this.#pathIds -= link.path.length;
    }
    if (node.links.length > 0) return;
    this.#nodes.delete(node.key);
    const cluster = this.#clusters.get(node.clusterKey)!;
    cluster.nodes.delete(node.key);
    cluster.sortedNodes = null;
    if (cluster.nodes.size > 0) return;
    this.#clusters.delete(cluster.key);
    this.#sortedClusters = null;
    const labelSet = this.#byLabel.get(cluster.clusterLabel)!;
    labelSet.delete(cluster.key);
    if (labelSet.size === 0) this.#byLabel.delete(cluster.clusterLabel);
  }
}

function refuse(reason: SpanRefusal, message: string): { ok: false; reason: SpanRefusal; message: string } {
  return { ok: false, reason, message };
}

function sortedNodes(c: MutableCluster): MutableNode[] {
  if (c.sortedNodes === null) c.sortedNodes = [...c.nodes.values()].sort(compareNodes);
  return c.sortedNodes;
}

function lowerBound(links: readonly SpanLink[], link: SpanLink): number {
  let lo = 0;
  let hi = links.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareLinks(links[mid]!, link) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
