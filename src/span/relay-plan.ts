/**
 * Relay planning (libdmsg dmsg_relay_scan → dmsg_relay_scan_specific), pure.
 *
 * For every (node, conn) the desired relays are the first `maxRelayedPaths`
 * links of the node, best first, that pass relayFilter() on that conn — a
 * refused link falls back to the next one (DragonFly `break`s). An existing
 * relay is kept when it carries exactly what the desired one would carry;
 * otherwise the desired one is created and every leftover relay of that
 * (node, conn) is deleted.
 *
 * Make before break: the Router must carry out every `create` before any
 * `delete`, so a peer switching to a better path never sees a gap.
 *
 * Relayed content: a received link goes out as a copy with dist + 1, rnss +
 * localRnss (mod 2^32) and path + [ownNodeId]. A local advertisement (connId
 * null) goes out unchanged (the originator sends dist 0) with path
 * [ownNodeId].
 *
 * Idempotent: applying a plan to the existing relays and planning again
 * yields no create and no delete.
 *
 * Sticky (PlanOptions.preferCurrent): among links of equal dist, the link a
 * relay on that conn already carries goes first, so a new path that is only
 * as short as the current one (it wins a tie-break on rnss or node id) does
 * not replace it. After a link loss, replacements of equal length reach a
 * router in any order; without this, each one that wins the tie-break costs
 * another CREATE + DELETE on every link of the router and of those behind it.
 */
import { relayFilter } from './filters.ts';
import type { RelayConn } from './filters.ts';
import type { NodeId } from './path-record.ts';
import type { ResolvedSpanOptions } from './options.ts';
import type { NodeKey, SpanFields, SpanLink, SpanNode } from './span-table.ts';

export type RelayId = string;

/** A SPAN to open on a conn: its fields and the path record to put in aux. */
export interface RelaySpec {
  readonly connId: string;
  readonly nodeKey: NodeKey;
  readonly sourceLinkId: string;
  /** As sent: dist and rnss already adjusted. */
  readonly fields: SpanFields;
  /** As sent, originator first, ending with this router. */
  readonly path: readonly NodeId[];
}

/** A relay this router has open: the spec it was created from, and its id. */
export interface ExistingRelay extends RelaySpec {
  readonly relayId: RelayId;
}

export interface RelayPlan {
  /** Open these first… */
  readonly create: RelaySpec[];
  /** …then close these. */
  readonly delete: RelayId[];
  /** Existing relays that stay as they are. */
  readonly keep: RelayId[];
}

/** What the planner needs of a span table. */
export interface SpanTableView {
  readonly ownNodeId: NodeId;
  readonly options: ResolvedSpanOptions;
  nodes(): readonly SpanNode[];
  node(key: NodeKey): SpanNode | undefined;
}

export interface PlanOptions {
  /** This router's rnss addend (u32; DragonFly's DMsgRNSS, random per process). */
  readonly localRnss: number;
  /**
   * Skip links that the node's other links prove stale (see staleLinks()).
   * Cuts path exploration after a link loss about 10x; never changes the
   * converged result, PROVIDED the caller runs a full planRelays() whenever
   * a conn comes or goes (staleness depends on the set of conns, so a
   * node-scoped replan of only the nodes that lost links is not enough).
   * @default false
   */
  readonly consistencyCheck?: boolean;
  /**
   * Keep an existing relay while its link is still as short as the best
   * candidate (see the module comment). Never changes dists, only which of
   * several equally short paths is relayed.
   * @default false
   */
  readonly preferCurrent?: boolean;
}

/**
 * Links of a node that cannot be current (a consistency assertion, after Pei
 * et al., "Improving BGP convergence through consistency assertions").
 *
 * A link with path [p0 … pk] (pk the sender) and dist d says that hop pi had
 * a path of dist d - (k - i) avoiding us (every path-vector hop adds 1 to dist
 * and appends itself). If pi is our direct peer, it relays us its best path
 * avoiding us, with fallback, so it must have sent us something with dist ≤
 * d - (k - i). If it has not, the link or that peer's span is out of date:
 * the link is not relayed until they agree. At quiescence they agree, so only
 * transient choices change, and path exploration after a link loss shrinks
 * (about 10x in test/span/sim-mesh.prop.test.ts).
 *
 * Only hops i ≥ 1 are checked: they appended themselves, so they are
 * path-vector routers; p0 may be a DragonFly peer (no path record, no
 * fallback). Assumes a router sends the same LNK_CONN filters on all its
 * links. Staleness depends on the set of conns, so plan every node again
 * (planRelays) when a conn comes or goes.
 */
export function staleLinks(node: SpanNode, peerConns: ReadonlyMap<string, NodeId>): Set<SpanLink> {
  // Best dist each direct peer has sent us for this node.
  const fromPeer = new Map<NodeId, number>();
  const peers = new Set(peerConns.values());
  for (const link of node.links) {
    if (link.connId === null) continue;
    const peer = peerConns.get(link.connId);
    if (peer === undefined) continue;
    const d = fromPeer.get(peer);
    if (d === undefined || link.fields.dist < d) fromPeer.set(peer, link.fields.dist);
  }
  const stale = new Set<SpanLink>();
  for (const link of node.links) {
    if (link.connId === null) continue;
    const path = link.path;
    const k = path.length - 1;
    for (let i = 1; i < k; i++) {
      const y = path[i]!;
      if (!peers.has(y)) continue;
      const d = fromPeer.get(y);
      if (d === undefined || d > link.fields.dist - (k - i)) {
        stale.add(link);
        break;
      }
    }
  }
  return stale;
}

/** What this router sends when it relays `link`. */
export function relayedContent(
  link: SpanLink,
  ownNodeId: NodeId,
  localRnss: number,
): { fields: SpanFields; path: readonly NodeId[] } {
  if (link.connId === null) return { fields: link.fields, path: [ownNodeId] };
  return {
    fields: { ...link.fields, dist: link.fields.dist + 1, rnss: (link.fields.rnss + localRnss) >>> 0 },
    path: [...link.path, ownNodeId],
  };
}

/**
 * Plans every node on every conn. Run this (not only planRelaysForNode) when
 * a conn comes or goes: staleLinks() depends on the set of conns.
 */
export function planRelays(
  table: SpanTableView,
  conns: readonly RelayConn[],
  existing: readonly ExistingRelay[],
  options: PlanOptions,
): RelayPlan {
  return plan(table, table.nodes(), conns, existing, options);
}

/**
 * Plans one node only (after a span of that node changed); existing relays of
 * other nodes are neither kept nor deleted, they are simply not looked at.
 * A node no longer in the table gets all its relays deleted.
 */
export function planRelaysForNode(
  table: SpanTableView,
  nodeKey: NodeKey,
  conns: readonly RelayConn[],
  existing: readonly ExistingRelay[],
  options: PlanOptions,
): RelayPlan {
  const node = table.node(nodeKey);
  return plan(
    table,
    node ? [node] : [],
    conns,
    existing.filter((r) => r.nodeKey === nodeKey),
    options,
  );
}

function plan(
  table: SpanTableView,
  nodes: readonly SpanNode[],
  conns: readonly RelayConn[],
  existing: readonly ExistingRelay[],
  options: PlanOptions,
): RelayPlan {
  const { maxRelayedPaths } = table.options;
  const ordered = [...conns].sort((a, b) => (a.connId < b.connId ? -1 : a.connId > b.connId ? 1 : 0));
  // (connId, nodeKey) → existing relays, in input order.
  const byPair = new Map<string, ExistingRelay[]>();
  for (const r of existing) {
    const k = pairKey(r.connId, r.nodeKey);
    const list = byPair.get(k);
    if (list) list.push(r);
    else byPair.set(k, [r]);
  }
  const create: RelaySpec[] = [];
  const keep: RelayId[] = [];
  const handled = new Set<string>();
  const peerConns = new Map<string, NodeId>();
  for (const c of conns) if (c.peerNodeId !== null) peerConns.set(c.connId, c.peerNodeId);
  for (const node of nodes) {
    const stale = options.consistencyCheck === true ? staleLinks(node, peerConns) : null;
    for (const conn of ordered) {
      const k = pairKey(conn.connId, node.key);
      handled.add(k);
      const current = byPair.get(k) ?? [];
      let chosen = 0;
      for (const link of eligible(node.links, conn, table.options, stale, options.preferCurrent === true ? current : null, maxRelayedPaths)) {
        chosen++;
        const content = relayedContent(link, table.ownNodeId, options.localRnss);
        const spec: RelaySpec = {
          connId: conn.connId,
          nodeKey: node.key,
          sourceLinkId: link.linkId,
          fields: content.fields,
          path: content.path,
        };
        const i = current.findIndex((r) => sameRelay(r, spec));
        if (i >= 0) {
          keep.push(current[i]!.relayId);
          current.splice(i, 1);
        } else {
          create.push(spec);
        }
      }
      byPair.set(k, current);
    }
  }
  // Leftovers: outdated relays of planned pairs, and relays whose conn or
  // node is gone (pairs never handled above).
  const del: RelayId[] = [];
  const kept = new Set(keep);
  for (const r of existing) {
    if (kept.has(r.relayId)) continue;
    const k = pairKey(r.connId, r.nodeKey);
    if (!handled.has(k) || byPair.get(k)!.includes(r)) del.push(r.relayId);
  }
  return { create, delete: del, keep };
}

/**
 * The links of a node to relay on `conn`, best first, at most `max`: those
 * that pass relayFilter() and are not stale; with `current` (the relays that
 * conn has now), a link a current relay carries goes before other links of
 * the same dist.
 */
function eligible(
  links: readonly SpanLink[],
  conn: RelayConn,
  filterOptions: ResolvedSpanOptions,
  stale: Set<SpanLink> | null,
  current: readonly ExistingRelay[] | null,
  max: number,
): SpanLink[] {
  const out: SpanLink[] = [];
  const carried = current !== null && current.length > 0 ? new Set(current.map((r) => r.sourceLinkId)) : null;
  for (const link of links) {
    if (relayFilter(link, conn, filterOptions) !== null) continue;
    if (stale?.has(link)) continue;
    out.push(link);
    // Without sticky relays the first `max` are the answer; with them, the
    // rest of the last dist taken may hold a carried link.
    if (out.length >= max && (carried === null || link.fields.dist !== out[max - 1]!.fields.dist)) break;
  }
  if (carried !== null) {
    // Stable: dist first, then carried links, then table order.
    const rank = new Map(out.map((l, i) => [l, i]));
    out.sort((a, b) => a.fields.dist - b.fields.dist || Number(carried.has(b.linkId)) - Number(carried.has(a.linkId)) || rank.get(a)! - rank.get(b)!);
  }
  return out.length > max ? out.slice(0, max) : out;
}

function pairKey(connId: string, nodeKey: NodeKey): string {
  return `${connId}\u0000${nodeKey}`;
}

function sameRelay(r: RelaySpec, spec: RelaySpec): boolean {
  if (r.sourceLinkId !== spec.sourceLinkId || r.path.length !== spec.path.length) return false;
  for (let i = 0; i < r.path.length; i++) if (r.path[i] !== spec.path[i]) return false;
  return sameFields(r.fields, spec.fields);
}

function sameFields(a: SpanFields, b: SpanFields): boolean {
  return (
    a.dist === b.dist &&
    a.rnss === b.rnss &&
    a.peerType === b.peerType &&
    a.pfsType === b.pfsType &&
    a.clusterId === b.clusterId &&
    a.nodeId === b.nodeId &&
    a.clusterLabel === b.clusterLabel &&
    a.nodeLabel === b.nodeLabel &&
    a.extras === b.extras &&
    (a.epoch ?? 0) === (b.epoch ?? 0)
  );
}
