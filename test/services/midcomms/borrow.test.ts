/**
 * `Session.read(..., { borrow: true })`: a reader that consumes each message
 * during the call gets views of the received batch itself (no copy); every
 * message that waits (paused reader, reader busy, a reader that does not
 * borrow) is still a private copy. The channel here reuses one receive buffer
 * and overwrites it as soon as `data()` returns, as a socket reader may.
 */
import { describe, expect, it } from 'vitest';
import { FakeNet, lcg, msg, msgNumber } from './fake-net.ts';

/** Sessions a → c (nodeids 1, 3) over a FakeNet that reuses its receive buffer. */
function pair(reuse = true) {
  const net = new FakeNet();
  net.reuseReceiveBuffer = reuse;
  const A = net.node('a', { nodeid: 1, incarnation: 0xa1 });
  const C = net.node('c', { nodeid: 3, incarnation: 0xc1 });
  return { net, toC: A.session('c'), fromA: C.session('a') };
}

/** What c receives for `msg(n, size)` from a: the same bytes, `h_nodeid` stamped 1. */
function expected(n: number, size = 88): Uint8Array {
  const m = msg(n, size);
  m[8] = 1;
  return m;
}

describe('read() with borrow', () => {
  it('a borrowing reader reads each message during the call, exact bytes; it is a view of the batch (overwritten after the call), while a copying reader keeps its bytes', async () => {
    const { net, toC, fromA } = pair();
    const borrowedDuring: Uint8Array[] = [];
    const borrowedKept: Uint8Array[] = [];
    fromA.read(
      (m) => {
        borrowedDuring.push(m.slice());
        borrowedKept.push(m);
      },
      () => {},
      undefined,
      { borrow: true },
    );
    // Several messages in one batch (written in one tick) and a batch of one.
    for (let i = 0; i < 3; i++) void toC.send(msg(i, 88 + 8 * i));
    net.deliverAll();
    await toC.send(msg(3));
    net.deliverAll();
    expect(borrowedDuring).toEqual([expected(0, 88), expected(1, 96), expected(2, 104), expected(3)]);
    // The channel overwrote its buffer after each data(): the borrowed views show it (no copy was made).
    for (const m of borrowedKept) expect(m.every((b) => b === 0xee)).toBe(true);

    // The same traffic to a reader that does not borrow: what it keeps stays intact.
    const other = pair();
    const kept: Uint8Array[] = [];
    other.fromA.read((m) => kept.push(m), () => {});
    for (let i = 0; i < 3; i++) void other.toC.send(msg(i, 88 + 8 * i));
    other.net.deliverAll();
    await other.toC.send(msg(3));
    other.net.deliverAll();
    expect(kept).toEqual([expected(0, 88), expected(1, 96), expected(2, 104), expected(3)]);
  });

  it('messages that wait for a paused borrowing reader are copies: intact when it resumes', async () => {
    const { net, toC, fromA } = pair();
    const got: Uint8Array[] = [];
    fromA.read((m) => got.push(m.slice()), () => {}, undefined, { borrow: true });
    fromA.pauseReading();
    for (let i = 0; i < 5; i++) await toC.send(msg(i));
    net.deliverAll();
    expect(got).toEqual([]);
    expect(fromA.stats().inboundMessages).toBe(5);
    fromA.resumeReading();
    expect(got).toEqual([0, 1, 2, 3, 4].map((i) => expected(i)));
  });

  it('with a reader that does not borrow beside it, a borrowing reader gets the same private copy', async () => {
    const { net, toC, fromA } = pair();
    const borrowed: Uint8Array[] = [];
    const copied: Uint8Array[] = [];
    const sub = fromA.read((m) => borrowed.push(m), () => {}, undefined, { borrow: true });
    fromA.messages$.subscribe((m) => copied.push(m));
    for (let i = 0; i < 3; i++) await toC.send(msg(i));
    net.deliverAll();
    expect(borrowed).toEqual([0, 1, 2].map((i) => expected(i)));
    expect(copied).toEqual(borrowed);
    // Only borrowers left: views again.
    const rxjsOnly = copied.length;
    sub.unsubscribe();
    const again: Uint8Array[] = [];
    fromA.read((m) => again.push(m), () => {}, undefined, { borrow: true });
    await toC.send(msg(3));
    net.deliverAll();
    expect(copied.length).toBe(rxjsOnly + 1);
    expect(copied[rxjsOnly]).toEqual(expected(3));
    expect(again[0]).toEqual(expected(3)); // both readers: a copy
  });

  it('a message arriving while the borrowing reader is inside its call waits, copied, and comes after it returns', async () => {
    const { net, toC, fromA } = pair(false);
    const order: string[] = [];
    const views: Uint8Array[] = [];
    fromA.read(
      (m) => {
        order.push(`in ${msgNumber(m)}`);
        views.push(m);
        if (msgNumber(m) === 0) {
          // msg 1 arrives now, re-entrantly, while msg 0's reader runs.
          void toC.send(msg(1));
          net.deliverAll();
        }
        order.push(`out ${msgNumber(m)}`);
      },
      () => {},
      undefined,
      { borrow: true },
    );
    await toC.send(msg(0));
    net.deliverAll();
    expect(order).toEqual(['in 0', 'out 0', 'in 1', 'out 1']);
    // msg 1 waited in the receive buffer: its own copy, not a view of the batch it came in.
    expect(views[1]).toEqual(expected(1));
    expect(views[1]!.byteLength).toBe(views[1]!.buffer.byteLength);
  });

  it('random traffic, pauses and deliveries (seeded): a borrowing reader reads every message once, in order, exact bytes, though the channel reuses its buffer', async () => {
    for (const seed of [1, 7, 42, 1234]) {
      const rand = lcg(seed);
      const { net, toC, fromA } = pair();
      const got: Uint8Array[] = [];
      fromA.read((m) => got.push(m.slice()), () => {}, undefined, { borrow: true });
      const sent: Uint8Array[] = [];
      let n = 0;
      for (let step = 0; step < 400; step++) {
        const r = rand();
        if (r < 0.45) {
          const size = 88 + 8 * Math.floor(rand() * 20);
          sent.push(expected(n, size));
          void toC.send(msg(n++, size));
        } else if (r < 0.85) net.deliverRandom(rand);
        else if (r < 0.92) fromA.pauseReading();
        else fromA.resumeReading();
        if (rand() < 0.05) net.clock.advance(60); // ACK timers
      }
      fromA.resumeReading();
      net.settle();
      expect({ seed, count: got.length }).toEqual({ seed, count: sent.length });
      for (let i = 0; i < sent.length; i++) {
        if (!bytesEqual(got[i]!, sent[i]!)) throw new Error(`seed ${seed}: message ${i} differs`);
      }
    }
  });
});

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
