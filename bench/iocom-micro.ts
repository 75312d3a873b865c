/**
 * In-process micro-benchmark of the iocom hot paths, in CPU time per
 * operation (process.cpuUsage), so a busy machine does not skew it much.
 * Not registered in bench/run.ts: run `npx tsx bench/iocom-micro.ts [CASE...]`
 * (profile with `node --import tsx --cpu-prof bench/iocom-micro.ts CASE`).
 *
 * Cases (every stream is an in-memory Duplex, no sockets):
 * - send:     sendOneWay of 64-byte messages into a sink, 2048 per event-loop turn;
 * - recv:     one-way 64-byte messages decoded and delivered to messages$;
 * - raw-recv: the same bytes through a bare FrameDecoder (the bench's raw receiver);
 * - rpc1, rpc100: open(cmd, {delete}) → peer reply(0) on rx$ complete, both
 *   iocoms in this process (CPU of both sides per round trip);
 * - raw-rpc100: the bench's raw round trip (decode + pre-encoded writes) in process;
 * - l4l-rpc100: the bench's like-for-like raw round trip (every request and
 *   reply encoded and CRCed, a Map of pending msgids, sequence checks);
 * - send64, recv64, raw-recv64: as send, recv and raw-recv with 64 bytes of aux;
 * - send64-tcp: send64 over a real TCP socket on 127.0.0.1 to a discarding
 *   reader in this process (the writer recycles its slabs, as on every
 *   net.Socket; the CPU includes both ends' kernel work).
 *
 * Env: MICRO_OPS (operations per round, default 200000), MICRO_ROUNDS (default 15).
 * Prints the minimum and the median of the rounds' CPU µs per operation:
 * on a shared machine the minimum is the steadier figure.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Iocom as LocalIocom, type Iocom } from '../src/iocom/iocom.ts';
import type { Transaction } from '../src/iocom/transaction.ts';
import { FrameDecoder } from '../src/wire/frame-decoder.ts';
import type { Message } from '../src/wire/message.ts';
import { CMD, IOCOM_OPTIONS, RAW_REPLY_CMD, RAW_REQUEST_CMD, oneWayFrames, payload, replyFrames, requestFrames, writeRawHeader } from './iocom-shared.ts';

const OPS = Number(process.env.MICRO_OPS ?? 200_000);
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 15);

const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** A Duplex whose writes go to `onWrite` (synchronously accepted). */
class Pipe extends Duplex {
  onWrite: (chunk: Uint8Array) => void = () => {};
  override _read(): void {}
  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.onWrite(chunk);
    cb();
  }
  override _writev(chunks: Array<{ chunk: Uint8Array }>, cb: (e?: Error | null) => void): void {
    for (const c of chunks) this.onWrite(c.chunk);
    cb();
  }
}

/** Two pipes: what one writes the other receives, one microtask later. */
function pair(): [Pipe, Pipe] {
  const a = new Pipe();
  const b = new Pipe();
  a.onWrite = (c) => queueMicrotask(() => b.emit('data', c));
  b.onWrite = (c) => queueMicrotask(() => a.emit('data', c));
  return [a, b];
}

type Case = () => Promise<number>; // runs one round, returns ops done

/** The Iocom class under test (another build can be passed in, to compare two in one process). */
export type IocomClass = new (stream: Duplex, options: typeof IOCOM_OPTIONS) => Iocom;

/** The cases, each a factory of its round function, over the given Iocom class. */
export function makeCases(IocomImpl: IocomClass): Record<string, () => Case> {
  const Iocom = IocomImpl;
  const rpc = (inflight: number): Case => rpcCase(Iocom, inflight);
  return {
  send: () => {
    const s = new Pipe();
    const io = new Iocom(s, IOCOM_OPTIONS);
    const opts = {};
    return async () => {
      for (let n = 0; n < OPS; n += 2048) {
        for (let i = 0; i < 2048; i++) io.sendOneWay(CMD, opts);
        await turn(); // as the bench's sender; also lets 'drain' (a nextTick) through
      }
      return Math.ceil(OPS / 2048) * 2048;
    };
  },
  send64: () => {
    const s = new Pipe();
    const io = new Iocom(s, IOCOM_OPTIONS);
    const opts = { aux: payload(64) };
    return async () => {
      for (let n = 0; n < OPS; n += 1024) {
        for (let i = 0; i < 1024; i++) io.sendOneWay(CMD, opts);
        await turn();
      }
      return Math.ceil(OPS / 1024) * 1024;
    };
  },
  'send64-tcp': () => {
    // A real net.Socket (so the writer recycles its slabs) to a sink in this process that discards.
    let io: Iocom | undefined;
    const opts = { aux: payload(64) };
    return async () => {
      io ??= await connectSink(Iocom);
      for (let n = 0; n < OPS; ) {
        if (!io.writable) {
          await io.whenWritable();
          continue;
        }
        for (let i = 0; i < 1024; i++) io.sendOneWay(CMD, opts);
        n += 1024;
        await turn();
      }
      return Math.ceil(OPS / 1024) * 1024;
    };
  },
  recv64: () => {
    const s = new Pipe();
    const io = new Iocom(s, IOCOM_OPTIONS);
    let n = 0;
    io.messages$.subscribe((m) => {
      if (m.aux.length === 64) n++;
    });
    const chunk = oneWayFrames(1024, payload(64));
    return async () => {
      n = 0;
      while (n < OPS) s.emit('data', chunk);
      return n;
    };
  },
  'l4l-rpc100': () => {
    const inflight = 100;
    const [a, b] = pair();
    const decA = new FrameDecoder();
    const decB = new FrameDecoder();
    const outA: Message[] = [];
    const outB: Message[] = [];
    const pending = new Map<number, number>();
    let nextId = 1;
    let txA = 0;
    let rxA = 0;
    let txB = 0;
    let rxB = 0;
    let n = 0;
    let target = 0;
    let done: (() => void) | undefined;
    b.on('data', (chunk: Uint8Array) => {
      decB.pushInto(chunk, outB);
      const k = outB.length;
      if (k === 0) return;
      const buf = Buffer.alloc(k * 64);
      for (let i = 0; i < k; i++) {
        const h = outB[i]!.header;
        if ((h.salt & 0xff) !== rxB || h.cmd !== RAW_REQUEST_CMD) throw new Error('l4l server: bad request');
        rxB = (rxB + 1) & 0xff;
        txB = writeRawHeader(buf, i * 64, txB, Number(h.msgid), RAW_REPLY_CMD);
      }
      outB.length = 0;
      b.write(buf);
    });
    const send = (k: number): void => {
      const buf = Buffer.alloc(k * 64);
      for (let i = 0; i < k; i++) {
        const id = nextId;
        nextId = nextId >= 0x7fffffff ? 1 : nextId + 1;
        pending.set(id, n);
        txA = writeRawHeader(buf, i * 64, txA, id, RAW_REQUEST_CMD);
      }
      a.write(buf);
    };
    a.on('data', (chunk: Uint8Array) => {
      decA.pushInto(chunk, outA);
      const k = outA.length;
      for (let i = 0; i < k; i++) {
        const h = outA[i]!.header;
        if ((h.salt & 0xff) !== rxA || h.cmd !== RAW_REPLY_CMD || !pending.delete(Number(h.msgid))) throw new Error('l4l client: bad reply');
        rxA = (rxA + 1) & 0xff;
      }
      outA.length = 0;
      n += k;
      if (n >= target && done) {
        const d = done;
        done = undefined;
        d();
        return;
      }
      if (k > 0) send(k);
    });
    return () =>
      new Promise<number>((resolve) => {
        const start = n;
        target = n + OPS;
        done = () => resolve(n - start);
        // The replies of the last round were not answered: as many requests as are missing go out.
        send(inflight - pending.size);
      });
  },
  recv: () => {
    const s = new Pipe();
    const io = new Iocom(s, IOCOM_OPTIONS);
    let n = 0;
    io.messages$.subscribe(() => n++);
    const chunk = oneWayFrames(2048, undefined);
    return async () => {
      n = 0;
      while (n < OPS) s.emit('data', chunk);
      return n;
    };
  },
  'raw-recv': () => {
    const dec = new FrameDecoder();
    const out: Message[] = [];
    const chunk = oneWayFrames(2048, undefined);
    return async () => {
      let n = 0;
      while (n < OPS) {
        dec.pushInto(chunk, out);
        for (let i = 0; i < out.length; i++) if (out[i]!.aux.length === 0) n++;
        out.length = 0;
      }
      return n;
    };
  },
  'raw-recv64': () => {
    const dec = new FrameDecoder();
    const out: Message[] = [];
    const chunk = oneWayFrames(1024, payload(64));
    return async () => {
      let n = 0;
      while (n < OPS) {
        dec.pushInto(chunk, out);
        for (let i = 0; i < out.length; i++) if (out[i]!.aux.length === 64) n++;
        out.length = 0;
      }
      return n;
    };
  },
  rpc1: () => rpc(1),
  rpc100: () => rpc(100),
  'raw-rpc100': () => {
    const inflight = 100;
    const [a, b] = pair();
    const requests = requestFrames(inflight);
    const replies = replyFrames(256);
    const decA = new FrameDecoder();
    const decB = new FrameDecoder();
    const outA: Message[] = [];
    const outB: Message[] = [];
    let n = 0;
    let target = 0;
    let done: (() => void) | undefined;
    b.on('data', (chunk: Uint8Array) => {
      decB.pushInto(chunk, outB);
      const k = outB.length;
      outB.length = 0;
      if (k > 0) b.write(replies.subarray(0, k * 64));
    });
    a.on('data', (chunk: Uint8Array) => {
      decA.pushInto(chunk, outA);
      const k = outA.length;
      outA.length = 0;
      n += k;
      if (n >= target && done) {
        const d = done;
        done = undefined;
        d();
        return;
      }
      if (k > 0) a.write(requests.subarray(0, k * 64));
    });
    return () =>
      new Promise<number>((resolve) => {
        const start = n;
        target = n + OPS;
        done = () => resolve(n - start);
        a.write(requests);
      });
  },
  };
}

class Replier {
  readonly #tx: Transaction;
  constructor(tx: Transaction) {
    this.#tx = tx;
  }
  complete(): void {
    this.#tx.reply(0);
  }
  error(): void {}
}

function rpcCase(Iocom: IocomClass, inflight: number): Case {
  const [a, b] = pair();
  const client = new Iocom(a, IOCOM_OPTIONS);
  const server = new Iocom(b, IOCOM_OPTIONS);
  server.transactions$.subscribe((tx) => {
    tx.rx$.subscribe(new Replier(tx));
  });
  let n = 0;
  let target = 0;
  let live = 0;
  let done: (() => void) | undefined;
  const opts = { delete: true };
  const observer = {
    complete: (): void => {
      n++;
      live--;
      if (n < target) start();
      else if (live === 0 && done) done();
    },
    error: (e: Error): void => {
      throw e;
    },
  };
  const start = (): void => {
    live++;
    client.open(CMD, opts).rx$.subscribe(observer);
  };
  return () =>
    new Promise<number>((resolve) => {
      const s = n;
      target = n + OPS;
      done = () => resolve(n - s);
      for (let i = 0; i < inflight; i++) start();
    });
}

/** An Iocom over TCP on 127.0.0.1 to a server socket in this process that reads and discards everything. */
async function connectSink(IocomImpl: IocomClass): Promise<Iocom> {
  const server = net.createServer((sock) => {
    server.close();
    sock.on('data', () => {});
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const io = new IocomImpl(sock, IOCOM_OPTIONS);
  sock.unref();
  return io;
}

async function main(): Promise<void> {
  const cases = makeCases(LocalIocom);
  const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(cases);
  for (const name of names) {
    const make = cases[name];
    if (!make) throw new Error(`unknown case ${name}; known: ${Object.keys(cases).join(', ')}`);
    const round = make();
    await round(); // warm-up
    const us: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const c0 = cpu();
      const ops = await round();
      us.push((cpu() - c0) / ops);
    }
    us.sort((x, y) => x - y);
    const med = us[us.length >> 1]!;
    process.stdout.write(`${name.padEnd(11)} ${us[0]!.toFixed(3)} µs/op CPU min (median ${med.toFixed(3)}; ${(1 / us[0]!).toFixed(2)} M ops/CPU-s)\n`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
