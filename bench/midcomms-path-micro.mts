/**
 * midcomms' per-message paths in a hot loop, nothing below the session
 * (not part of `npm run bench`): two Sessions of the tree TREE over plain
 * in-memory channels (a write is queued and handed to the peer's sink when
 * the loop says so), so only session.ts, sender.ts, receiver.ts and what
 * they call run. Cases, ns per operation (median and least of ROUNDS
 * rounds of OPS operations):
 * - `send`: `tryPost` of an 88-byte MSG to the current channel (the write
 *   discarded), with the peer's ACK (alone) fed back every 32 messages;
 * - `receive`: an OPTS frame with the next sequence number into the
 *   session's sink (the frames `send` sent), read by a borrowing reader
 *   (its ACKs discarded);
 * - `echo`: a round trip, both sessions: s1 posts, s0's reader posts it
 *   back, s1's reader has it (frames handed over synchronously, one batch
 *   per write).
 * One tree per process (no call site shared between trees): alternate
 * processes to compare trees.
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/midcomms-path-micro.mts TREE [ROUNDS] [OPS]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? '.');
const ROUNDS = Number(process.argv[3] ?? 15);
const OPS = Number(process.argv[4] ?? 100_000);
const V32 = 0x00030002;

const mc = await import(pathToFileURL(`${root}/src/services/midcomms/index.ts`).href);

interface Sink {
  data(bytes: Uint8Array): void;
  writable(): void;
  lost(reason?: string): void;
}

/** A one-direction pipe: writes are copied (into a reused buffer, as a socket's would be) and queue up (or are dropped) until `flush()`. */
class Pipe {
  sink: Sink | null = null;
  q: Uint8Array[] = [];
  discard = false;
  writes = 0;
  #buf = new Uint8Array(1 << 20);
  #off = 0;
  channel(): { write(b: Uint8Array): boolean; close(): void } {
    return {
      write: (b) => {
        this.writes++;
        if (this.discard) return true;
        if (this.#off + b.length > this.#buf.length) this.#off = 0;
        this.#buf.set(b, this.#off);
        this.q.push(new Uint8Array(this.#buf.buffer, this.#off, b.length));
        this.#off += b.length;
        return true;
      },
      close: () => {},
    };
  }
  flush(): boolean {
    if (this.q.length === 0) return false;
    const q = this.q;
    this.q = [];
    for (const b of q) this.sink?.data(b);
    return true;
  }
}

const clock = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: ReturnType<typeof setTimeout>) => clearTimeout(h) };
const toS0 = new Pipe();
const toS1 = new Pipe();
let gen = 0;
const ctx = (address: string) => ({ address, nextGen: () => ++gen, onFenced: () => {} });
const s0 = new mc.Session('s1', null, mc.resolveMidcommsOptions({ clock, nodeid: 1 }), ctx('s0'));
const s1 = new mc.Session(
  's0',
  {
    open(sink: Sink) {
      toS1.sink = sink;
      toS0.sink = s0.accept(toS1.channel());
      return toS0.channel();
    },
  },
  mc.resolveMidcommsOptions({ clock, nodeid: 2 }),
  ctx('s1'),
);
const settle = (): void => {
  for (let i = 0; i < 1000 && (toS0.flush() || toS1.flush()); i++);
};
s0.addMember();
s1.addMember();

/** An 88-byte MSG (lockspace 7) from node `nodeid`. */
function message(nodeid: number): Uint8Array {
  const m = mc.encodeDlmMessage(mc.DLM_CMD.MSG, 7, new Uint8Array(72), nodeid);
  return m;
}
const m1 = message(2);
let echoMode = false;
let echoed = 0;
const fail = (e: unknown): void => {
  process.stderr.write(`send failed: ${String(e)}\n`);
  process.exit(1);
};
s0.read(
  (bytes: Uint8Array) => {
    if (echoMode && !s0.tryPost(bytes, fail)) fail(new Error('window full'));
  },
  () => {},
  undefined,
  { borrow: true },
);
s1.read(() => echoed++, () => {}, undefined, { borrow: true });
await s1.send(m1);
settle();
if (s0.stats().delivered !== 1) throw new Error('setup: not delivered');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * tryPost from s1, writes discarded, the peer's ACK fed back every 32
 * messages. (Alone: an ACK joined to a message would need a message s0
 * really sent; the echo case has those.) The receive case then takes the
 * frames these sends would have been, so the sequence numbers of both
 * sessions stay consistent.
 */
function sendCase(): number {
  toS0.discard = true;
  let seq: number = s1.stats().seqSend;
  const ack = new Uint8Array(16);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) {
    s1.tryPost(m1, fail);
    seq++;
    if ((i & 31) === 31) {
      mc.writeHeader(ack, 0, V32, seq >>> 0, 1, 16, mc.DLM_CMD.ACK);
      toS1.sink!.data(ack);
    }
  }
  const ns = Number(process.hrtime.bigint() - t0) / OPS;
  toS0.discard = false;
  // The rest of the window, acknowledged.
  mc.writeHeader(ack, 0, V32, seq >>> 0, 1, 16, mc.DLM_CMD.ACK);
  toS1.sink!.data(ack);
  return ns;
}

/** OPTS frames into s0's sink, in sequence, read by a borrowing reader; its ACKs discarded. */
function receiveCase(): number {
  toS1.discard = true;
  let seq: number = s0.stats().seqNext;
  const frame = mc.encodeOpts(V32, 2, 0, message(2));
  const dv = new DataView(frame.buffer);
  const sink = toS0.sink!;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) {
    dv.setUint32(4, seq++ >>> 0, true);
    sink.data(frame);
  }
  const ns = Number(process.hrtime.bigint() - t0) / OPS;
  toS1.discard = false;
  return ns;
}

/** Round trips: s1 posts, s0 echoes, s1 reads; frames handed over synchronously. */
function echoCase(): number {
  echoMode = true;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) {
    s1.tryPost(m1, fail);
    toS0.flush();
    toS1.flush();
  }
  const ns = Number(process.hrtime.bigint() - t0) / OPS;
  echoMode = false;
  return ns;
}

/** MICRO_CASE=send|receive|echo runs that case alone (for --cpu-prof); receive needs send before it. */
const only = process.env.MICRO_CASE;
const cases = ([
  ['send', sendCase],
  ['receive', receiveCase],
  ['echo', echoCase],
] as Array<[string, () => number]>).filter(([n]) => only === undefined || n === only || (only === 'receive' && n === 'send'));
const results = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS + 2; r++) {
  for (const [name, run] of cases) {
    let ns: number;
    try {
      ns = run();
      settle();
    } catch (e) {
      process.stdout.write(`${name}: failed: ${(e as Error).message}\n`);
      continue;
    }
    if (r >= 2) results.get(name)!.push(ns); // two warm-up rounds
  }
}
const delivered = s0.stats().delivered;
if (cases.length === 3 && delivered < OPS) throw new Error(`receive: only ${delivered} delivered`);
process.stdout.write(`${root}: ns per op, median / least of ${ROUNDS} rounds of ${OPS}:`);
for (const [name] of cases) {
  const xs = results.get(name)!;
  process.stdout.write(` ${name} ${xs.length ? `${median(xs).toFixed(1)} / ${Math.min(...xs).toFixed(1)}` : 'failed'};`);
}
process.stdout.write('\n');
