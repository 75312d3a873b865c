/**
 * DLM benchmark (bench name `dlm`), one core, in process:
 * - lock+unlock cycles per second with the master local (low-level API,
 *   callbacks drained per cycle; bench/dlm-local-cases.ts), beside a raw
 *   baseline measured in the same run: a Map-based lock table doing the same
 *   calls (set, callback, delete); measured in a fresh process
 *   (bench/dlm-local-worker.ts), then again here interleaved with the Map
 *   baseline and the remote cases (`dlm_local_mixed_cycles_per_s`, see run());
 * - the same through the TypeScript API (promises);
 * - with the master remote on a second in-process node over the simulated
 *   transport (every message encoded and decoded), one resource at a time
 *   and 100 resources in flight, beside a raw round trip over the same
 *   transport (encode, deliver, decode, answer): a cycle needs two round
 *   trips, so 0.5 of the raw rate is the limit;
 * - two nodes contending for one resource (each cycle: both lock EX in turn).
 * - over the real stack: two in-process Routers on a memory link, midcomms
 *   sessions, the DLM's MidcommsEndpoint: remote cycles (one at a time and
 *   100 resources in flight) beside a raw transaction round trip (88-byte
 *   aux to an echo service) on the same routers.
 * - two processes over TCP on 127.0.0.1 (bench/dlm-remote.ts): the issue's
 *   `rpc1_raw_per_s`, `dlm_remote_cycles_per_s`,
 *   `dlm_remote_parallel_cycles_per_s` and `dlm_contended_cycles_per_s`.
 * - recovery (issue 14, bench/dlm-recovery.ts on the simulator and
 *   bench/dlm-recovery-mesh.ts over real routers): from a member's death to
 *   locks granted again, 3 and 7 nodes, 10,000 resources.
 * The in-process rows above carry `sim_` / `mesh_` in their names.
 */
import { Dlm, DlmSim, LKM, ManualScheduler, MidcommsEndpoint, newLksb, type Lockspace } from '../src/services/dlm/index.ts';
import { localBatch, localSink, mapBatch } from './dlm-local-cases.ts';
import { measureLocalFresh } from './dlm-local-fresh.ts';
import { midcomms, type Midcomms } from '../src/services/midcomms/index.ts';
import { Router, SVC_CMD } from '../src/span/index.ts';
import { memoryPair } from '../src/transport/memory.ts';
import { DLM_VERSION, decodeMessage, emptyMessage, encodeMessage, MSG } from '../src/services/dlm/message.ts';
import { CLOCKS, currentClock, measureInterleaved, oneLine, type BenchContext } from './harness.ts';
import { runTwoProcessRows } from './dlm-remote.ts';
import { runRecoveryRows } from './dlm-recovery.ts';
import { runMeshRecoveryRows } from './dlm-recovery-mesh.ts';
import { runMdClusterRows } from './md-cluster.ts';

export const BENCH = 'dlm';
const BATCH = 256;

let sink = 0;
/** Keeps results observable so the optimiser cannot drop the work. */
export function benchSink(): number {
  return sink + localSink();
}

const NAMES = Array.from({ length: 100 }, (_, i) => `res${i}`);

/** Two nodes; node 2 locks resources mastered by node 1 (pinned directory, master by first request). */
function remoteSetup(): { sim: DlmSim; ls2: ReturnType<Dlm['newLockspace']> } {
  const sim = new DlmSim({ nodes: [1, 2], hash: () => 0, tossMs: 1e12 });
  const ls1 = sim.node(1).newLockspace('bench', { lvblen: 0, members: [1, 2] });
  const ls2 = sim.node(2).newLockspace('bench', { lvblen: 0, members: [1, 2] });
  // Node 1 (the directory) masters every resource: an NL lock there pins it.
  const keep = newLksb(0);
  for (const n of NAMES) ls1.lock(LKM.NL, { ...keep }, 0, n, () => {});
  sim.runPending();
  return { sim, ls2 };
}

function remoteBatch(parallel: number): () => number {
  const { sim, ls2 } = remoteSetup();
  const lksbs = Array.from({ length: parallel }, () => newLksb(0));
  const ast = (): void => {
    sink++;
  };
  return () => {
    let done = 0;
    while (done < BATCH) {
      for (let j = 0; j < parallel; j++) ls2.lock(LKM.EX, lksbs[j]!, 0, NAMES[j % NAMES.length]!, ast);
      sim.runPending();
      for (let j = 0; j < parallel; j++) ls2.unlock(lksbs[j]!.lkid, 0, lksbs[j]!);
      sim.runPending();
      done += parallel;
    }
    return done;
  };
}

function contendedBatch(): () => number {
  const sim = new DlmSim({ nodes: [1, 2], hash: () => 0, tossMs: 1e12 });
  const ls = [1, 2].map((id) => sim.node(id).newLockspace('bench', { lvblen: 0, members: [1, 2] }));
  const a = newLksb(0);
  const b = newLksb(0);
  const ast = (): void => {
    sink++;
  };
  return () => {
    for (let k = 0; k < BATCH / 2; k++) {
      ls[0]!.lock(LKM.EX, a, 0, 'hot', ast);
      ls[1]!.lock(LKM.EX, b, 0, 'hot', ast);
      sim.runPending();
      ls[0]!.unlock(a.lkid, 0, a);
      sim.runPending();
      ls[1]!.unlock(b.lkid, 0, b);
      sim.runPending();
    }
    return BATCH; // two lock+unlock cycles per iteration
  };
}

/** A raw round trip over the same simulated transport: encode, deliver, decode, answer. */
function rawRoundTripBatch(): () => number {
  const scheduler = new ManualScheduler();
  const h1 = { version: DLM_VERSION, lockspace: 1, nodeid: 1 };
  const h2 = { version: DLM_VERSION, lockspace: 1, nodeid: 2 };
  const name = new TextEncoder().encode('res0');
  const serve = (bytes: Uint8Array): void => {
    const { msg } = decodeMessage(bytes, 0);
    const reply = emptyMessage(MSG.REQUEST_REPLY);
    reply.remid = msg.lkid;
    const out = encodeMessage(h1, reply);
    scheduler.post(() => {
      sink += decodeMessage(out, 0).msg.remid;
    });
  };
  return () => {
    for (let k = 0; k < BATCH; k++) {
      const m = emptyMessage(MSG.REQUEST);
      m.lkid = k + 1;
      m.rqmode = LKM.EX;
      m.extra = name;
      const bytes = encodeMessage(h2, m);
      scheduler.post(() => serve(bytes));
      scheduler.runPending();
    }
    return BATCH;
  };
}

interface MeshPair {
  routers: [Router, Router];
  mcs: Midcomms[];
  dlms: Dlm[];
  ls: [Lockspace, Lockspace];
  close(): Promise<void>;
}

async function turnUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`not reached: ${what}`);
}

/** Two routers on a memory link, midcomms, a lockspace mastered (and directed) on router 0. */
async function meshPair(): Promise<MeshPair> {
  const routers: [Router, Router] = [0, 1].map((i) => new Router({ name: `b${i}`, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } })) as [Router, Router];
  const [sa, sb] = memoryPair();
  routers[0].attach(sa);
  routers[1].attach(sb);
  const mcs = routers.map((r) => midcomms(r));
  await turnUntil(() => routers.every((r) => r.members('midcomms').length === 2), 'midcomms on both');
  const endpoints = routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
  const ids = endpoints.map((e) => e.nodeid);
  const first = ids[0]! < ids[1]! ? 0 : 1;
  // Every name's directory is members[0], the lower node id: make that router 0's side.
  const dlms = endpoints.map((endpoint) => new Dlm({ endpoint, hash: () => 0 }));
  const ls = dlms.map((d) => d.newLockspace('bench', { lvblen: 0, members: ids })) as [Lockspace, Lockspace];
  const master = ls[first]!;
  const other = ls[1 - first]!;
  let pinned = 0;
  for (const n of NAMES) master.lock(LKM.NL, newLksb(0), 0, n, () => pinned++);
  await turnUntil(() => pinned === NAMES.length, 'masters pinned');
  return {
    routers,
    mcs,
    dlms,
    ls: [master, other],
    async close() {
      for (const d of dlms) d.close();
      for (const e of endpoints) e.close();
      for (const m of mcs) m.destroy();
      await Promise.all(routers.map((r) => r.close()));
    },
  };
}

/** Lock+unlock cycles/s from the non-master node, `parallel` resources at a time. */
async function meshCycles(pair: MeshPair, parallel: number, seconds: number): Promise<number> {
  const ls = pair.ls[1];
  const now = CLOCKS[currentClock()];
  const run = async (budget: number): Promise<number> => {
    const t0 = now();
    let n = 0;
    while (now() - t0 < budget) {
      await Promise.all(NAMES.slice(0, parallel).map((name) => cycleOnce(ls, name)));
      n += parallel;
    }
    return n / (now() - t0);
  };
  await run(Math.min(0.2, seconds * 0.2));
  return run(seconds);
}

function cycleOnce(ls: Lockspace, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const lksb = newLksb(0);
    let stage = 0;
    const rv = ls.lock(LKM.EX, lksb, 0, name, () => {
      if (stage === 0) {
        stage = 1;
        if (lksb.status !== 0) return reject(new Error(`lock status ${lksb.status}`));
        const u = ls.unlock(lksb.lkid, 0, lksb);
        if (u !== 0) reject(new Error(`unlock ${u}`));
      } else resolve();
    });
    if (rv !== 0) reject(new Error(`lock ${rv}`));
  });
}

/** Raw transaction round trips/s between the same two routers (88-byte aux, echo service). */
async function meshRawRoundTrips(pair: MeshPair, seconds: number): Promise<number> {
  const [r0, r1] = pair.routers;
  const svc = r0.serve('dlm-bench-echo', (tx) => {
    tx.rx$.subscribe({ next: (m) => tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: m.aux }), complete: () => tx.close(), error: () => {} });
  });
  await turnUntil(() => r1.members('dlm-bench-echo').length === 1, 'echo service');
  const tx = r1.open('dlm-bench-echo', SVC_CMD.EXAMPLE_ECHO);
  let waiting: (() => void) | null = null;
  tx.rx$.subscribe({ next: () => waiting?.(), error: () => {} });
  const aux = new Uint8Array(88);
  const now = CLOCKS[currentClock()];
  const run = async (budget: number): Promise<number> => {
    const t0 = now();
    let n = 0;
    while (now() - t0 < budget) {
      await new Promise<void>((resolve) => {
        waiting = resolve;
        tx.send(SVC_CMD.EXAMPLE_ECHO, { aux });
      });
      n++;
    }
    return n / (now() - t0);
  };
  await run(Math.min(0.2, seconds * 0.2));
  const rate = await run(seconds);
  tx.close();
  svc.close();
  return rate;
}

async function tsApiCyclesPerSec(seconds: number): Promise<number> {
  const dlm = new Dlm({ nodeid: 1 });
  const ls = await dlm.join('bench-ts', { lvblen: 0 });
  const now = CLOCKS[currentClock()];
  const run = async (budget: number): Promise<number> => {
    const t0 = now();
    let n = 0;
    while (now() - t0 < budget) {
      for (let k = 0; k < BATCH; k++) {
        const lk = await ls.lock(NAMES[k % NAMES.length]!, 'EX');
        await lk.unlock();
      }
      n += BATCH;
    }
    return n / (now() - t0);
  };
  await run(Math.min(0.3, seconds * 0.2));
  const rate = await run(seconds);
  await ls.leave();
  return rate;
}

export async function run(ctx: BenchContext): Promise<void> {
  const { reporter } = ctx;
  reporter.note(`${BENCH}: ${ctx.seconds} s of ${currentClock()} time per metric, rounds interleaved; sim_ = a second in-process node over the simulated transport (messages encoded and decoded); mesh_ = two in-process routers; the rows without either are two processes over TCP`);
  // The local master in a fresh process (bench/dlm-local-worker.ts), beside
  // the Map baseline measured there: the engine's code compiled for one
  // lockspace, as in a node whose busy lockspace is mastered where it is
  // used. The same loop again in this process, interleaved with the Map
  // baseline and the remote (simulated) cases, is
  // `dlm_local_mixed_cycles_per_s`: there the call sites every lockspace
  // shares (the scheduler's task call, the AST call) have seen the other
  // cases' lockspaces and closures, and V8 re-optimizes them for several
  // targets ("wrong call target" deopts); measured: two local lockspaces
  // alone in one process both run ~40% slower once both have run.
  reporter.progress(`${BENCH}: the local master in a fresh process ...`);
  let fresh: { local: number; map: number } | null = null;
  try {
    fresh = await measureLocalFresh(ctx.seconds, currentClock());
  } catch (err) {
    reporter.failed({ bench: BENCH, metric: 'dlm_local_cycles_per_s', reason: oneLine(err) });
  }
  reporter.note(
    `${BENCH}: dlm_local_cycles_per_s and map_lock_fresh_baseline_cycles_per_s are measured in a fresh process (one lockspace, nothing else run there); dlm_local_mixed_cycles_per_s is the same loop in this process among the other cases (other lockspaces' closures at the shared call sites make V8 re-optimize them for several targets)`,
  );
  const phases: Array<Record<string, () => () => number>> = [
    {
      map_lock_baseline_cycles_per_s: mapBatch,
      dlm_local_mixed_cycles_per_s: localBatch,
      dlm_sim_remote_cycles_per_s: () => remoteBatch(1),
      dlm_sim_remote_parallel_cycles_per_s: () => remoteBatch(100),
      dlm_sim_contended_cycles_per_s: contendedBatch,
      sim_rpc1_raw_per_s: rawRoundTripBatch,
    },
  ];
  const batches: Record<string, () => number> = {};
  let results: Record<string, { opsPerSec: number }> = {};
  let measureError = '';
  for (const cases of phases) {
    const phase: Record<string, () => number> = {};
    for (const [metric, make] of Object.entries(cases)) {
      try {
        phase[metric] = batches[metric] = make();
      } catch (err) {
        reporter.failed({ bench: BENCH, metric, reason: `setup: ${oneLine(err)}` });
      }
    }
    reporter.progress(`${BENCH}: measuring ${Object.keys(phase).join(', ')} ...`);
    try {
      results = { ...results, ...measureInterleaved(phase, { seconds: ctx.seconds }) };
    } catch (err) {
      measureError = oneLine(err);
    }
  }
  const unit = 'cycles/s';
  const row = (metric: string, baseline?: string): void => {
    const r = results[metric];
    if (r) reporter.result({ bench: BENCH, metric, value: r.opsPerSec, unit: metric === 'sim_rpc1_raw_per_s' ? 'round trips/s' : unit, ...(baseline ? { baseline } : {}) });
    else if (batches[metric]) reporter.failed({ bench: BENCH, metric, reason: measureError || 'not measured' });
  };
  if (fresh) {
    reporter.result({ bench: BENCH, metric: 'map_lock_fresh_baseline_cycles_per_s', value: fresh.map, unit });
    reporter.result({ bench: BENCH, metric: 'dlm_local_cycles_per_s', value: fresh.local, unit, baseline: 'map_lock_fresh_baseline_cycles_per_s' });
  }
  row('map_lock_baseline_cycles_per_s');
  row('dlm_local_mixed_cycles_per_s', 'map_lock_baseline_cycles_per_s');
  row('sim_rpc1_raw_per_s');
  row('dlm_sim_remote_cycles_per_s', 'sim_rpc1_raw_per_s');
  row('dlm_sim_remote_parallel_cycles_per_s', 'sim_rpc1_raw_per_s');
  row('dlm_sim_contended_cycles_per_s', 'sim_rpc1_raw_per_s');
  const attempt = async (metric: string, work: () => Promise<number>, u: string, baseline?: string): Promise<void> => {
    try {
      reporter.result({ bench: BENCH, metric, value: await work(), unit: u, ...(baseline ? { baseline } : {}) });
    } catch (err) {
      reporter.failed({ bench: BENCH, metric, reason: oneLine(err) });
    }
  };
  reporter.progress(`${BENCH}: over two routers and midcomms ...`);
  let pair: MeshPair | null = null;
  try {
    pair = await meshPair();
  } catch (err) {
    reporter.failed({ bench: BENCH, metric: 'mesh_setup', reason: oneLine(err) });
  }
  if (pair) {
    const p = pair;
    await attempt('mesh_rpc1_raw_per_s', () => meshRawRoundTrips(p, ctx.seconds), 'round trips/s');
    await attempt('dlm_mesh_remote_cycles_per_s', () => meshCycles(p, 1, ctx.seconds), unit, 'mesh_rpc1_raw_per_s');
    await attempt('dlm_mesh_remote_parallel_cycles_per_s', () => meshCycles(p, 100, ctx.seconds), unit, 'mesh_rpc1_raw_per_s');
    await p.close().catch(() => {});
  }
  await attempt('dlm_local_ts_api_cycles_per_s', () => tsApiCyclesPerSec(ctx.seconds), unit, 'dlm_local_cycles_per_s');
  await runTwoProcessRows(ctx);
  await runRecoveryRows(ctx, BENCH);
  await runMeshRecoveryRows(ctx, BENCH);
  await runMdClusterRows(ctx, BENCH);
}
