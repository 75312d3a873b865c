/**
 * midcomms benchmark (`npm run bench -- midcomms`): one-way messages per
 * second through a midcomms session and through a plain transaction on the
 * same path in the same run, direct and through one relay, and the time from
 * a link cut to the first message delivered after it (the failover).
 *
 * In-process Routers over memory pairs, keepalive off. Messages are 88-byte
 * DLM MSGs (112 bytes on the wire in OPTS); the raw case sends 112-byte aux
 * in one transaction, waiting on `whenWritable()`. Both cases produce their
 * messages the same way: one buffer per case, built once, with the message
 * number stamped in before each send (midcomms copies the message into its
 * frame at `send()`, iocom copies small aux at `send()`, so the caller may
 * reuse its buffer), so the ratio compares the two layers, not the cost of
 * the benchmark's own allocations. Rates are counted at the receiver, rounds
 * interleaved (raw, midcomms, relay) so load changes hit all alike; median
 * of ROUNDS.
 */
import { loadavg } from 'node:os';
import { Router, SVC_CMD, type Transaction } from '../src/span/index.ts';
import { memoryPair } from '../src/transport/memory.ts';
import { midcomms, type Midcomms } from '../src/services/midcomms/index.ts';
import type { Session } from '../src/services/midcomms/session.ts';
import { CLOCKS, currentClock, median, type BenchContext } from './harness.ts';

export const BENCH = 'midcomms';
const ROUNDS = 5;
const STEP_TIMEOUT_TURNS = 2_000_000;
const RAW_SERVICE = 'bench-raw';
const IOCOM = { pingIntervalMs: 0, linkTimeoutMs: 0 };

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A message buffer built once, re-stamped with a number before each send:
 * `numbered(n)` returns the same buffer with `n` at byte 16 (the first word
 * after the DLM header). Both the midcomms and the raw case use one, so they
 * pay the same per-message production cost.
 */
class Numbered {
  readonly #buf: Uint8Array;
  readonly #dv: DataView;
  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  numbered(n: number): Uint8Array {
    this.#dv.setUint32(16, n >>> 0, true);
    return this.#buf;
  }
}

/** An 88-byte DLM MSG (its number re-stamped per send). */
function dlmMessage(): Numbered {
  const b = new Uint8Array(88);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x00030002, true);
  dv.setUint32(4, 1, true);
  dv.setUint16(12, 88, true);
  b[14] = 1;
  return new Numbered(b);
}

interface Net {
  routers: Router[];
  link(a: number, b: number): { cut(): void };
  close(): Promise<void>;
}

function net(n: number): Net {
  const routers = Array.from({ length: n }, (_, i) => new Router({ name: `b${i}`, iocom: IOCOM }));
  return {
    routers,
    link(a, b) {
      const [sa, sb] = memoryPair();
      const la = routers[a]!.attach(sa);
      const lb = routers[b]!.attach(sb);
      return {
        cut: () => {
          la.iocom.destroy();
          lb.iocom.destroy();
        },
      };
    },
    async close() {
      await Promise.all(routers.map((r) => r.close()));
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < STEP_TIMEOUT_TURNS; i++) {
    if (check()) return;
    await turn();
  }
  throw new Error(`${BENCH}: ${what} not reached`);
}

const reaches = (from: Router, to: Router, service: string): boolean => from.spans(service).some((s) => s.node === to.nodeId);

/** Messages/s through `session` for `seconds`, counted by the receiver's `delivered()`. */
async function midcommsRound(session: Session, delivered: () => number, seconds: number): Promise<number> {
  const now = CLOCKS[currentClock()];
  const message = dlmMessage();
  let n = 0;
  const run = async (secs: number): Promise<number> => {
    const d0 = delivered();
    const t0 = now();
    while (now() - t0 < secs) {
      // Fill the window synchronously; then yield until it has room again.
      for (let k = 0; k < 256 && session.waiting === 0; k++) void session.send(message.numbered(n++)).catch(() => {});
      await turn();
    }
    return (delivered() - d0) / (now() - t0);
  };
  await run(Math.min(0.2, seconds / 4));
  return run(seconds);
}

/** Messages/s through one raw transaction for `seconds`. */
async function rawRound(tx: Transaction, delivered: () => number, seconds: number): Promise<number> {
  const now = CLOCKS[currentClock()];
  const aux = new Numbered(new Uint8Array(112));
  let n = 0;
  const run = async (secs: number): Promise<number> => {
    const d0 = delivered();
    const t0 = now();
    while (now() - t0 < secs) {
      for (let k = 0; k < 256 && tx.writable; k++) tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: aux.numbered(n++) });
      if (!tx.writable) await tx.whenWritable();
      else await turn();
    }
    return (delivered() - d0) / (now() - t0);
  };
  await run(Math.min(0.2, seconds / 4));
  return run(seconds);
}

interface Pair {
  sender: Session;
  delivered: () => number;
  raw: Transaction;
  rawDelivered: () => number;
  services: Midcomms[];
}

/** Client 0 to server `to` on `mesh`, a midcomms session and a raw transaction. */
async function pair(mesh: Net, to: number): Promise<Pair> {
  const [client, server] = [mesh.routers[0]!, mesh.routers[to]!];
  let rawCount = 0;
  server.serve(RAW_SERVICE, (tx) => {
    tx.rx$.subscribe({ next: () => rawCount++, complete: () => tx.close(), error: () => {} });
  });
  const services = [midcomms(client), midcomms(server)];
  await until(() => reaches(client, server, 'midcomms') && reaches(server, client, 'midcomms') && reaches(client, server, RAW_SERVICE), 'spans');
  const sender = services[0]!.session(server.nodeId);
  const receiver = services[1]!.session(client.nodeId);
  let count = 0;
  receiver.messages$.subscribe(() => count++);
  const raw = client.open(RAW_SERVICE, SVC_CMD.EXAMPLE_ECHO, { node: server.nodeId });
  raw.rx$.subscribe({ error: () => {} });
  return { sender, delivered: () => count, raw, rawDelivered: () => rawCount, services };
}

/** ms from cutting the link in use to the first message delivered after it. */
async function failoverRound(): Promise<number> {
  // 0 - 1 - 3 and 0 - 2 - 3: two relay paths; cut 0-1 or 0-2, whichever carries the session.
  const mesh = net(4);
  const links = [mesh.link(0, 1), mesh.link(1, 3), mesh.link(0, 2), mesh.link(2, 3)];
  const [client, server] = [mesh.routers[0]!, mesh.routers[3]!];
  const mcs = [midcomms(client), midcomms(server)];
  try {
    await until(() => reaches(client, server, 'midcomms') && reaches(server, client, 'midcomms'), 'spans');
    const s = mcs[0]!.session(server.nodeId);
    const r = mcs[1]!.session(client.nodeId);
    let lastAt = 0;
    let count = 0;
    r.messages$.subscribe(() => {
      count++;
      lastAt = performance.now();
    });
    let n = 0;
    const message = dlmMessage();
    const pump = (): void => {
      for (let k = 0; k < 32 && s.waiting === 0; k++) void s.send(message.numbered(n++)).catch(() => {});
    };
    for (let i = 0; i < 200; i++) {
      pump();
      await turn();
    }
    await until(() => count > 100, 'traffic');
    const relay1 = mesh.routers[1]!.links.reduce((x, l) => x + l.iocom.stats().messagesIn, 0);
    const relay2 = mesh.routers[2]!.links.reduce((x, l) => x + l.iocom.stats().messagesIn, 0);
    const inUse = relay1 >= relay2 ? links[0]! : links[2]!;
    const before = count;
    const cutAt = performance.now();
    inUse.cut();
    for (let i = 0; i < STEP_TIMEOUT_TURNS && count === before; i++) {
      pump();
      await turn();
    }
    if (count === before) throw new Error('no delivery after the cut');
    return lastAt - cutAt;
  } finally {
    for (const m of mcs) m.destroy();
    await mesh.close();
  }
}

export async function run(ctx: BenchContext): Promise<void> {
  const { reporter, seconds } = ctx;
  const window = seconds / ROUNDS;
  reporter.note(`in-process routers over memory pairs, keepalive off; 88-byte DLM MSGs (112 bytes in OPTS) vs 112-byte aux in one raw transaction; ${seconds} s per metric, median of ${ROUNDS} interleaved rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const direct = net(2);
  direct.link(0, 1);
  const relayed = net(3);
  relayed.link(0, 1);
  relayed.link(1, 2);
  const rates: Record<string, number[]> = { raw: [], mc: [], raw1: [], mc1: [] };
  const failed: Record<string, string> = {};
  let p0: Pair | null = null;
  let p1: Pair | null = null;
  try {
    p0 = await pair(direct, 1);
    p1 = await pair(relayed, 2);
    for (let round = 0; round < ROUNDS; round++) {
      reporter.progress(`${BENCH}: round ${round + 1}/${ROUNDS}`);
      rates.raw!.push(await rawRound(p0.raw, p0.rawDelivered, window));
      rates.mc!.push(await midcommsRound(p0.sender, p0.delivered, window));
      rates.raw1!.push(await rawRound(p1.raw, p1.rawDelivered, window));
      rates.mc1!.push(await midcommsRound(p1.sender, p1.delivered, window));
    }
  } catch (err) {
    failed.throughput = (err as Error).message;
  } finally {
    for (const p of [p0, p1]) for (const m of p?.services ?? []) m.destroy();
    await direct.close();
    await relayed.close();
  }
  const row = (metric: string, values: number[], unit: string, baseline?: string): void => {
    if (values.length === 0) {
      reporter.note(`${metric}: failed: ${failed.throughput ?? failed.failover ?? 'no result'}`);
      reporter.result({ bench: BENCH, metric, value: Number.NaN, unit });
      return;
    }
    reporter.result({ bench: BENCH, metric, value: median(values), unit, ...(baseline ? { baseline } : {}) });
  };
  row('midcomms_raw_msgs_per_s', rates.raw!, 'msgs/s');
  row('midcomms_msgs_per_s', rates.mc!, 'msgs/s', 'midcomms_raw_msgs_per_s');
  row('midcomms_raw_relay1_msgs_per_s', rates.raw1!, 'msgs/s');
  row('midcomms_relay1_msgs_per_s', rates.mc1!, 'msgs/s', 'midcomms_raw_relay1_msgs_per_s');
  const failover: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) failover.push(await failoverRound());
  } catch (err) {
    failed.failover = (err as Error).message;
  }
  row('midcomms_failover_ms', failover, 'ms');
  reporter.note(`failover: two relay paths, the one in use cut; ms from the cut to the first message delivered after it (wall clock), median of ${ROUNDS}`);
}
