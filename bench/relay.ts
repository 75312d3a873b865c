/**
 * Relay benchmark (bench name `relay`): transactions through 0, 1 and 3
 * relays on a chain of Routers, client — relay … — server, on TCP
 * 127.0.0.1, keepalive off.
 *
 * The chain is server ← r1 ← r2 ← r3 (each relay dials the next one toward
 * the server); a client Router dials the server (0 relays), r1 (1) or r3 (3).
 * - one-way: the client opens ONE transaction on the server's span and
 *   streams 64-byte messages in it (`tx.send`, waiting on the first-hop
 *   iocom's `whenWritable()`); the server counts what arrives on its rx$,
 *   and the rate is taken from the server's counts (its clock);
 * - round trips: `open(span, cmd, {delete})` → the server's `reply(0)` on
 *   the DELETE, with 1 and 100 in flight, counted by the client.
 *
 * Two families, each with its own 0-relay baseline measured in the same
 * run, the relay counts' rounds interleaved so load changes hit all alike:
 * - separate processes (metrics without suffix): the server and each relay
 *   is a process (bench/relay-worker.ts), the client is this process;
 *   wall clock (several processes work at once);
 * - in-process (`_inproc`): every router in this process, TCP loopback
 *   between them (RELAY_BENCH_INPROC=memory: memory pairs); the bench's
 *   clock (--clock, process CPU time by default).
 *
 * - against DragonFly's libdmsg as the relay (`_libdmsg`): the reference
 *   node (../shared/reference/libdmsg: tools/dmsgnode.c around the stock
 *   library, which relays spans and the transactions opened on them,
 *   dmsg_state_relay) between the client and the server process, beside
 *   our relay (a relay process) and the direct link, rounds interleaved;
 *   wall-clock rates, plus the CPU time of the relay process per relayed
 *   message (/proc/PID/stat, Linux). The node is found at $DMSGNODE or
 *   .scratch/libdmsg/dmsgnode-noassert (build it with
 *   `bash <shared>/reference/libdmsg/build.sh .scratch/libdmsg`); without
 *   it the rows say "skipped: not built".
 *
 * In the `_libdmsg` family a second relay process of ours runs with
 * IocomOptions.earlyFlushBytes (`early` rows; RELAY_BENCH_EARLY_FLUSH=bytes,
 * default 1024, 0 leaves it out), and each relay's read + write system calls
 * per message are given (/proc/PID/io).
 *
 * Environment: RELAY_BENCH_MODES=proc,inproc,libdmsg; RELAY_BENCH_CASES=oneway,rpc1,rpc100;
 * RELAY_NODE_EARLY_FLUSH=bytes sets earlyFlushBytes on every relay (also in process);
 * RELAY_BENCH_INPROC=tcp|memory; RELAY_BENCH_WORKER_ARGS="--cpu-prof --cpu-prof-dir=DIR"
 * adds node flags to the node processes.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect as netConnect, createServer as netServer, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import type { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Router, type SpanInfo } from '../src/span/router.ts';
import type { Iocom } from '../src/iocom/iocom.ts';
import type { Transaction } from '../src/iocom/transaction.ts';
import { connectTcp } from '../src/transport/tcp.ts';
import { memoryPair } from '../src/transport/memory.ts';
import { CLOCKS, currentClock, median, oneLine, type BenchContext } from './harness.ts';
import { startNode, type BenchNode } from './relay-node.ts';
import { CMD, IOCOM_OPTIONS, PER_TURN, SERVICE, type ChildMessage, type NodeRole, type ParentMessage } from './relay-shared.ts';

export const BENCH = 'relay';
const ROUNDS = 5;
const HOPS = [0, 1, 3] as const;
type Hops = (typeof HOPS)[number];
/** No single measurement (or drain) may take longer than this. */
const STEP_TIMEOUT_MS = 30_000;

const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

async function withTimeout<T>(p: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${BENCH}: ${what} took more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- chains

interface Count {
  count: number;
  /** Seconds on the chain's clock. */
  t: number;
}

/** A running chain server ← r1 ← r2 ← r3. */
interface Chain {
  readonly label: string;
  /** The clock of round-trip rates (and of the server's counts). */
  readonly clock: () => number;
  /** A stream for a client to attach to the node `hops` relays away from the server. */
  entry(hops: Hops): Promise<Duplex>;
  /** The server's stream message count. */
  count(): Promise<Count>;
  /** An error a node reported, if any. */
  failure(): Error | undefined;
  close(): Promise<void>;
}

/** A node process. */
class NodeProcess {
  readonly #child: ChildProcess;
  readonly #waiters: Array<{ type: ChildMessage['type']; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }> = [];
  #error: Error | undefined;
  port = 0;

  /** `env`: extra environment of the node process (RELAY_NODE_EARLY_FLUSH). */
  constructor(role: NodeRole, name: string, env?: Record<string, string>) {
    const extra = (process.env.RELAY_BENCH_WORKER_ARGS ?? '').split(/\s+/).filter((a) => a.length > 0);
    // Keep tsx's loader (inherited flags) but not a --cpu-prof meant for this process.
    const inherited = process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
    this.#child = fork(fileURLToPath(new URL('./relay-worker.ts', import.meta.url)), [role, name], {
      execArgv: [...inherited, ...extra],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(env === undefined ? {} : { env: { ...process.env, ...env } }),
    });
    this.#child.on('message', (m: ChildMessage) => {
      if (m.type === 'error') {
        this.#fail(new Error(`relay node ${name}: ${m.message}`));
        return;
      }
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
    });
    this.#child.on('exit', (code, signal) => {
      if (code !== 0) this.#fail(new Error(`relay node ${name} exited with ${signal ?? code}`));
      else this.#fail(new Error(`relay node ${name} exited`));
    });
  }

  get error(): Error | undefined {
    return this.#error;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #fail(e: Error): void {
    this.#error ??= e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  request<T extends ChildMessage['type']>(m: ParentMessage | null, type: T): Promise<Extract<ChildMessage, { type: T }>> {
    if (this.#error) return Promise.reject(this.#error);
    const p = new Promise<ChildMessage>((resolve, reject) => this.#waiters.push({ type, resolve, reject }));
    if (m !== null) this.#child.send(m);
    return withTimeout(p, `waiting for '${type}' from a node`, 20_000) as Promise<Extract<ChildMessage, { type: T }>>;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#error ??= new Error('stopped');
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.send({ type: 'exit' } satisfies ParentMessage);
    const t = setTimeout(() => this.#child.kill(), 5000);
    await exited;
    clearTimeout(t);
  }
}

async function processChain(): Promise<Chain> {
  const nodes = [new NodeProcess('server', 'server'), new NodeProcess('relay', 'r1'), new NodeProcess('relay', 'r2'), new NodeProcess('relay', 'r3')];
  try {
    // Start all at once (tsx start-up is the slow part), then link them in order.
    const ports = await Promise.all(nodes.map((n) => n.request(null, 'listening')));
    ports.forEach((m, i) => (nodes[i]!.port = m.port));
    for (let i = 1; i < nodes.length; i++) {
      const { relays } = await nodes[i]!.request({ type: 'connect', port: nodes[i - 1]!.port }, 'connected');
      if (relays !== i - 1) throw new Error(`relay r${i} sees the span ${relays} relays away, expected ${i - 1}`);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  const server = nodes[0]!;
  return {
    label: 'separate processes (server, r1, r2, r3; client = this process), TCP 127.0.0.1, wall clock',
    clock: CLOCKS.wall,
    entry: (hops) => connectTcp({ host: '127.0.0.1', port: nodes[hops]!.port }),
    count: async () => {
      const m = await server.request({ type: 'count' }, 'count');
      return { count: m.count, t: m.t };
    },
    failure: () => nodes.find((n) => n.error !== undefined)?.error,
    close: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

async function inProcessChain(transport: 'tcp' | 'memory'): Promise<Chain> {
  const listen = transport === 'tcp';
  const nodes: BenchNode[] = [await startNode('server', 'server', listen)];
  for (let i = 1; i <= 3; i++) {
    const n = await startNode('relay', `r${i}`, listen);
    nodes.push(n);
    let relays: number;
    if (listen) relays = await n.connectTcp(nodes[i - 1]!.port);
    else {
      const [a, b] = memoryPair();
      nodes[i - 1]!.router.attach(b);
      relays = await n.connectStream(a);
    }
    if (relays !== i - 1) throw new Error(`relay r${i} sees the span ${relays} relays away, expected ${i - 1}`);
  }
  const clock = CLOCKS[currentClock()];
  const counter = nodes[0]!.counter!;
  return {
    label: `in-process (every router in this process), ${listen ? 'TCP 127.0.0.1' : 'memory pairs'}, ${currentClock()} clock`,
    clock,
    entry: async (hops) => {
      if (listen) return connectTcp({ host: '127.0.0.1', port: nodes[hops]!.port });
      const [a, b] = memoryPair();
      nodes[hops]!.router.attach(b);
      return a;
    },
    count: () => Promise.resolve({ count: counter.count, t: clock() }),
    failure: () => undefined,
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

// ---------------------------------------------------------------- clients

/** Streams messages in one transaction while running, respecting the first hop's backpressure. */
class Streamer {
  readonly #tx: Transaction;
  readonly #iocom: Iocom;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  /** Messages sent in the transaction, its CREATE included. */
  sent = 1;

  constructor(tx: Transaction, iocom: Iocom) {
    this.#tx = tx;
    this.#iocom = iocom;
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #run(): Promise<void> {
    const tx = this.#tx;
    const io = this.#iocom;
    while (this.#running) {
      if (!io.isOpen) throw new Error('the client link closed while streaming');
      if (!io.writable) {
        await io.whenWritable();
        continue;
      }
      for (let i = 0; i < PER_TURN; i++) {
        this.sent++;
        if (!tx.send(CMD)) break;
      }
      await turn();
    }
  }
}

/** Round trips with `inflight` transactions in flight, each reopened when its reply completes rx$. */
class RpcLoop {
  readonly #router: Router;
  readonly #span: SpanInfo;
  readonly #opts = { delete: true };
  #stopping = false;
  #outstanding = 0;
  #drained: (() => void) | undefined;
  done = 0;
  failure: Error | undefined;

  constructor(router: Router, span: SpanInfo) {
    this.#router = router;
    this.#span = span;
  }

  start(inflight: number): void {
    this.#stopping = false;
    for (let i = 0; i < inflight; i++) this.#open();
  }

  /** Stop reopening; resolves when nothing is in flight. */
  stop(): Promise<void> {
    this.#stopping = true;
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((r) => (this.#drained = r));
  }

  #open(): void {
    this.#outstanding++;
    this.#router.open(this.#span, CMD, this.#opts).rx$.subscribe(this);
  }

  // The observer of every round trip (no closure per round trip).
  next(): void {}
  complete(): void {
    this.done++;
    this.#end();
  }
  error(e: Error): void {
    this.failure ??= e;
    this.#end();
  }
  #end(): void {
    this.#outstanding--;
    if (!this.#stopping && this.failure === undefined) this.#open();
    else if (this.#outstanding === 0) this.#drained?.();
  }
}

class Client {
  readonly router: Router;
  readonly iocom: Iocom;
  readonly span: SpanInfo;
  readonly hops: Hops;
  #streamer: Streamer | null = null;
  readonly rpc: RpcLoop;

  private constructor(router: Router, iocom: Iocom, span: SpanInfo, hops: Hops) {
    this.router = router;
    this.iocom = iocom;
    this.span = span;
    this.hops = hops;
    this.rpc = new RpcLoop(router, span);
  }

  static async create(chain: Chain, hops: Hops): Promise<Client> {
    return Client.onStream(await chain.entry(hops), hops, `client${hops}`, 100 + hops, true);
  }

  /** A client on `stream`; `checkPath`: the span's path must show `hops` relays (a foreign relay adds no path record). */
  static async onStream(stream: Duplex, hops: Hops, name: string, rnss: number, checkPath: boolean): Promise<Client> {
    const router = new Router({ name, localRnss: rnss, iocom: IOCOM_OPTIONS });
    const link = router.attach(stream);
    const span = await router.waitForSpan(SERVICE, AbortSignal.timeout(20_000));
    // Relays between client and server: the span's path (server first, ending with our neighbour) minus the server.
    if (checkPath && span.path.length - 1 !== hops) throw new Error(`${name} sees the span ${span.path.length - 1} relays away, expected ${hops}`);
    return new Client(router, link.iocom, span, hops);
  }

  /** The stream transaction, opened on first use. */
  streamer(): Streamer {
    this.#streamer ??= new Streamer(this.router.open(this.span, CMD), this.iocom);
    return this.#streamer;
  }

  /** Messages every stream of this client has sent. */
  get streamed(): number {
    return this.#streamer?.sent ?? 0;
  }

  async close(): Promise<void> {
    this.iocom.destroy();
    await this.router.close();
  }
}

// ---------------------------------------------------------------- measuring

function check(chain: Pick<Chain, 'failure'>, extra?: Error): void {
  const e = extra ?? chain.failure();
  if (e) throw e;
}

/** Wait until the server has counted every message the clients streamed. */
async function drain(chain: Pick<Chain, 'count' | 'failure'>, clients: Client[]): Promise<void> {
  const expected = clients.reduce((s, c) => s + c.streamed, 0);
  await withTimeout(
    (async () => {
      while ((await chain.count()).count < expected) {
        check(chain);
        await sleep(0.005);
      }
    })(),
    'draining the stream',
  );
}

async function onewayRound(chain: Pick<Chain, 'count' | 'failure'>, clients: Client[], c: Client, warmup: number, window: number): Promise<number> {
  const s = c.streamer();
  s.start();
  try {
    await sleep(warmup);
    const a = await chain.count();
    await sleep(window);
    const b = await chain.count();
    check(chain);
    if (b.count === a.count) throw new Error(`no message reached the server through ${c.hops} relays`);
    return (b.count - a.count) / (b.t - a.t);
  } finally {
    await withTimeout(s.stop(), 'stopping the stream');
    await drain(chain, clients);
  }
}

async function rpcRound(chain: Pick<Chain, 'clock' | 'failure'>, c: Client, inflight: number, warmup: number, window: number): Promise<number> {
  const r = c.rpc;
  r.start(inflight);
  try {
    await sleep(warmup);
    const n0 = r.done;
    const t0 = chain.clock();
    await sleep(window);
    const n1 = r.done;
    const t1 = chain.clock();
    check(chain, r.failure);
    if (n1 === n0) throw new Error(`no round trip completed through ${c.hops} relays`);
    return (n1 - n0) / (t1 - t0);
  } finally {
    await withTimeout(r.stop(), 'finishing round trips in flight');
  }
}

const CASES = ['oneway', 'rpc1', 'rpc100'] as const;
type CaseName = (typeof CASES)[number];

function listEnv<T extends string>(name: string, known: readonly T[]): T[] {
  const env = process.env[name];
  if (env === undefined || env.trim() === '') return [...known];
  const list = env.split(',').map((s) => s.trim());
  for (const n of list) if (!(known as readonly string[]).includes(n)) throw new Error(`${name}: unknown '${n}'; known: ${known.join(', ')}`);
  return list as T[];
}

/** Attempts per round before a case is reported as failed (a round can starve on a loaded machine). */
const ATTEMPTS = 3;

function metricOf(name: CaseName, h: Hops, suffix: string): string {
  return name === 'oneway' ? `relay${h}_oneway_msgs_per_s${suffix}` : `relay${h}_${name}_per_s${suffix}`;
}

/** One round's rate, retried up to ATTEMPTS times; the last error is thrown. */
async function measureRound(ctx: BenchContext, what: string, round: () => Promise<number>): Promise<number> {
  let last: unknown;
  for (let a = 1; a <= ATTEMPTS; a++) {
    try {
      return await round();
    } catch (err) {
      last = err;
      ctx.reporter.progress(`${BENCH}: ${what}: attempt ${a}/${ATTEMPTS} failed: ${oneLine(err)}${a < ATTEMPTS ? '; retrying' : ''}`);
    }
  }
  throw last;
}

/**
 * Every case, the hop counts' rounds interleaved (order rotated each round);
 * median per (case, hops). A case whose rounds keep failing is reported as
 * failed rows; the other cases still run.
 */
async function measureChain(ctx: BenchContext, chain: Chain, suffix: string, cases: CaseName[]): Promise<void> {
  const { reporter, seconds } = ctx;
  const window = seconds / ROUNDS;
  const warmup = Math.min(0.2, Math.max(0.05, window / 2));
  const clients: Client[] = [];
  try {
    await reporter.phase(`${BENCH}: clients on the chain${suffix}`, async () => {
      for (const h of HOPS) clients.push(await Client.create(chain, h));
    });
    for (const name of cases) {
      const rates = new Map<Hops, number[]>(HOPS.map((h) => [h, []]));
      try {
        await reporter.phase(`${BENCH}: ${name}${suffix} through 0, 1, 3 relays`, async () => {
          for (let round = 0; round < ROUNDS; round++) {
            for (let k = 0; k < clients.length; k++) {
              const c = clients[(k + round) % clients.length]!;
              const rate = await measureRound(ctx, `${name}${suffix} through ${c.hops} relays, round ${round + 1}`, () =>
                name === 'oneway' ? onewayRound(chain, clients, c, warmup, window) : rpcRound(chain, c, name === 'rpc1' ? 1 : 100, warmup, window),
              );
              rates.get(c.hops)!.push(rate);
            }
          }
        });
      } catch (err) {
        for (const h of HOPS) reporter.failed({ bench: BENCH, metric: metricOf(name, h, suffix), reason: oneLine(err) });
        continue;
      }
      for (const h of HOPS) {
        reporter.result({
          bench: BENCH,
          metric: metricOf(name, h, suffix),
          value: median(rates.get(h)!),
          unit: name === 'oneway' ? 'msgs/s' : 'round trips/s',
          ...(h === 0 ? {} : { baseline: metricOf(name, 0, suffix), ratioMetric: `relay${h}_${name}_ratio${suffix}` }),
        });
      }
    }
  } finally {
    for (const c of clients) await c.close();
  }
}

/** Bench entry point (`npm run bench -- relay`); the runner calls `endBench`. */
export async function run(ctx: BenchContext): Promise<void> {
  const { reporter, seconds } = ctx;
  const modes = listEnv('RELAY_BENCH_MODES', ['proc', 'inproc', 'libdmsg'] as const);
  const cases = listEnv('RELAY_BENCH_CASES', CASES);
  const inproc = process.env.RELAY_BENCH_INPROC ?? 'tcp';
  if (inproc !== 'tcp' && inproc !== 'memory') throw new Error(`RELAY_BENCH_INPROC must be tcp or memory; got '${inproc}'`);
  reporter.note(`chain server <- r1 <- r2 <- r3, client dials server (0 relays), r1 (1) or r3 (3); 64-byte messages; keepalive off; ${seconds} s per metric, median of ${ROUNDS} interleaved rounds`);
  reporter.note(`one-way: ONE transaction, rate counted at the server; round trips: CREATE|DELETE -> reply(0). load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on this machine`);
  const family = async (suffix: string, make: () => Promise<Chain>): Promise<void> => {
    let chain: Chain;
    try {
      chain = await reporter.phase(`${BENCH}: starting the chain${suffix || ' (separate processes)'}`, make);
    } catch (err) {
      for (const name of cases) for (const h of HOPS) reporter.failed({ bench: BENCH, metric: metricOf(name, h, suffix), reason: `chain did not start: ${oneLine(err)}` });
      return;
    }
    reporter.note(`${suffix || 'without suffix'}: ${chain.label}`);
    try {
      await measureChain(ctx, chain, suffix, cases);
    } catch (err) {
      reporter.failed({ bench: BENCH, metric: `clients${suffix}`, reason: oneLine(err) });
    } finally {
      await chain.close().catch(() => {});
    }
  };
  if (modes.includes('proc')) await family('', processChain);
  if (modes.includes('inproc')) await family('_inproc', () => inProcessChain(inproc));
  if (modes.includes('libdmsg')) await libdmsgFamily(ctx, cases);
  reporter.note(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

// ---------------------------------------------------------------- libdmsg as the relay

/** The reference node (DragonFly's libdmsg), if built: $DMSGNODE or .scratch/libdmsg/dmsgnode-noassert. */
function dmsgnodePath(): string | undefined {
  const p = process.env.DMSGNODE ?? fileURLToPath(new URL('../.scratch/libdmsg/dmsgnode-noassert', import.meta.url));
  return existsSync(p) ? p : undefined;
}

/** CPU seconds (user + system, every thread) of process `pid` so far, from /proc; undefined where there is no /proc. */
function procCpu(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Read and write system calls of process `pid` so far (/proc/PID/io syscr + syscw, every thread); undefined where there is no /proc. */
function procSyscalls(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const r = /syscr: (\d+)/.exec(io);
    const w = /syscw: (\d+)/.exec(io);
    return r && w ? Number(r[1]) + Number(w[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A free TCP port on 127.0.0.1 (the node takes a port number, not 0). */
async function freePort(): Promise<number> {
  const srv = netServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Dial the node, retrying while it starts (bounded: 200 attempts, one event-loop turn apart, then 10 ms apart). */
async function dialNode(port: number, child: ChildProcess): Promise<Socket> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`dmsgnode exited with ${child.exitCode}`);
    const sock = netConnect(port, '127.0.0.1');
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('connect', () => resolve(true));
      sock.once('error', () => resolve(false));
    });
    if (ok) {
      sock.setNoDelay(true);
      return sock;
    }
    sock.destroy();
    await sleep(attempt < 20 ? 0 : 0.01);
  }
  throw new Error(`no dmsgnode listening on 127.0.0.1:${port}`);
}

const ALL_LIBDMSG_SIDES = ['direct', 'ours', 'early', 'libdmsg'] as const;
type LibdmsgSide = (typeof ALL_LIBDMSG_SIDES)[number];
/** Our relay with IocomOptions.earlyFlushBytes (the `early` side; 0 leaves the side out). */
const EARLY_FLUSH_BYTES = Number(process.env.RELAY_BENCH_EARLY_FLUSH ?? 1024);

function libdmsgMetric(name: CaseName, side: LibdmsgSide): string {
  const hops = side === 'direct' ? 0 : 1;
  const what = name === 'oneway' ? 'oneway_msgs_per_s' : `${name}_per_s`;
  return `relay${hops}_${what}_${side === 'direct' ? 'direct' : side}_libdmsg`;
}

/**
 * The server process, our relay process (dialling the server), a second
 * one with early flush (`early`: IocomOptions.earlyFlushBytes =
 * RELAY_BENCH_EARLY_FLUSH, default 1024; 0 leaves it out) and the libdmsg
 * node (the server dials it: the node only listens); a client for each:
 * direct to the server, through our relays, through libdmsg. Rounds
 * interleaved, order rotated; medians. Per relay: CPU and read + write
 * system calls per message (/proc).
 */
async function libdmsgFamily(ctx: BenchContext, cases: CaseName[]): Promise<void> {
  const { reporter, seconds } = ctx;
  if (!Number.isInteger(EARLY_FLUSH_BYTES) || EARLY_FLUSH_BYTES < 0) throw new Error(`RELAY_BENCH_EARLY_FLUSH must be a byte count >= 0; got '${process.env.RELAY_BENCH_EARLY_FLUSH}'`);
  const LIBDMSG_SIDES = ALL_LIBDMSG_SIDES.filter((s) => s !== 'early' || EARLY_FLUSH_BYTES > 0);
  const bin = dmsgnodePath();
  if (bin === undefined) {
    const reason = 'skipped: not built (bash <shared>/reference/libdmsg/build.sh .scratch/libdmsg, or set DMSGNODE)';
    for (const name of cases) for (const side of LIBDMSG_SIDES) reporter.skipped({ bench: BENCH, metric: libdmsgMetric(name, side), reason });
    return;
  }
  const window = seconds / ROUNDS;
  const warmup = Math.min(0.2, Math.max(0.05, window / 2));
  const server = new NodeProcess('server', 'server');
  const relay = new NodeProcess('relay', 'r1');
  const early = EARLY_FLUSH_BYTES > 0 ? new NodeProcess('relay', 'r1-early', { RELAY_NODE_EARLY_FLUSH: String(EARLY_FLUSH_BYTES) }) : null;
  const port = await freePort();
  const hub = spawn(bin, ['server', '-l', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let hubLog = '';
  hub.stderr!.on('data', (d: Buffer) => {
    if (hubLog.length < 4096) hubLog += d.toString();
  });
  const hubFailure = (): Error | undefined => (hub.exitCode !== null || hub.signalCode !== null ? new Error(`dmsgnode exited (${hub.signalCode ?? hub.exitCode}): ${hubLog.split('\n').slice(-3).join(' | ')}`) : undefined);
  const chain = {
    clock: CLOCKS.wall,
    count: async (): Promise<Count> => {
      const m = await server.request({ type: 'count' }, 'count');
      return { count: m.count, t: m.t };
    },
    failure: (): Error | undefined => server.error ?? relay.error ?? early?.error ?? hubFailure(),
  };
  const clients = new Map<LibdmsgSide, Client>();
  /** Cases not reported yet (a failure of the whole family reports these). */
  const pending = new Set(cases);
  try {
    await reporter.phase(`${BENCH}: server, our relay and the libdmsg node (${bin})`, async () => {
      const [s, r, e] = await Promise.all([server.request(null, 'listening'), relay.request(null, 'listening'), early?.request(null, 'listening')]);
      server.port = s.port;
      for (const [node, listening] of [[relay, r], ...(early && e ? [[early, e] as const] : [])] as const) {
        node.port = listening.port;
        const { relays } = await node.request({ type: 'connect', port: server.port }, 'connected');
        if (relays !== 0) throw new Error(`our relay sees the span ${relays} relays away, expected 0`);
      }
      await dialNode(port, hub); // the node is up
      await server.request({ type: 'connect', port, noWait: true }, 'connected');
      clients.set('direct', await Client.onStream(await connectTcp({ host: '127.0.0.1', port: server.port }), 0, 'client-direct', 200, true));
      clients.set('ours', await Client.onStream(await connectTcp({ host: '127.0.0.1', port: relay.port }), 1, 'client-ours', 201, true));
      if (early) clients.set('early', await Client.onStream(await connectTcp({ host: '127.0.0.1', port: early.port }), 1, 'client-early', 203, true));
      const viaHub = await Client.onStream(await dialNode(port, hub), 1, 'client-libdmsg', 202, false);
      if (viaHub.span.dist !== 1) throw new Error(`the client on libdmsg sees the span at dist ${viaHub.span.dist}, expected 1`);
      clients.set('libdmsg', viaHub);
    });
    const relayPid: Record<LibdmsgSide, number | undefined> = { direct: undefined, ours: relay.pid, early: early?.pid, libdmsg: hub.pid };
    const all = [...clients.values()];
    for (const name of cases) {
      pending.delete(name);
      const rates = new Map<LibdmsgSide, number[]>(LIBDMSG_SIDES.map((k) => [k, []]));
      const cpus = new Map<LibdmsgSide, number[]>(LIBDMSG_SIDES.map((k) => [k, []]));
      const calls = new Map<LibdmsgSide, number[]>(LIBDMSG_SIDES.map((k) => [k, []]));
      try {
        await reporter.phase(`${BENCH}: ${name} direct, through our relay, through libdmsg`, async () => {
          for (let round = 0; round < ROUNDS; round++) {
            for (let k = 0; k < LIBDMSG_SIDES.length; k++) {
              const side = LIBDMSG_SIDES[(k + round) % LIBDMSG_SIDES.length]!;
              const c = clients.get(side)!;
              const pid = relayPid[side];
              let cpu0: number | undefined;
              let sys0: number | undefined;
              let n0 = 0;
              const rate = await measureRound(ctx, `${name} ${side}, round ${round + 1}`, async () => {
                // CPU of the relay per message: taken over the same round (warm-up included), messages counted at the end.
                cpu0 = procCpu(pid);
                sys0 = procSyscalls(pid);
                n0 = name === 'oneway' ? (await chain.count()).count : c.rpc.done;
                return name === 'oneway' ? onewayRound(chain, all, c, warmup, window) : rpcRound(chain, c, name === 'rpc1' ? 1 : 100, warmup, window);
              });
              rates.get(side)!.push(rate);
              const cpu1 = procCpu(pid);
              const sys1 = procSyscalls(pid);
              const n1 = name === 'oneway' ? (await chain.count()).count : c.rpc.done;
              if (cpu0 !== undefined && cpu1 !== undefined && n1 > n0) cpus.get(side)!.push(((cpu1 - cpu0) * 1e6) / (n1 - n0));
              if (sys0 !== undefined && sys1 !== undefined && n1 > n0) calls.get(side)!.push((sys1 - sys0) / (n1 - n0));
            }
          }
        });
      } catch (err) {
        for (const side of LIBDMSG_SIDES) reporter.failed({ bench: BENCH, metric: libdmsgMetric(name, side), reason: oneLine(err) });
        continue;
      }
      const unit = name === 'oneway' ? 'msgs/s' : 'round trips/s';
      for (const side of LIBDMSG_SIDES) {
        reporter.result({
          bench: BENCH,
          metric: libdmsgMetric(name, side),
          value: median(rates.get(side)!),
          unit,
          ...(side === 'direct' ? {} : { baseline: libdmsgMetric(name, 'direct') }),
        });
      }
      reporter.ratio(BENCH, `relay1_${name}_ours_vs_libdmsg`, libdmsgMetric(name, 'ours'), libdmsgMetric(name, 'libdmsg'));
      if (early) reporter.ratio(BENCH, `relay1_${name}_early_vs_libdmsg`, libdmsgMetric(name, 'early'), libdmsgMetric(name, 'libdmsg'));
      const per = name === 'oneway' ? 'msg' : 'round trip';
      for (const side of LIBDMSG_SIDES) {
        if (side === 'direct') continue;
        const v = cpus.get(side)!;
        if (v.length > 0) reporter.result({ bench: BENCH, metric: `relay1_${name}_relay_cpu_us_${side}_libdmsg`, value: median(v), unit: `relay CPU µs/${per}` });
        const k = calls.get(side)!;
        if (k.length > 0) reporter.result({ bench: BENCH, metric: `relay1_${name}_relay_syscalls_${side}_libdmsg`, value: median(k), unit: `relay reads+writes/${per}` });
      }
      reporter.ratio(BENCH, `relay1_${name}_relay_cpu_libdmsg_vs_ours`, `relay1_${name}_relay_cpu_us_libdmsg_libdmsg`, `relay1_${name}_relay_cpu_us_ours_libdmsg`);
    }
  } catch (err) {
    for (const name of pending) for (const side of LIBDMSG_SIDES) reporter.failed({ bench: BENCH, metric: libdmsgMetric(name, side), reason: `${oneLine(err)}${hubLog ? ` (dmsgnode: ${oneLine(hubLog)})` : ''}` });
  } finally {
    for (const c of clients.values()) await c.close().catch(() => {});
    await Promise.all([server.stop(), relay.stop(), early?.stop()]);
    hub.kill();
  }
}
