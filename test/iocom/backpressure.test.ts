import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Iocom } from '../../src/iocom/iocom.ts';
import { firstValueFrom } from 'rxjs';
import { LinkError } from '../../src/iocom/errors.ts';
import { createMemoryLink } from '../../src/transport/memory.ts';
import { DMSG } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
import { RawPeer, rawLink } from '../helpers/raw-peer.ts';
import { Router } from '../../src/span/router.ts';

const AUX = 4000;
const MSG_BYTES = 64 + 4032; // header + aligned aux
const payload = (i: number): Uint8Array => {
  const b = new Uint8Array(AUX);
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
};
const indexOf = (m: Message): number => new DataView(m.aux.buffer, m.aux.byteOffset, 4).getUint32(0, true);
/** Let pending I/O callbacks run once (not a sleep: no time passes in the test's logic). */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('write backpressure', () => {
  it('a producer that honours writable/whenWritable keeps queuedBytes bounded while the reader stops, then finishes', async () => {
    const link = createMemoryLink();
    const HWM = 64 * 1024;
    const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: HWM, maxQueuedBytes: 1 << 20 });
    const peer = new RawPeer(link.b);
    link.pause('aToB'); // the reader reads nothing
    const N = 300; // ~1.2 MB, far more than the high-water mark
    let maxQueued = 0;
    let blockedOnce!: () => void;
    const blocked = new Promise<void>((r) => (blockedOnce = r));
    let waits = 0;
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        const ok = io.sendOneWay(DMSG.DBG_SHELL, { aux: payload(i) });
        maxQueued = Math.max(maxQueued, io.stats().queuedBytes);
        if (!ok) {
          expect(io.writable).toBe(false);
          waits++;
          blockedOnce();
          await io.whenWritable();
        }
      }
    })();
    await blocked;
    // Stalled: nothing moves until the reader reads again.
    const sentWhenBlocked = io.stats().queuedBytes;
    let resolved = false;
    void io.whenWritable().then(() => (resolved = true));
    for (let i = 0; i < 5; i++) await turn();
    expect(resolved).toBe(false);
    expect(io.writable).toBe(false);
    expect(io.stats().queuedBytes).toBe(sentWhenBlocked);
    expect(peer.received).toHaveLength(0);
    link.resume('aToB');
    await producer;
    await peer.waitFor(N);
    expect(resolved).toBe(true);
    expect(waits).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(HWM + MSG_BYTES);
    expect(peer.received.map(indexOf)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(peer.received.map((m) => m.header.salt & 0xff)).toEqual(Array.from({ length: N }, (_, i) => i & 0xff));
    io.destroy();
  });

  it('a send past maxQueuedBytes never throws: it returns false, the link is shed with LinkError LIMIT and one log line', async () => {
    const link = createMemoryLink();
    const lines: string[] = [];
    const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: 16 * 1024, maxQueuedBytes: 64 * 1024, log: (l) => lines.push(l) });
    new RawPeer(link.b);
    link.pause('aToB');
    const closed = firstValueFrom(io.closed$);
    const tx = io.open(DMSG.DBG_SHELL);
    const txEnd = new Promise<unknown>((resolve) => tx.rx$.subscribe({ error: resolve, complete: () => resolve('completed') }));
    let accepted = 0;
    let refused = -1;
    let maxQueued = 0;
    for (let i = 0; i < 100 && refused < 0; i++) {
      const before = io.stats().queuedBytes;
      const ok = tx.send(DMSG.DBG_SHELL, { aux: payload(i) });
      if (io.isOpen) {
        accepted++;
        maxQueued = Math.max(maxQueued, io.stats().queuedBytes);
      } else {
        expect(ok).toBe(false);
        expect(before + MSG_BYTES).toBeGreaterThan(64 * 1024);
        refused = i;
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBe(accepted);
    expect(maxQueued).toBeLessThanOrEqual(64 * 1024);
    const r = await closed;
    expect(r.kind === 'error' && r.error).toBeInstanceOf(LinkError);
    expect(r.kind === 'error' && (r.error as LinkError).code).toBe('LIMIT');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^w: link shed: .*maxQueuedBytes is 65536/);
    // The transaction on the shed link ends with LOST_LINK; sending on it now throws that, not LIMIT.
    expect(await txEnd).toMatchObject({ code: 'LOST_LINK' });
    expect(() => tx.send(DMSG.DBG_SHELL)).toThrow(expect.objectContaining({ code: 'LOST_LINK' }));
    expect(tx.writable).toBe(false);
    await expect(tx.whenWritable()).rejects.toMatchObject({ code: 'LOST_LINK' });
  });

  it('whenWritable(signal) rejects with CANCELLED when aborted', async () => {
    const link = createMemoryLink();
    const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: 8 * 1024 });
    new RawPeer(link.b);
    link.pause('aToB');
    while (io.sendOneWay(DMSG.DBG_SHELL, { aux: payload(0) }));
    const ac = new AbortController();
    const p = io.whenWritable(ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    io.destroy();
  });
});

describe('read backpressure', () => {
  it('pauseReading() holds messages, pauses the stream at readHighWaterMark, resumeReading() delivers them in order', async () => {
    const link = await rawLink('memory', { readHighWaterMark: 10 });
    const { io, peer, streams } = link;
    const got: Message[] = [];
    io.messages$.subscribe((m) => got.push(m));
    io.pauseReading();
    const paused = once(streams[0], 'pause');
    const N = 60;
    for (let i = 0; i < N; i++) peer.send({ cmd: DMSG.DBG_SHELL }, undefined, payload(i));
    await paused;
    expect(streams[0].isPaused()).toBe(true);
    expect(got).toHaveLength(0);
    expect(io.stats().messagesIn).toBe(0);
    for (let i = 0; i < 5; i++) await turn();
    expect(got).toHaveLength(0); // still held: nothing is delivered while paused
    io.resumeReading();
    expect(got.length).toBeGreaterThanOrEqual(10); // the held ones, at once
    await peer.roundTrip();
    expect(got.map(indexOf)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(streams[0].isPaused()).toBe(false);
    expect(io.isOpen).toBe(true);
    await link.close();
  });

  it('pausing again while delivering held messages keeps the rest held', async () => {
    const link = await rawLink('memory', { readHighWaterMark: 5 });
    const { io, peer, streams } = link;
    const got: number[] = [];
    io.messages$.subscribe((m) => {
      got.push(indexOf(m));
      if (got.length === 3) io.pauseReading();
    });
    io.pauseReading();
    const paused = once(streams[0], 'pause');
    for (let i = 0; i < 20; i++) peer.send({ cmd: DMSG.DBG_SHELL }, undefined, payload(i));
    await paused;
    io.resumeReading();
    expect(got).toEqual([0, 1, 2]);
    io.resumeReading();
    await peer.roundTrip();
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await link.close();
  });

});

describe('per-transaction flow control', () => {
  it('per-transaction flow control: tx.writable / tx.whenWritable follow the link\'s queue; a producer on two transactions stays bounded', async () => {
    const link = createMemoryLink();
    const HWM = 32 * 1024;
    const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: HWM, maxQueuedBytes: 256 * 1024 });
    const peer = new RawPeer(link.b);
    link.pause('aToB');
    const t1 = io.open(DMSG.DBG_SHELL);
    const t2 = io.open(DMSG.DBG_SHELL);
    expect(t1.writable && t2.writable).toBe(true);
    let maxQueued = 0;
    const produce = async (tx: typeof t1, base: number): Promise<number> => {
      let waits = 0;
      for (let i = 0; i < 40; i++) {
        if (!tx.writable) {
          waits++;
          await tx.whenWritable();
        }
        tx.send(DMSG.DBG_SHELL, { aux: payload(base + i) });
        maxQueued = Math.max(maxQueued, io.stats().queuedBytes);
      }
      return waits;
    };
    const p1 = produce(t1, 0);
    const p2 = produce(t2, 1000);
    for (let i = 0; i < 5; i++) await turn();
    // Both are stalled on the same link's queue.
    expect(t1.writable || t2.writable).toBe(false);
    expect(io.writable).toBe(false);
    link.resume('aToB');
    const [w1, w2] = await Promise.all([p1, p2]);
    expect(w1 + w2).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(HWM + MSG_BYTES);
    expect(io.isOpen).toBe(true); // never near maxQueuedBytes
    await peer.waitFor(80);
    // Once our side is closed: writable is false, whenWritable rejects with CLOSED; CANCELLED on a signal.
    t1.close();
    expect(t1.writable).toBe(false);
    await expect(t1.whenWritable()).rejects.toMatchObject({ code: 'CLOSED' });
    link.pause('aToB');
    while (io.writable) t2.send(DMSG.DBG_SHELL, { aux: payload(0) });
    const ac = new AbortController();
    const waiting = t2.whenWritable(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    // The link ends while a producer waits: it learns LOST_LINK, not a resolved promise.
    const lost = t2.whenWritable();
    io.destroy();
    await expect(lost).rejects.toMatchObject({ code: 'LOST_LINK' });
  });

  it('through a router, tx.writable reflects the first hop\'s write queue', async () => {
    const link = createMemoryLink();
    const quiet = { pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: 32 * 1024, maxQueuedBytes: 1 << 20 };
    const a = new Router({ name: 'a', iocom: quiet });
    const b = new Router({ name: 'b', iocom: quiet });
    const ad = b.advertise({ service: 'svc' });
    const got: number[] = [];
    ad.transactions$.subscribe((tx) => tx.rx$.subscribe({ next: (m) => got.push(m.aux.length), error: () => {} }));
    a.attach(link.a);
    b.attach(link.b);
    await a.waitForSpan('svc');
    const tx = a.open('svc', DMSG.DBG_SHELL);
    const firstHop = a.links[0]!.iocom;
    link.pause('aToB');
    let sent = 0;
    while (tx.writable && sent < 1000) {
      tx.send(DMSG.DBG_SHELL, { aux: payload(sent) });
      sent++;
    }
    expect(sent).toBeLessThan(1000);
    expect(firstHop.writable).toBe(false);
    expect(tx.writable).toBe(false);
    const woke = tx.whenWritable();
    link.resume('aToB');
    await woke;
    expect(tx.writable).toBe(true);
    for (let i = 0; i < 1000 && got.length < sent + 1; i++) await turn();
    expect(got).toEqual([0, ...Array.from({ length: sent }, () => AUX)]); // the CREATE, then every send
    await a.close();
    await b.close();
  });
});
