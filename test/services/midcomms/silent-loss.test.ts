/**
 * Midcomms after a silent path loss (the multi-host finding: a link cut with
 * `ip link set down`, or a frozen relay, is found only by keepalive). In
 * process: Routers over faulty pairs in the ring of test/hosts (A behind h3,
 * B behind h0; h3-h2-h1-h0 the short path, h3-h4-h5-h6-h0 the long one), a
 * link on the path stalled in both directions (no close), every iocom and
 * router timer and the midcomms timers on one ManualClock. The keepalive
 * declares the link lost, the mesh reroutes, and the sender's window must
 * drain with every message delivered once and in order.
 *
 * Time moves only in `step()` (the clock advanced a little, then event-loop
 * turns); no sleeps. Fixed seeds are printed on failure.
 */
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { Router } from '../../../src/span/index.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { faultyPair } from '../../helpers/faulty-pair.ts';
import type { FaultyPair } from '../../helpers/faulty-pair.ts';
import { lcg, nodeIdOf, turn } from '../../helpers/mesh.ts';
import { msg, msgNumber } from './fake-net.ts';

const PING_MS = 1000;
const LINK_TIMEOUT_MS = 10_000;

/** Node indices: A and B run midcomms; h0..h6 are the relays of the hosts' ring7. */
const A = 0;
const H3 = 1;
const H2 = 2;
const H1 = 3;
const H0 = 4;
const B = 5;
const H4 = 6;
const H5 = 7;
const H6 = 8;
const NAMES = ['node-a', 'h3', 'h2', 'h1', 'h0', 'node-b', 'h4', 'h5', 'h6'];
const EDGES: Array<[number, number]> = [
  [A, H3],
  [H3, H2],
  [H2, H1],
  [H1, H0],
  [H0, B],
  [H3, H4],
  [H4, H5],
  [H5, H6],
  [H6, H0],
];

/**
 * A router's end of a link that, when the router drops it (keepalive), goes
 * away without telling the wire: the other end learns nothing and must time
 * out by itself, as over a link set down or to a frozen host (no FIN, no RST).
 */
class SilentEnd extends Duplex {
  readonly #end: Duplex;
  readonly #onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.#end.pause();
  };

  constructor(end: Duplex) {
    super();
    this.#end = end;
    end.on('data', this.#onData);
    end.on('end', () => this.push(null));
    end.on('close', () => this.destroy()); // a real close (test teardown) still reaches the router
  }

  override _read(): void {
    this.#end.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.#end.destroyed) return cb();
    if (this.#end.write(chunk)) cb();
    else this.#end.once('drain', () => cb());
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.#end.off('data', this.#onData);
    cb(e);
  }
}

interface Net {
  clock: ManualClock;
  routers: Router[];
  pairs: Map<string, FaultyPair>;
  mcA: Midcomms;
  mcB: Midcomms;
  close(): Promise<void>;
}

let net: Net | null = null;
afterEach(async () => {
  await net?.close();
  net = null;
});

function build(): Net {
  const clock = new ManualClock(1_000_000);
  const routers = NAMES.map(
    (name, i) => new Router({ name, nodeId: nodeIdOf(i), localRnss: 1, clock, iocom: { clock, pingIntervalMs: PING_MS, linkTimeoutMs: LINK_TIMEOUT_MS } }),
  );
  const pairs = new Map<string, FaultyPair>();
  for (const [x, y] of EDGES) {
    const p = faultyPair();
    // Links at h1 (the relay on the short path next to h0) drop silently.
    routers[x]!.attach(x === H1 || y === H1 ? new SilentEnd(p.a) : p.a);
    routers[y]!.attach(x === H1 || y === H1 ? new SilentEnd(p.b) : p.b);
    pairs.set(`${x}-${y}`, p);
  }
  const mcA = midcomms(routers[A]!, { clock });
  const mcB = midcomms(routers[B]!, { clock });
  return {
    clock,
    routers,
    pairs,
    mcA,
    mcB,
    async close() {
      mcA.destroy();
      mcB.destroy();
      for (const p of pairs.values()) p.cut();
      await Promise.all(routers.map((r) => r.close()));
    },
  };
}

/** Virtual time forward by `ms` in small slices, the event loop turning between them (pings must cross). */
async function step(n: Net, ms: number, slice = 10): Promise<void> {
  for (let t = 0; t < ms; t += slice) {
    n.clock.advance(Math.min(slice, ms - t));
    for (let i = 0; i < 4; i++) await turn();
  }
}

async function stepUntil(n: Net, check: () => boolean, maxMs: number, slice = 10): Promise<boolean> {
  for (let t = 0; t < maxMs; t += slice) {
    if (check()) return true;
    await step(n, slice, slice);
  }
  return check();
}

function sees(n: Net, from: number, to: number): boolean {
  return n.routers[from]!.spans('midcomms').some((s) => s.node === n.routers[to]!.nodeId);
}

/** The distance of A's best span of B's midcomms (-1: none). */
function distAB(n: Net): number {
  return n.routers[A]!.spans('midcomms').find((x) => x.node === n.routers[B]!.nodeId)?.dist ?? -1;
}

interface Stream {
  sent: number;
  got: number[];
  toB: Session;
  fromA: Session;
  /** Sends up to `k` more messages, never waiting for room (what does not fit waits for the next call). */
  pump(k: number): void;
}

function stream(n: Net): Stream {
  const toB = n.mcA.session(n.routers[B]!.nodeId);
  const fromA = n.mcB.session(n.routers[A]!.nodeId);
  const s: Stream = {
    sent: 0,
    got: [],
    toB,
    fromA,
    pump(k) {
      for (let i = 0; i < k && toB.waiting === 0; i++) void toB.send(msg(s.sent++));
    },
  };
  fromA.messages$.subscribe((m) => s.got.push(msgNumber(m)));
  return s;
}

function describeState(n: Net, s: Stream): string {
  return `sent ${s.sent}, B got ${s.got.length}; A: ${JSON.stringify(s.toB.stats())}; B: ${JSON.stringify(s.fromA.stats())}; A->B dist ${distAB(n)}; B sees A: ${sees(n, B, A)}`;
}

/** A fault applied `atMs` after the first one. */
type Fault = [atMs: number, apply: (n: Net) => void];

/**
 * Runs the stream A -> B, applies `faults` on the short path while messages
 * are in flight, lets keepalive find them, and checks the session recovers:
 * everything delivered once and in order, A's window empty.
 */
async function silentLossScenario(seed: number, faults: Fault[]): Promise<void> {
  const rand = lcg(seed);
  const n = (net = build());
  const ok = await stepUntil(n, () => sees(n, A, B) && sees(n, B, A), 5_000);
  expect(ok, 'A and B see each other').toBe(true);
  const shortDist = distAB(n);
  expect(shortDist, 'A sees B').toBeGreaterThanOrEqual(0);
  const s = stream(n);
  // Traffic before the fault: a random number of messages, delivered.
  const before = 50 + Math.floor(rand() * 200);
  while (s.sent < before) {
    s.pump(10);
    await step(n, 2);
  }
  expect(await stepUntil(n, () => s.got.length === s.sent, 2_000), `delivered before the fault: ${describeState(n, s)}`).toBe(true);
  // The faults, with the stream still running through the keepalive timeouts.
  const todo = [...faults].sort((x, y) => x[0] - y[0]);
  const last = todo[todo.length - 1]![0];
  const faultAt = n.clock.now();
  while (n.clock.now() - faultAt < last + LINK_TIMEOUT_MS + 5_000) {
    while (todo.length > 0 && n.clock.now() - faultAt >= todo[0]![0]) todo.shift()![1](n);
    s.pump(1 + Math.floor(rand() * 10));
    await step(n, 20);
  }
  // Then quiet: the last messages go, the window must drain.
  const drained = await stepUntil(n, () => s.got.length === s.sent && s.toB.stats().queueMessages === 0 && s.toB.waiting === 0, 20_000, 20);
  const firstBad = s.got.findIndex((v, i) => v !== i);
  expect(firstBad, `first message out of place (seed ${seed}): ${describeState(n, s)}`).toBe(-1);
  expect(drained, `the window drains after the silent loss (seed ${seed}): ${describeState(n, s)}`).toBe(true);
  expect(s.got.length, `seed ${seed}`).toBe(s.sent);
  expect(s.toB.stats().channelsOpened + s.toB.stats().channelsAccepted, 'the session moved to another channel').toBeGreaterThan(1);
  expect(distAB(n), 'the mesh rerouted A -> B over the long path').toBeGreaterThan(shortDist);
  // And the session keeps working on the new path.
  const more = s.sent + 100;
  while (s.sent < more) {
    s.pump(10);
    await step(n, 2);
  }
  expect(await stepUntil(n, () => s.got.length === s.sent && s.toB.stats().queueMessages === 0, 5_000), `after recovery (seed ${seed}): ${describeState(n, s)}`).toBe(true);
}

/** A gap in [500, 5000) ms from `seed` (which end of a link notices first, and how much earlier). */
const gapOf = (seed: number): number => 500 + Math.floor(lcg(seed * 7919)() * 4500);

const pair = (n: Net, x: number, y: number): FaultyPair => n.pairs.get(`${x}-${y}`)!;

describe('midcomms: a path lost silently (keepalive only)', () => {
  // Link h2-h1: `aToB` is h2 -> h1 (h1 stops hearing), `bToA` is h1 -> h2 (h2 stops hearing).
  it.each([1, 2, 3])('link h2-h1 set down, the end toward A (h2) times out first; seed %i', async (seed) => {
    await silentLossScenario(seed, [
      [0, (n) => pair(n, H2, H1).stall('bToA')],
      [gapOf(seed), (n) => pair(n, H2, H1).stall('aToB')],
    ]);
  }, 120_000);

  it.each([11, 12, 13])('link h2-h1 set down, the end toward B (h1) times out first; seed %i', async (seed) => {
    await silentLossScenario(seed, [
      [0, (n) => pair(n, H2, H1).stall('aToB')],
      [gapOf(seed), (n) => pair(n, H2, H1).stall('bToA')],
    ]);
  }, 120_000);

  it.each([21, 22])('link h2-h1 set down, both ends at once; seed %i', async (seed) => {
    await silentLossScenario(seed, [[0, (n) => pair(n, H2, H1).stall()]]);
  }, 120_000);

  // Relay h1 frozen: its neighbours h2 and h0 each time out by themselves (h1's links are silent ones).
  it.each([31, 32])('relay h1 frozen, h2 notices first; seed %i', async (seed) => {
    await silentLossScenario(seed, [
      [0, (n) => pair(n, H2, H1).stall()],
      [gapOf(seed), (n) => pair(n, H1, H0).stall()],
    ]);
  }, 120_000);

  it.each([41, 42])('relay h1 frozen, h0 notices first; seed %i', async (seed) => {
    await silentLossScenario(seed, [
      [0, (n) => pair(n, H1, H0).stall()],
      [gapOf(seed), (n) => pair(n, H2, H1).stall()],
    ]);
  }, 120_000);
});

describe('midcomms: the far end still holds the lost channel', () => {
  // h2 stops hearing h1 at once, h1 stops hearing h2 only 8 s later: for 8 s
  // after A's end of the session lost its channel, B's end still holds it
  // (its relay has not timed out yet). The session must not wait for that:
  // B follows A to the new channel and acknowledges there.
  it('the sender window drains before the far end times the old path out (seed 51)', async () => {
    const seed = 51;
    const rand = lcg(seed);
    const n = (net = build());
    expect(await stepUntil(n, () => sees(n, A, B) && sees(n, B, A), 5_000), 'A and B see each other').toBe(true);
    const s = stream(n);
    while (s.sent < 200) {
      s.pump(10);
      await step(n, 2);
    }
    expect(await stepUntil(n, () => s.got.length === s.sent, 2_000), `delivered before the fault: ${describeState(n, s)}`).toBe(true);
    const faultAt = n.clock.now();
    pair(n, H2, H1).stall('bToA');
    let lostAtA = -1;
    let laterStalled = false;
    const acceptedBefore = s.fromA.stats().channelsAccepted;
    // Until 6 s after A's end lost the channel (B's end loses it only at about 18 s).
    while (lostAtA < 0 || n.clock.now() - lostAtA < 6_000) {
      if (!laterStalled && n.clock.now() - faultAt >= 8_000) {
        pair(n, H2, H1).stall('aToB');
        laterStalled = true;
      }
      if (lostAtA < 0 && s.toB.stats().channelsLost > 0) lostAtA = n.clock.now();
      s.pump(1 + Math.floor(rand() * 5));
      await step(n, 20);
      if (lostAtA < 0) expect(n.clock.now() - faultAt, 'A lost its channel by keepalive').toBeLessThan(LINK_TIMEOUT_MS + 3_000);
    }
    // B's end still had the old channel when A's new one arrived.
    expect(s.fromA.stats().channelsAccepted, `B accepted A's new channel: ${describeState(n, s)}`).toBeGreaterThan(acceptedBefore);
    expect(n.clock.now() - faultAt, 'still before h1 times the link out').toBeLessThan(8_000 + LINK_TIMEOUT_MS);
    const drained = await stepUntil(n, () => s.got.length === s.sent && s.toB.stats().queueMessages === 0, 500, 20);
    expect(drained, `the window drained before B's end timed out (seed ${seed}): ${describeState(n, s)}`).toBe(true);
    expect(s.got.findIndex((v, i) => v !== i), `in order (seed ${seed})`).toBe(-1);
    expect(n.clock.now() - faultAt, 'still before h1 times the link out').toBeLessThan(8_000 + LINK_TIMEOUT_MS);
  }, 120_000);
});
