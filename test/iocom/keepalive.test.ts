import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { LinkError, TransactionError } from '../../src/iocom/errors.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { DMSG, DMSGF, DMSG_ERR } from '../../src/wire/constants.ts';
import { iocomPair } from '../helpers/iocom-pair.ts';
import { rawLink, reasonCode } from '../helpers/raw-peer.ts';

const KA = { pingIntervalMs: 1000, linkTimeoutMs: 5000 };
const isPing = (cmd: number): boolean => cmd === DMSG.LNK_PING;
const isPong = (cmd: number): boolean => cmd === (DMSG.LNK_PING | DMSGF.REPLY);
/**
 * Let the in-memory link deliver what is in flight: its hops are microtasks
 * and nextTicks, all run before the next immediate. No time passes on the
 * ManualClock, which alone drives the iocom's timers.
 */
const io = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('keepalive (ManualClock)', () => {
  it('sends LNK_PING after pingIntervalMs without traffic, not before', async () => {
    const clock = new ManualClock();
    const l = await rawLink('memory', { ...KA, clock });
    expect(l.io.stats().timers).toBe(1);
    expect(clock.pending).toBe(1);
    clock.advance(999);
    await io();
    expect(l.peer.received).toHaveLength(0);
    clock.advance(1);
    const [ping] = await l.peer.waitFor(1);
    expect(ping!.header).toMatchObject({ cmd: DMSG.LNK_PING, msgid: 0n, circuit: 0n, error: 0 });
    // The raw peer answers; the link stays up.
    l.peer.send({ cmd: DMSG.LNK_PING | DMSGF.REPLY });
    await l.peer.roundTrip();
    clock.advance(1000);
    expect(l.io.isOpen).toBe(true);
    await l.close();
    expect(clock.pending).toBe(0);
  });

  it('answers the peer\'s PING with PING|REPLY on the same msgid and circuit', async () => {
    const l = await rawLink('memory', { ...KA, clock: new ManualClock() });
    l.peer.send({ cmd: DMSG.LNK_PING, msgid: 0n });
    await l.peer.until(() => l.peer.received.some((m) => isPong(m.header.cmd)));
    const pong = l.peer.received.find((m) => isPong(m.header.cmd))!;
    expect(pong.header).toMatchObject({ msgid: 0n, circuit: 0n, error: 0 });
    await l.close();
  });

  it('does not ping while traffic arrives', async () => {
    const clock = new ManualClock();
    const l = await rawLink('memory', { ...KA, clock });
    for (let i = 0; i < 20; i++) {
      l.peer.send({ cmd: DMSG.LNK_PAD });
      await io();
      clock.advance(500);
    }
    await l.peer.roundTrip();
    expect(l.peer.received.filter((m) => isPing(m.header.cmd))).toHaveLength(0);
    expect(l.io.isOpen).toBe(true);
    await l.close();
  });

  it('declares the link lost after linkTimeoutMs of silence: KEEPALIVE_TIMEOUT, transactions LOSTLINK, no timers left', async () => {
    const clock = new ManualClock();
    const l = await rawLink('memory', { ...KA, clock });
    const tx = l.io.open(DMSG.DBG_SHELL);
    const seen: unknown[] = [];
    tx.rx$.subscribe({ next: (m) => seen.push(m.header.error), error: (e) => seen.push(e) });
    let lostAt = -1;
    l.io.closed$.subscribe(() => (lostAt = clock.now()));
    const t0 = clock.now();
    for (let i = 0; i < 49; i++) {
      clock.advance(100);
      await io();
    }
    clock.advance(99);
    expect(l.io.isOpen).toBe(true);
    await l.peer.until(() => l.peer.received.filter((m) => isPing(m.header.cmd)).length >= 4, '4 PINGs'); // it kept asking
    clock.advance(1001);
    const r = await l.closed;
    expect(lostAt - t0).toBeGreaterThanOrEqual(5000);
    expect(lostAt - t0).toBeLessThanOrEqual(6000);
    expect(reasonCode(r)).toBe('KEEPALIVE_TIMEOUT');
    expect(r.kind === 'error' && r.error).toBeInstanceOf(LinkError);
    expect(seen[0]).toBe(DMSG_ERR.LOSTLINK);
    expect(seen[1]).toBeInstanceOf(TransactionError);
    expect((seen[1] as TransactionError).code).toBe('LOST_LINK');
    expect(l.io.stats()).toMatchObject({ weOpened: 0, timers: 0 });
    expect(clock.pending).toBe(0);
    await l.close();
  });

  it('a silence measured from the last message received: lost within one interval after linkTimeoutMs', async () => {
    const clock = new ManualClock();
    const l = await rawLink('memory', { ...KA, clock });
    clock.advance(3300);
    l.peer.send({ cmd: DMSG.LNK_PAD });
    await l.peer.roundTrip(); // the PAD (and the PING) arrived at 3300
    const last = clock.now();
    let lostAt = -1;
    l.io.closed$.subscribe(() => (lostAt = clock.now()));
    clock.advance(4999);
    expect(l.io.isOpen).toBe(true);
    clock.advance(2000);
    await l.closed;
    expect(lostAt - last).toBeGreaterThanOrEqual(5000);
    expect(lostAt - last).toBeLessThanOrEqual(6000);
    await l.close();
  });

  it('two iocoms that answer each other keep the link up indefinitely (10 minutes of idle time)', async () => {
    const clock = new ManualClock();
    const p = await iocomPair('memory', { ...KA, clock }, { ...KA, clock });
    for (let i = 0; i < 600; i++) {
      clock.advance(1000);
      await io();
    }
    expect(p.a.isOpen && p.b.isOpen).toBe(true);
    expect(p.a.stats().messagesIn).toBeGreaterThan(100);
    expect(p.a.stats().timers + p.b.stats().timers).toBe(2);
    expect(clock.pending).toBe(2);
    await p.close();
    expect(clock.pending).toBe(0);
  });

  it('ping() resolves with the round-trip time on the injected clock', async () => {
    const clock = new ManualClock();
    const l = await rawLink('memory', { pingIntervalMs: 0, linkTimeoutMs: 0, clock });
    const rtt = l.io.ping();
    await l.peer.until(() => l.peer.received.some((m) => isPing(m.header.cmd)));
    clock.advance(250);
    l.peer.send({ cmd: DMSG.LNK_PING | DMSGF.REPLY });
    expect(await rtt).toBe(250);
    await l.close();
  });

  it('ping() between two iocoms resolves; an aborted ping() rejects with CANCELLED', async () => {
    const clock = new ManualClock();
    const p = await iocomPair('memory', { ...KA, clock }, { ...KA, clock });
    expect(await p.a.ping()).toBeGreaterThanOrEqual(0);
    const ac = new AbortController();
    const aborted = p.a.ping(ac.signal);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await p.b.ping()).toBeGreaterThanOrEqual(0);
    await p.close();
    expect(await firstValueFrom(p.a.closed$)).toBeDefined();
  });

  it('the auth deadline and the close deadline run on the injected clock', async () => {
    const clock = new ManualClock();
    const { generateKeyPairSync } = await import('node:crypto');
    const kp = generateKeyPairSync('ed25519');
    // The raw peer never answers the HELLO: the auth deadline fires at authTimeoutMs of virtual time.
    const l = await rawLink('memory', { pingIntervalMs: 0, linkTimeoutMs: 0, allowedPeerKeys: [kp.publicKey], authTimeoutMs: 3000, clock });
    expect(clock.delays).toEqual([3000]);
    clock.advance(2999);
    expect(l.io.isOpen).toBe(true);
    clock.advance(1);
    expect(reasonCode(await l.closed)).toBe('AUTH_FAILED');
    expect(clock.pending).toBe(0);

    // close(): the peer never ends its side; the link is destroyed at linkTimeoutMs.
    const m = await rawLink('memory', { pingIntervalMs: 1000, linkTimeoutMs: 4000, clock });
    const closing = m.io.close();
    expect(clock.delays).toContain(4000);
    clock.advance(3999);
    expect(m.io.isOpen).toBe(false);
    expect(m.io.stats().timers).toBeGreaterThan(0);
    clock.advance(1);
    await closing;
    expect(m.io.stats().timers).toBe(0);
    await l.close();
    await m.close();
  });
});
