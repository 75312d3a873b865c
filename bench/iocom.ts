/**
 * Iocom benchmark (bench name `iocom`): one link over TCP on 127.0.0.1
 * between two processes (this one and bench/iocom-worker.ts), keepalive off.
 *
 * - one-way 64-byte messages/s and 4 KiB-aux messages/s (+ MB/s of aux):
 *   the worker sends with backpressure, this process counts `messages$`;
 * - round trips/s: `open(cmd, {delete})` → the worker's `reply(0)` on the
 *   DELETE, with 1 and with 100 in flight.
 *
 * Each has a raw baseline measured in the same run: a plain socket pair
 * carrying the same bytes (pre-encoded frames, correct CRCs), one write per
 * event-loop turn, the receiver decoding with FrameDecoder (header and aux
 * CRC checks). The `*_ratio` metrics are iocom / raw.
 *
 * Environment (for profiling): IOCOM_BENCH_CASES=oneway,oneway4k,rpc1,rpc100
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
import { CMD, IOCOM_OPTIONS, requestFrames, type ParentMessage, type WorkerMessage, type WorkerRole } from './iocom-shared.ts';

export const BENCH = 'iocom';
const ROUNDS = 5;
/** No single case may take longer than this (a hung link fails the bench instead of stalling it). */
const CASE_TIMEOUT_MS = 30_000;
const AUX_4K = 4096;

const now = (): number => Number(process.hrtime.bigint()) / 1e9;
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

/** Warm up, then sample `count()` over ROUNDS rounds; the median rate. */
async function sampleRate(r: Running, seconds: number, worker: Worker): Promise<number> {
  const check = (): void => {
    const e = r.failure() ?? worker.error;
    if (e) throw e;
  };
  const warmup = Math.min(0.5, Math.max(0.05, seconds * 0.2));
  await sleep(warmup);
  check();
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const c0 = r.count();
    const t0 = now();
    await sleep(seconds / ROUNDS);
    const c1 = r.count();
    rates.push((c1 - c0) / (now() - t0));
    check();
  }
  if (r.count() === 0) throw new Error('no operation completed');
  return median(rates);
}

async function runCase(worker: Worker, role: WorkerRole, auxBytes: number, seconds: number, start: (sock: net.Socket) => Running): Promise<number> {
  const port = await worker.serve(role, auxBytes);
  const sock = await connect(port);
  let r: Running | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    r = start(sock);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${role}: case took more than ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
    });
    return await Promise.race([sampleRate(r, seconds, worker), timeout]);
  } finally {
    clearTimeout(timer);
    r?.stop();
    sock.destroy();
  }
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
    sock.on('data', (chunk: Buffer) => {
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
    sock.on('data', (chunk: Buffer) => {
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

// ---------------------------------------------------------------- the cases

const CASES = ['oneway', 'oneway4k', 'rpc1', 'rpc100'] as const;
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
  reporter.note(`TCP 127.0.0.1, two processes (worker: bench/iocom-worker.ts), TCP_NODELAY, keepalive off; ${seconds} s per metric, median of ${ROUNDS} rounds`);
  reporter.note('raw = net.Socket + pre-encoded frames (CRCs done), receiver parses + checks CRCs with FrameDecoder; MB/s counts aux bytes, 1 MB = 1e6 bytes');
  const worker = await Worker.start();
  /** One measured case: a rate, or a failed row (never a stack trace); the other cases still run. */
  const measured = async (metric: string, what: () => Promise<number>): Promise<number | undefined> => {
    try {
      return await what();
    } catch (err) {
      reporter.failed({ bench: BENCH, metric, reason: oneLine(err) });
      return undefined;
    }
  };
  const report = (metric: string, value: number | undefined, unit: string, extra: { baseline?: string; ratioMetric?: string } = {}): void => {
    if (value !== undefined) reporter.result({ bench: BENCH, metric, value, unit, ...extra });
  };
  try {
    if (cases.has('oneway')) {
      reporter.progress(`${BENCH}: one-way 64-byte messages ...`);
      if (doRaw) report('oneway_raw_msgs_per_s', await measured('oneway_raw_msgs_per_s', () => runCase(worker, 'raw-send', 0, seconds, rawReceive(0))), 'msgs/s');
      if (doIocom) report('oneway_msgs_per_s', await measured('oneway_msgs_per_s', () => runCase(worker, 'iocom-send', 0, seconds, iocomReceive(0))), 'msgs/s', { baseline: 'oneway_raw_msgs_per_s', ratioMetric: 'oneway_ratio' });
    }
    if (cases.has('oneway4k')) {
      reporter.progress(`${BENCH}: one-way 4 KiB aux ...`);
      if (doRaw) report('oneway4k_raw_msgs_per_s', await measured('oneway4k_raw_msgs_per_s', () => runCase(worker, 'raw-send', AUX_4K, seconds, rawReceive(AUX_4K))), 'msgs/s');
      if (doIocom) {
        const io = await measured('oneway4k_msgs_per_s', () => runCase(worker, 'iocom-send', AUX_4K, seconds, iocomReceive(AUX_4K)));
        report('oneway4k_msgs_per_s', io, 'msgs/s', { baseline: 'oneway4k_raw_msgs_per_s', ratioMetric: 'oneway4k_ratio' });
        report('oneway4k_mb_per_s', io === undefined ? undefined : (io * AUX_4K) / 1e6, 'MB/s');
      }
    }
    for (const inflight of [1, 100]) {
      const name = `rpc${inflight}` as CaseName;
      if (!cases.has(name)) continue;
      reporter.progress(`${BENCH}: round trips, ${inflight} in flight ...`);
      if (doRaw) report(`${name}_raw_per_s`, await measured(`${name}_raw_per_s`, () => runCase(worker, 'raw-serve', 0, seconds, rawClient(inflight))), 'round trips/s');
      if (doIocom) report(`${name}_per_s`, await measured(`${name}_per_s`, () => runCase(worker, 'iocom-serve', 0, seconds, iocomClient(inflight))), 'round trips/s', { baseline: `${name}_raw_per_s`, ratioMetric: `${name}_ratio` });
    }
  } finally {
    await worker.stop();
  }
}
