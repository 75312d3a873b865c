/**
 * Issue 7, item 4: daemon-wide budgets. The pure accounting first, then each
 * budget under its attack scaled down (a small budget, a few connections over
 * real TCP on 127.0.0.1): the largest holder is shed with LinkError LIMIT,
 * the other links (and a bystander doing round trips) live on.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { Budget, type BudgetMember } from '../../src/iocom/budget.ts';
import { LinkError, type LinkCloseReason } from '../../src/iocom/errors.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import { BUDGET_DEFAULTS, type IocomOptions } from '../../src/iocom/options.ts';
import { Router } from '../../src/span/router.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { createMemoryLink, type MemoryLink } from '../../src/transport/memory.ts';
import { DMSG } from '../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';

const QUIET: IocomOptions = { pingIntervalMs: 0, linkTimeoutMs: 0 };
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Wait (bounded: 10,000 I/O turns) until `test()` holds. */
async function until(test: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (test()) return;
    await turn();
  }
  throw new Error(`timed out waiting for ${what}`);
}

function member(name: string, authRequired = false): BudgetMember & { shedWhy: string[] } {
  const shedWhy: string[] = [];
  return { name, authRequired, shedWhy, shed: (why) => shedWhy.push(why) };
}

function expectLimit(r: LinkCloseReason): void {
  expect(r.kind).toBe('error');
  const err = (r as { error: Error }).error;
  expect(err).toBeInstanceOf(LinkError);
  expect((err as LinkError).code).toBe('LIMIT');
}

/** A TCP listener on 127.0.0.1 that makes a server Iocom (sharing `budget`) for every accepted socket. */
async function server(budget: Budget, opts: IocomOptions = {}): Promise<{ port: number; links: Iocom[]; lines: string[]; accept(): Promise<Iocom>; close(): Promise<void> }> {
  const links: Iocom[] = [];
  const lines: string[] = [];
  const s = await listenTcp({ host: '127.0.0.1', port: 0 }, (sock) => {
    const io = new Iocom(sock, { name: `s${links.length}`, ...QUIET, ...opts, budget, log: (l) => lines.push(l) });
    io.transactions$.subscribe(() => {}); // keep what peers open open
    links.push(io);
  });
  let seen = 0;
  return {
    port: s.address().port,
    links,
    lines,
    async accept() {
      const want = ++seen;
      await until(() => links.length >= want, 'an accepted link');
      return links[want - 1]!;
    },
    async close() {
      for (const l of links) l.destroy();
      await s.close();
    },
  };
}

describe('Budget (accounting)', () => {
  it('sums what the accounts hold, gives it back on leave, and validates its options', () => {
    const b = new Budget({ maxBufferedBytes: 1000 });
    const a1 = b.join(member('a1'));
    const a2 = b.join(member('a2'));
    a1.setBufferedBytes(300);
    a2.setBufferedBytes(200);
    a1.setQueuedBytes(50);
    a2.setTransactions(7);
    expect(b.stats()).toMatchObject({ connections: 2, unauthenticated: 0, bufferedBytes: 500, queuedBytes: 50, transactions: 7 });
    a1.leave();
    a1.leave();
    expect(b.stats()).toMatchObject({ connections: 1, bufferedBytes: 200, queuedBytes: 0, transactions: 7 });
    expect(b.stats().limits).toEqual({ ...BUDGET_DEFAULTS, maxBufferedBytes: 1000 });
    expect(() => new Budget({ maxQueuedBytes: 0 })).toThrow(/maxQueuedBytes must be an integer/);
    expect(() => new Budget({ maxConections: 3 } as never)).toThrow(/unknown budget option 'maxConections'/);
    expect(() => new Iocom(new PassThrough(), { budget: {} as Budget })).toThrow(/budget must be a Budget/);
  });

  it('a byte budget passed: the largest holder is shed in a microtask (not the one that crossed), then the next, until under', async () => {
    const b = new Budget({ maxQueuedBytes: 1000 });
    const m = [member('small'), member('large'), member('middle'), member('crosser')];
    const acc = m.map((x) => b.join(x));
    // Members that leave when shed, as an Iocom does.
    m.forEach((x, i) => (x.shed = (why) => { x.shedWhy.push(why); acc[i]!.leave(); }));
    acc[0]!.setQueuedBytes(100);
    acc[1]!.setQueuedBytes(600);
    acc[2]!.setQueuedBytes(250);
    acc[3]!.setQueuedBytes(100); // 1050 > 1000
    expect(m.every((x) => x.shedWhy.length === 0)).toBe(true); // not inside the update
    await Promise.resolve();
    expect(m.map((x) => x.shedWhy.length)).toEqual([0, 1, 0, 0]);
    expect(m[1]!.shedWhy[0]).toMatch(/daemon-wide budget: queuedBytes 1050 > 1000; this link holds the most \(600\)/);
    expect(b.stats()).toMatchObject({ connections: 3, queuedBytes: 450, shed: { queuedBytes: 1 } });
    // Far over: shed largest first until under.
    acc[0]!.setQueuedBytes(700);
    acc[2]!.setQueuedBytes(500); // 700 + 500 + 100 = 1300
    await Promise.resolve();
    expect(m.map((x) => x.shedWhy.length)).toEqual([1, 1, 0, 0]);
    expect(b.stats().queuedBytes).toBe(600);
  });

  it('connection budgets refuse the newcomer; an authenticated link frees its unauthenticated slot', () => {
    const b = new Budget({ maxConnections: 3, maxUnauthenticated: 1 });
    const u1 = b.join(member('u1', true));
    expect(u1.refused).toBeUndefined();
    const u2 = b.join(member('u2', true));
    expect(u2.refused).toMatch(/maxUnauthenticated is 1/);
    u1.setAuthenticated();
    const u3 = b.join(member('u3', true));
    expect(u3.refused).toBeUndefined();
    const open = b.join(member('open'));
    expect(open.refused).toBeUndefined();
    const fourth = b.join(member('fourth'));
    expect(fourth.refused).toMatch(/maxConnections is 3/);
    expect(b.stats()).toMatchObject({ connections: 3, unauthenticated: 1, shed: { connections: 1, unauthenticated: 1 } });
    u3.leave();
    expect(b.stats()).toMatchObject({ connections: 2, unauthenticated: 0 });
  });
});


describe('budgets under attack (TCP on 127.0.0.1, scaled down)', () => {
  it('partial messages (a header announcing a large aux, all but the last byte sent): the largest is shed, the rest and a bystander live', async () => {
    const budget = new Budget({ maxBufferedBytes: 200 * 1024 });
    const srv = await server(budget);
    const bySock = await connectTcp({ host: '127.0.0.1', port: srv.port });
    const by = new Iocom(bySock, { name: 'bystander', ...QUIET });
    await srv.accept();
    /** A header announcing `announce` bytes of aux, and all of the message but its last byte: the decoder allocates it whole. */
    const partial = async (announce: number): Promise<{ sock: Socket; io: Iocom }> => {
      const sock = await connectTcp({ host: '127.0.0.1', port: srv.port });
      sock.on('error', () => {});
      const io = await srv.accept();
      const bytes = concatBytes(encodeMessage({ header: { cmd: DMSG.DBG_SHELL, salt: 0 }, aux: new Uint8Array(announce) }));
      sock.write(bytes.subarray(0, bytes.length - 1));
      return { sock, io };
    };
    const before = budget.stats().bufferedBytes;
    const a = await partial(40 * 1024);
    const big = await partial(90 * 1024);
    const c = await partial(55 * 1024);
    await until(() => budget.stats().bufferedBytes >= before + 185 * 1024, 'the partial messages buffered');
    expect(a.io.isOpen && big.io.isOpen && c.io.isOpen).toBe(true);
    expect(big.io.stats().bufferedBytes).toBe(64 + 90 * 1024);
    const bigClosed = firstValueFrom(big.io.closed$);
    // A small newcomer takes the total past the budget: the largest holder goes, not the newcomer.
    const d = await partial(20 * 1024);
    expectLimit(await bigClosed);
    await by.ping();
    expect(a.io.isOpen && c.io.isOpen && d.io.isOpen).toBe(true);
    expect(budget.stats()).toMatchObject({ shed: { bufferedBytes: 1 } });
    expect(budget.stats().bufferedBytes).toBeLessThanOrEqual(200 * 1024);
    expect(srv.lines.filter((l) => /link shed: daemon-wide budget: bufferedBytes/.test(l))).toHaveLength(1);
    expect(await by.ping()).toBeGreaterThanOrEqual(0);
    for (const x of [a, big, c, d]) x.sock.destroy();
    by.destroy();
    await srv.close();
  });

  it('queued bytes (sinks that never read): the sink with the longest queue is shed, the others and a bystander live', async () => {
    const budget = new Budget({ maxQueuedBytes: 400 * 1024 });
    const srv = await server(budget, { writeHighWaterMark: 16 * 1024, maxQueuedBytes: 64 << 20 });
    const bySock = await connectTcp({ host: '127.0.0.1', port: srv.port });
    const by = new Iocom(bySock, { name: 'bystander', ...QUIET });
    await srv.accept();
    const sinks: Array<{ sock: Socket; io: Iocom }> = [];
    for (let i = 0; i < 3; i++) {
      const sock = await connectTcp({ host: '127.0.0.1', port: srv.port });
      sock.on('error', () => {});
      sock.pause(); // never reads
      sinks.push({ sock, io: await srv.accept() });
    }
    // Fill each sink's kernel buffers (what the kernel holds is not ours to count), leaving little queued here.
    const pad = new Uint8Array(4096);
    for (const { io } of sinks) {
      for (let round = 0; round < 10_000; round++) {
        while (io.writable) io.sendOneWay(DMSG.LNK_PAD, { aux: pad });
        const q = io.stats().queuedBytes;
        await turn();
        if (io.stats().queuedBytes >= q) break;
      }
    }
    const base = budget.stats().queuedBytes;
    expect(base).toBeLessThan(100 * 1024);
    const send = (io: Iocom, bytes: number): void => {
      for (let n = 0; n < bytes; n += 64 + 4096) io.sendOneWay(DMSG.LNK_PAD, { aux: pad });
    };
    const [a, big, c] = sinks;
    send(big!.io, 200 * 1024);
    send(a!.io, 100 * 1024);
    await turn();
    expect(sinks.every((s) => s.io.isOpen)).toBe(true);
    const bigClosed = firstValueFrom(big!.io.closed$);
    // The smallest sink takes the total over the budget; the longest queue is shed.
    send(c!.io, budget.limits.maxQueuedBytes - budget.stats().queuedBytes + 1);
    expect(big!.io.stats().queuedBytes).toBeGreaterThan(c!.io.stats().queuedBytes);
    expectLimit(await bigClosed);
    expect(a!.io.isOpen && c!.io.isOpen).toBe(true);
    expect(budget.stats()).toMatchObject({ shed: { queuedBytes: 1 } });
    expect(await by.ping()).toBeGreaterThanOrEqual(0);
    for (const s of sinks) s.sock.destroy();
    by.destroy();
    await srv.close();
  });

  it('open transactions: the link holding the most is shed when the total passes the budget', async () => {
    const budget = new Budget({ maxTransactions: 100 });
    const srv = await server(budget);
    const clients: Iocom[] = [];
    const links: Iocom[] = [];
    for (let i = 0; i < 3; i++) {
      const sock = await connectTcp({ host: '127.0.0.1', port: srv.port });
      sock.on('error', () => {});
      clients.push(new Iocom(sock, { name: `c${i}`, ...QUIET }));
      links.push(await srv.accept());
    }
    const openN = async (i: number, n: number, total: number): Promise<void> => {
      for (let k = 0; k < n; k++) clients[i]!.open(DMSG.DBG_SHELL);
      await until(() => budget.stats().transactions >= total || !links[i]!.isOpen, `${total} transactions`);
    };
    await openN(0, 30, 30);
    await openN(1, 50, 80);
    const bigClosed = firstValueFrom(links[1]!.closed$);
    for (let k = 0; k < 25; k++) clients[2]!.open(DMSG.DBG_SHELL); // 105 > 100
    expectLimit(await bigClosed);
    await until(() => budget.stats().transactions === 55, 'the 25 newest');
    expect(links[0]!.isOpen && links[2]!.isOpen).toBe(true);
    expect(budget.stats()).toMatchObject({ transactions: 55, shed: { transactions: 1 } });
    expect(await clients[0]!.ping()).toBeGreaterThanOrEqual(0);
    for (const c of clients) c.destroy();
    await srv.close();
  });

  it('unauthenticated connections: the newcomer past the limit is refused; an authenticated bystander lives; the pre-auth buffer is small', async () => {
    const serverKeys = generateKeyPairSync('ed25519');
    const clientKeys = generateKeyPairSync('ed25519');
    const budget = new Budget({ maxConnections: 4, maxUnauthenticated: 2 });
    const srv = await server(budget, { keyPair: serverKeys, allowedPeerKeys: [clientKeys.publicKey], authTimeoutMs: 60_000, preAuthBufferBytes: 4096 });
    // The bystander authenticates first: it no longer takes an unauthenticated slot.
    const by = new Iocom(await connectTcp({ host: '127.0.0.1', port: srv.port }), { name: 'bystander', ...QUIET, keyPair: clientKeys, allowedPeerKeys: [serverKeys.publicKey] });
    const byLink = await srv.accept();
    await by.ready;
    await until(() => budget.stats().unauthenticated === 0, 'the bystander authenticated');
    // Two silent peers hold the unauthenticated slots; a third is refused at once.
    const silent: Socket[] = [];
    const silentLinks: Iocom[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await connectTcp({ host: '127.0.0.1', port: srv.port });
      s.on('error', () => {});
      silent.push(s);
      silentLinks.push(await srv.accept());
    }
    expect(silentLinks[0]!.isOpen && silentLinks[1]!.isOpen).toBe(true);
    expectLimit(await firstValueFrom(silentLinks[2]!.closed$));
    expect(srv.lines.some((l) => /maxUnauthenticated is 2/.test(l))).toBe(true);
    expect(budget.stats()).toMatchObject({ connections: 3, unauthenticated: 2, shed: { unauthenticated: 1 } });
    // An unauthenticated peer may not make us hold more than preAuthBufferBytes of one message.
    const firstClosed = firstValueFrom(silentLinks[0]!.closed$);
    const big = concatBytes(encodeMessage({ header: { cmd: DMSG.DBG_SHELL, salt: 0 }, aux: new Uint8Array(64 * 1024) }));
    silent[0]!.write(big.subarray(0, 8192));
    expectLimit(await firstClosed);
    expect(srv.lines.some((l) => /preAuthBufferBytes is 4096/.test(l))).toBe(true);
    expect(byLink.isOpen).toBe(true);
    expect(await by.ping()).toBeGreaterThanOrEqual(0);
    for (const s of silent) s.destroy();
    by.destroy();
    await srv.close();
  });

  it('maxConnections refuses the newcomer, not a link already there', async () => {
    const budget = new Budget({ maxConnections: 2 });
    const srv = await server(budget);
    const clients: Iocom[] = [];
    for (let i = 0; i < 3; i++) {
      const sock = await connectTcp({ host: '127.0.0.1', port: srv.port });
      sock.on('error', () => {});
      clients.push(new Iocom(sock, { name: `c${i}`, ...QUIET }));
      await srv.accept();
    }
    expectLimit(await firstValueFrom(srv.links[2]!.closed$));
    expect(srv.links[0]!.isOpen && srv.links[1]!.isOpen).toBe(true);
    expect(srv.lines.some((l) => /maxConnections is 2/.test(l))).toBe(true);
    expect(await clients[0]!.ping()).toBeGreaterThanOrEqual(0);
    for (const c of clients) c.destroy();
    await srv.close();
  });

  it('span relays count against the queued-bytes budget: a router sink that stops reading is shed, a reading peer keeps its link', async () => {
    // In-memory links: nothing between the hub's queue and the peer, so a small budget is reached with few spans.
    const budget = new Budget({ maxQueuedBytes: 256 * 1024 });
    const lines: string[] = [];
    const hub = new Router({ name: 'hub', iocom: { ...QUIET, budget, writeHighWaterMark: 16 * 1024, log: (l) => lines.push(l) } });
    const peer = (name: string): { router: Router; link: MemoryLink } => {
      const link = createMemoryLink();
      const router = new Router({ name, iocom: { ...QUIET } });
      hub.attach(link.a);
      router.attach(link.b);
      return { router, link };
    };
    const reader = peer('reader');
    const sink = peer('sink');
    await until(() => hub.links.filter((k) => k.peerName !== null).length === 2, 'both LNK_CONNs');
    const sinkLink = hub.links.find((k) => k.peerName === 'sink')!;
    const readerLink = hub.links.find((k) => k.peerName === 'reader')!;
    const sinkClosed = firstValueFrom(sinkLink.iocom.closed$);
    sink.link.pause('aToB'); // the sink stops reading what the hub sends it
    // Spans with long labels, relayed to both peers, until the sink's queue takes the budget (bounded loop).
    const label = 'x'.repeat(120);
    let n = 0;
    for (; n < 5000 && sinkLink.iocom.isOpen; n++) {
      hub.advertise({ service: `s${n}-${label}`, instance: label });
      if (n % 10 === 9) await turn();
    }
    expectLimit(await sinkClosed);
    expect(budget.stats().shed.queuedBytes).toBe(1);
    expect(lines.filter((x) => /link shed: daemon-wide budget: queuedBytes/.test(x))).toHaveLength(1);
    expect(readerLink.iocom.isOpen).toBe(true);
    expect(await readerLink.iocom.ping()).toBeGreaterThanOrEqual(0);
    expect(budget.stats().queuedBytes).toBeLessThanOrEqual(256 * 1024);
    await reader.router.close();
    await hub.close();
  });
});
