/**
 * Iocom benchmark (bench name `iocom`): one link over TCP on 127.0.0.1
 * between two processes (this one and bench/iocom-worker.ts), keepalive off.
 *
 * Cases, each measured against raw baselines in the same run:
 * - `oneway`: one-way header-only messages (64 B on the wire);
 * - `oneway64`: one-way messages with 64 B of aux (128 B on the wire),
 *   through the public API (`sendOneWay(cmd, { aux })`), 1024 per turn;
 * - `oneway4k`: 4 KiB aux (+ MB/s of aux);
 * - `rpc1`, `rpc100`: `open(cmd, {delete})` → the worker's `reply(0)` on
 *   the DELETE, with 1 and with 100 in flight.
 *
 * Baselines (plain sockets, the receiver decoding with FrameDecoder, header
 * and aux CRC checks):
 * - `raw` (the floor): pre-encoded frames (CRCs done once), msgid 1, no
 *   per-request state; one-way senders write one block per turn (batched);
 * - `raw_l4l` (round trips only, like for like): what a minimal hand-written
 *   client and server do: encode every request and reply (fresh msgid,
 *   sequence byte, CRC), keep pending requests in a Map and match each
 *   reply's msgid, check sequence numbers and flags; one write per read.
 *
 * Rounds are interleaved (raw, raw_l4l, iocom, raw, ...: ROUNDS rounds of
 * each, a fresh connection per round) and medians reported, so a change in
 * machine load hits every side alike. Each round measures wall time and the
 * CPU time of BOTH processes (this one and the worker, process.cpuUsage):
 * `*_cpu_us` is CPU µs per operation (message or round trip), and
 * `*_cpu_ratio` = raw CPU / iocom CPU per operation, the ratio to trust on
 * a shared machine; the wall-clock rates and `*_ratio` are also given.
 *
 * The iocom reads plain sockets into a reused buffer (src/iocom/socket-reader.ts);
 * the raw sides read 'data' events by default, or the same way with
 * IOCOM_BENCH_RAW_READ=reused (both ratios are honest: against what Node
 * gives by default, and like for like).
 *
 * Environment (for profiling): IOCOM_BENCH_CASES=oneway,oneway64,oneway4k,rpc1,rpc100
 * picks cases; IOCOM_BENCH_SIDES=iocom (or raw) measures one side only;
 * IOCOM_BENCH_WORKER_ARGS="--cpu-prof --cpu-prof-dir=DIR" adds node flags
 * to the worker.
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Iocom } from '../src/iocom/iocom.ts';
import { FrameDecoder } from '../src/wire/frame-decoder.ts';
import type { Message } from '../src/wire/message.ts';
import { median, oneLine, type BenchContext } from './harness.ts';
import { CMD, IOCOM_OPTIONS, RAW_READ, onRawChunks, RAW_REPLY_CMD, RAW_REQUEST_CMD, requestFrames, writeRawHeader, type ParentMessage, type WorkerMessage, type WorkerRole } from './iocom-shared.ts';

export const BENCH = 'iocom';
const ROUNDS = 5;
/** No single case may take longer than this (a hung link fails the bench instead of stalling it). */
const CASE_TIMEOUT_MS = 30_000;
const AUX_4K = 4096;

const AUX_64 = 64;

const now = (): number => Number(process.hrtime.bigint()) / 1e9;
/** This process's CPU time so far, µs. */
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

// ---------------------------------------------------------------- the worker

class Worker {
  readonly #child: ChildProcess;
  #waiter: ((m: WorkerMessage) => void) | undefined;
  #error: Error | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'error') {
        this.#error ??= new Error(`iocom worker: ${m.message}`);
        return;
      }
      const w = this.#waiter;
      this.#waiter = undefined;
      w?.(m);
    });
    child.on('exit', (code, signal) => {
      if (code !== 0) this.#error ??= new Error(`iocom worker exited with ${signal ?? code}`);
    });
  }

  static async start(): Promise<Worker> {
    const extra = (process.env.IOCOM_BENCH_WORKER_ARGS ?? '').split(/\s+/).filter((a) => a.length > 0);
    // Keep tsx's loader (inherited flags) but not a --cpu-prof meant for this process.
    const inherited = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    const child = fork(fileURLToPath(new URL('./iocom-worker.ts', import.meta.url)), [], {
      execArgv: [...inherited, ...extra],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const w = new Worker(child);
    await w.#next('ready');
    return w;
  }

  /** Set up a role; resolves with the port to connect to. */
  async serve(role: WorkerRole, auxBytes: number): Promise<number> {
    const p = this.#next('listening');
    this.#send({ type: 'serve', role, auxBytes });
    const m = await p;
    return (m as { port: number }).port;
  }

  /** The worker's CPU time so far (user + system), µs. */
  async cpu(): Promise<number> {
    const p = this.#next('cpu');
    this.#send({ type: 'cpu' });
    const m = await p;
    return (m as { us: number }).us;
  }

  /** The error the worker reported, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#send({ type: 'exit' });
    const t = setTimeout(() => this.#child.kill(), 5000);
    await exited;
    clearTimeout(t);
  }

  #send(m: ParentMessage): void {
    this.#child.send(m);
  }

  #next(type: WorkerMessage['type']): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => {
        clearTimeout(t);
        reject(this.#error ?? new Error(`iocom worker exited while waiting for '${type}'`));
      };
      const t = setTimeout(() => {
        this.#child.off('exit', onExit);
        reject(this.#error ?? new Error(`iocom worker: no '${type}' within 20 s`));
      }, 20_000);
      this.#waiter = (m) => {
        clearTimeout(t);
        this.#child.off('exit', onExit);
        if (m.type === type) resolve(m);
        else reject(new Error(`iocom worker: expected '${type}', got '${m.type}'`));
      };
      this.#child.once('exit', onExit);
    });
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// ---------------------------------------------------------------- measuring

interface Running {
  /** Operations completed so far. */
  count(): number;
  /** Why the case failed, if it did. */
  failure(): Error | undefined;
  stop(): void;
}

/** One round of one side: its wall-clock rate and the CPU µs per operation of both processes. */
interface RoundResult {
  rate: number;
  cpuUs: number;
}

/** Warm up, then measure one round of `seconds`: rate and CPU per operation (this process + the worker). */
async function sampleRound(r: Running, seconds: number, worker: Worker): Promise<RoundResult> {
  const check = (): void => {
    const e = r.failure() ?? worker.error;
    if (e) throw e;
  };
  await sleep(Math.min(0.2, Math.max(0.05, seconds * 0.5)));
  check();
  const w0 = await worker.cpu();
  const p0 = cpuNow();
  const c0 = r.count();
  const t0 = now();
  await sleep(seconds);
  const c1 = r.count();
  const t1 = now();
  const p1 = cpuNow();
  const w1 = await worker.cpu();
  check();
  const ops = c1 - c0;
  if (ops <= 0) throw new Error('no operation completed');
  return { rate: ops / (t1 - t0), cpuUs: (p1 - p0 + (w1 - w0)) / ops };
}

async function runRound(worker: Worker, role: WorkerRole, auxBytes: number, seconds: number, start: (sock: net.Socket) => Running): Promise<RoundResult> {
  const port = await worker.serve(role, auxBytes);
  const sock = await connect(port);
  let r: Running | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    r = start(sock);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${role}: round took more than ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
    });
    return await Promise.race([sampleRound(r, seconds, worker), timeout]);
  } finally {
    clearTimeout(timer);
    r?.stop();
    sock.destroy();
  }
}

/** One side of a case: the worker's role and this process's receiver or client. */
interface Side {
  /** Metric prefix, e.g. `rpc100_raw` or `rpc100`. */
  name: string;
  role: WorkerRole;
  auxBytes: number;
  start: (sock: net.Socket) => Running;
}

/** Medians of one side, or why it failed. */
type SideResult = { rate: number; cpuUs: number } | { error: Error };

/**
 * ABAB: ROUNDS rounds of every side in turn (a fresh connection each), the
 * median rate and CPU per operation of each. A side that fails is not run
 * again; the others go on.
 */
async function interleaved(worker: Worker, sides: readonly Side[], seconds: number): Promise<SideResult[]> {
  const rounds: RoundResult[][] = sides.map(() => []);
  const errors: Array<Error | undefined> = sides.map(() => undefined);
  for (let i = 0; i < ROUNDS; i++) {
    for (let k = 0; k < sides.length; k++) {
      if (errors[k] !== undefined) continue;
      const s = sides[k]!;
      try {
        rounds[k]!.push(await runRound(worker, s.role, s.auxBytes, seconds / ROUNDS, s.start));
      } catch (err) {
        errors[k] = err instanceof Error ? err : new Error(String(err));
        if (worker.error) throw worker.error;
      }
    }
  }
  return sides.map((_, k) => errors[k] !== undefined ? { error: errors[k]! } : { rate: median(rounds[k]!.map((x) => x.rate)), cpuUs: median(rounds[k]!.map((x) => x.cpuUs)) });
}

// ---------------------------------------------------------------- receivers and clients (this process)

/** Count one-way messages through the iocom (`messages$`), checking their aux size. */
function iocomReceive(auxBytes: number): (sock: net.Socket) => Running {
  return (sock) => {
    const io = new Iocom(sock, IOCOM_OPTIONS);
    let n = 0;
    let err: Error | undefined;
    io.messages$.subscribe((m) => {
      if (m.aux.length === auxBytes) n++;
      else err ??= new Error(`got aux of ${m.aux.length} bytes, expected ${auxBytes}`);
    });
    let stopping = false;
    io.closed$.subscribe((reason) => {
      if (!stopping) err ??= new Error(`link closed during the measurement: ${reason.kind === 'error' ? reason.error.message : reason.kind}`);
    });
    return {
      count: () => n,
      failure: () => err,
      stop: () => {
        stopping = true;
        io.destroy();
      },
    };
  };
}

/** Count one-way frames with the bare decoder (parse + CRC checks). */
function rawReceive(auxBytes: number): (sock: net.Socket) => Running {
  return (sock) => {
    const dec = new FrameDecoder();
    const out: Message[] = [];
    let n = 0;
    let err: Error | undefined;
    sock.on('error', (e) => (err ??= e));
    onRawChunks(sock, (chunk: Uint8Array) => {
      try {
        dec.pushInto(chunk, out);
      } catch (e) {
        err ??= e as Error;
        sock.destroy();
      }
      for (let i = 0; i < out.length; i++) {
        if (out[i]!.aux.length === auxBytes) n++;
        else err ??= new Error(`got aux of ${out[i]!.aux.length} bytes, expected ${auxBytes}`);
      }
      out.length = 0;
    });
    return { count: () => n, failure: () => err, stop: () => {} };
  };
}

/** Round trips through the iocom: `inflight` transactions, each reopened when the reply's DELETE completes rx$. */
function iocomClient(inflight: number): (sock: net.Socket) => Running {
  return (sock) => {
    const io = new Iocom(sock, IOCOM_OPTIONS);
    let n = 0;
    let stopping = false;
    let err: Error | undefined;
    const opts = { delete: true };
    // One observer for every transaction: no closures per round trip in the bench's own code.
    const observer = {
      complete: (): void => {
        n++;
        if (!stopping) start();
      },
      error: (e: Error): void => {
        if (!stopping) err ??= e;
      },
    };
    const start = (): void => {
      io.open(CMD, opts).rx$.subscribe(observer);
    };
    for (let i = 0; i < inflight; i++) start();
    return {
      count: () => n,
      failure: () => err,
      stop: () => {
        stopping = true;
        io.destroy();
      },
    };
  };
}

/** Raw round trips: write pre-encoded requests, decode replies, write as many new requests (one write per read). */
function rawClient(inflight: number): (sock: net.Socket) => Running {
  return (sock) => {
    const requests = requestFrames(inflight);
    const dec = new FrameDecoder();
    const out: Message[] = [];
    let n = 0;
    let err: Error | undefined;
    sock.on('error', (e) => (err ??= e));
    onRawChunks(sock, (chunk: Uint8Array) => {
      try {
        dec.pushInto(chunk, out);
      } catch (e) {
        err ??= e as Error;
        sock.destroy();
      }
      const k = out.length;
      out.length = 0;
      n += k;
      if (k > 0) sock.write(requests.subarray(0, k * 64));
    });
    sock.write(requests);
    return { count: () => n, failure: () => err, stop: () => {} };
  };
}

/**
 * Like-for-like raw round trips: what a minimal hand-written client does.
 * Every request is encoded when sent (fresh msgid, sequence byte, CRC) and
 * kept in a Map until its reply; each reply's sequence number, flags and
 * msgid are checked. As many new requests as replies, one write per read.
 */
function rawClientL4L(inflight: number): (sock: net.Socket) => Running {
  return (sock) => {
    const dec = new FrameDecoder();
    const out: Message[] = [];
    const pending = new Map<number, number>();
    let nextId = 1;
    let txSeq = 0;
    let rxSeq = 0;
    let n = 0;
    let err: Error | undefined;
    const send = (k: number): void => {
      const b = Buffer.alloc(k * 64);
      for (let i = 0; i < k; i++) {
        const id = nextId;
        nextId = nextId >= 0x7fffffff ? 1 : nextId + 1;
        pending.set(id, n);
        txSeq = writeRawHeader(b, i * 64, txSeq, id, RAW_REQUEST_CMD);
      }
      sock.write(b);
    };
    sock.on('error', (e) => (err ??= e));
    onRawChunks(sock, (chunk: Uint8Array) => {
      try {
        dec.pushInto(chunk, out);
      } catch (e) {
        err ??= e as Error;
        sock.destroy();
        return;
      }
      const k = out.length;
      for (let i = 0; i < k; i++) {
        const h = out[i]!.header;
        if ((h.salt & 0xff) !== rxSeq || h.cmd !== RAW_REPLY_CMD || !pending.delete(Number(h.msgid))) {
          err ??= new Error(`raw l4l client: unexpected reply seq ${h.salt & 0xff} (want ${rxSeq}) cmd ${h.cmd.toString(16)} msgid ${h.msgid}`);
          sock.destroy();
          return;
        }
        rxSeq = (rxSeq + 1) & 0xff;
      }
      out.length = 0;
      n += k;
      if (k > 0) send(k);
    });
    send(inflight);
    return { count: () => n, failure: () => err, stop: () => {} };
  };
}

// ---------------------------------------------------------------- the cases

const CASES = ['oneway', 'oneway64', 'oneway4k', 'rpc1', 'rpc100'] as const;
type CaseName = (typeof CASES)[number];

function selectedCases(): Set<CaseName> {
  const env = process.env.IOCOM_BENCH_CASES;
  if (env === undefined || env.trim() === '') return new Set(CASES);
  const names = env.split(',').map((s) => s.trim());
  for (const n of names) if (!(CASES as readonly string[]).includes(n)) throw new Error(`IOCOM_BENCH_CASES: unknown case '${n}'; known: ${CASES.join(', ')}`);
  return new Set(names as CaseName[]);
}

/** Bench entry point (`npm run bench -- iocom`); the runner calls `endBench`. */
export async function run(ctx: BenchContext): Promise<void> {
  const { reporter, seconds } = ctx;
  const cases = selectedCases();
  const sides = process.env.IOCOM_BENCH_SIDES ?? 'both';
  if (!['both', 'iocom', 'raw'].includes(sides)) throw new Error(`IOCOM_BENCH_SIDES must be both, iocom or raw; got '${sides}'`);
  const doRaw = sides !== 'iocom';
  const doIocom = sides !== 'raw';
  reporter.note(`TCP 127.0.0.1, two processes (worker: bench/iocom-worker.ts), TCP_NODELAY, keepalive off; ${seconds} s per side and case, ${ROUNDS} interleaved rounds (raw, raw_l4l, iocom, ...), medians`);
  reporter.note('raw = net.Socket + pre-encoded frames (CRCs done once, msgid 1, no state; one-way: one block per turn); raw_l4l = hand-written client/server encoding + CRCing every message, Map of pending msgids, sequence checks; receivers parse + check CRCs with FrameDecoder');
  reporter.note(`raw sides read with ${RAW_READ === 'data' ? "'data' events (Node's default path; the iocom reads plain sockets into a reused buffer, socket-reader.ts: IOCOM_BENCH_RAW_READ=reused gives the raw sides that primitive too)" : 'the iocom\'s primitive (IOCOM_BENCH_RAW_READ=reused: socket-reader.ts, a reused buffer)'}`);
  reporter.note('*_cpu_us = CPU µs per operation of BOTH processes (process.cpuUsage), the figure to trust on a busy machine; *_cpu_ratio = raw CPU / iocom CPU; wall-clock msgs/s and *_ratio are noisy under load. MB/s counts aux bytes, 1 MB = 1e6 bytes');
  const worker = await Worker.start();
  const report = (metric: string, value: number | undefined, unit: string, extra: { baseline?: string; ratioMetric?: string } = {}): void => {
    if (value !== undefined) reporter.result({ bench: BENCH, metric, value, unit, ...extra });
  };
  /** Run the sides interleaved and report each: wall rate, CPU µs/op, ratios against the named baselines. */
  const runSides = async (all: Array<Side & { raw: boolean; unit: string; vs?: string[] }>): Promise<Map<string, number>> => {
    const chosen = all.filter((s) => (s.raw ? doRaw : doIocom));
    const rates = new Map<string, number>();
    let results: SideResult[];
    try {
      results = await interleaved(worker, chosen, seconds);
    } catch (err) {
      for (const s of chosen) reporter.failed({ bench: BENCH, metric: `${s.name}_per_s`, reason: oneLine(err) });
      return rates;
    }
    for (let k = 0; k < chosen.length; k++) {
      const s = chosen[k]!;
      const r = results[k]!;
      if ('error' in r) {
        reporter.failed({ bench: BENCH, metric: `${s.name}_per_s`, reason: oneLine(r.error) });
        continue;
      }
      rates.set(s.name, r.rate);
      const [first, ...more] = s.vs ?? [];
      const rateMetric = `${s.name}_per_s`;
      const cpuMetric = `${s.name}_cpu_us`;
      report(rateMetric, r.rate, s.unit, first !== undefined && chosen.some((c) => c.name === first) ? { baseline: `${first}_per_s`, ratioMetric: `${ratioName(s.name, first)}_ratio` } : {});
      report(cpuMetric, r.cpuUs, 'CPU µs/op');
      for (const v of s.vs ?? []) {
        if (!chosen.some((c) => c.name === v)) continue;
        if (v !== first) reporter.ratio(BENCH, `${ratioName(s.name, v)}_ratio`, rateMetric, `${v}_per_s`);
        reporter.ratio(BENCH, `${ratioName(s.name, v)}_cpu_ratio`, `${v}_cpu_us`, cpuMetric);
      }
    }
    return rates;
  };
  try {
    if (cases.has('oneway')) {
      reporter.progress(`${BENCH}: one-way header-only (64-byte) messages ...`);
      await runSides([
        { name: 'oneway_raw', role: 'raw-send', auxBytes: 0, start: rawReceive(0), raw: true, unit: 'msgs/s' },
        { name: 'oneway', role: 'iocom-send', auxBytes: 0, start: iocomReceive(0), raw: false, unit: 'msgs/s', vs: ['oneway_raw'] },
      ]);
    }
    if (cases.has('oneway64')) {
      reporter.progress(`${BENCH}: one-way 64 B aux (128 B on the wire) ...`);
      await runSides([
        { name: 'oneway64_raw', role: 'raw-send', auxBytes: AUX_64, start: rawReceive(AUX_64), raw: true, unit: 'msgs/s' },
        { name: 'oneway64', role: 'iocom-send', auxBytes: AUX_64, start: iocomReceive(AUX_64), raw: false, unit: 'msgs/s', vs: ['oneway64_raw'] },
      ]);
    }
    if (cases.has('oneway4k')) {
      reporter.progress(`${BENCH}: one-way 4 KiB aux ...`);
      const rates = await runSides([
        { name: 'oneway4k_raw', role: 'raw-send', auxBytes: AUX_4K, start: rawReceive(AUX_4K), raw: true, unit: 'msgs/s' },
        { name: 'oneway4k', role: 'iocom-send', auxBytes: AUX_4K, start: iocomReceive(AUX_4K), raw: false, unit: 'msgs/s', vs: ['oneway4k_raw'] },
      ]);
      const io = rates.get('oneway4k');
      report('oneway4k_mb_per_s', io === undefined ? undefined : (io * AUX_4K) / 1e6, 'MB/s');
    }
    for (const inflight of [1, 100]) {
      const name = `rpc${inflight}` as CaseName;
      if (!cases.has(name)) continue;
      reporter.progress(`${BENCH}: round trips, ${inflight} in flight ...`);
      await runSides([
        { name: `${name}_raw`, role: 'raw-serve', auxBytes: 0, start: rawClient(inflight), raw: true, unit: 'round trips/s' },
        { name: `${name}_raw_l4l`, role: 'raw-serve-l4l', auxBytes: 0, start: rawClientL4L(inflight), raw: true, unit: 'round trips/s' },
        { name, role: 'iocom-serve', auxBytes: 0, start: iocomClient(inflight), raw: false, unit: 'round trips/s', vs: [`${name}_raw_l4l`, `${name}_raw`] },
      ]);
    }
  } finally {
    await worker.stop();
  }
}

/** `rpc100` vs `rpc100_raw_l4l` → `rpc100_l4l`; vs `rpc100_raw` → `rpc100` (the existing ratio names). */
function ratioName(side: string, baseline: string): string {
  return baseline.endsWith('_l4l') ? `${side}_l4l` : side;
}
