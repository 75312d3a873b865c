/** ACK thresholds and timer, duplicates, the send window and a reader that stops (virtual time only). */
import { describe, expect, it } from 'vitest';
import { FakeNet, msg, msgNumber, twoNodes } from './fake-net.ts';

describe('acknowledgement', () => {
  it('receive threshold: one ACK after more than 256 deliveries (timer off)', async () => {
    const { net, a, b } = twoNodes({ a: { windowMessages: 1000 }, b: { ackDelayMs: 0 } });
    for (let i = 0; i < 256; i++) await a.send(msg(i));
    net.deliverAll();
    expect(b.stats().acksSent).toBe(0);
    expect(a.stats().queueMessages).toBe(256);
    await a.send(msg(256));
    net.deliverAll();
    expect(b.stats().acksSent).toBe(1);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('transmit threshold: an ACK goes before our next message once more than 32 are unacknowledged', async () => {
    const { net, a, b } = twoNodes({ b: { ackDelayMs: 0 } });
    for (let i = 0; i < 32; i++) await a.send(msg(i));
    net.deliverAll();
    await b.send(msg(900));
    net.deliverAll();
    expect(b.stats().acksSent).toBe(0);
    await a.send(msg(32));
    net.deliverAll();
    await b.send(msg(901));
    expect(b.stats().acksSent).toBe(1);
    net.deliverAll();
    expect(a.stats().queueMessages).toBe(0);
  });

  it('ACK timer: a delivery is acknowledged after ackDelayMs on a quiet pair', async () => {
    const { net, a, b } = twoNodes({ b: { ackDelayMs: 20 } });
    await a.send(msg(1));
    net.deliverAll();
    expect(net.clock.delays).toContain(20);
    net.clock.advance(19);
    net.deliverAll();
    expect(a.stats().queueMessages).toBe(1);
    net.clock.advance(1);
    net.deliverAll();
    expect(a.stats().queueMessages).toBe(0);
    expect(b.stats().timerAcks).toBe(1);
  });

  it('ACK timer after a threshold ACK: due ackDelayMs after the first delivery not yet acknowledged, not earlier', async () => {
    const { net, a, b } = twoNodes({ b: { ackDelayMs: 20 } });
    for (let i = 0; i < 33; i++) await a.send(msg(i));
    net.deliverAll(); // t=0: 33 deliveries, the timer runs (due at 20)
    net.clock.advance(10);
    await b.send(msg(900)); // transmit threshold: an ACK before it, at t=10
    net.deliverAll();
    expect(b.stats().acksSent).toBe(1);
    expect(a.stats().queueMessages).toBe(0);
    await a.send(msg(33)); // t=10: a new delivery, its timer ACK due at 30
    net.deliverAll();
    net.clock.advance(10); // t=20: the first period's deadline: nothing is 20 ms old yet
    net.deliverAll();
    expect(b.stats().timerAcks).toBe(0);
    expect(a.stats().queueMessages).toBe(1);
    net.clock.advance(9); // t=29
    net.deliverAll();
    expect(b.stats().timerAcks).toBe(0);
    net.clock.advance(1); // t=30
    net.deliverAll();
    expect(b.stats().timerAcks).toBe(1);
    expect(a.stats().queueMessages).toBe(0);
    net.clock.advance(1000); // nothing left to acknowledge: no more ACKs
    net.deliverAll();
    expect(b.stats().acksSent).toBe(2);
  });

  it('read(): a plain reader gets the messages in order; what it throws goes to onError, never into the receive path; unsubscribe stops it', async () => {
    const net = new FakeNet();
    const A = net.node('a', { nodeid: 1, incarnation: 0xa1 });
    const C = net.node('c', { nodeid: 3, incarnation: 0xc1 });
    const toC = A.session('c');
    const fromA = C.session('a');
    const got: number[] = [];
    const errors: unknown[] = [];
    let ended = 0;
    const sub = fromA.read(
      (m) => {
        got.push(msgNumber(m));
        if (msgNumber(m) === 1) throw new Error('reader bug');
      },
      () => ended++,
      (err) => errors.push(err),
    );
    for (let i = 0; i < 3; i++) await toC.send(msg(i));
    net.deliverAll();
    expect(got).toEqual([0, 1, 2]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['reader bug']);
    expect(fromA.stats().delivered).toBe(3);
    sub.unsubscribe();
    await toC.send(msg(3));
    net.deliverAll();
    expect(got).toEqual([0, 1, 2]);
    expect(fromA.stats().inboundMessages).toBe(1); // no reader: it waits
    expect(ended).toBe(0);
    fromA.read((m) => got.push(msgNumber(m)), () => ended++);
    expect(got).toEqual([0, 1, 2, 3]);
    fromA.close();
    expect(ended).toBe(1);
  });

  it('a duplicate is dropped and re-ACKed at once', async () => {
    const { net, a, b, gotB } = twoNodes({ b: { ackDelayMs: 0 } });
    for (let i = 0; i < 5; i++) await a.send(msg(i));
    net.deliverAll();
    expect(gotB).toEqual([0, 1, 2, 3, 4]);
    net.cut(net.links[0]!); // nothing acknowledged yet: a sends all five again
    net.deliverAll();
    expect(gotB).toEqual([0, 1, 2, 3, 4]);
    expect(b.stats().drops.duplicate).toBe(5);
    // Five re-ACKs, plus one ACK each time a channel became b's current one
    // (b's own, opened because an ACK was due, then a's, kept by the tie-break):
    // what b acknowledged on the lost channel may have been lost with it.
    expect(b.stats().channelsOpened).toBe(1);
    expect(b.stats().acksSent).toBe(5 + 2);
    expect(a.stats().queueMessages).toBe(0);
    expect(a.stats().retransmits).toBe(5);
  });
});

describe('send window', () => {
  it('a sender past the window waits and resumes when the reader reads', async () => {
    const { net, a, b, gotB } = twoNodes({ a: { windowMessages: 4 } });
    b.pauseReading();
    const done: number[] = [];
    const sends = Array.from({ length: 10 }, (_, i) => a.send(msg(i)).then(() => done.push(i)));
    await Promise.resolve();
    net.settle();
    await Promise.resolve();
    expect(done).toEqual([0, 1, 2, 3]);
    expect(a.waiting).toBe(6);
    expect(a.stats().windowWaits).toBe(6);
    expect(gotB).toEqual([]);
    b.resumeReading();
    net.settle();
    await Promise.all(sends);
    net.settle();
    expect(gotB).toEqual([...Array(10).keys()]);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('an aborted wait rejects with ABORTED and the message is not sent; too many waiters are refused', async () => {
    const { net, a, b, gotB } = twoNodes({ a: { windowMessages: 1, maxWaiters: 2 } });
    b.pauseReading();
    await a.send(msg(0));
    const ac = new AbortController();
    const p1 = a.send(msg(1), { signal: ac.signal });
    const p2 = a.send(msg(2));
    await expect(a.send(msg(3))).rejects.toMatchObject({ code: 'TOO_MANY_WAITERS' });
    ac.abort();
    await expect(p1).rejects.toMatchObject({ code: 'ABORTED' });
    b.resumeReading();
    net.settle();
    await p2;
    net.settle();
    expect(gotB).toEqual([0, 2]);
  });

  it('post(): commits without a promise while there is room, waits in the same line as send() past the window, reports failures to onError', async () => {
    const { net, a, b, gotB } = twoNodes({ a: { windowMessages: 2 } });
    const errors: string[] = [];
    const onError = (e: Error): void => void errors.push((e as Error & { code?: string }).code ?? e.message);
    b.pauseReading();
    a.post(msg(0), onError);
    a.post(msg(1), onError);
    expect(a.stats().queueMessages).toBe(2);
    expect(a.waiting).toBe(0);
    a.post(msg(2), onError); // past the window: waits, its copy kept
    const p3 = a.send(msg(3)); // and send() queues behind it, in order
    expect(a.waiting).toBe(2);
    expect(a.stats().windowWaits).toBe(2);
    b.resumeReading();
    net.settle();
    await p3;
    net.settle();
    expect(gotB).toEqual([0, 1, 2, 3]);
    a.post(new Uint8Array(10), onError); // not a DLM message: refused, asynchronously
    expect(errors).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(errors).toEqual(['BAD_MESSAGE']);
    b.pauseReading();
    a.post(msg(4), onError);
    a.post(msg(5), onError);
    a.post(msg(6), onError); // waits; the fence fails it
    const p7 = a.send(msg(7)); // so does a send() waiting behind it (never resolved as committed)
    expect(a.waiting).toBe(2);
    a.close();
    await expect(p7).rejects.toMatchObject({ code: 'FENCED' });
    expect(errors).toEqual(['BAD_MESSAGE', 'FENCED']);
  });

  it('tryPost(): commits while there is room, returns false and queues nothing when full or others wait, refuses like post()', async () => {
    const { net, a, b, gotB } = twoNodes({ a: { windowMessages: 2 } });
    const errors: string[] = [];
    const onError = (e: Error): void => void errors.push((e as Error & { code?: string }).code ?? e.message);
    b.pauseReading();
    expect(a.tryPost(msg(0), onError)).toBe(true);
    expect(a.tryPost(msg(1), onError)).toBe(true);
    expect(a.tryPost(msg(2), onError)).toBe(false); // no room: nothing queued, the caller keeps it
    expect(a.waiting).toBe(0);
    expect(a.stats().queueMessages).toBe(2);
    const p2 = a.send(msg(2)); // the caller sends it to wait its turn
    expect(a.tryPost(msg(3), onError)).toBe(false); // someone waits: no overtaking
    expect(a.waiting).toBe(1);
    b.resumeReading();
    net.settle();
    await p2;
    net.settle();
    expect(a.tryPost(msg(3), onError)).toBe(true);
    net.settle();
    expect(gotB).toEqual([0, 1, 2, 3]);
    expect(a.tryPost(new Uint8Array(10), onError)).toBe(true); // refused (not a DLM message), reported asynchronously
    await Promise.resolve();
    await Promise.resolve();
    expect(errors).toEqual(['BAD_MESSAGE']);
  });

  it('messages$: every reader gets each message, one that leaves mid-stream gets no more, the fence completes them all (and a late reader)', async () => {
    const { net, a, b, gotB } = twoNodes();
    const second: number[] = [];
    let completed = 0;
    const sub = b.messages$.subscribe({ next: (m) => second.push(msgNumber(m)), complete: () => completed++ });
    for (let i = 0; i < 3; i++) await a.send(msg(i));
    net.settle();
    sub.unsubscribe();
    await a.send(msg(3));
    net.settle();
    expect(gotB).toEqual([0, 1, 2, 3]);
    expect(second).toEqual([0, 1, 2]);
    const third: number[] = [];
    b.messages$.subscribe({ next: (m) => third.push(msgNumber(m)), complete: () => completed++ });
    b.close();
    expect(completed).toBe(1); // the third reader; the second had left
    b.messages$.subscribe({ complete: () => completed++ });
    expect(completed).toBe(2);
    expect(third).toEqual([]);
  });

  it('memory stays bounded while the reader stops for a long time (measured in stats)', async () => {
    const windowBytes = 64 * 1024;
    const { net, a, b, gotB } = twoNodes({ a: { windowBytes, windowMessages: 100_000 }, b: { maxInboundBytes: windowBytes } });
    b.pauseReading();
    let sent = 0;
    let maxQueue = 0;
    let maxInbound = 0;
    // A producer that sends as fast as the window lets it, for 1000 rounds of virtual time.
    for (let round = 0; round < 1000; round++) {
      while (a.waiting === 0 && sent < 1_000_000) a.send(msg(sent++, 1000));
      net.settle(10);
      maxQueue = Math.max(maxQueue, a.stats().queueBytes);
      maxInbound = Math.max(maxInbound, b.stats().inboundBytes);
    }
    expect(maxQueue).toBeLessThanOrEqual(windowBytes);
    expect(maxInbound).toBeLessThanOrEqual(windowBytes);
    expect(sent).toBeLessThan(100); // the window filled and the producer stopped
    expect(b.stats().drops.overflow).toBe(0);
    b.resumeReading();
    for (let round = 0; round < 200 && gotB.length < sent; round++) {
      while (a.waiting === 0 && sent < 2000) a.send(msg(sent++, 1000));
      net.settle(100);
    }
    net.settle(1000);
    expect(gotB).toEqual([...Array(sent).keys()]);
  });

  it('a peer past our receive buffer is dropped (overflow) and resynchronised, still exactly once', async () => {
    const { net, a, b, gotB } = twoNodes({ a: { windowMessages: 64 }, b: { maxInboundMessages: 8 } });
    b.pauseReading();
    for (let i = 0; i < 40; i++) await a.send(msg(i));
    net.settle();
    expect(b.stats().inboundMessages).toBe(8);
    expect(b.stats().drops.overflow).toBeGreaterThan(0);
    b.resumeReading();
    net.settle(5000);
    expect(gotB).toEqual([...Array(40).keys()]);
  });
});

describe('transmit-threshold ACK in the same write as its message', () => {
  /** The frames (h_cmd, h_length) of a batch. */
  function frames(batch: Uint8Array): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let off = 0; off < batch.length; ) {
      const length = batch[off + 12]! | (batch[off + 13]! << 8);
      out.push([batch[off + 14]!, length]);
      off += length;
    }
    return out;
  }

  it('the ACK and the message that triggered it are one channel write, ACK first; the peer takes both', async () => {
    const { net, a, b, gotB } = twoNodes({ b: { ackDelayMs: 0 } });
    for (let i = 0; i < 33; i++) await a.send(msg(i));
    net.deliverAll();
    expect(gotB.length).toBe(33);
    const link = net.links[0]!; // a opened it: rev is b → a
    const before = b.stats().framesSent;
    await b.send(msg(900));
    expect(b.stats().acksSent).toBe(1);
    expect(link.rev.batches.length).toBe(1);
    expect(frames(link.rev.batches[0]!)).toEqual([
      [4, 16], // ACK
      [3, 24 + 88], // OPTS around the message
    ]);
    // The ACK says every one of a's 33 messages arrived.
    const batch = link.rev.batches[0]!;
    expect(new DataView(batch.buffer, batch.byteOffset).getUint32(4, true)).toBe(a.stats().seqSend);
    expect(b.stats().framesSent).toBe(before + 2);
    net.deliverAll();
    expect(a.stats().queueMessages).toBe(0);
    expect(a.stats().acksReceived).toBe(1);
  });

  it('on a channel that pushes back, the ACK goes at once, alone, and the message waits for room', async () => {
    const { net, a, b, gotA } = twoNodes({ b: { ackDelayMs: 0 } });
    await a.send(msg(0));
    net.deliverAll();
    const link = net.links[0]!; // a opened it: rev is b → a
    net.highWaterMark = 0;
    await b.send(msg(899)); // written; b's channel pushes back from now on
    for (let i = 1; i < 34; i++) await a.send(msg(i));
    while (net.deliverOne(link, true)); // a → b only: b's channel stays blocked
    expect(b.stats().acksSent).toBe(0);
    await b.send(msg(900)); // the threshold ACK: alone, at once; the message waits
    expect(b.stats().acksSent).toBe(1);
    expect(link.rev.batches.map(frames)).toEqual([[[3, 24 + 88]], [[4, 16]]]);
    net.highWaterMark = Number.POSITIVE_INFINITY;
    net.deliverAll();
    expect(gotA).toEqual([899, 900]);
    expect(a.stats().queueMessages).toBe(0);
  });
});
