/**
 * The two-process rows of the DLM benchmark (bench/dlm.ts runs them): this
 * process and a forked one (bench/dlm-remote-worker.ts), each with its own
 * Router, joined over TCP on 127.0.0.1, midcomms sessions between them and
 * the DLM's MidcommsEndpoint. The worker is the directory node and master
 * of every resource; this process locks them:
 *
 * - `rpc1_raw_per_s`: the raw baseline, a sequential round trip (one in
 *   flight) on one transaction to the worker's echo service, 88-byte aux;
 * - `rpc1_raw_flush_per_s`: the same with both messages sent with
 *   `flush: true` (written during send), as midcomms sends the first frame
 *   of a turn: the raw round trip at its fastest, a second baseline;
 * - `dlm_remote_cycles_per_s`: EX lock + unlock cycles, one at a time (two
 *   round trips each, so 0.5 of the raw rate is the limit);
 * - `dlm_remote_parallel_cycles_per_s`: 100 resources in flight;
 * - `dlm_contended_cycles_per_s`: both processes lock EX and unlock one
 *   resource in a loop for the same time, each going through its event loop
 *   after every cycle (the worker's locks are local to the master, ours
 *   remote); the cycles both did, per second (a note gives the split).
 *
 * Wall-clock time (two processes work for every round trip; one process's
 * CPU time would not say what a round trip costs), rounds interleaved
 * A B A B (raw, then the DLM cases, in each round) so load changes hit all
 * alike; the median of the rounds (DEFAULT_ROUNDS windows of `--seconds`/5 each). A case that fails
 * is a failed row.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SVC_CMD, type Transaction } from '../src/span/index.ts';
import { connectTcp } from '../src/transport/tcp.ts';
import { PIN_ON, pinPair, type PinResult } from './cpu-pin.ts';
import { HOPS_ON, HopTimer, type HopSummary } from './hop-timer.ts';
import { BenchDlmNode, ECHO_FLUSH_SERVICE, ECHO_SERVICE, HOT, NAMES, cyclesUntil, nodeidOf, wallNow, within, type ParentMessage, type WorkerMessage } from './dlm-remote-shared.ts';
import { median, oneLine, type BenchContext } from './harness.ts';
import { roundsFromEnv } from './rounds-env.ts';
import { SCHED_ON, readSwitches, switchesBetween, type SwitchCounts } from './sched-switches.ts';

const BENCH = 'dlm';
/**
 * Measuring windows per second of `--seconds`: a window is 200 ms by default.
 */
const WINDOWS_PER_SECOND = 5;
/**
 * Rounds, each running every case for one window: 15, so a row measures
 * three times `--seconds` (3 s by default). On a virtual machine the two
 * processes switch, in episodes of tens of milliseconds, between running on
 * two CPUs (each hop wakes a halted CPU, ~35 µs) and sharing one (the
 * woken process preempts the writer, ~8 µs a hop, all CPU): a window with
 * such an episode reads far off the others. The median of five windows
 * still moved the DLM-to-raw ratio by about ±0.03 from run to run; the
 * median of 15 is steadier (docs/dlm.md, "Ninth session: the measurement").
 * DLM_BENCH_ROUNDS=N sets another count (5 is the method before).
 */
const DEFAULT_ROUNDS = 15;
/**
 * Each case runs this long, unmeasured, before the first round. It was 100
 * ms (less with shorter windows): then the first round's raw window, in
 * every run, had the two processes sharing one CPU (0.67-0.81 preempted
 * switches per round trip with DLM_BENCH_SCHED=1, against 0.00-0.02 in the
 * later rounds) and read 1.4-1.7x the raw rate, and that round's DLM-to-raw
 * ratio 0.21-0.24 (V8 still compiling on the other CPU, as far as can be
 * told). After 400 ms per case the first round reads as the others.
 */
const WARM_UP_MS = 400;
/** DLM_BENCH_SCHED=1 (bench/sched-switches.ts): round trips per unit of the rows it reports (a lock + unlock cycle is two). */
const TRIPS_PER_UNIT: Readonly<Record<string, number>> = { rpc1_raw_per_s: 1, rpc1_raw_flush_per_s: 1, dlm_remote_cycles_per_s: 2 };
/** Safety net for one answer from the worker or one measuring window's overrun (never a measurement). */
const ANSWER_MS = 30_000;
const TURNS = 200_000;

/** The rows, in report order, with what each is compared to. */
export const TWO_PROCESS_ROWS: ReadonlyArray<{ metric: string; unit: string; baseline?: string }> = [
  { metric: 'rpc1_raw_per_s', unit: 'round trips/s' },
  { metric: 'rpc1_raw_flush_per_s', unit: 'round trips/s', baseline: 'rpc1_raw_per_s' },
  { metric: 'dlm_remote_cycles_per_s', unit: 'cycles/s', baseline: 'rpc1_raw_per_s' },
  { metric: 'dlm_remote_parallel_cycles_per_s', unit: 'cycles/s', baseline: 'rpc1_raw_per_s' },
  { metric: 'dlm_contended_cycles_per_s', unit: 'cycles/s', baseline: 'rpc1_raw_per_s' },
];

class Worker {
  readonly #child: ChildProcess;
  readonly #waiters = new Map<WorkerMessage['type'], (m: WorkerMessage) => void>();
  #error: Error | null = null;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'error') {
        this.#error ??= new Error(`worker: ${m.message}`);
        for (const w of this.#waiters.values()) w(m);
        this.#waiters.clear();
        return;
      }
      const w = this.#waiters.get(m.type);
      this.#waiters.delete(m.type);
      w?.(m);
    });
    child.on('exit', (code, signal) => {
      this.#error ??= new Error(`worker exited with ${signal ?? code}`);
      for (const w of this.#waiters.values()) w({ type: 'error', message: this.#error.message });
      this.#waiters.clear();
    });
    child.on('error', (err) => {
      this.#error ??= err;
    });
  }

  /** The worker's process id (for DLM_BENCH_PIN). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  static start(): Worker {
    const extra = (process.env.DLM_BENCH_WORKER_ARGS ?? '').split(/\s+/).filter((a) => a.length > 0);
    // Keep tsx's loader (inherited flags) but not a --cpu-prof meant for this process.
    const inherited = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    const child = fork(fileURLToPath(new URL('./dlm-remote-worker.ts', import.meta.url)), [], {
      execArgv: [...inherited, ...extra],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Worker(child);
  }

  /** The next message of `type` (rejects on a worker error, exit or the safety timeout). */
  next<T extends WorkerMessage['type']>(type: T): Promise<Extract<WorkerMessage, { type: T }>> {
    if (this.#error) return Promise.reject(this.#error);
    const p = new Promise<Extract<WorkerMessage, { type: T }>>((resolve, reject) => {
      this.#waiters.set(type, (m) => {
        if (m.type === 'error') reject(new Error(m.message));
        else resolve(m as Extract<WorkerMessage, { type: T }>);
      });
    });
    return within(p, ANSWER_MS, `worker ${type}`);
  }

  /** DLM_BENCH_HOPS=1: the worker's hop times since the last call (a new window starts). */
  hops(): Promise<HopSummary> {
    const p = this.next('hops');
    this.send({ type: 'hops' });
    return p.then((m) => m.summary);
  }

  send(m: ParentMessage): void {
    this.#child.send(m);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    try {
      this.send({ type: 'exit' });
    } catch {
      // the channel is gone already
    }
    const t = setTimeout(() => this.#child.kill(), 5000);
    await exited;
    clearTimeout(t);
  }
}

async function turnUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < TURNS; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`not reached: ${what}`);
}

interface Setup {
  /** DLM_BENCH_HOPS=1: this process's hop times (null: off). */
  hops: HopTimer | null;
  worker: Worker;
  node: BenchDlmNode;
  raw: Transaction;
  /** The raw baseline sent with `flush: true` (ECHO_FLUSH_SERVICE). */
  rawFlush: Transaction;
  /** Resolves the pending raw round trip. */
  echoed: { resolve: (() => void) | null };
  /** DLM_BENCH_PIN=1: what pinning did (null when off). */
  pin: PinResult | null;
}

async function setup(): Promise<Setup> {
  const worker = Worker.start();
  const node = new BenchDlmNode('dlm-client');
  const hops = HOPS_ON ? new HopTimer() : null;
  const pin = PIN_ON ? (worker.pid === undefined ? { ok: false as const, reason: 'the worker has no pid' } : pinPair(process.pid, worker.pid)) : null;
  try {
    const { port, node: workerNode } = await worker.next('listening');
    const sock = await connectTcp({ host: '127.0.0.1', port });
    hops?.wrap(sock);
    node.router.attach(sock);
    const has = (service: string): boolean => node.router.members(service).some((m) => m.node === workerNode);
    await turnUntil(() => has('midcomms') && has(ECHO_SERVICE) && has(ECHO_FLUSH_SERVICE), 'the worker\'s midcomms and echo services');
    const members = [node.nodeid, nodeidOf(workerNode)].sort((a, b) => a - b);
    const dirIndex = members.indexOf(nodeidOf(workerNode));
    const ready = worker.next('ready');
    worker.send({ type: 'lockspace', members, dirIndex });
    await ready;
    node.join(members, dirIndex);
    const raw = node.router.open(ECHO_SERVICE, SVC_CMD.EXAMPLE_ECHO, { node: workerNode });
    const echoed: Setup['echoed'] = { resolve: null };
    const rawFlush = node.router.open(ECHO_FLUSH_SERVICE, SVC_CMD.EXAMPLE_ECHO, { node: workerNode });
    const answered = {
      next: () => {
        const r = echoed.resolve;
        echoed.resolve = null;
        r?.();
      },
      error: () => {},
    };
    raw.rx$.subscribe(answered);
    rawFlush.rx$.subscribe(answered);
    return { hops, worker, node, raw, rawFlush, echoed, pin };
  } catch (err) {
    if (pin?.ok) pin.restore();
    await node.close().catch(() => {});
    await worker.stop().catch(() => {});
    throw err;
  }
}

/** Sequential raw round trips per second for `ms` (`flush`: on the flushed echo, sent with `flush: true`). */
async function rawRate(s: Setup, ms: number, flush = false): Promise<number> {
  const aux = new Uint8Array(88);
  const tx = flush ? s.rawFlush : s.raw;
  const opts = flush ? { aux, flush } : { aux };
  const t0 = wallNow();
  const until = t0 + ms / 1000;
  let n = 0;
  while (wallNow() < until) {
    await new Promise<void>((resolve) => {
      s.echoed.resolve = resolve;
      tx.send(SVC_CMD.EXAMPLE_ECHO, opts);
    });
    n++;
  }
  return n / (wallNow() - t0);
}

/** Lock+unlock cycles per second from this process on `names` (all in flight at once) for `ms`. */
async function cycleRate(s: Setup, names: readonly string[], ms: number): Promise<number> {
  const t0 = wallNow();
  const n = await cyclesUntil(s.node.ls!, names, t0 + ms / 1000);
  return n / (wallNow() - t0);
}

/** Cycles each side did in the contended rounds (for the note: the master's local locks win most turns). */
interface Split {
  mine: number;
  theirs: number;
}

/** Both processes cycle on HOT for `ms`; the cycles both did per second. */
async function contendedRate(s: Setup, ms: number, split: Split): Promise<number> {
  const theirs = s.worker.next('contended');
  const t0 = wallNow();
  s.worker.send({ type: 'contend', ms });
  const mine = await cyclesUntil(s.node.ls!, [HOT], t0 + ms / 1000, true);
  const answer = await theirs;
  if (answer.error !== undefined) throw new Error(`worker: ${answer.error}`);
  split.mine += mine;
  split.theirs += answer.cycles;
  return (mine + answer.cycles) / (wallNow() - t0);
}

/** Runs the two-process rows and reports them (failed cases as failed rows). */
export async function runTwoProcessRows(ctx: BenchContext): Promise<void> {
  const { reporter } = ctx;
  reporter.progress(`${BENCH}: two processes over TCP 127.0.0.1 ...`);
  const rounds = roundsFromEnv('DLM_BENCH_ROUNDS', process.env.DLM_BENCH_ROUNDS, DEFAULT_ROUNDS);
  if (!rounds.ok) {
    for (const r of TWO_PROCESS_ROWS) reporter.failed({ bench: BENCH, metric: r.metric, reason: rounds.reason });
    return;
  }
  const roundCount = rounds.rounds;
  let s: Setup;
  try {
    s = await within(setup(), ANSWER_MS * 2, 'two-process setup');
  } catch (err) {
    for (const r of TWO_PROCESS_ROWS) reporter.failed({ bench: BENCH, metric: r.metric, reason: `setup: ${oneLine(err)}` });
    return;
  }
  const windowMs = (ctx.seconds * 1000) / WINDOWS_PER_SECOND;
  const cases: Record<string, (ms: number) => Promise<number>> = {
    rpc1_raw_per_s: (ms) => rawRate(s, ms),
    rpc1_raw_flush_per_s: (ms) => rawRate(s, ms, true),
    dlm_remote_cycles_per_s: (ms) => cycleRate(s, [NAMES[0]!], ms),
    dlm_remote_parallel_cycles_per_s: (ms) => cycleRate(s, NAMES, ms),
    dlm_contended_cycles_per_s: (ms) => contendedRate(s, ms, split),
  };
  const split: Split = { mine: 0, theirs: 0 };
  const values: Record<string, number[]> = {};
  /** DLM_BENCH_HOPS=1: per metric, per round: [this process's hops, the worker's, the window's wall µs]. */
  const hopRounds: Record<string, Array<[HopSummary, HopSummary, number]>> = {};
  /** DLM_BENCH_SCHED=1: per metric, per round: both processes' switches in the window and its round trips. */
  const schedRounds: Record<string, Array<{ mine: SwitchCounts; theirs: SwitchCounts; trips: number }>> = {};
  const workerPid = s.worker.pid;
  const failures: Record<string, string> = {};
  try {
    // Warm up every path (JIT, the midcomms channel) before the first measured round.
    for (const [metric, run] of Object.entries(cases)) {
      try {
        await within(run(WARM_UP_MS), WARM_UP_MS + ANSWER_MS, metric);
      } catch (err) {
        failures[metric] = oneLine(err);
      }
    }
    for (let round = 0; round < roundCount; round++) {
      reporter.progress(`${BENCH}: two processes, round ${round + 1}/${roundCount}`);
      for (const [metric, run] of Object.entries(cases)) {
        if (failures[metric] !== undefined) continue;
        try {
          if (s.hops) {
            await s.worker.hops(); // a new window in the worker
            s.hops.reset();
          }
          const sched0 = SCHED_ON && workerPid !== undefined ? [readSwitches(process.pid), readSwitches(workerPid)] : null;
          const t0 = wallNow();
          const rate = await within(run(windowMs), windowMs + ANSWER_MS, metric);
          const wallS = wallNow() - t0;
          (values[metric] ??= []).push(rate);
          if (sched0 !== null && TRIPS_PER_UNIT[metric] !== undefined) {
            const mine = switchesBetween(sched0[0]!, readSwitches(process.pid));
            const theirs = switchesBetween(sched0[1]!, readSwitches(workerPid!));
            if (mine !== null && theirs !== null) (schedRounds[metric] ??= []).push({ mine, theirs, trips: rate * wallS * TRIPS_PER_UNIT[metric]! });
          }
          if (s.hops) (hopRounds[metric] ??= []).push([s.hops.summary(), await s.worker.hops(), wallS * 1e6]);
        } catch (err) {
          failures[metric] = oneLine(err);
        }
      }
    }
  } finally {
    s.raw.close();
    s.rawFlush.close();
    await s.node.close().catch(() => {});
    await s.worker.stop().catch(() => {});
    if (s.pin?.ok) s.pin.restore();
  }
  reporter.note(`${BENCH}: two processes (this one and a forked worker, the master), TCP on 127.0.0.1, midcomms; wall clock, ${roundCount} rounds interleaved (raw round trip, then the DLM cases), median`);
  if (s.pin !== null) reporter.note(`${BENCH}: two-process rows ${s.pin.ok ? `pinned: ${s.pin.what}` : `NOT pinned (DLM_BENCH_PIN=1 asked): ${s.pin.reason}`}`);
  if (split.mine + split.theirs > 0) {
    const share = (100 * split.mine) / (split.mine + split.theirs);
    reporter.note(`${BENCH}: dlm_contended_cycles_per_s counts both processes; the non-master (remote locks) did ${share.toFixed(1)}% of the cycles, the master's local locks the rest`);
  }
  // Load on a shared machine moves from round to round: the ratio within each
  // round (the DLM case against the raw round trip measured just before it)
  // is steadier than the ratio of the medians the table shows.
  const raw = values.rpc1_raw_per_s ?? [];
  const perRound: string[] = [];
  for (const r of TWO_PROCESS_ROWS) {
    const v = values[r.metric];
    if (r.baseline === undefined || v === undefined || v.length !== raw.length || raw.length === 0) continue;
    const ratios = v.map((x, i) => x / raw[i]!);
    perRound.push(`${r.metric} ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`);
  }
  if (perRound.length > 0) reporter.note(`${BENCH}: per-round ratio to rpc1_raw_per_s, median (range): ${perRound.join('; ')}`);
  // Against the flushed raw round trip too (the DLM's midcomms sends a request or reply flushed, so this is the stricter baseline).
  const rawFlush = values.rpc1_raw_flush_per_s ?? [];
  const dlm1 = values.dlm_remote_cycles_per_s;
  if (dlm1 !== undefined && rawFlush.length === dlm1.length && rawFlush.length > 0) {
    const ratios = dlm1.map((x, i) => x / rawFlush[i]!);
    reporter.note(`${BENCH}: per-round ratio of dlm_remote_cycles_per_s to rpc1_raw_flush_per_s, median (range): ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`);
  }
  for (const metric of ['rpc1_raw_per_s', 'rpc1_raw_flush_per_s', 'dlm_remote_cycles_per_s']) {
    const rounds = hopRounds[metric];
    if (rounds === undefined || rounds.length === 0) continue;
    // Per round trip (a client hop and a worker hop): the critical path in each process, and the rest.
    // A summary crosses the IPC channel as JSON: a window without hops has null, not NaN.
    const us = (v: number | null): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : 'n/a');
    if (rounds.some((r) => !(r[0].hops > 0) || !(r[1].hops > 0))) {
      reporter.note(`${BENCH}: ${metric}: the hop timer saw no hops in a process (DLM_BENCH_HOPS=1 could not time this socket)`);
      continue;
    }
    const mine = median(rounds.map((r) => r[0].meanUs));
    const theirs = median(rounds.map((r) => r[1].meanUs));
    const perTrip = median(rounds.map((r) => r[2] / Math.max(1, r[0].hops)));
    reporter.note(
      `${BENCH}: ${metric} per round trip (median of ${rounds.length} rounds): ${perTrip.toFixed(1)} µs; data->write in this process ${us(mine)} µs mean (median ${us(median(rounds.map((r) => r[0].medianUs)))}), in the worker ${us(theirs)} µs mean (median ${us(median(rounds.map((r) => r[1].medianUs)))}); the rest (kernel, wake-ups, scheduling, work after the writes) ${(perTrip - mine - theirs).toFixed(1)} µs`,
    );
  }
  if (SCHED_ON) {
    const parts: string[] = [];
    for (const metric of Object.keys(TRIPS_PER_UNIT)) {
      const rounds = schedRounds[metric];
      if (rounds === undefined || rounds.length === 0) continue;
      const per = (f: (r: (typeof rounds)[number]) => number): string => median(rounds.map((r) => f(r) / Math.max(1, r.trips))).toFixed(2);
      const preempted = rounds.map((r) => (r.mine.involuntary + r.theirs.involuntary) / Math.max(1, r.trips));
      parts.push(
        `${metric} preempted ${per((r) => r.mine.involuntary)} + ${per((r) => r.theirs.involuntary)} (both, rounds' range ${Math.min(...preempted).toFixed(2)}-${Math.max(...preempted).toFixed(2)}), blocked ${per((r) => r.mine.voluntary)} + ${per((r) => r.theirs.voluntary)}`,
      );
    }
    reporter.note(
      parts.length > 0
        ? `${BENCH}: context switches per round trip, this process + the worker (median of rounds; a preempted switch is a hop where the woken peer shared the writer's CPU): ${parts.join('; ')}`
        : `${BENCH}: DLM_BENCH_SCHED=1 could not read the context-switch counters (no /proc/PID/status here)`,
    );
  }
  for (const r of TWO_PROCESS_ROWS) {
    const v = values[r.metric];
    if (failures[r.metric] !== undefined || v === undefined || v.length === 0) {
      reporter.failed({ bench: BENCH, metric: r.metric, reason: failures[r.metric] ?? 'not measured' });
      continue;
    }
    reporter.result({ bench: BENCH, metric: r.metric, value: median(v), unit: r.unit, ...(r.baseline ? { baseline: r.baseline } : {}) });
  }
}
