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
import type { NodeId } from './path-record.ts';
import { resolveSpanOptions } from './options.ts';
import type { ResolvedSpanOptions } from './options.ts';
import { serviceClusterId } from './service-id.ts';
import { PathEdgeIndex } from './path-edge-index.ts';
import {
  checkFields,
  clusterKeyOf,
  cmpStr,
  compareLinks,
  nodeKeyOf,
  type ClusterKey,
  type NodeKey,
  type SpanAddResult,
  type SpanCluster,
  type SpanFields,
  type SpanLink,
  type SpanLinkInput,
  type SpanNode,
  type SpanRefusal,
  type SpanTableInit,
} from './span-types.ts';

export { compareLinks, nodeKeyOf } from './span-types.ts';
export type {
  ClusterKey, NodeKey, SpanAddResult, SpanCluster, SpanFields, SpanLink, SpanLinkInput, SpanNode, SpanRefusal, SpanTableInit,
} from './span-types.ts';

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
  /** Links by the path edges they cross (root-cause lookups). */
  readonly #byEdge = new PathEdgeIndex();
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

  /** Links that arrived on a conn (at most `max`), in no particular order. */
  linksOnConn(connId: string, max = Infinity): SpanLink[] {
    const ids = this.#byConn.get(connId);
    const out: SpanLink[] = [];
    if (!ids) return out;
    for (const id of ids) {
      if (out.length >= max) break;
      out.push(this.#links.get(id)!);
    }
    return out;
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
    return this.#byEdge.linksOver(a, b, inc).map((id) => this.#links.get(id)!);
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
    this.#byEdge.add(link.linkId, link.path, f.hops);
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
    this.#byEdge.remove(link.linkId, link.path, link.fields.hops);
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
