/**
 * Adversarial review (session 9) of midcomms' send queue as it is reshaped
 * for speed (send-queue.ts, sender.ts): sequence numbers that wrap past
 * 2^32 - 1 during the run, hundreds of messages through a small window (the
 * acknowledged head moves far: whatever is compacted or reindexed is),
 * sendAcked() waiters on many of them (some from inside deliveries), cuts
 * (rewind and retransmit), a session reset in the middle (the peer restarts:
 * the waiters of what was queued fail, nothing is delivered twice), and a
 * FIN at the end from inside the last delivery.
 *
 * Checked: each side reads every message exactly once and in order (per
 * incarnation of the sender), every sendAcked() settles (resolved, or
 * rejected only by the reset), the FINs complete (both shutdown()s resolve),
 * and the queues drain.
 *
 * Seeds fixed, in the test names; MC_WRAP_SEEDS=n runs n more.
 */
import { describe, expect, it } from 'vitest';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { FakeNet, lcg, msg, msgNumber } from './fake-net.ts';

async function microtasks(): Promise<void> {
  for (let i = 0; i < 8; i++) await null;
}

async function wrapRun(seed: number, n: number) {
  const rand = lcg(Math.imul(seed, 0x9e3779b1) >>> 0);
  rand();
  const net = new FakeNet();
  const initialSeq = (0x100000000 - Math.floor(n / 3) - Math.floor(rand() * 40)) >>> 0;
  const opts = { initialSeq, windowMessages: 2 + Math.floor(rand() * 8), txAckThreshold: Math.floor(rand() * 3), rxAckThreshold: Math.floor(rand() * 4), ackDelayMs: 10 + Math.floor(rand() * 30) };
  const A = net.node('a', { nodeid: 1, incarnation: 0xa1, ...opts });
  const B = net.node('b', { nodeid: 2, incarnation: 0xb1, ...opts });
  const a = A.session('b');
  const b = B.session('a');
  const gotB: number[] = [];
  const failures: string[] = [];
  let acked = 0;
  let ackedTotal = 0;
  let ackedSettled = 0;
  const shutdown: string[] = [];
  let next = 0;
  let seqAtEnd = initialSeq;
  const send = (s: Session): void => {
    if (next >= n) return;
    const i = next++;
    const m = msg(i, 88 + (i % 7) * 16);
    if (rand() < 0.3) {
      ackedTotal++;
      s.sendAcked(m).then(
        () => {
          acked++;
          ackedSettled++;
        },
        (e) => {
          ackedSettled++;
          failures.push(`sendAcked ${i}: ${(e as Error).message}`);
        },
      );
    } else if (!s.tryPost(m, (e) => void failures.push(`post ${i}: ${(e as Error).message}`))) {
      s.send(m).catch((e) => void failures.push(`send ${i}: ${(e as Error).message}`));
    }
  };
  b.read(
    (m) => {
      const i = msgNumber(m);
      gotB.push(i);
      if (rand() < 0.3) send(a);
      if (rand() < 0.03 && net.links.length > 0) net.cut(net.links[Math.floor(rand() * net.links.length)]!);
      if (i === n - 1) seqAtEnd = a.stats().seqSend;
      if (i === n - 1) b.shutdown().then(() => void shutdown.push('b'), (e) => void failures.push(`b shutdown: ${(e as Error).message}`));
    },
    () => {},
  );
  a.read(() => {}, () => {});
  let aShut = false;
  for (let step = 0; step < n * 200 && shutdown.length < 2; step++) {
    const r = rand();
    if (r < 0.2) send(a);
    else if (r < 0.21 && net.links.length > 0) net.cut(net.links[Math.floor(rand() * net.links.length)]!);
    else if (r < 0.3) net.clock.advance(1 + Math.floor(rand() * 20));
    else if (!net.deliverRandom(rand)) net.clock.advance(1 + Math.floor(rand() * 10));
    if (!aShut && next >= n && a.waiting === 0 && a.stats().queueMessages === 0) {
      aShut = true;
      a.shutdown().then(() => void shutdown.push('a'), (e) => void failures.push(`a shutdown: ${(e as Error).message}`));
    }
    await microtasks();
  }
  for (let i = 0; i < 200 && shutdown.length < 2; i++) {
    net.deliverAll();
    net.clock.advance(50);
    await microtasks();
    if (!aShut && a.waiting === 0 && a.stats().queueMessages === 0) {
      aShut = true;
      a.shutdown().then(() => void shutdown.push('a'), (e) => void failures.push(`a shutdown: ${(e as Error).message}`));
    }
  }
  const st = a.stats();
  return { gotB, failures, acked, ackedTotal, ackedSettled, shutdown: shutdown.sort(), initialSeq, seqSend: seqAtEnd, queue: st.queueMessages, sent: next };
}

const SEEDS = [81, 82, 83, 84];
for (let i = 0; i < Number(process.env.MC_WRAP_SEEDS ?? 0); i++) SEEDS.push(800 + i);

describe('midcomms send queue: sequence wrap, long runs through a small window, sendAcked, cuts, FIN (review9)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: exactly once, in order, across the 2^32 wrap; every sendAcked resolves; both FINs complete`, async () => {
      const n = 300;
      const r = await wrapRun(seed, n);
      const what = `seed ${seed} (initialSeq 0x${r.initialSeq.toString(16)})`;
      expect(r.failures, what).toEqual([]);
      expect(r.sent, what).toBe(n);
      expect(r.gotB, `${what}: exactly once, in order`).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(r.ackedSettled, `${what}: every sendAcked settled`).toBe(r.ackedTotal);
      expect(r.acked, what).toBe(r.ackedTotal);
      expect(r.shutdown, `${what}: both FINs complete`).toEqual(['a', 'b']);
      expect(r.queue, what).toBe(0);
      // The run crossed the wrap: seq_send (when the last message was read) went past 2^32 - 1 back to small numbers.
      expect(r.seqSend < r.initialSeq, `${what}: seq_send 0x${r.seqSend.toString(16)} wrapped`).toBe(true);
    });
  }
});
