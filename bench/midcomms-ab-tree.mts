/**
 * One tree's harness for `midcomms-ab.mts` (imported once per tree, as its
 * own module instance): Routers with midcomms and a raw echo, or (fake)
 * two Sessions over fake transactions.
 */
import { pathToFileURL } from 'node:url';

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
async function turnUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`not reached: ${what}`);
}

export interface Runner {
  raw(ms: number): Promise<number>;
  mc(ms: number): Promise<number>;
}

/**
 * The fake case: midcomms alone, without iocom and span: two Sessions whose
 * channels are TransactionChannels over fake transactions that copy each
 * aux (as iocom's send does) and deliver it to the peer's channel at the end
 * of the tick (as a link's flush does). The "raw" round trip is then the
 * fake transaction's alone.
 */

class FakeTx {
  peer: FakeTx | null = null;
  channel: { receive(aux: Uint8Array): void } | null = null;
  readonly canSend = true;
  readonly writable = true;
  #out: Uint8Array[] = [];
  #scheduled = false;
  onRaw: ((aux: Uint8Array) => void) | null = null;
  #slab = new Uint8Array(65536);
  #off = 0;
  send(_cmd: number, opts: { aux: Uint8Array }): boolean {
    // A copy into a slab, as iocom's write queue encodes into its own.
    const n = opts.aux.length;
    if (this.#off + n > this.#slab.length) {
      this.#slab = new Uint8Array(65536);
      this.#off = 0;
    }
    this.#slab.set(opts.aux, this.#off);
    this.#out.push(new Uint8Array(this.#slab.buffer, this.#off, n));
    this.#off += n;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
    return true;
  }
  readonly #flush = (): void => {
    this.#scheduled = false;
    const out = this.#out;
    this.#out = [];
    const peer = this.peer!;
    for (const aux of out) {
      if (peer.onRaw !== null) peer.onRaw(aux);
      else peer.channel?.receive(aux);
    }
  };
  whenWritable(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

async function setupFake(root: string): Promise<Runner> {
  const mcMod = await import(pathToFileURL(`${root}/src/services/midcomms/index.ts`).href);
  const clock = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: any) => clearTimeout(h) };
  const txs = [new FakeTx(), new FakeTx()];
  txs[0]!.peer = txs[1]!;
  txs[1]!.peer = txs[0]!;
  const names = ['f0', 'f1'];
  const sessions: any[] = [];
  for (const i of [0, 1]) {
    const options = mcMod.resolveMidcommsOptions({ clock, nodeid: i + 1 });
    const opener = i === 1 ? {
      open: (sink: any) => {
        const ch = new mcMod.TransactionChannel(txs[1], { frameCmd: 1, maxBatchBytes: 65536 });
        ch.bind(sink);
        txs[1]!.channel = ch;
        // The acceptor's end.
        const back = new mcMod.TransactionChannel(txs[0], { frameCmd: 1, maxBatchBytes: 65536 });
        back.bind(sessions[0].accept(back));
        txs[0]!.channel = back;
        return ch;
      },
    } : null;
    sessions.push(new mcMod.Session(names[1 - i], opener, options, { address: names[i], nextGen: (() => { let g = 0; return () => ++g; })(), onFenced: () => {} }));
  }
  const [s0, s1] = sessions;
  s0.addMember();
  s1.addMember();
  return wire(mcMod, s0, s1, {
    send(aux: Uint8Array, done: () => void) {
      // The fake link alone: an aux there and back.
      txs[1]!.onRaw = () => {
        txs[1]!.onRaw = null;
        done();
      };
      txs[0]!.onRaw = (a) => {
        txs[0]!.onRaw = null;
        txs[0]!.send(1, { aux: a });
      };
      txs[1]!.send(1, { aux });
    },
  });
}

/** The midcomms ping-pong between `s0` (echoes) and `s1`, and the raw round trip `raw`. */
function wire(mcMod: any, s0: any, s1: any, raw: { send(aux: Uint8Array, done: () => void): void }): Runner {
  const fail = (e: unknown): void => {
    process.stderr.write(`send failed: ${String(e)}\n`);
    process.exit(1);
  };
  // MC_BORROW=1: the readers borrow (`ReadOptions.borrow`; a tree without it ignores the argument).
  const readOptions = { borrow: process.env.MC_BORROW === '1' };
  s0.read((bytes: Uint8Array) => {
    if (!s0.tryPost(bytes, fail)) fail(new Error('window full'));
  }, () => {}, undefined, readOptions);
  let mcWaiting: (() => void) | null = null;
  s1.read(() => mcWaiting?.(), () => {}, undefined, readOptions);
  const msg = mcMod.encodeDlmMessage(mcMod.DLM_CMD.MSG, 1, new Uint8Array(72));
  const aux = new Uint8Array(msg.length);
  return {
    async raw(ms) {
      const t0 = cpu();
      const end = performance.now() + ms;
      let n = 0;
      while (performance.now() < end) {
        await new Promise<void>((r) => raw.send(aux, r));
        n++;
      }
      return ((cpu() - t0) * 1e6) / n;
    },
    async mc(ms) {
      const t0 = cpu();
      const end = performance.now() + ms;
      let n = 0;
      while (performance.now() < end) {
        await new Promise<void>((r) => {
          mcWaiting = r;
          if (!s1.tryPost(msg, fail)) fail(new Error('window full'));
        });
        n++;
      }
      return ((cpu() - t0) * 1e6) / n;
    },
  };
}

/** One tree's routers, midcomms and echo, ready: CPU µs per raw and per midcomms round trip over `ms` wall ms. */
export async function setup(root: string, how: { tcp: boolean; fake: boolean }): Promise<Runner> {
  const { tcp, fake } = how;
  if (fake) return setupFake(root);
  const mcMod = await import(pathToFileURL(`${root}/src/services/midcomms/index.ts`).href);
  const span = await import(pathToFileURL(`${root}/src/span/index.ts`).href);
  const mem = await import(pathToFileURL(`${root}/src/transport/memory.ts`).href);
  const tcpMod = await import(pathToFileURL(`${root}/src/transport/tcp.ts`).href);
  const routers = [0, 1].map((i) => new span.Router({ name: `m${i}`, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } }));
  if (tcp) {
    const s = await tcpMod.listenTcp({ host: '127.0.0.1', port: 0 }, (sock: unknown) => void routers[0]!.attach(sock));
    routers[1]!.attach(await tcpMod.connectTcp({ host: '127.0.0.1', port: s.address().port }));
  } else {
    const [a, b] = mem.memoryPair();
    routers[0]!.attach(a);
    routers[1]!.attach(b);
  }
  const mcs = routers.map((r: any) => mcMod.midcomms(r));
  await turnUntil(() => routers.every((r: any) => r.members('midcomms').length === 2), 'midcomms members');
  // The raw echo.
  routers[0]!.serve('ab-echo', (tx: any) => {
    tx.rx$.subscribe({ next: (m: any) => tx.send(span.SVC_CMD.EXAMPLE_ECHO, { aux: m.aux }), complete: () => tx.close(), error: () => {} });
  });
  await turnUntil(() => routers[1]!.members('ab-echo').some((m: any) => !m.local), 'echo member');
  const tx = routers[1]!.open('ab-echo', span.SVC_CMD.EXAMPLE_ECHO);
  let rawWaiting: (() => void) | null = null;
  tx.rx$.subscribe({ next: () => rawWaiting?.(), error: () => {} });
  // midcomms: router 0 echoes what router 1's session sends.
  const s0 = mcs[0].session(routers[1]!.nodeId);
  const s1 = mcs[1].session(routers[0]!.nodeId);
  return wire(mcMod, s0, s1, {
    send(aux, done) {
      rawWaiting = done;
      tx.send(span.SVC_CMD.EXAMPLE_ECHO, { aux });
    },
  });
}

