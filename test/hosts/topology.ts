/**
 * Test-host topologies: which hosts exist and which veth links join them,
 * the address plan of those links, and the pure graph questions the
 * scenarios ask (hop counts with some links cut and some hosts down, the
 * links crossing a cut set). No I/O besides reading a topology file.
 */
import { readFileSync } from 'node:fs';
import { mulberry32 } from '../helpers/prng.ts';

/** A topology file (test/hosts/topologies/*.json). */
export interface Topology {
  /** Short name, used in reports. */
  readonly name: string;
  /** Host names: 1-8 characters of [a-z0-9], unique. */
  readonly hosts: readonly string[];
  /** Undirected links as [hostA, hostB]; hostA dials hostB. No self links, no duplicates. */
  readonly links: readonly (readonly [string, string])[];
  /** Host groups of a designated partition (two or more groups covering every host). @default none */
  readonly sites?: readonly (readonly string[])[];
}

/** One veth link with its /30 subnet. */
export interface LinkPlan {
  /** Index in Topology.links. */
  readonly index: number;
  readonly a: string;
  readonly b: string;
  /** Interface name on each side (same name in both namespaces). */
  readonly ifname: string;
  readonly addrA: string;
  readonly addrB: string;
  /** Prefix length of both addresses (30). */
  readonly prefix: number;
}

/** Thrown for a malformed topology file; `code` is stable. */
export class TopologyError extends Error {
  readonly code = 'BAD_TOPOLOGY';
  constructor(message: string) {
    super(message);
    this.name = 'TopologyError';
  }
}

const HOST_RE = /^[a-z0-9]{1,8}$/;
/** Links per topology: the /30 plan inside 10.99.0.0/16 holds 16384. */
export const MAX_LINKS = 16384;

/** Check a parsed topology object; throws TopologyError naming the first fault. */
export function parseTopology(json: unknown): Topology {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TopologyError('topology must be a JSON object');
  const o = json as Record<string, unknown>;
  if (typeof o['name'] !== 'string' || o['name'].length === 0) throw new TopologyError('"name" must be a non-empty string');
  const hosts = o['hosts'];
  if (!Array.isArray(hosts) || hosts.length < 2) throw new TopologyError('"hosts" must list at least two hosts');
  const seen = new Set<string>();
  for (const h of hosts) {
    if (typeof h !== 'string' || !HOST_RE.test(h)) throw new TopologyError(`host ${JSON.stringify(h)}: expected 1-8 characters of [a-z0-9]`);
    if (seen.has(h)) throw new TopologyError(`host ${h} listed twice`);
    seen.add(h);
  }
  const links = o['links'];
  if (!Array.isArray(links) || links.length === 0) throw new TopologyError('"links" must list at least one link');
  if (links.length > MAX_LINKS) throw new TopologyError(`at most ${MAX_LINKS} links`);
  const pairs = new Set<string>();
  for (const l of links) {
    if (!Array.isArray(l) || l.length !== 2 || typeof l[0] !== 'string' || typeof l[1] !== 'string') throw new TopologyError(`link ${JSON.stringify(l)}: expected [hostA, hostB]`);
    const [a, b] = l as [string, string];
    if (!seen.has(a) || !seen.has(b)) throw new TopologyError(`link ${a}-${b}: unknown host`);
    if (a === b) throw new TopologyError(`link ${a}-${b}: a host cannot link to itself`);
    const key = a < b ? `${a} ${b}` : `${b} ${a}`;
    if (pairs.has(key)) throw new TopologyError(`link ${a}-${b} listed twice`);
    pairs.add(key);
  }
  let sites: string[][] | undefined;
  if (o['sites'] !== undefined) {
    const s = o['sites'];
    if (!Array.isArray(s) || s.length < 2 || !s.every((g) => Array.isArray(g) && g.length > 0 && g.every((h) => typeof h === 'string' && seen.has(h)))) {
      throw new TopologyError('"sites" must be two or more non-empty lists of known hosts');
    }
    const all = (s as string[][]).flat();
    if (all.length !== seen.size || new Set(all).size !== seen.size) throw new TopologyError('"sites" must put every host in exactly one site');
    sites = s as string[][];
  }
  for (const k of Object.keys(o)) if (!['name', 'hosts', 'links', 'sites'].includes(k)) throw new TopologyError(`unknown key "${k}"`);
  const topo: Topology = { name: o['name'], hosts: hosts as string[], links: (links as [string, string][]).map(([a, b]) => [a, b] as const), ...(sites ? { sites } : {}) };
  if (!isConnected(topo, new Set(), new Set(topo.hosts))) throw new TopologyError('the topology must be connected');
  return topo;
}

/** Read and check a topology file. */
export function loadTopology(path: string): Topology {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TopologyError(`${path}: ${(err as Error).message}`);
  }
  return parseTopology(json);
}

/** The address plan: link k gets 10.99.0.0/16's k-th /30; its first host .1, its second .2. */
export function planLinks(topo: Topology): LinkPlan[] {
  return topo.links.map(([a, b], index) => {
    const base = index * 4;
    const net = `10.99.${(base >> 8) & 255}.`;
    const low = base & 255;
    return { index, a, b, ifname: `v${index}`, addrA: `${net}${low + 1}`, addrB: `${net}${low + 2}`, prefix: 30 };
  });
}

/**
 * Hop counts from `from` to every host reachable over links not in `cut`
 * (indexes into topo.links) through hosts in `live`. `from` itself is 0;
 * unreachable hosts are absent.
 */
export function hops(topo: Topology, from: string, cut: ReadonlySet<number>, live: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  if (!live.has(from)) return out;
  out.set(from, 0);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const h = queue[i]!;
    const d = out.get(h)!;
    topo.links.forEach(([a, b], k) => {
      if (cut.has(k)) return;
      const other = a === h ? b : b === h ? a : undefined;
      if (other === undefined || !live.has(other) || out.has(other)) return;
      out.set(other, d + 1);
      queue.push(other);
    });
  }
  return out;
}

/** Whether every host of `live` reaches every other. */
export function isConnected(topo: Topology, cut: ReadonlySet<number>, live: ReadonlySet<string>): boolean {
  const first = [...live][0];
  return first === undefined || hops(topo, first, cut, live).size === live.size;
}

/** Indexes of the links with one end in `side` and the other outside it. */
export function cutSet(topo: Topology, side: ReadonlySet<string>): number[] {
  const out: number[] = [];
  topo.links.forEach(([a, b], k) => {
    if (side.has(a) !== side.has(b)) out.push(k);
  });
  return out;
}

/**
 * What each live host's span table should hold when converged: for host X,
 * every other reachable live host Y's instance at span distance hops-1
 * (a direct neighbour's span is at distance 0).
 */
export function expectedSpans(topo: Topology, cut: ReadonlySet<number>, live: ReadonlySet<string>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const x of live) {
    const m = new Map<string, number>();
    for (const [y, d] of hops(topo, x, cut, live)) if (y !== x) m.set(y, d - 1);
    out.set(x, m);
  }
  return out;
}

/** A ring of n hosts h0..h(n-1). */
export function ringTopology(n: number): Topology {
  const hosts = Array.from({ length: n }, (_, i) => `h${i}`);
  return { name: `ring${n}`, hosts, links: hosts.map((h, i) => [h, hosts[(i + 1) % n]!] as const) };
}

/** A w x h grid, hosts named gRC. */
export function gridTopology(w: number, h: number): Topology {
  const name = (r: number, c: number): string => `g${r}${c}`;
  const hosts: string[] = [];
  const links: [string, string][] = [];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      hosts.push(name(r, c));
      if (c + 1 < w) links.push([name(r, c), name(r, c + 1)]);
      if (r + 1 < h) links.push([name(r, c), name(r + 1, c)]);
    }
  }
  return { name: `grid${w}x${h}`, hosts, links };
}

/** A random connected mesh: a random spanning tree plus `extra` random links, from `seed`. */
export function randomMeshTopology(n: number, extra: number, seed: number): Topology {
  const rnd = mulberry32(seed);
  const hosts = Array.from({ length: n }, (_, i) => `m${i}`);
  const links: [string, string][] = [];
  const has = (a: string, b: string): boolean => links.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
  for (let i = 1; i < n; i++) links.push([hosts[Math.floor(rnd() * i)]!, hosts[i]!]);
  for (let tries = 0; links.length < n - 1 + extra && tries < 100 * (extra + 1); tries++) {
    const a = hosts[Math.floor(rnd() * n)]!;
    const b = hosts[Math.floor(rnd() * n)]!;
    if (a !== b && !has(a, b)) links.push([a, b]);
  }
  return { name: `random${n}-seed${seed}`, hosts, links };
}

/**
 * The span table of a service run by programs linked to the relays of
 * `origins`, as each live host's relay should hold it when converged:
 * instance (the origin's name) -> span distance, which is the hop count
 * from the origin (its own relay sees the program at distance 0).
 */
export function expectedServiceSpans(topo: Topology, cut: ReadonlySet<number>, live: ReadonlySet<string>, origins: readonly string[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const x of live) out.set(x, new Map());
  for (const o of origins) {
    for (const [x, d] of hops(topo, o, cut, live)) out.get(x)!.set(o, d);
  }
  return out;
}
