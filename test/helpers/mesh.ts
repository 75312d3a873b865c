/** In-process meshes of Routers over in-memory links. */
import { firstValueFrom, filter, type Observable } from 'rxjs';
import { Router, type RouterOptions, type SpanInfo } from '../../src/span/router.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import type { Iocom } from '../../src/iocom/iocom.ts';

export interface MeshLink {
  a: number;
  b: number;
  iocoms: [Iocom, Iocom];
  /** The routers' conn ids for this link: [on a, on b]. */
  connIds: [string, string];
  /** Both ends are still open. */
  readonly up: boolean;
  cut(): void;
}

export interface Mesh {
  routers: Router[];
  links: MeshLink[];
  connect(a: number, b: number): MeshLink;
  /** The links that are up now. */
  liveLinks(): MeshLink[];
  close(): Promise<void>;
}

/** Deterministic node ids: node i gets 00000000-0000-4000-8000-<i as 12 hex digits>. */
export function nodeIdOf(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

export interface MeshOptions extends RouterOptions {
  /** Per-router options (merged over the shared ones). */
  perRouter?: (i: number) => RouterOptions;
}

export function createMesh(n: number, edges: Array<[number, number]>, options: MeshOptions = {}): Mesh {
  const { perRouter, ...shared } = options;
  const routers = Array.from(
    { length: n },
    (_, i) => new Router({ name: `n${i}`, nodeId: nodeIdOf(i), localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 }, ...shared, ...perRouter?.(i) }),
  );
  const links: MeshLink[] = [];
  const connect = (a: number, b: number): MeshLink => {
    const [sa, sb] = memoryPair();
    const la = routers[a]!.attach(sa);
    const lb = routers[b]!.attach(sb);
    const link: MeshLink = {
      a,
      b,
      iocoms: [la.iocom, lb.iocom],
      connIds: [la.connId, lb.connId],
      get up() {
        return la.iocom.isOpen && lb.iocom.isOpen;
      },
      cut: () => {
        la.iocom.destroy();
        lb.iocom.destroy();
      },
    };
    links.push(link);
    return link;
  };
  for (const [a, b] of edges) connect(a, b);
  return {
    routers,
    links,
    connect,
    liveLinks: () => links.filter((l) => l.up),
    async close() {
      for (const l of links) l.cut();
      await Promise.all(routers.map((r) => r.close()));
    },
  };
}

/**
 * Wait until `check()` holds. Re-checks after each macrotask turn (bounded),
 * never on a timer.
 */
export async function until(check: () => boolean, what: string, maxTurns = 20000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`condition not reached after ${maxTurns} event-loop turns: ${what}`);
}

/** One macrotask turn (every queued microtask and memory-pair delivery before it has run). */
export function turn(): Promise<void> {
  return new Promise<void>((r) => setImmediate(r));
}

/**
 * Quiescence: on every live link nothing is queued and every message one end
 * wrote has been received by the other, and the counters stayed so for
 * `stableTurns` turns in a row (memory pairs deliver a microtask later, the
 * router acks a microtask later). Bounded; throws with `what`.
 */
export async function quiesce(mesh: Pick<Mesh, 'liveLinks'>, what = 'quiescence', stableTurns = 3, maxTurns = 20000): Promise<void> {
  let last = '';
  let stable = 0;
  for (let i = 0; i < maxTurns; i++) {
    let busy = false;
    const sig: number[] = [];
    for (const l of mesh.liveLinks()) {
      const [a, b] = l.iocoms.map((io) => io.stats()) as [ReturnType<Iocom['stats']>, ReturnType<Iocom['stats']>];
      if (a.queuedBytes > 0 || b.queuedBytes > 0 || a.messagesOut !== b.messagesIn || b.messagesOut !== a.messagesIn) busy = true;
      sig.push(a.messagesOut, b.messagesOut);
    }
    const s = sig.join(',');
    if (!busy && s === last) {
      if (++stable >= stableTurns) return;
    } else stable = 0;
    last = s;
    await turn();
  }
  throw new Error(`not quiescent after ${maxTurns} event-loop turns: ${what}`);
}

/** The nearest span of `service` (spans(service) is nearest first). */
export function spanOf(r: Router, service: string): SpanInfo | undefined {
  return r.spans(service)[0];
}

export function firstEvent<T>(o: Observable<T>, pred: (v: T) => boolean): Promise<T> {
  return firstValueFrom(o.pipe(filter(pred)));
}

/** Received span links per conn id, read from describeTree() (every link, not only the best). */
export function receivedPerConn(r: Router): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of r.describeTree().matchAll(/ via=(c\d+)\(/g)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
  return out;
}

/**
 * Transaction state left on live links beyond the span/conn baseline: each
 * end of a link holds its CONN and the peer's (1 + 1), the spans it sent
 * (= what the other end holds from it) and the spans it received. Returns
 * one line per mismatch (empty: no leftover transaction). Call at quiescence.
 */
export function leftoverTransactions(mesh: Mesh): string[] {
  const out: string[] = [];
  const received = mesh.routers.map((r) => receivedPerConn(r));
  for (const l of mesh.liveLinks()) {
    const ends: Array<[number, number]> = [[0, 1], [1, 0]];
    for (const [x, y] of ends) {
      const rx = [l.a, l.b][x]!;
      const ry = [l.a, l.b][y]!;
      const st = l.iocoms[x].stats();
      const wantPeer = 1 + (received[rx]!.get(l.connIds[x]) ?? 0);
      const wantWe = 1 + (received[ry]!.get(l.connIds[y]) ?? 0);
      if (st.peerOpened !== wantPeer || st.weOpened !== wantWe) {
        out.push(`n${rx}-n${ry} on n${rx}: weOpened ${st.weOpened} (baseline ${wantWe}), peerOpened ${st.peerOpened} (baseline ${wantPeer})`);
      }
    }
  }
  return out;
}

/** Hop counts from `from` over the given undirected edges (BFS); unreachable nodes are absent. */
export function bfs(n: number, edges: ReadonlyArray<readonly [number, number]>, from: number): Map<number, number> {
  const adj = Array.from({ length: n }, () => [] as number[]);
  for (const [a, b] of edges) {
    adj[a]!.push(b);
    adj[b]!.push(a);
  }
  const dist = new Map<number, number>([[from, 0]]);
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of adj[v]!) {
      if (dist.has(w)) continue;
      dist.set(w, dist.get(v)! + 1);
      queue.push(w);
    }
  }
  return dist;
}

/** A seeded linear congruential generator in [0, 1). */
export function lcg(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** A random connected graph on n nodes: a random tree plus up to `extra` more edges (seeded). */
export function randomGraph(n: number, extra: number, rand: () => number): Array<[number, number]> {
  const edges: Array<[number, number]> = [];
  const seen = new Set<string>();
  const add = (a: number, b: number): void => {
    const k = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (a === b || seen.has(k)) return;
    seen.add(k);
    edges.push([a, b]);
  };
  for (let i = 1; i < n; i++) add(i, Math.floor(rand() * i));
  for (let i = 0; i < extra; i++) add(Math.floor(rand() * n), Math.floor(rand() * n));
  return edges;
}
