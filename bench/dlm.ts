/**
 * DLM benchmark (bench name `dlm`), one core, in process:
 * - lock+unlock cycles per second with the master local (low-level API,
 *   callbacks drained per cycle), beside a raw baseline measured in the same
 *   run: a Map-based lock table doing the same calls (set, callback, delete);
 * - the same through the TypeScript API (promises);
 * - with the master remote on a second in-process node over the simulated
 *   transport (every message encoded and decoded), one resource at a time
 *   and 100 resources in flight, beside a raw round trip over the same
 *   transport (encode, deliver, decode, answer): a cycle needs two round
 *   trips, so 0.5 of the raw rate is the limit;
 * - two nodes contending for one resource (each cycle: both lock EX in turn).
 * The remote numbers are over the in-process simulation, not sockets: the
 * midcomms transport is not bound yet (see docs/dlm.md).
 */
import { Dlm, DlmSim, LKM, ManualScheduler, newLksb } from '../src/services/dlm/index.ts';
import { DLM_VERSION, decodeMessage, emptyMessage, encodeMessage, MSG } from '../src/services/dlm/message.ts';
import { CLOCKS, currentClock, measureInterleaved, type BenchContext } from './harness.ts';

export const BENCH = 'dlm';
const BATCH = 256;

let sink = 0;
/** Keeps results observable so the optimiser cannot drop the work. */
export function benchSink(): number {
  return sink;
}

const NAMES = Array.from({ length: 100 }, (_, i) => `res${i}`);

function localBatch(): () => number {
  const scheduler = new ManualScheduler();
  const ls = new Dlm({ nodeid: 1, scheduler }).newLockspace('bench', { lvblen: 0 });
  const lksb = newLksb(0);
  const ast = (): void => {
    sink += lksb.status;
  };
  let i = 0;
  return () => {
    for (let k = 0; k < BATCH; k++) {
      ls.lock(LKM.EX, lksb, 0, NAMES[i++ % NAMES.length]!, ast);
      scheduler.runPending();
      ls.unlock(lksb.lkid, 0, lksb);
      scheduler.runPending();
    }
    return BATCH;
  };
}

/** The raw baseline: a lock table in a Map, the same callbacks, no DLM rules. */
function mapBatch(): () => number {
  const table = new Map<string, number>();
  const tasks: (() => void)[] = [];
  let next = 1;
  const ast = (): void => {
    sink++;
  };
  let i = 0;
  return () => {
    for (let k = 0; k < BATCH; k++) {
      const name = NAMES[i++ % NAMES.length]!;
      if (!table.has(name)) table.set(name, next++);
      tasks.push(ast);
      for (const t of tasks.splice(0)) t();
      table.delete(name);
      tasks.push(ast);
      for (const t of tasks.splice(0)) t();
    }
    return BATCH;
  };
}

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
  reporter.note(`${BENCH}: ${ctx.seconds} s of ${currentClock()} time per metric, rounds interleaved; remote = a second in-process node over the simulated transport (messages encoded and decoded), not sockets`);
  const cases: Record<string, () => () => number> = {
    dlm_local_cycles_per_s: localBatch,
    map_lock_baseline_cycles_per_s: mapBatch,
    dlm_remote_cycles_per_s: () => remoteBatch(1),
    dlm_remote_parallel_cycles_per_s: () => remoteBatch(100),
    dlm_contended_cycles_per_s: contendedBatch,
    rpc1_raw_per_s: rawRoundTripBatch,
  };
  const batches: Record<string, () => number> = {};
  for (const [metric, make] of Object.entries(cases)) {
    try {
      batches[metric] = make();
    } catch (err) {
      reporter.note(`${BENCH}: ${metric} failed to set up: ${(err as Error).message}`);
    }
  }
  reporter.progress(`${BENCH}: measuring ${Object.keys(batches).length} cases ...`);
  let results: Record<string, { opsPerSec: number }> = {};
  try {
    results = measureInterleaved(batches, { seconds: ctx.seconds });
  } catch (err) {
    reporter.note(`${BENCH}: measurement failed: ${(err as Error).message}`);
  }
  const unit = 'cycles/s';
  const row = (metric: string, baseline?: string): void => {
    const r = results[metric];
    if (r) reporter.result({ bench: BENCH, metric, value: r.opsPerSec, unit: metric === 'rpc1_raw_per_s' ? 'round trips/s' : unit, ...(baseline ? { baseline } : {}) });
    else reporter.note(`${BENCH}: ${metric}: not measured`);
  };
  row('map_lock_baseline_cycles_per_s');
  row('dlm_local_cycles_per_s', 'map_lock_baseline_cycles_per_s');
  row('rpc1_raw_per_s');
  row('dlm_remote_cycles_per_s', 'rpc1_raw_per_s');
  row('dlm_remote_parallel_cycles_per_s', 'rpc1_raw_per_s');
  row('dlm_contended_cycles_per_s', 'rpc1_raw_per_s');
  try {
    reporter.result({ bench: BENCH, metric: 'dlm_local_ts_api_cycles_per_s', value: await tsApiCyclesPerSec(ctx.seconds), unit, baseline: 'dlm_local_cycles_per_s' });
  } catch (err) {
    reporter.note(`${BENCH}: dlm_local_ts_api_cycles_per_s failed: ${(err as Error).message}`);
  }
}
