/**
 * Adversarial review of the deferred joined ACK (Sender.deferAck/settle) and
 * the direct write of a committed frame (Session.#transmit,
 * Sender.nextAlone): request/reply traffic where every reply, and every next
 * request, is sent from INSIDE the reader's call, i.e. while the ACK that
 * came joined in front of the message being read is still deferred. Small
 * windows (the reply finds the window full), a transmit threshold of 1 (an
 * ACK is joined in front of almost every message), and from inside the
 * deliveries: channel cuts (reconnect and retransmit while the ACK is
 * deferred), sendAcked() whose resolution depends on the deferred ACK,
 * tryPost/post/send mixed, and at the end a FIN (shutdown()) from inside the
 * delivery of the last message. Random delivery order between links, cuts
 * and partitions from outside as well, virtual time.
 *
 * Checked: each side reads every message exactly once and in order, every
 * sendAcked() resolves (none rejects), every send queue drains, both
 * shutdown()s resolve, and ACKs were joined in front of messages (the
 * deferred path ran: counted on the wire).
 *
 * Seeds fixed, in the test names; MC_ATTACK_SEEDS=n runs n more.
 */
import { describe, expect, it } from 'vitest';
import { DLM_CMD } from '../../../src/services/midcomms/constants.ts';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { FakeNet, lcg, msg, msgNumber } from './fake-net.ts';

interface AttackResult {
  gotA: number[];
  gotB: number[];
  failures: string[];
  ackedResolved: number;
  ackedTotal: number;
  joined: number;
  cutsInside: number;
  pausesInside: number;
  blockedSeen: number;
  queueA: number;
  queueB: number;
  shutdown: string[];
}

/** Lets promise callbacks run (send()/sendAcked()/shutdown() settle on microtasks). */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 8; i++) await null;
}

async function attackRun(seed: number, n: number, pauses = false, highWaterMark = Number.POSITIVE_INFINITY): Promise<AttackResult> {
  const rand = lcg(seed);
  const net = new FakeNet();
  // Finite: a channel pushes back once this many bytes are in flight (the session waits for writable()).
  net.highWaterMark = highWaterMark;
  const win = 1 + Math.floor(rand() * 4);
  const opts = { windowMessages: win, txAckThreshold: Math.floor(rand() * 2), ackDelayMs: 20 + Math.floor(rand() * 40), rxAckThreshold: 256 , ...(pauses ? { maxInboundMessages: 1 + Math.floor(rand() * 4) } : {}) };
  const A = net.node('a', { nodeid: 1, incarnation: 0xa1, ...opts });
  const B = net.node('b', { nodeid: 2, incarnation: 0xb1, ...opts });
  const a = A.session('b');
  const b = B.session('a');
  const gotA: number[] = [];
  const gotB: number[] = [];
  const failures: string[] = [];
  const shutdown: string[] = [];
  let ackedTotal = 0;
  let ackedResolved = 0;
  let cutsInside = 0;
  let joined = 0;
  let blockedSeen = 0;
  let nextReq = 0;

  /** Send `m` from inside a delivery, in one of the ways a reader may. */
  const sendFrom = (s: Session, m: Uint8Array, what: string): void => {
    const r = rand();
    const fail = (e: unknown): void => void failures.push(`${what}: ${(e as Error).message}`);
    if (r < 0.35) {
      if (!s.tryPost(m, fail)) s.send(m).catch(fail);
    } else if (r < 0.6) s.post(m, fail);
    else if (r < 0.8) s.send(m).catch(fail);
    else {
      ackedTotal++;
      s.sendAcked(m).then(() => void ackedResolved++, fail);
    }
  };
  let pausesInside = 0;
  const paused = new Set<Session>();
  /** With `pauses`: the reader pauses its session from inside the delivery (the driver resumes it later). */
  const maybePauseInside = (s: Session): void => {
    if (pauses && rand() < 0.08 && !paused.has(s)) {
      pausesInside++;
      paused.add(s);
      s.pauseReading();
    }
  };
  const maybeCutInside = (): void => {
    if (rand() < 0.04 && net.links.length > 0) {
      cutsInside++;
      net.cut(net.links[Math.floor(rand() * net.links.length)]!);
    }
  };

  // A FIN refuses sends still waiting for room (STOP_TX, as documented): each side shuts down once
  // its last message is committed: from inside the delivery when it was at once, else from the loop.
  let finA = false;
  let finB = false;
  const finIfDone = (): void => {
    if (finA && a.waiting === 0) {
      finA = false;
      a.shutdown().then(() => void shutdown.push('a'), (e) => void failures.push(`a shutdown: ${(e as Error).message}`));
    }
    if (finB && b.waiting === 0) {
      finB = false;
      b.shutdown().then(() => void shutdown.push('b'), (e) => void failures.push(`b shutdown: ${(e as Error).message}`));
    }
  };
  // b: the reply to request i, from inside the delivery; FIN after the last.
  b.read(
    (m) => {
      const i = msgNumber(m);
      gotB.push(i);
      sendFrom(b, msg(i), `b reply ${i}`);
      maybeCutInside();
      maybePauseInside(b);
      if (i === n - 1) finB = true;
      finIfDone();
    },
    () => {},
    (e) => void failures.push(`b reader: ${String(e)}`),
  );
  // a: on reply i, the next request(s) from inside the delivery; FIN after the last reply.
  a.read(
    (m) => {
      const i = msgNumber(m);
      gotA.push(i);
      const k = 1 + Math.floor(rand() * 2);
      for (let j = 0; j < k && nextReq < n; j++) {
        sendFrom(a, msg(nextReq), `a request ${nextReq}`);
        nextReq++;
      }
      maybeCutInside();
      maybePauseInside(a);
      if (i === n - 1) finA = true;
      finIfDone();
    },
    () => {},
    (e) => void failures.push(`a reader: ${String(e)}`),
  );

  // Counts delivered batches that carry an ACK joined in front of more frames (what the receiver may defer).
  const deliverOne = net.deliverOne.bind(net);
  net.deliverOne = (link, forward) => {
    const dir = forward ? link.fwd : link.rev;
    if (dir.blocked) blockedSeen++;
    const first = dir.batches[0];
    if (first !== undefined && first.length > 16 && first[14] === DLM_CMD.ACK) joined++;
    return deliverOne(link, forward);
  };

  for (let j = 0; j < 3 && nextReq < n; j++) a.send(msg(nextReq++)).catch((e) => failures.push(`a first: ${(e as Error).message}`));
  for (let step = 0; step < n * 400 && shutdown.length < 2; step++) {
    const r = rand();
    if (r < 0.01 && net.links.length > 0) net.cut(net.links[Math.floor(rand() * net.links.length)]!);
    else if (r < 0.015) {
      if (net.partitioned.size === 0) net.partitioned.add('a|b');
      else net.partitioned.clear();
    } else if (r < 0.1) net.clock.advance(Math.floor(rand() * 8));
    else if (r < 0.14 && paused.size > 0) {
      const s = [...paused][Math.floor(rand() * paused.size)]!;
      paused.delete(s);
      s.resumeReading();
    }
    else {
      if (!net.deliverRandom(rand)) net.clock.advance(1 + Math.floor(rand() * 20));
    }
    await microtasks();
    finIfDone();
  }
  net.partitioned.clear();
  for (const s of paused) s.resumeReading();
  paused.clear();
  for (let i = 0; i < 300 && shutdown.length < 2; i++) {
    net.deliverAll();
    await microtasks();
    finIfDone();
    net.clock.advance(100);
    await microtasks();
  }
  return { gotA, gotB, failures, ackedResolved, ackedTotal, joined, cutsInside, pausesInside, blockedSeen, queueA: a.stats().queueMessages, queueB: b.stats().queueMessages, shutdown: shutdown.sort() };
}

function expectExactlyOnce(got: number[], n: number, what: string): void {
  if (got.length === n && got.every((v, i) => v === i)) return;
  const i = got.findIndex((v, k) => v !== k);
  expect.fail(`${what}: ${got.length} of ${n} read; first divergence at index ${i} (got ${got[i]})`);
}

describe('deferred joined ACK under attack: replies, cuts and FIN from inside the reader', () => {
  const extra = Array.from({ length: Number(process.env.MC_ATTACK_SEEDS ?? 0) }, (_, i) => 9000 + i);
  const seeds = [0xdefa1, 0xdefa2, 0xdefa3, 0xdefa4, 0xdefa5, 0xdefa6, ...extra];
  for (const seed of seeds) {
    it(`seed ${seed}: exactly once, in order, every sendAcked resolves, queues drain, both FINs complete`, async () => {
      const n = 400;
      const r = await attackRun(seed, n);
      expect(r.failures, `seed ${seed}`).toEqual([]);
      expectExactlyOnce(r.gotB, n, `seed ${seed} a->b`);
      expectExactlyOnce(r.gotA, n, `seed ${seed} b->a`);
      expect(r.ackedResolved, `seed ${seed}`).toBe(r.ackedTotal);
      expect(r.ackedTotal, `seed ${seed}`).toBeGreaterThan(20);
      expect(r.queueA, `seed ${seed}`).toBe(0);
      expect(r.queueB, `seed ${seed}`).toBe(0);
      expect(r.shutdown, `seed ${seed}`).toEqual(['a', 'b']);
      // Not vacuous: ACKs came joined in front of messages, and channels were cut from inside readers.
      expect(r.joined, `seed ${seed}`).toBeGreaterThan(5);
      expect(r.cutsInside, `seed ${seed}`).toBeGreaterThan(3);
    }, 30_000);
  }
  for (const seed of [0xdefb1, 0xdefb2, 0xdefb3, ...extra.map((s) => s + 500)]) {
    it(`seed ${seed}: the same with readers that pause their session from inside the delivery and tiny inbound buffers (held messages, overflow resyncs)`, async () => {
      const n = 300;
      const r = await attackRun(seed, n, true);
      expect(r.failures, `seed ${seed}`).toEqual([]);
      expectExactlyOnce(r.gotB, n, `seed ${seed} a->b`);
      expectExactlyOnce(r.gotA, n, `seed ${seed} b->a`);
      expect(r.ackedResolved, `seed ${seed}`).toBe(r.ackedTotal);
      expect(r.queueA, `seed ${seed}`).toBe(0);
      expect(r.queueB, `seed ${seed}`).toBe(0);
      expect(r.shutdown, `seed ${seed}`).toEqual(['a', 'b']);
      expect(r.pausesInside, `seed ${seed}`).toBeGreaterThan(5);
    }, 30_000);
  }
  for (const seed of [0xdefc1, 0xdefc2, 0xdefc3, ...extra.map((s) => s + 1000)]) {
    it(`seed ${seed}: the same with channels that push back after 200 bytes in flight (blocked channels, direct writes refused) and pausing readers`, async () => {
      const n = 300;
      const r = await attackRun(seed, n, true, 200);
      expect(r.failures, `seed ${seed}`).toEqual([]);
      expect(r.blockedSeen, `seed ${seed}: channels pushed back`).toBeGreaterThan(10);
      expectExactlyOnce(r.gotB, n, `seed ${seed} a->b`);
      expectExactlyOnce(r.gotA, n, `seed ${seed} b->a`);
      expect(r.ackedResolved, `seed ${seed}`).toBe(r.ackedTotal);
      expect(r.queueA, `seed ${seed}`).toBe(0);
      expect(r.queueB, `seed ${seed}`).toBe(0);
      expect(r.shutdown, `seed ${seed}`).toEqual(['a', 'b']);
    }, 30_000);
  }
});
