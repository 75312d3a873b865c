import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { LinkError, TransactionError } from '../../src/iocom/errors.ts';
import { DMSG, DMSGF, DMSG_ERR } from '../../src/wire/constants.ts';
import { iocomPair } from '../helpers/iocom-pair.ts';
import { rawLink, reasonCode } from '../helpers/raw-peer.ts';

const KA = { pingIntervalMs: 1000, linkTimeoutMs: 5000 };
const isPing = (cmd: number): boolean => cmd === DMSG.LNK_PING;
const isPong = (cmd: number): boolean => cmd === (DMSG.LNK_PING | DMSGF.REPLY);

describe('keepalive (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends LNK_PING after pingIntervalMs without traffic, not before', async () => {
    const l = await rawLink('memory', KA);
    expect(l.io.stats().timers).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(l.peer.received).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const [ping] = await l.peer.waitFor(1);
    expect(ping!.header).toMatchObject({ cmd: DMSG.LNK_PING, msgid: 0n, circuit: 0n, error: 0 });
    // The raw peer answers; the link stays up.
    l.peer.send({ cmd: DMSG.LNK_PING | DMSGF.REPLY });
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.io.isOpen).toBe(true);
    await l.close();
  });

  it('answers the peer\'s PING with PING|REPLY on the same msgid and circuit', async () => {
    const l = await rawLink('memory', KA);
    l.peer.send({ cmd: DMSG.LNK_PING, msgid: 0n });
    await l.peer.until(() => l.peer.received.some((m) => isPong(m.header.cmd)));
    const pong = l.peer.received.find((m) => isPong(m.header.cmd))!;
    expect(pong.header).toMatchObject({ msgid: 0n, circuit: 0n, error: 0 });
    await l.close();
  });

  it('does not ping while traffic arrives', async () => {
    const l = await rawLink('memory', KA);
    for (let i = 0; i < 20; i++) {
      l.peer.send({ cmd: DMSG.LNK_PAD });
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(l.peer.received.filter((m) => isPing(m.header.cmd))).toHaveLength(0);
    expect(l.io.isOpen).toBe(true);
    await l.close();
  });

  it('declares the link lost after linkTimeoutMs of silence: KEEPALIVE_TIMEOUT, transactions LOSTLINK, no timers left', async () => {
    const l = await rawLink('memory', KA);
    const tx = l.io.open(DMSG.DBG_SHELL);
    const seen: unknown[] = [];
    tx.rx$.subscribe({ next: (m) => seen.push(m.header.error), error: (e) => seen.push(e) });
    let lostAt = -1;
    void l.closed.then(() => (lostAt = Date.now()));
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(4999);
    expect(l.io.isOpen).toBe(true);
    expect(l.peer.received.filter((m) => isPing(m.header.cmd)).length).toBeGreaterThanOrEqual(4); // it kept asking
    await vi.advanceTimersByTimeAsync(1001);
    const r = await l.closed;
    expect(lostAt - t0).toBeGreaterThanOrEqual(5000);
    expect(lostAt - t0).toBeLessThanOrEqual(6000);
    expect(reasonCode(r)).toBe('KEEPALIVE_TIMEOUT');
    expect(r.kind === 'error' && r.error).toBeInstanceOf(LinkError);
    expect(seen[0]).toBe(DMSG_ERR.LOSTLINK);
    expect(seen[1]).toBeInstanceOf(TransactionError);
    expect((seen[1] as TransactionError).code).toBe('LOST_LINK');
    expect(l.io.stats()).toMatchObject({ weOpened: 0, timers: 0 });
    expect(vi.getTimerCount()).toBe(0);
    await l.close();
  });

  it('a silence measured from the last message received: lost within one interval after linkTimeoutMs', async () => {
    const l = await rawLink('memory', KA);
    await vi.advanceTimersByTimeAsync(3300);
    l.peer.send({ cmd: DMSG.LNK_PAD });
    const last = Date.now();
    let lostAt = -1;
    void l.closed.then(() => (lostAt = Date.now()));
    await vi.advanceTimersByTimeAsync(4999);
    expect(l.io.isOpen).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    await l.closed;
    expect(lostAt - last).toBeGreaterThanOrEqual(5000);
    expect(lostAt - last).toBeLessThanOrEqual(6000);
    await l.close();
  });

  it('two iocoms that answer each other keep the link up indefinitely (10 minutes of idle time)', async () => {
    const p = await iocomPair('memory', KA, KA);
    for (let i = 0; i < 600; i++) await vi.advanceTimersByTimeAsync(1000);
    expect(p.a.isOpen && p.b.isOpen).toBe(true);
    expect(p.a.stats().messagesIn).toBeGreaterThan(100);
    expect(p.a.stats().timers + p.b.stats().timers).toBe(2);
    await p.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ping() resolves with the round-trip time', async () => {
    const l = await rawLink('memory', { pingIntervalMs: 0, linkTimeoutMs: 0 });
    const rtt = l.io.ping();
    await l.peer.until(() => l.peer.received.some((m) => isPing(m.header.cmd)));
    await vi.advanceTimersByTimeAsync(250);
    l.peer.send({ cmd: DMSG.LNK_PING | DMSGF.REPLY });
    expect(await rtt).toBe(250);
    await l.close();
  });

  it('ping() between two iocoms resolves; an aborted ping() rejects with CANCELLED', async () => {
    const p = await iocomPair('memory', KA, KA);
    expect(await p.a.ping()).toBeGreaterThanOrEqual(0);
    const ac = new AbortController();
    const aborted = p.a.ping(ac.signal);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await p.b.ping()).toBeGreaterThanOrEqual(0);
    await p.close();
    expect(await firstValueFrom(p.a.closed$)).toBeDefined();
  });
});
