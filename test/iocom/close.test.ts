import { describe, expect, it, vi } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { Iocom } from '../../src/iocom/iocom.ts';
import { TransactionError } from '../../src/iocom/errors.ts';
import { createMemoryLink } from '../../src/transport/memory.ts';
import { DMSG } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
import { iocomPair, type PairKind } from '../helpers/iocom-pair.ts';
import { RawPeer, rawLink } from '../helpers/raw-peer.ts';

const KINDS: readonly PairKind[] = ['memory', 'tcp'];
const num = (i: number): Uint8Array => {
  const b = new Uint8Array(3000);
  new DataView(b.buffer).setUint32(0, i, true);
  return b;
};
const indexOf = (m: Message): number => new DataView(m.aux.buffer, m.aux.byteOffset, 4).getUint32(0, true);

describe.each(KINDS)('close() and destroy() over %s', (kind) => {
  it('close() delivers everything queued before ending, and is idempotent', async () => {
    const p = await iocomPair(kind);
    const got: Message[] = [];
    p.b.messages$.subscribe((m) => got.push(m));
    const bClosed = firstValueFrom(p.b.closed$);
    for (let i = 0; i < 200; i++) p.a.sendOneWay(DMSG.DBG_SHELL, { aux: num(i) });
    const c1 = p.a.close();
    const c2 = p.a.close();
    expect(c2).toBe(c1);
    expect(p.a.isOpen).toBe(false);
    expect(() => p.a.sendOneWay(DMSG.DBG_SHELL)).toThrow(TransactionError);
    await c1;
    expect(await bClosed).toEqual({ kind: 'peer-closed' });
    expect(await firstValueFrom(p.a.closed$)).toEqual({ kind: 'closed' });
    expect(got.map(indexOf)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await p.a.close(); // after the end: resolves at once
    expect(p.a.stats().timers).toBe(0);
    await p.close();
  });

  it('close() ends open transactions with LOST_LINK on both sides', async () => {
    const p = await iocomPair(kind);
    const bErr: unknown[] = [];
    p.b.transactions$.subscribe((tx) => tx.rx$.subscribe({ error: (e) => bErr.push(e) }));
    const tx = p.a.open(DMSG.DBG_SHELL);
    const aErr = new Promise<unknown>((r) => tx.rx$.subscribe({ error: r }));
    await p.a.ping();
    await p.a.close();
    expect(await aErr).toMatchObject({ code: 'LOST_LINK' });
    await firstValueFrom(p.b.closed$, { defaultValue: undefined });
    expect(bErr).toHaveLength(1);
    expect(bErr[0]).toMatchObject({ code: 'LOST_LINK' });
    expect(p.a.stats()).toMatchObject({ weOpened: 0, peerOpened: 0, timers: 0 });
    await p.close();
  });

  it('destroy(err) is idempotent: the first reason wins, later close() resolves, queued messages are dropped', async () => {
    const p = await iocomPair(kind);
    const got: Message[] = [];
    p.b.messages$.subscribe((m) => got.push(m));
    p.a.sendOneWay(DMSG.DBG_SHELL, { aux: num(1) }); // still queued (flushed on the next microtask)
    const e1 = new Error('first');
    p.a.destroy(e1);
    p.a.destroy(new Error('second'));
    p.a.destroy();
    await p.a.close();
    expect(await firstValueFrom(p.a.closed$)).toEqual({ kind: 'error', error: e1 });
    expect(await firstValueFrom(p.b.closed$)).toEqual({ kind: 'peer-closed' });
    expect(got).toHaveLength(0);
    await expect(p.a.ready).resolves.toBeUndefined(); // no auth: it was ready before
    await p.close();
  });

  it('destroy() while close() waits ends the link at once; the close() promise resolves', async () => {
    const link = await rawLink(kind); // the raw peer never ends its side
    const c = link.io.close();
    link.io.destroy(new Error('give up'));
    await c;
    const r = await link.closed;
    expect(r.kind).toBe('error');
    await link.close();
  });
});

describe('close() details', () => {
  it('close() delivers messages held back by write backpressure', async () => {
    const link = createMemoryLink({ highWaterMark: 4096 });
    const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: 8 * 1024 });
    const peer = new RawPeer(link.b);
    link.pause('aToB');
    let n = 0;
    while (n < 10) io.sendOneWay(DMSG.DBG_SHELL, { aux: num(n++) });
    await new Promise((r) => setImmediate(r)); // flushed: the stream said "wait for drain"
    while (n < 50) io.sendOneWay(DMSG.DBG_SHELL, { aux: num(n++) }); // these wait in the iocom's queue
    expect(io.stats().queuedBytes).toBeGreaterThan(40 * 3000);
    const closing = io.close();
    link.resume('aToB');
    await peer.waitFor(50);
    expect(peer.received.map(indexOf)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    link.b.end();
    await closing;
    expect(await firstValueFrom(io.closed$)).toEqual({ kind: 'closed' });
  });

  it('close() gives up after linkTimeoutMs when the peer never ends its side (fake timers)', async () => {
    vi.useFakeTimers();
    try {
      const link = createMemoryLink({ allowHalfOpen: true });
      const io = new Iocom(link.a, { name: 'w', pingIntervalMs: 0, linkTimeoutMs: 3000 });
      new RawPeer(link.b); // reads, never ends
      let done = false;
      const c = io.close().then(() => (done = true));
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(2999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await c;
      expect(done).toBe(true);
      expect(io.stats().timers).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
