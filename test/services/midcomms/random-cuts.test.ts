/**
 * Exactly once and in order under random channel cuts, partitions and
 * interleavings (fixed seeds, printed on failure). A bigger run is
 * `npm run test:soak` (MIDCOMMS_SOAK=1).
 */
import { describe, expect, it } from 'vitest';
import { FakeNet, lcg, msg, msgNumber } from './fake-net.ts';

const SOAK = process.env.MIDCOMMS_SOAK === '1';

export interface RunResult {
  cuts: number;
  partitions: number;
  gotA: number[];
  gotB: number[];
  retransmits: number;
  seqA: number;
  seqB: number;
}

export function randomCutsRun(seed: number, perSide: number, cutP: number, options: object = {}, awaitsReply = false): RunResult {
  const rand = lcg(seed);
  const net = new FakeNet();
  net.awaitsReply = awaitsReply;
  const A = net.node('a', { nodeid: 1, incarnation: 0xa1, windowMessages: 64, ...options });
  const B = net.node('b', { nodeid: 2, incarnation: 0xb1, windowMessages: 64, ...options });
  const a = A.session('b');
  const b = B.session('a');
  const gotA: number[] = [];
  const gotB: number[] = [];
  a.messages$.subscribe((m) => gotA.push(msgNumber(m)));
  b.messages$.subscribe((m) => gotB.push(msgNumber(m)));
  let sentA = 0;
  let sentB = 0;
  let cuts = 0;
  let partitions = 0;
  const failures: unknown[] = [];
  for (let step = 0; step < perSide * 200 && (sentA < perSide || sentB < perSide); step++) {
    const r = rand();
    if (r < 0.3) {
      if (sentA < perSide && a.waiting === 0) a.send(msg(sentA++)).catch((e) => failures.push(e));
    } else if (r < 0.6) {
      if (sentB < perSide && b.waiting === 0) b.send(msg(sentB++)).catch((e) => failures.push(e));
    } else if (r < 0.6 + cutP) {
      const link = net.links[Math.floor(rand() * net.links.length)];
      if (link !== undefined) {
        net.cut(link);
        cuts++;
      }
    } else if (r < 0.61 + cutP) {
      if (net.partitioned.size === 0) {
        net.partitioned.add('a|b');
        partitions++;
      } else net.partitioned.clear();
    } else if (r < 0.66 + cutP) {
      net.clock.advance(Math.floor(rand() * 60));
    } else {
      for (let k = Math.floor(rand() * 4); k >= 0; k--) net.deliverRandom(rand);
    }
  }
  net.partitioned.clear();
  // Let everything settle: deliver, fire timers (ACK timer, reconnect back-off).
  for (let i = 0; i < 200; i++) {
    net.deliverAll();
    net.clock.advance(1000);
  }
  net.deliverAll();
  expect(failures, `seed ${seed}`).toEqual([]);
  expect(a.stats().queueMessages, `seed ${seed}: a's queue`).toBe(0);
  expect(b.stats().queueMessages, `seed ${seed}: b's queue`).toBe(0);
  return { cuts, partitions, gotA, gotB, retransmits: a.stats().retransmits + b.stats().retransmits, seqA: a.stats().seqSend, seqB: b.stats().seqNext };
}

function expectExactlyOnce(got: number[], n: number, what: string): void {
  // Check cheaply first, then show the first divergence.
  if (got.length === n && got.every((v, i) => v === i)) return;
  const i = got.findIndex((v, k) => v !== k);
  expect.fail(`${what}: ${got.length} of ${n} delivered; first divergence at index ${i} (got ${got[i]})`);
}

describe('exactly once, in order, under random cuts', () => {
  const seeds = SOAK ? [1, 2, 3, 4] : [0x5eed1, 0x5eed2];
  const perSide = SOAK ? 100_000 : 5000;
  for (const seed of seeds) {
    it(`seed ${seed}: ${perSide} messages each way`, () => {
      const r = randomCutsRun(seed, perSide, 0.02);
      expectExactlyOnce(r.gotB, perSide, `seed ${seed} a->b`);
      expectExactlyOnce(r.gotA, perSide, `seed ${seed} b->a`);
      expect(r.cuts, `seed ${seed}`).toBeGreaterThanOrEqual(200);
      expect(r.retransmits, `seed ${seed}`).toBeGreaterThan(0);
    }, SOAK ? 600_000 : 30_000);
  }

  it('openers that write only the HELLO until the peer answers it (the router binding, whose acceptor verifies channels first): same guarantee', () => {
    const seed = 0x5eed3;
    const r = randomCutsRun(seed, 3000, 0.02, {}, true);
    expectExactlyOnce(r.gotB, 3000, `seed ${seed} a->b`);
    expectExactlyOnce(r.gotA, 3000, `seed ${seed} b->a`);
    expect(r.cuts, `seed ${seed}`).toBeGreaterThanOrEqual(100);
    expect(r.retransmits, `seed ${seed}`).toBeGreaterThan(0);
  });

  it('sessions starting near 2^32 wrap around with the same guarantee', () => {
    const r = randomCutsRun(0xbad5eed, 1500, 0.05, { windowMessages: 8, initialSeq: 2 ** 32 - 700 });
    expectExactlyOnce(r.gotB, 1500, 'a->b');
    expectExactlyOnce(r.gotA, 1500, 'b->a');
    // The sequence crossed 2^32 (no reset happened: one session throughout).
    expect(r.seqA).toBe(1500 - 700);
    expect(r.seqB).toBe(1500 - 700);
  });
});
