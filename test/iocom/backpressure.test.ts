import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Iocom } from '../../src/iocom/iocom.ts';
import { TransactionError } from '../../src/iocom/errors.ts';
import { createMemoryLink } from '../../src/transport/memory.ts';
import { DMSG } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
import { RawPeer, rawLink } from '../helpers/raw-peer.ts';

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

  it('a send past maxQueuedBytes throws TransactionError LIMIT; what was accepted is delivered', async () => {
    const link = createMemoryLink();
    const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: 16 * 1024, maxQueuedBytes: 64 * 1024 });
    const peer = new RawPeer(link.b);
    link.pause('aToB');
    let accepted = 0;
    let limit: unknown;
    for (let i = 0; i < 100 && limit === undefined; i++) {
      try {
        io.sendOneWay(DMSG.DBG_SHELL, { aux: payload(i) });
        accepted++;
      } catch (e) {
        limit = e;
      }
    }
    expect(limit).toBeInstanceOf(TransactionError);
    expect((limit as TransactionError).code).toBe('LIMIT');
    expect(accepted).toBeGreaterThan(0);
    expect(io.stats().queuedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(() => io.open(DMSG.DBG_SHELL, { aux: payload(0) })).toThrow(TransactionError);
    expect(io.isOpen).toBe(true); // a local limit does not end the link
    link.resume('aToB');
    await io.whenWritable();
    await peer.waitFor(accepted);
    expect(peer.received.map(indexOf)).toEqual(Array.from({ length: accepted }, (_, i) => i));
    io.destroy();
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
