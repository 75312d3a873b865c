/**
 * Span convergence benchmark (bench name `convergence`): random connected
 * meshes of in-process Routers over memory pairs (seeded; a random spanning
 * tree plus random extra edges for an average degree of AVG_DEGREE).
 *
 * A 10×10 grid with the service on a corner router runs too
 * (CONVERGENCE_GRID=10, 0 to skip). Every router adds a seeded random rnss
 * (DragonFly's per-process DMsgRNSS), so equal-length paths are ranked as
 * in a real mesh.
 *
 * The mesh is built first and left to settle (LNK_CONN on every link, no
 * message in flight). Then one service is advertised on one router; once
 * the mesh is quiet, one link next to that router is cut (the `cut` phase:
 * the link the most routers' best paths cross, among those whose loss
 * leaves the mesh connected; the advertiser is the next router that has
 * one) and every router must see
 * the span at its new BFS distance; then the service is withdrawn; then
 * advertised again and its router killed (all its links cut at once: the
 * death phase). For each phase:
 * - `_ms`: time until every router sees the span with dist = BFS hops - 1
 *   (0 at the advertiser: SpanInfo.dist is the wire dist) (up), or no router sees it any more (down),
 *   taken from the routers' spans$ events as they happen;
 * - `_quiet_ms`: time until no message is queued or in flight on any link;
 * - `_span_msgs`: LNK_SPAN CREATEs and DELETEs the routers sent
 *   (Router.stats().spanMessagesSent deltas, acks not counted), until quiet;
 * - `_msgs`: every message the iocoms wrote (stats().messagesOut deltas:
 *   spans, their acks and closes), until quiet.
 * - `_changed`: `changed` span events of all routers; `_max_router_events`:
 *   the most span events one router emitted; `_false_downs`: `down` events
 *   at routers that can still reach the service (make-before-break broken).
 * A directed link needs at least one span message per phase (up, down,
 * death), so the `_span_msgs_per_link` metrics (span messages / directed
 * links) are 1 at best; a cut next to the origin needs at most 2 per
 * directed link (each relay replaced once, CREATE + DELETE).
 *
 * Times use the bench's clock (--clock, process CPU time by default).
 * The routers share a ManualClock: when a phase goes quiet before every
 * router is right (a lost span is held for the down grace, 4 s by default;
 * repair holds), the clock moves to the next timer and the mesh settles
 * again; `_timer_wait_ms` is how far it moved (not part of `_ms`).
 * A phase that has not converged after CONVERGENCE_LIMIT_S wall seconds
 * (default 60) is cut off; `_span_msgs_at_limit` and `_routers_wrong_at_limit`
 * then say how far it got.
 *
 * Environment: CONVERGENCE_SIZES=50,100,1000 (router counts of random meshes),
 * CONVERGENCE_GRID=10 (grid side; 0: none), CONVERGENCE_REPEATS=N (runs per
 * size with different seeds, median reported; default 1), CONVERGENCE_LIMIT_S,
 * CONVERGENCE_ORIGIN_HOLD_MS (the routers' span option originLossHoldMs,
 * origin-loss-hold.ts; default 0 = off, as the Router's default).
 */
import { loadavg } from 'node:os';
import { Router } from '../src/span/router.ts';
import type { Iocom } from '../src/iocom/iocom.ts';
import type { Advertisement } from '../src/span/router.ts';
import { memoryPair } from '../src/transport/memory.ts';
import { ManualClock } from '../src/util/clock.ts';
import { CLOCKS, currentClock, median, type BenchContext } from './harness.ts';

export const BENCH = 'convergence';
const SERVICE = 'converge';
const AVG_DEGREE = 3.5;
/** The routers' originLossHoldMs (origin-loss-hold.ts): 0 (off, the default) unless CONVERGENCE_ORIGIN_HOLD_MS says otherwise (set by run()). */
let originLossHoldMs = 0;
/** Event-loop turns the mesh must stay quiet for to count as quiet (memory pairs deliver a microtask later). */
const STABLE_TURNS = 3;
const MAX_TURNS = 1_000_000;
const DEFAULT_SIZES = [50, 100, 1000] as const;
const DEFAULT_GRID = 10;
/** Wall seconds a phase may take before the mesh is cut (CONVERGENCE_LIMIT_S). */
const DEFAULT_LIMIT_S = 60;
/** Timer steps a quiet phase may take on the routers' clock before it counts as stuck. */
const MAX_CLOCK_STEPS = 200;

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random connected graph: a random tree, then extra edges up to n·degree/2 edges in total. No loops, no duplicates. */
export function randomGraph(n: number, degree: number, seed: number): Array<[number, number]> {
  const rnd = prng(seed);
  const edges: Array<[number, number]> = [];
  const seen = new Set<number>();
  const add = (a: number, b: number): boolean => {
    if (a === b) return false;
    const key = Math.min(a, b) * n + Math.max(a, b);
    if (seen.has(key)) return false;
    seen.add(key);
    edges.push([a, b]);
    return true;
  };
  for (let i = 1; i < n; i++) add(i, Math.floor(rnd() * i));
  const target = Math.min(Math.round((n * degree) / 2), (n * (n - 1)) / 2);
  for (let tries = 0; edges.length < target && tries < target * 100; tries++) add(Math.floor(rnd() * n), Math.floor(rnd() * n));
  return edges;
}

/** A side×side grid, router r·side + c at row r, column c. */
export function gridGraph(side: number): Array<[number, number]> {
  const edges: Array<[number, number]> = [];
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const i = r * side + c;
      if (c + 1 < side) edges.push([i, i + 1]);
      if (r + 1 < side) edges.push([i, i + side]);
    }
  }
  return edges;
}

/** Hop counts from `from` (-1: unreachable). */
function bfs(n: number, edges: Array<[number, number]>, from: number): Int32Array {
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    adj[a]!.push(b);
    adj[b]!.push(a);
  }
  const hops = new Int32Array(n).fill(-1);
  hops[from] = 0;
  const queue = [from];
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!;
    for (const w of adj[v]!) if (hops[w] === -1) { hops[w] = hops[v]! + 1; queue.push(w); }
  }
  return hops;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Mesh {
  routers: Router[];
  /** Both ends of every link. */
  iocoms: Array<[Iocom, Iocom]>;
  /** Every router's clock (repair holds, down graces, loss memory): it moves only when a quiet mesh waits on a timer. */
  clock: ManualClock;
}

function buildMesh(n: number, edges: Array<[number, number]>, seed: number): Mesh {
  const rnss = prng(seed ^ 0x7a55);
  const clock = new ManualClock();
  const routers = Array.from(
    { length: n },
    (_, i) => new Router({ name: `n${i}`, nodeId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`, localRnss: 1 + Math.floor(rnss() * 0x7ffffffe), iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 }, clock, originLossHoldMs }),
  );
  const iocoms: Array<[Iocom, Iocom]> = [];
  for (const [a, b] of edges) {
    const [sa, sb] = memoryPair();
    iocoms.push([routers[a]!.attach(sa).iocom, routers[b]!.attach(sb).iocom]);
  }
  return { routers, iocoms, clock };
}

/** Nothing queued or in flight on any link, for STABLE_TURNS turns in a row. */
async function quiet(mesh: Mesh, what: string, stop: () => boolean): Promise<void> {
  let stable = 0;
  let last = -1;
  for (let i = 0; i < MAX_TURNS; i++) {
    if (stop()) throw new PhaseTimeout(what);
    let busy = false;
    let sum = 0;
    for (const [a, b] of mesh.iocoms) {
      if (!a.isOpen || !b.isOpen) continue; // a cut link: what was in flight is lost
      const sa = a.stats();
      const sb = b.stats();
      if (sa.queuedBytes > 0 || sb.queuedBytes > 0 || sa.messagesOut !== sb.messagesIn || sb.messagesOut !== sa.messagesIn) {
        busy = true;
        break;
      }
      sum += sa.messagesOut + sb.messagesOut;
    }
    if (!busy && sum === last) {
      if (++stable >= STABLE_TURNS) return;
    } else stable = 0;
    last = busy ? -1 : sum;
    await turn();
  }
  throw new Error(`${BENCH}: not quiet after ${MAX_TURNS} turns: ${what}`);
}

function spanMessages(mesh: Mesh): number {
  let s = 0;
  for (const r of mesh.routers) s += r.stats().spanMessagesSent;
  return s;
}

function linkMessages(mesh: Mesh): number {
  let s = 0;
  for (const [a, b] of mesh.iocoms) s += a.stats().messagesOut + b.stats().messagesOut;
  return s;
}

interface Phase {
  /** Time until every router was right (NaN if the limit came first); timer waits on the routers' clock not included. */
  ms: number;
  /** Router-clock ms the quiet mesh waited on timers (down graces, repair holds) before it was right. */
  timerWaitMs: number;
  quietMs: number;
  spanMsgs: number;
  msgs: number;
  /** The phase hit the time limit: the counts are those at the limit. */
  timedOut: boolean;
  /** Routers not right at the end (0 unless timed out). */
  wrong: number;
  /** `changed` events of all routers. */
  changed: number;
  /** Most span events at one router. */
  maxRouterEvents: number;
  /** `down` events at routers that are right to see the span (make-before-break broken). */
  falseDowns: number;
}

interface RunResult {
  edges: number;
  buildMs: number;
  up: Phase;
  /** One link next to the advertiser cut. */
  cut: Phase | null;
  down: Phase | null;
  /** The advertiser re-advertises, then dies (all its links cut at once). */
  death: Phase | null;
}

class PhaseTimeout extends Error {}

/**
 * Runs one phase: `act()`, then waits until quiet. Every router's view of
 * SERVICE is followed through spans$ (`seen[i]`: router i's dist, or null
 * when it sees none) and the time every router is `good` is taken as it
 * happens. Memory pairs deliver on microtasks, so a busy mesh never yields
 * to timers: the wall-clock limit is checked in the spans$ handler too, and
 * on expiry every link is cut (ending the cascade).
 */
async function phase(
  mesh: Mesh,
  clock: () => number,
  limitS: number,
  act: () => void,
  good: (seen: Array<number | null>, i: number) => boolean,
  what: string,
  /** Router i can reach the service throughout the phase (a `down` there is false). */
  wantsSpan: (i: number) => boolean = () => false,
): Promise<Phase> {
  const n = mesh.routers.length;
  const seen: Array<number | null> = mesh.routers.map((r) => r.spans(SERVICE)[0]?.dist ?? null);
  let goodCount = 0;
  for (let i = 0; i < n; i++) if (good(seen, i)) goodCount++;
  const s0 = spanMessages(mesh);
  const m0 = linkMessages(mesh);
  const deadline = Date.now() + limitS * 1000;
  let reachedAt = NaN;
  let events = 0;
  let changed = 0;
  let falseDowns = 0;
  const perRouter = new Array<number>(n).fill(0);
  let limit: { spanMsgs: number; msgs: number; wrong: number; t: number } | null = null;
  /** Router-clock ms the phase waited on timers (not in `_ms`, which is the bench clock). */
  let clockMs = 0;
  const cut = (): void => {
    if (limit !== null) return;
    limit = { spanMsgs: spanMessages(mesh) - s0, msgs: linkMessages(mesh) - m0, wrong: n - goodCount, t: clock() };
    for (const [a, b] of mesh.iocoms) {
      a.destroy();
      b.destroy();
    }
  };
  const t0 = clock();
  const subs = mesh.routers.map((r, i) =>
    r.spans$.subscribe((e) => {
      if (e.span.service !== SERVICE || limit !== null) return;
      perRouter[i]!++;
      if (e.type === 'changed') changed++;
      if (e.type === 'down' && wantsSpan(i)) falseDowns++;
      const before = good(seen, i);
      seen[i] = e.type === 'down' ? null : e.span.dist;
      const after = good(seen, i);
      if (before !== after) {
        goodCount += after ? 1 : -1;
        if (goodCount === n) reachedAt = clock();
      }
      if ((++events & 1023) === 0 && Date.now() > deadline) cut();
    }),
  );
  try {
    act();
    if (goodCount === n && Number.isNaN(reachedAt)) reachedAt = clock();
    try {
      await quiet(mesh, what, () => limit !== null || Date.now() > deadline);
      // Quiet but not right: routers wait on their clocks (a lost span's
      // down grace, repair holds). Move the routers' clock to the next
      // timer and let the mesh settle again (bounded).
      for (let k = 0; k < MAX_CLOCK_STEPS && goodCount !== n && mesh.clock.pending > 0; k++) {
        const step = mesh.clock.delays[0]!;
        clockMs += step;
        mesh.clock.advance(step);
        await quiet(mesh, what, () => limit !== null || Date.now() > deadline);
      }
    } catch (err) {
      if (!(err instanceof PhaseTimeout)) throw err;
      cut();
    }
  } finally {
    subs.forEach((s) => s.unsubscribe());
  }
  const maxRouterEvents = Math.max(0, ...perRouter);
  if (limit !== null) {
    const l = limit as { spanMsgs: number; msgs: number; wrong: number; t: number };
    return { ms: NaN, timerWaitMs: clockMs, quietMs: NaN, spanMsgs: l.spanMsgs, msgs: l.msgs, timedOut: true, wrong: l.wrong, changed, maxRouterEvents, falseDowns };
  }
  const tq = clock();
  // Every router must be right once quiet: a wrong end state is a failure, not a slow run.
  if (goodCount !== n) throw new Error(`${BENCH}: ${what}: the mesh went quiet with ${n - goodCount} routers not right`);
  return { ms: (reachedAt - t0) * 1000, timerWaitMs: clockMs, quietMs: (tq - t0) * 1000, spanMsgs: spanMessages(mesh) - s0, msgs: linkMessages(mesh) - m0, timedOut: false, wrong: 0, changed, maxRouterEvents, falseDowns };
}

/** Links next to `router` whose loss leaves the graph connected. */
function nonBridgeLinks(n: number, edges: Array<[number, number]>, router: number): number[] {
  const out: number[] = [];
  edges.forEach(([a, b], k) => {
    if (a !== router && b !== router) return;
    if (!bfs(n, edges.filter((_, j) => j !== k), router).includes(-1)) out.push(k);
  });
  return out;
}

/**
 * The advertiser: `preferred`, or the next router (in index order) with a
 * link whose loss leaves the mesh connected, so the cut phase is a failover
 * and not a death.
 */
function pickAdvertiser(n: number, edges: Array<[number, number]>, preferred: number): number {
  for (let d = 0; d < n; d++) {
    const i = (preferred + d) % n;
    if (nonBridgeLinks(n, edges, i).length > 0) return i;
  }
  return preferred;
}

/** The link next to `origin` that the most routers' best paths to SERVICE cross (lowest index on a tie), among those whose loss leaves the mesh connected. */
function busiestOriginLink(mesh: Mesh, edges: Array<[number, number]>, origin: number): number {
  const candidates = new Set(nonBridgeLinks(mesh.routers.length, edges, origin));
  const originId = mesh.routers[origin]!.nodeId;
  const uses = new Map<string, number>();
  for (const r of mesh.routers) {
    const p = r.spans(SERVICE)[0]?.path ?? [];
    if (p[0] === originId) {
      const next = p[1] ?? r.nodeId;
      uses.set(next, (uses.get(next) ?? 0) + 1);
    }
  }
  let best = -1;
  let bestUses = -1;
  edges.forEach(([a, b], k) => {
    if ((a !== origin && b !== origin) || (candidates.size > 0 && !candidates.has(k))) return;
    const u = uses.get(mesh.routers[a === origin ? b : a]!.nodeId) ?? 0;
    if (u > bestUses) {
      best = k;
      bestUses = u;
    }
  });
  return best;
}

async function runOnce(n: number, edges: Array<[number, number]>, advertiser: number, seed: number, clock: () => number, limitS: number): Promise<RunResult> {
  const hops = bfs(n, edges, advertiser);
  const expected = Array.from(hops, (h, i) => (i === advertiser ? 0 : h - 1));
  const tb = clock();
  const mesh = buildMesh(n, edges, seed);
  const result: RunResult = { edges: edges.length, buildMs: NaN, up: null as unknown as Phase, cut: null, down: null, death: null };
  try {
    await quiet(mesh, 'after LNK_CONN', () => false);
    result.buildMs = (clock() - tb) * 1000;
    let ad: Advertisement | undefined;
    result.up = await phase(mesh, clock, limitS, () => (ad = mesh.routers[advertiser]!.advertise({ service: SERVICE, instance: 'svc' })), (seen, i) => seen[i] === expected[i], 'service up');
    if (result.up.timedOut) return result;
    // Every router's table must agree with BFS, checked directly too.
    for (let i = 0; i < n; i++) {
      const sp = mesh.routers[i]!.spans(SERVICE);
      if (sp.length !== 1 || sp[0]!.dist !== expected[i]) throw new Error(`${BENCH}: n${i} sees ${sp.map((x) => x.dist).join(',') || 'nothing'}, expected dist ${expected[i]}`);
    }
    // One link next to the advertiser is cut: every router still connected must fail over without a gap.
    const cutLink = busiestOriginLink(mesh, edges, advertiser);
    const rest = edges.filter((_, k) => k !== cutLink);
    const after = Array.from(bfs(n, rest, advertiser), (h, i) => (i === advertiser ? 0 : h < 0 ? null : h - 1));
    result.cut = await phase(
      mesh,
      clock,
      limitS,
      () => {
        const [a, b] = mesh.iocoms[cutLink]!;
        a.destroy();
        b.destroy();
      },
      (seen, i) => seen[i] === after[i],
      'link next to the advertiser cut',
      (i) => after[i] !== null,
    );
    if (result.cut.timedOut) return result;
    result.down = await phase(mesh, clock, limitS, () => ad!.close(), (seen, i) => seen[i] === null, 'service withdrawn');
    if (!result.down.timedOut) for (let i = 0; i < n; i++) if (mesh.routers[i]!.spans(SERVICE).length !== 0) throw new Error(`${BENCH}: n${i} still sees the withdrawn span`);
    if (result.down.timedOut) return result;
    // The advertiser comes back, then dies: every link of it is cut at once.
    mesh.routers[advertiser]!.advertise({ service: SERVICE, instance: 'svc' });
    await quiet(mesh, 'service up again', () => false);
    result.death = await phase(
      mesh,
      clock,
      limitS,
      () => mesh.iocoms.forEach(([a, b], k) => {
        if (edges[k]![0] === advertiser || edges[k]![1] === advertiser) {
          a.destroy();
          b.destroy();
        }
      }),
      (seen, i) => i === advertiser || seen[i] === null,
      'advertiser died',
    );
    return result;
  } finally {
    for (const [a, b] of mesh.iocoms) {
      a.destroy();
      b.destroy();
    }
    await Promise.all(mesh.routers.map((r) => r.close()));
  }
}

function numbersFromEnv(name: string, fallback: number[], min: number, max: number): number[] {
  const env = process.env[name];
  if (env === undefined || env.trim() === '') return fallback;
  const list = env.split(',').map((s) => Number(s.trim()));
  for (const v of list) if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name}: bad value ${v} (allowed: ${min}..${max})`);
  return list;
}

/** Bench entry point (`npm run bench -- convergence`); the runner calls `endBench`. */
export async function run(ctx: BenchContext): Promise<void> {
  const { reporter } = ctx;
  const clock = CLOCKS[currentClock()];
  const sizes = numbersFromEnv('CONVERGENCE_SIZES', [...DEFAULT_SIZES], 2, 100_000).map(Math.floor);
  const [limitS] = numbersFromEnv('CONVERGENCE_LIMIT_S', [DEFAULT_LIMIT_S], 1, 3600);
  originLossHoldMs = numbersFromEnv('CONVERGENCE_ORIGIN_HOLD_MS', [0], 0, 0x7fffffff)[0]!;
  reporter.note(`a grid and random connected meshes (random tree + extra edges, average degree ${AVG_DEGREE}, seeded), in-process Routers over memory pairs, seeded random rnss, keepalive off; one service advertised on one router (a corner of the grid), one link next to it cut, then withdrawn, then advertised again and its router killed (every link cut: the death phase); times on the ${currentClock()} clock; each phase cut off after ${limitS} s wall; origin-loss holds ${originLossHoldMs > 0 ? `on (originLossHoldMs ${originLossHoldMs})` : 'off (the default; CONVERGENCE_ORIGIN_HOLD_MS=2000 turns them on)'}`);
  reporter.note(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const [grid] = numbersFromEnv('CONVERGENCE_GRID', [DEFAULT_GRID], 0, 300).map(Math.floor);
  const [repeats] = numbersFromEnv('CONVERGENCE_REPEATS', [1], 1, 100).map(Math.floor);
  const configs: Array<{ label: string; n: number; graph: (r: number) => { edges: Array<[number, number]>; advertiser: number; seed: number } }> = [];
  if (grid! > 1) configs.push({ label: `grid${grid}x${grid}`, n: grid! * grid!, graph: (r) => ({ edges: gridGraph(grid!), advertiser: 0, seed: 7 + r }) });
  for (const n of sizes) {
    configs.push({
      label: `${n}`,
      n,
      graph: (r) => {
        const seed = 1000 * n + r;
        const edges = randomGraph(n, AVG_DEGREE, seed);
        return { edges, advertiser: pickAdvertiser(n, edges, Math.floor(prng(seed ^ 0x5eed)() * n)), seed };
      },
    });
  }
  for (const { label, n, graph } of configs) {
    const results: RunResult[] = [];
    for (let r = 0; r < repeats!; r++) {
      const w0 = Date.now();
      const g = graph(r);
      // A progress line at the start, every 5 s while it runs (the 1000-router run takes a while), and at the end.
      const res = await reporter.phase(`${BENCH}: ${label} (${n} routers), run ${r + 1}/${repeats}`, () => runOnce(n, g.edges, g.advertiser, g.seed, clock, limitS!));
      const heap = process.memoryUsage().heapUsed / 1e6;
      const show = (p: Phase | null): string =>
        p === null ? 'not run' : p.timedOut ? `NOT converged after ${limitS} s (${p.wrong} routers wrong, ${p.spanMsgs} span msgs so far)` : `${p.ms.toFixed(1)} ms + ${p.timerWaitMs} ms of timers (${p.spanMsgs} span msgs, ${p.changed} changed, max ${p.maxRouterEvents} events at a router, ${p.falseDowns} false downs)`;
      const degree = g.edges.filter(([a, b]) => a === g.advertiser || b === g.advertiser).length;
      reporter.progress(`${BENCH}: ${label}: ${res.edges} links, the advertiser has ${degree}, build ${res.buildMs.toFixed(0)} ms, up ${show(res.up)}, cut ${show(res.cut)}, down ${show(res.down)}, death ${show(res.death)}; ${((Date.now() - w0) / 1000).toFixed(1)} s wall, heap ${heap.toFixed(0)} MB`);
      results.push(res);
    }
    const edges = median(results.map((r) => r.edges));
    reporter.note(`${label}: ${n} routers, ${edges} links (${2 * edges} directed), mesh build + LNK_CONN settle ${median(results.map((r) => r.buildMs)).toFixed(0)} ms; ${repeats} seeded graph(s), median`);
    for (const dir of ['up', 'cut', 'down', 'death'] as const) {
      const phases = results.map((r) => ({ p: r[dir], links: 2 * r.edges })).filter((x) => x.p !== null) as Array<{ p: Phase; links: number }>;
      if (phases.length === 0) continue;
      const p = `converge_${dir}_${label}`;
      const done = phases.filter((x) => !x.p.timedOut);
      const med = (list: typeof phases, f: (x: { p: Phase; links: number }) => number): number => median(list.map(f));
      if (done.length > 0) {
        reporter.result({ bench: BENCH, metric: `${p}_ms`, value: med(done, (x) => x.p.ms), unit: 'ms' });
        reporter.result({ bench: BENCH, metric: `${p}_quiet_ms`, value: med(done, (x) => x.p.quietMs), unit: 'ms' });
        reporter.result({ bench: BENCH, metric: `${p}_timer_wait_ms`, value: med(done, (x) => x.p.timerWaitMs), unit: 'router-clock ms' });
        reporter.result({ bench: BENCH, metric: `${p}_span_msgs`, value: med(done, (x) => x.p.spanMsgs), unit: 'msgs' });
        reporter.result({ bench: BENCH, metric: `${p}_span_msgs_per_link`, value: med(done, (x) => x.p.spanMsgs / x.links), unit: 'ratio' });
        reporter.result({ bench: BENCH, metric: `${p}_msgs`, value: med(done, (x) => x.p.msgs), unit: 'msgs' });
        if (dir === 'cut') {
          reporter.result({ bench: BENCH, metric: `${p}_changed`, value: med(done, (x) => x.p.changed), unit: 'events' });
          reporter.result({ bench: BENCH, metric: `${p}_max_router_events`, value: med(done, (x) => x.p.maxRouterEvents), unit: 'events' });
          reporter.result({ bench: BENCH, metric: `${p}_false_downs`, value: Math.max(...done.map((x) => x.p.falseDowns)), unit: 'events' });
        }
      }
      const cut = phases.filter((x) => x.p.timedOut);
      if (cut.length > 0) {
        reporter.note(`${p}: ${cut.length} of ${phases.length} run(s) did not converge within ${limitS} s wall; the *_at_limit metrics are counts when cut off`);
        reporter.result({ bench: BENCH, metric: `${p}_span_msgs_at_limit`, value: med(cut, (x) => x.p.spanMsgs), unit: 'msgs' });
        reporter.result({ bench: BENCH, metric: `${p}_routers_wrong_at_limit`, value: med(cut, (x) => x.p.wrong), unit: 'routers' });
      }
    }
  }
}
