/**
 * A deterministic mesh simulation over the pure span modules: N routers, each
 * a SpanTable + the relay planner, joined by links that carry SPAN_CREATE /
 * SPAN_DELETE messages in per-direction FIFO queues. A seeded PRNG picks which
 * non-empty queue delivers next, so every interleaving is reproducible.
 *
 * A cut link loses its queued messages; both ends drop every span that
 * arrived on it and every relay they made on it, then replan the nodes that
 * changed. A restored link is a fresh pair of conns: both ends replan fully,
 * which sends their spans over it.
 *
 * Every delivered SPAN_CREATE is checked on the spot (`violations`): its path
 * must not repeat a node, must not hold the receiver, must end with the
 * sender, and dist must be path length - 1.
 */
import { DMSG_PEER } from '../../src/wire/constants.ts';
import type { RelayConn } from '../../src/span/filters.ts';
import type { NodeId } from '../../src/span/path-record.ts';
import { planRelays, planRelaysForNode } from '../../src/span/relay-plan.ts';
import type { ExistingRelay, RelayPlan } from '../../src/span/relay-plan.ts';
import { serviceClusterId } from '../../src/span/service-id.ts';
import { SpanTable } from '../../src/span/span-table.ts';
import type { NodeKey, SpanFields } from '../../src/span/span-table.ts';
import type { SpanOptions } from '../../src/span/options.ts';
import { mulberry32 } from '../helpers/prng.ts';

export type SimMessage =
  | { readonly kind: 'SPAN_CREATE'; readonly relayKey: string; readonly fields: SpanFields; readonly path: readonly NodeId[] }
  | { readonly kind: 'SPAN_DELETE'; readonly relayKey: string };

export function routerId(index: number): NodeId {
  return `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

function instanceNodeId(service: number, instance: number): NodeId {
  return `11111111-${service.toString(16).padStart(4, '0')}-4000-8000-${instance.toString(16).padStart(12, '0')}`;
}

interface SimConn {
  readonly conn: RelayConn;
  readonly edge: SimEdge;
  /** Queue this end sends on. */
  readonly out: SimMessage[];
}

interface SimEdge {
  readonly a: number;
  readonly b: number;
  up: boolean;
  epoch: number;
  /** [a→b, b→a] */
  queues: [SimMessage[], SimMessage[]];
}

export interface Advertised {
  readonly router: number;
  readonly nodeKey: NodeKey;
  readonly service: string;
}

export class SimRouter {
  readonly index: number;
  readonly id: NodeId;
  readonly table: SpanTable;
  readonly localRnss: number;
  readonly consistencyCheck: boolean;
  readonly preferCurrent: boolean;
  readonly conns = new Map<string, SimConn>();
  readonly relays = new Map<string, ExistingRelay>();
  #mesh: SimMesh;
  #nextRelay = 0;

  constructor(mesh: SimMesh, index: number, localRnss: number, options: SpanOptions, consistencyCheck: boolean, preferCurrent: boolean) {
    this.#mesh = mesh;
    this.consistencyCheck = consistencyCheck;
    this.preferCurrent = preferCurrent;
    this.index = index;
    this.id = routerId(index);
    this.localRnss = localRnss;
    this.table = new SpanTable({ ownNodeId: this.id, options });
  }

  relayConns(): RelayConn[] {
    return [...this.conns.values()].map((c) => c.conn);
  }

  apply(plan: RelayPlan): void {
    // Make before break: every create goes out before any delete.
    for (const spec of plan.create) {
      const relayId = `${this.index}:${this.#nextRelay++}`;
      this.relays.set(relayId, { ...spec, relayId });
      this.#mesh.send(this.conns.get(spec.connId)!, { kind: 'SPAN_CREATE', relayKey: relayId, fields: spec.fields, path: spec.path });
    }
    for (const relayId of plan.delete) {
      const relay = this.relays.get(relayId)!;
      this.relays.delete(relayId);
      const conn = this.conns.get(relay.connId);
      if (conn) this.#mesh.send(conn, { kind: 'SPAN_DELETE', relayKey: relayId });
    }
  }

  replanNode(nodeKey: NodeKey): void {
    this.apply(planRelaysForNode(this.table, nodeKey, this.relayConns(), [...this.relays.values()], this.planOptions()));
  }

  replanAll(): void {
    this.apply(planRelays(this.table, this.relayConns(), [...this.relays.values()], this.planOptions()));
  }

  planOptions(): { localRnss: number; consistencyCheck: boolean; preferCurrent: boolean } {
    return { localRnss: this.localRnss, consistencyCheck: this.consistencyCheck, preferCurrent: this.preferCurrent };
  }
}

export interface SimInit {
  readonly nodes: number;
  readonly edges: readonly (readonly [number, number])[];
  readonly seed: number;
  readonly options?: SpanOptions;
  /** PlanOptions.consistencyCheck of every router. @default true */
  readonly consistencyCheck?: boolean;
  /** PlanOptions.preferCurrent (sticky relays) of every router, as the Router plans. @default true */
  readonly preferCurrent?: boolean;
}

export class SimMesh {
  readonly routers: SimRouter[] = [];
  readonly edges: SimEdge[];
  readonly advertised: Advertised[] = [];
  /** SPAN messages sent (created or deleted), over the whole run. */
  messages = 0;
  delivered = 0;
  /** Invariant breaches seen on delivery (should stay empty). */
  readonly violations: string[] = [];
  /** Spans the receiving table refused (should stay empty: the planner filters first). */
  readonly refusals: string[] = [];
  #random: () => number;

  constructor(init: SimInit) {
    this.#random = mulberry32(init.seed);
    for (let i = 0; i < init.nodes; i++) {
      this.routers.push(new SimRouter(this, i, Math.floor(this.#random() * 0x100000000), init.options ?? {}, init.consistencyCheck ?? true, init.preferCurrent ?? true));
    }
    this.edges = init.edges.map(([a, b]) => ({ a, b, up: false, epoch: 0, queues: [[], []] }));
    for (let e = 0; e < this.edges.length; e++) this.restore(e);
  }

  send(conn: SimConn, msg: SimMessage): void {
    this.messages++;
    conn.out.push(msg);
  }

  advertise(router: number, service: string, serviceIndex: number, instance: number): void {
    const r = this.routers[router]!;
    const fields: SpanFields = {
      peerType: DMSG_PEER.ROUTER,
      pfsType: 0,
      clusterId: serviceClusterId(service),
      nodeId: instanceNodeId(serviceIndex, instance),
      clusterLabel: service,
      nodeLabel: `inst-${instance}`,
      dist: 0,
      rnss: 0,
    };
    const res = r.table.add({ linkId: `local:${service}:${instance}`, connId: null, peerNodeId: null, fields, path: null });
    if (!res.ok) throw new Error(`advertise refused: ${res.message}`);
    this.advertised.push({ router, nodeKey: res.link.nodeKey, service });
    r.replanNode(res.link.nodeKey);
  }

  #connId(e: number, end: 0 | 1): string {
    const edge = this.edges[e]!;
    return `e${edge.a}-${edge.b}#${edge.epoch}@${end === 0 ? edge.a : edge.b}`;
  }

  cut(e: number): void {
    const edge = this.edges[e]!;
    if (!edge.up) return;
    edge.up = false;
    edge.queues = [[], []]; // queued messages are lost
    for (const end of [0, 1] as const) {
      const r = this.routers[end === 0 ? edge.a : edge.b]!;
      const connId = this.#connId(e, end);
      r.conns.delete(connId);
      for (const [id, relay] of r.relays) if (relay.connId === connId) r.relays.delete(id);
      r.table.removeConn(connId);
      // A conn change can change which links are stale (staleLinks): plan all.
      r.replanAll();
    }
  }

  restore(e: number): void {
    const edge = this.edges[e]!;
    if (edge.up) return;
    edge.up = true;
    edge.epoch++;
    edge.queues = [[], []];
    for (const end of [0, 1] as const) {
      const self = end === 0 ? edge.a : edge.b;
      const peer = end === 0 ? edge.b : edge.a;
      const connId = this.#connId(e, end);
      this.routers[self]!.conns.set(connId, {
        conn: { connId, peerNodeId: routerId(peer), peerConn: { peerMask: ~0n & 0xffffffffffffffffn, peerType: DMSG_PEER.ROUTER, peerId: null } },
        edge,
        out: edge.queues[end],
      });
    }
    this.routers[edge.a]!.replanAll();
    this.routers[edge.b]!.replanAll();
  }

  pending(): number {
    let n = 0;
    for (const edge of this.edges) n += edge.queues[0].length + edge.queues[1].length;
    return n;
  }

  /** Delivers one message from a randomly chosen non-empty queue; false when all are empty. */
  step(): boolean {
    const ready: [number, 0 | 1][] = [];
    this.edges.forEach((edge, e) => {
      if (edge.queues[0].length > 0) ready.push([e, 0]);
      if (edge.queues[1].length > 0) ready.push([e, 1]);
    });
    if (ready.length === 0) return false;
    const [e, dir] = ready[Math.floor(this.#random() * ready.length)]!;
    const edge = this.edges[e]!;
    const msg = edge.queues[dir].shift()!;
    const from = this.routers[dir === 0 ? edge.a : edge.b]!;
    const to = this.routers[dir === 0 ? edge.b : edge.a]!;
    this.delivered++;
    this.#deliver(from, to, this.#connId(e, dir === 0 ? 1 : 0), msg);
    return true;
  }

  #deliver(from: SimRouter, to: SimRouter, connId: string, msg: SimMessage): void {
    const linkId = `${connId}/${msg.relayKey}`;
    if (msg.kind === 'SPAN_DELETE') {
      const link = to.table.remove(linkId);
      if (link) to.replanNode(link.nodeKey);
      return;
    }
    const path = msg.path;
    if (new Set(path).size !== path.length) this.violations.push(`repeated node in path ${path.join(',')}`);
    if (path.includes(to.id)) this.violations.push(`path ${path.join(',')} delivered to ${to.id} holds it`);
    if (path[path.length - 1] !== from.id) this.violations.push(`path ${path.join(',')} does not end with sender ${from.id}`);
    if (msg.fields.dist !== path.length - 1) this.violations.push(`dist ${msg.fields.dist} for path of ${path.length}`);
    const res = to.table.add({ linkId, connId, peerNodeId: from.id, fields: msg.fields, path });
    if (!res.ok) {
      this.refusals.push(`${to.id} refused ${linkId}: ${res.reason} ${res.message}`);
      return;
    }
    to.replanNode(res.link.nodeKey);
  }

  /** Delivers up to `max` messages; returns how many. */
  deliver(max: number): number {
    let n = 0;
    while (n < max && this.step()) n++;
    return n;
  }

  /** Runs until no message is queued; throws past `maxSteps` (no convergence). */
  runToQuiescence(maxSteps = 10_000_000): number {
    let n = 0;
    while (this.step()) {
      if (++n > maxSteps) throw new Error(`no quiescence after ${maxSteps} deliveries`);
    }
    return n;
  }

  /** Hop counts from `from` over edges that are up (-1: unreachable). */
  bfs(from: number): number[] {
    const dist = new Array<number>(this.routers.length).fill(-1);
    const adj: number[][] = this.routers.map(() => []);
    for (const e of this.edges) {
      if (!e.up) continue;
      adj[e.a]!.push(e.b);
      adj[e.b]!.push(e.a);
    }
    dist[from] = 0;
    const queue = [from];
    for (let i = 0; i < queue.length; i++) {
      const u = queue[i]!;
      for (const v of adj[u]!) {
        if (dist[v] === -1) {
          dist[v] = dist[u]! + 1;
          queue.push(v);
        }
      }
    }
    return dist;
  }

  upEdgeCount(): number {
    return this.edges.filter((e) => e.up).length;
  }

  /**
   * Problems with the quiescent state (empty when all is well): stale or
   * missing spans, wrong best dist, paths that are not simple paths of the
   * current graph, sender/receiver disagreement, a planner with work left.
   */
  checkConverged(): string[] {
    const problems: string[] = [];
    if (this.pending() > 0) problems.push(`${this.pending()} messages still queued`);
    const byIndex = new Map(this.routers.map((r) => [r.id, r.index]));
    const upPairs = new Set(this.edges.filter((e) => e.up).flatMap((e) => [`${e.a}-${e.b}`, `${e.b}-${e.a}`]));
    const expected = new Set(this.advertised.map((a) => a.nodeKey));
    const hopsFrom = new Map(this.advertised.map((a) => [a.router, this.bfs(a.router)]));
    for (const r of this.routers) {
      for (const node of r.table.nodes()) {
        if (!expected.has(node.key)) problems.push(`router ${r.index} holds unknown node ${node.key}`);
      }
      for (const adv of this.advertised) {
        const hops = hopsFrom.get(adv.router)![r.index]!;
        const node = r.table.node(adv.nodeKey);
        // Received dist d ⇔ d + 1 hops; a link of dist > maxDist is not relayed
        // and a path longer than maxPathLength is not made.
        const { maxDist, maxPathLength } = r.table.options;
        if (hops === -1 || hops > Math.min(maxDist + 2, maxPathLength)) {
          if (node) problems.push(`router ${r.index} holds ${adv.nodeKey} of router ${adv.router}, unreachable or beyond the caps (stale)`);
          continue;
        }
        if (!node) {
          problems.push(`router ${r.index} lacks ${adv.nodeKey} of router ${adv.router} at ${hops} hops`);
          continue;
        }
        const best = node.links[0]!;
        const bestHops = best.connId === null ? 0 : best.fields.dist + 1;
        if (bestHops !== hops) {
          problems.push(`router ${r.index}: best of ${adv.nodeKey} is ${bestHops} hops (dist ${best.fields.dist}), BFS says ${hops}`);
        }
        for (const link of node.links) {
          if (link.connId === null) continue;
          const ids = link.path.map((id) => byIndex.get(id));
          if (ids[0] !== adv.router) problems.push(`router ${r.index}: path ${ids.join('>')} does not start at ${adv.router}`);
          const hopsOfPath = [...ids, r.index];
          for (let i = 0; i + 1 < hopsOfPath.length; i++) {
            if (!upPairs.has(`${hopsOfPath[i]}-${hopsOfPath[i + 1]}`)) {
              problems.push(`router ${r.index}: path ${hopsOfPath.join('>')} uses a link that is down`);
              break;
            }
          }
        }
      }
      // Every received span matches an open relay at the sender, and back.
      for (const [connId, c] of r.conns) {
        const peer = this.routers[c.edge.a === r.index ? c.edge.b : c.edge.a]!;
        const peerConn = [...peer.conns.entries()].find(([, pc]) => pc.edge === c.edge)![0];
        const received = r.table.linksOnConn(connId);
        const sent = [...peer.relays.values()].filter((rel) => rel.connId === peerConn);
        if (received.length !== sent.length) {
          problems.push(`router ${r.index} holds ${received.length} spans on ${connId}, peer ${peer.index} has ${sent.length} relays`);
        }
        for (const rel of sent) {
          const link = r.table.link(`${connId}/${rel.relayId}`);
          if (!link || link.fields.dist !== rel.fields.dist || link.path.join() !== rel.path.join()) {
            problems.push(`relay ${rel.relayId} of ${peer.index} not mirrored at ${r.index}`);
          }
        }
      }
      const again = planRelays(r.table, r.relayConns(), [...r.relays.values()], r.planOptions());
      if (again.create.length + again.delete.length > 0) {
        problems.push(`router ${r.index}: planner still wants ${again.create.length} creates, ${again.delete.length} deletes`);
      }
    }
    return problems;
  }
}

/** Topology builders: edge lists over nodes 0..n-1. */
export const topologies = {
  line: (n: number): [number, number][] => Array.from({ length: n - 1 }, (_, i) => [i, i + 1]),
  ring: (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [i, (i + 1) % n] as [number, number]).filter(([a, b]) => a !== b),
  star: (n: number): [number, number][] => Array.from({ length: n - 1 }, (_, i) => [0, i + 1]),
  full: (n: number): [number, number][] => {
    const out: [number, number][] = [];
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) out.push([a, b]);
    return out;
  },
  /** A random spanning tree plus `extra` random chords (deduplicated). */
  random: (n: number, extra: number, seed: number): [number, number][] => {
    const rnd = mulberry32(seed);
    const out: [number, number][] = [];
    const seen = new Set<string>();
    const add = (a: number, b: number): void => {
      const [x, y] = a < b ? [a, b] : [b, a];
      if (x === y || seen.has(`${x}-${y}`)) return;
      seen.add(`${x}-${y}`);
      out.push([x, y]);
    };
    for (let i = 1; i < n; i++) add(i, Math.floor(rnd() * i));
    for (let k = 0; k < extra; k++) add(Math.floor(rnd() * n), Math.floor(rnd() * n));
    return out;
  },
};
