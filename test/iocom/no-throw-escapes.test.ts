/**
 * Issue 7, item 1: nothing a peer sends may throw out of a socket handler or
 * timer. Each attack of the issue is reproduced in-process over real TCP on
 * 127.0.0.1 with a peer that stops reading, scaled down (small queue limits);
 * what is asserted is the process-level outcome: no uncaught exception or
 * unhandled rejection, the attacker's link closed with LinkError LIMIT (and a
 * log line), a bystander link in the same process unaffected.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { Iocom } from '../../src/iocom/iocom.ts';
import { LinkError, type LinkCloseReason } from '../../src/iocom/errors.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import { Router } from '../../src/span/router.ts';
import { startRelay, type RelayHandle } from '../../src/cli/relay-daemon.ts';
import { connectTcp, listenTcp, type TcpServer } from '../../src/transport/tcp.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';

const QUIET: IocomOptions = { pingIntervalMs: 0, linkTimeoutMs: 0 };

/** Process-level failures seen while a test runs. */
let escaped: unknown[] = [];
const onEscape = (err: unknown): void => {
  escaped.push(err);
};
beforeEach(() => {
  escaped = [];
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
afterEach(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

/** A listener on 127.0.0.1 whose accepted sockets arrive in order. */
async function listener(): Promise<{ server: TcpServer; port: number; next(): Promise<Socket> }> {
  const waiting: Array<(s: Socket) => void> = [];
  const ready: Socket[] = [];
  const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (s) => {
    const w = waiting.shift();
    if (w) w(s);
    else ready.push(s);
  });
  return {
    server,
    port: server.address().port,
    next: () => (ready.length > 0 ? Promise.resolve(ready.shift()!) : new Promise((r) => waiting.push(r))),
  };
}

/** 256 one-way messages with salts 0..255: repeated, a stream with valid sequence numbers. */
function block(cmd: number): Buffer {
  const parts: Uint8Array[] = [];
  for (let seq = 0; seq < 256; seq++) parts.push(concatBytes(encodeMessage({ header: { cmd, salt: seq } })));
  return Buffer.concat(parts);
}

/** Resolves on 'drain', or when the stream closes or fails (the peer reset us: that ends a flood too). */
function drainOrEnd(sock: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      sock.off('error', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
    sock.on('error', done);
  });
}

/** Write `chunk` until `stop()` or `maxBytes`, honouring the socket's backpressure (bounded loop). */
async function flood(sock: Duplex, chunk: Buffer, stop: () => boolean, maxBytes: number): Promise<number> {
  let sent = 0;
  while (!stop() && sent < maxBytes && !sock.destroyed) {
    sent += chunk.length;
    if (!sock.write(chunk)) await drainOrEnd(sock);
  }
  return sent;
}

function expectShedForLimit(r: LinkCloseReason): void {
  expect(r.kind).toBe('error');
  const err = (r as { error: Error }).error;
  expect(err).toBeInstanceOf(LinkError);
  expect((err as LinkError).code).toBe('LIMIT');
}

/** A bystander: a client iocom linked to a server iocom in this process, both answering pings. */
async function bystander(l: Awaited<ReturnType<typeof listener>>, opts: IocomOptions = {}): Promise<{ client: Iocom; server: Iocom; roundTrip(): Promise<number> }> {
  const sock = await connectTcp({ host: '127.0.0.1', port: l.port });
  const client = new Iocom(sock, { name: 'bystander', ...QUIET });
  const server = new Iocom(await l.next(), { name: 'server/bystander', ...QUIET, ...opts });
  return { client, server, roundTrip: () => client.ping() };
}

describe('no throw escapes: attacks of issue 7 over TCP on 127.0.0.1', () => {
  it('a PING flood from a peer that never reads: its link is shed with LIMIT, the process and a bystander are fine', async () => {
    const l = await listener();
    const lines: string[] = [];
    const limits: IocomOptions = { ...QUIET, writeHighWaterMark: 64 * 1024, maxQueuedBytes: 256 * 1024, log: (s) => lines.push(s) };
    const by = await bystander(l, limits);
    expect(await by.roundTrip()).toBeGreaterThanOrEqual(0);

    const attacker = await connectTcp({ host: '127.0.0.1', port: l.port });
    attacker.on('error', () => {});
    attacker.pause(); // never reads the PING replies
    const victim = new Iocom(await l.next(), { name: 'server/attacker', ...limits });
    const closed = firstValueFrom(victim.closed$);
    let shed = false;
    void closed.then(() => (shed = true));
    // Bounded: 64 MiB of PINGs at most (the kernel buffers a few MiB of replies before the queue grows).
    const sent = await flood(attacker, block(DMSG.LNK_PING), () => shed, 64 << 20);
    expectShedForLimit(await closed);
    expect(sent).toBeLessThan(64 << 20);
    expect(lines.some((s) => /^server\/attacker: link shed: .*maxQueuedBytes is 262144/.test(s))).toBe(true);

    expect(by.server.isOpen && by.client.isOpen).toBe(true);
    expect(await by.roundTrip()).toBeGreaterThanOrEqual(0);
    expect(escaped).toEqual([]);
    attacker.destroy();
    by.client.destroy();
    by.server.destroy();
    await l.server.close();
  });

  it('a keepalive tick into a full queue (a sink that sends PADs and never reads): shed with LIMIT, no throw from the timer', async () => {
    const l = await listener();
    const clock = new ManualClock();
    const lines: string[] = [];
    const MAX = 256 * 1024;
    const sinkSock = await connectTcp({ host: '127.0.0.1', port: l.port });
    sinkSock.on('error', () => {});
    sinkSock.pause(); // never reads
    const io = new Iocom(await l.next(), { name: 'server/sink', pingIntervalMs: 1000, linkTimeoutMs: 10_000, writeHighWaterMark: 16 * 1024, maxQueuedBytes: MAX, clock, log: (s) => lines.push(s) });
    const closed = firstValueFrom(io.closed$);
    // What the relay sends the sink (spans, here one-way PADs) fills the kernel buffers, then our queue.
    const pad = new Uint8Array(4096);
    for (let round = 0; round < 10_000 && io.isOpen; round++) {
      while (io.isOpen && io.writable) io.sendOneWay(DMSG.LNK_PAD, { aux: pad });
      const before = io.stats().queuedBytes;
      await new Promise((r) => setImmediate(r));
      if (io.stats().queuedBytes >= before) break; // the kernel took nothing more: the sink's buffers are full
    }
    // Top the queue up to within one PING of the cap (64-byte messages only).
    while (io.stats().queuedBytes + 64 <= MAX) io.sendOneWay(DMSG.LNK_PAD);
    expect(io.isOpen).toBe(true);
    // The sink's PAD every few seconds keeps the link from timing out; the tick still pings (idle >= interval) ...
    sinkSock.write(concatBytes(encodeMessage({ header: { cmd: DMSG.LNK_PAD, salt: 0 } })));
    await new Promise((r) => setImmediate(r));
    expect(() => clock.advance(2000)).not.toThrow();
    // ... and its PING past maxQueuedBytes sheds the link instead of throwing out of the timer.
    expectShedForLimit(await closed);
    expect(lines.filter((s) => s.includes('link shed'))).toHaveLength(1);
    expect(clock.pending).toBe(0);
    expect(escaped).toEqual([]);
    sinkSock.destroy();
    await l.server.close();
  });

  it('handlers that throw on what a peer sends cost the transaction (rx$, transactions$) or the link (messages$), never the process', async () => {
    const l = await listener();
    const lines: string[] = [];
    const sock = await connectTcp({ host: '127.0.0.1', port: l.port });
    const client = new Iocom(sock, { name: 'client', ...QUIET });
    const server = new Iocom(await l.next(), { name: 'server', ...QUIET, log: (s) => lines.push(s) });
    server.transactions$.subscribe((tx) => {
      if (tx.icmd === DMSG.DBG_SHELL) throw new Error('bug in the transactions$ handler');
      tx.rx$.subscribe(() => {
        throw new Error('bug in the rx$ handler');
      });
    });
    // transactions$ handler throws: that transaction is aborted, the link lives.
    const t1 = client.open(DMSG.DBG_SHELL, { aux: new Uint8Array(8) });
    const end1 = await new Promise<unknown>((resolve) => t1.rx$.subscribe({ next: (m) => resolve(m.header.cmd), error: resolve }));
    expect(Number(end1) & DMSGF.ABORT).toBe(DMSGF.ABORT);
    // rx$ handler throws: likewise.
    const t2 = client.open(DMSG.LNK_ERROR);
    const end2 = await new Promise<unknown>((resolve) => t2.rx$.subscribe({ next: (m) => resolve(m.header.cmd), error: resolve }));
    expect(Number(end2) & DMSGF.ABORT).toBe(DMSGF.ABORT);
    expect(server.isOpen).toBe(true);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(lines.filter((s) => /subscriber threw/.test(s))).toHaveLength(2);

    // messages$ handler throws: the link that brought the message is closed (HANDLER_FAILED).
    server.messages$.subscribe(() => {
      throw new Error('bug in the messages$ handler');
    });
    const closed = firstValueFrom(server.closed$);
    client.sendOneWay(DMSG.DBG_SHELL, { aux: new Uint8Array(8) });
    const r = await closed;
    expect(r.kind === 'error' && (r.error as LinkError).code).toBe('HANDLER_FAILED');
    expect(escaped).toEqual([]);
    client.destroy();
    await l.server.close();
  });
});

describe('no throw escapes through a relay', () => {
  let relay: RelayHandle | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it('1 MiB echo transactions from a peer that never reads: its link is shed with LIMIT; a bystander keeps its echo round trips', async () => {
    const lines: string[] = [];
    relay = await startRelay({
      name: 'relay',
      listen: ['127.0.0.1:0'],
      advertise: ['echo'],
      iocom: { ...QUIET, writeHighWaterMark: 256 * 1024, maxQueuedBytes: 4 << 20 },
      log: (s) => lines.push(s),
    });
    const [host, port] = [relay.addresses[0]!.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(relay.addresses[0]!)![1])];

    const client = async (name: string): Promise<{ router: Router; sock: Duplex }> => {
      const sock = await connectTcp({ host, port });
      sock.on('error', () => {});
      const router = new Router({ name, iocom: { ...QUIET } });
      router.attach(sock);
      await router.waitForSpan('echo');
      return { router, sock };
    };
    const echo = async (router: Router, text: string): Promise<string> => {
      const tx = router.open('echo', DMSG.DBG_SHELL, { aux: new TextEncoder().encode(text), delete: true });
      const reply = await firstValueFrom(tx.rx$);
      return new TextDecoder().decode(reply.aux);
    };

    const by = await client('bystander');
    expect(await echo(by.router, 'before')).toBe('before');

    const attacker = await client('attacker');
    const victim = relay.router.links.find((k) => k.peerName === 'attacker')!;
    expect(victim).toBeDefined();
    const closed = firstValueFrom(victim.iocom.closed$);
    (attacker.sock as Socket).pause(); // from now on it never reads the echoes
    const tx = attacker.router.open('echo', DMSG.DBG_SHELL);
    const mib = new Uint8Array(1 << 20);
    let shed = false;
    void closed.then(() => (shed = true));
    // Bounded: at most 64 MiB; the attacker honours its own link's flow control (tx.whenWritable).
    for (let i = 0; i < 64 && !shed; i++) {
      try {
        await tx.whenWritable();
      } catch {
        break; // the attacker's transaction died with its link
      }
      tx.send(DMSG.DBG_SHELL, { aux: mib });
      await new Promise((r) => setImmediate(r));
    }
    expectShedForLimit(await closed);
    expect(lines.some((s) => /link shed: .*maxQueuedBytes is 4194304/.test(s))).toBe(true);

    expect(await echo(by.router, 'after')).toBe('after');
    expect(relay.router.links.some((k) => k.peerName === 'bystander' && k.iocom.isOpen)).toBe(true);
    expect(escaped).toEqual([]);
    attacker.sock.destroy();
    await attacker.router.close().catch(() => {});
    await by.router.close();
  });
});
