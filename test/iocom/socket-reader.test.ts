import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { readSocketInto } from '../../src/iocom/socket-reader.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import { DMSG } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';

/** A connected pair over 127.0.0.1: [dialled, accepted]. */
async function tcpPair(): Promise<{ dialled: net.Socket; accepted: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const acceptedP = once(server, 'connection') as Promise<[net.Socket]>;
  const dialled = net.connect({ port, host: '127.0.0.1' });
  await once(dialled, 'connect');
  const [accepted] = await acceptedP;
  return {
    dialled,
    accepted,
    close: () => {
      dialled.destroy();
      accepted.destroy();
      server.close();
    },
  };
}

/** Deterministic bytes (seeded). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Wait (bounded) until `cond` holds, one event-loop turn at a time. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`never: ${what}`);
}

describe('readSocketInto (reads into a reused buffer)', () => {
  for (const side of ['dialled', 'accepted'] as const) {
    it(`delivers every byte in order on a ${side} socket; a chunk kept by the consumer (lent) is never overwritten`, async () => {
      const p = await tcpPair();
      try {
        const reader = side === 'dialled' ? p.dialled : p.accepted;
        const writer = side === 'dialled' ? p.accepted : p.dialled;
        const copies: Buffer[] = [];
        const kept: Array<{ view: Uint8Array; copy: Buffer }> = [];
        const buffers = new Set<ArrayBufferLike>();
        let n = 0;
        expect(
          readSocketInto(reader, (chunk) => {
            buffers.add(chunk.buffer);
            copies.push(Buffer.from(chunk));
            // Keep every third chunk as a view, as a decoder lends aux views.
            const lend = n++ % 3 === 0;
            if (lend) kept.push({ view: chunk, copy: Buffer.from(chunk) });
            return lend;
          }),
        ).toBe(true);
        const data = pattern(3 * 1024 * 1024 + 123, 7);
        // Writes of varied sizes, small ones too (seeded).
        let off = 0;
        const sizes = pattern(4096, 9);
        for (let i = 0; off < data.length; i++) {
          const len = Math.min(data.length - off, i % 5 === 0 ? 64 : 1 + sizes[i % 4096]! * 700);
          writer.write(data.subarray(off, off + len));
          off += len;
        }
        await until(() => copies.reduce((s, c) => s + c.length, 0) >= data.length, 'all bytes read');
        expect(Buffer.concat(copies).equals(data)).toBe(true);
        for (const c of copies) expect(c.length).toBeLessThanOrEqual(64 * 1024);
        // The lent views still hold what they held when delivered.
        for (const k of kept) expect(Buffer.from(k.view).equals(k.copy)).toBe(true);
        // Reused: far fewer buffers than reads (a third of the reads lend).
        expect(buffers.size).toBeLessThan(copies.length);
      } finally {
        p.close();
      }
    });
  }

  it('small lent reads share a buffer (memory kept ~ bytes read, not a buffer per read), each at an 8-aligned offset', async () => {
    const p = await tcpPair();
    try {
      const kept: Uint8Array[] = [];
      expect(readSocketInto(p.accepted, (chunk) => (kept.push(chunk), true))).toBe(true);
      // 400 writes of 100 bytes, each waited for: 400 separate small reads, every one lent.
      const data = pattern(400 * 100, 5);
      let got = 0;
      for (let i = 0; i < 400; i++) {
        p.dialled.write(data.subarray(i * 100, (i + 1) * 100));
        await until(() => kept.reduce((n, c) => n + c.length, 0) >= (i + 1) * 100, `write ${i}`);
        got = kept.length;
      }
      expect(got).toBeGreaterThan(0);
      const buffers = new Set(kept.map((c) => c.buffer));
      // 40,000 bytes in 104-byte steps: at most 16 KiB - 4 KiB used per buffer, so a handful, not one per read.
      expect(buffers.size).toBeLessThanOrEqual(Math.ceil((400 * 104) / (12 * 1024)) + 1);
      for (const c of kept) expect(c.byteOffset % 8).toBe(0);
      expect(Buffer.concat(kept).equals(data)).toBe(true);
    } finally {
      p.close();
    }
  });

  it('pause() stops delivery until resume(); end and close still come', async () => {
    const p = await tcpPair();
    try {
      let got = 0;
      expect(readSocketInto(p.accepted, (c) => ((got += c.length), false))).toBe(true);
      p.dialled.write(Buffer.alloc(100, 1));
      await until(() => got === 100, 'first 100 bytes');
      p.accepted.pause();
      p.dialled.write(Buffer.alloc(200, 2));
      // Let the bytes reach the paused side: several loop turns and a round trip on the other direction.
      p.accepted.write(Buffer.alloc(1));
      await once(p.dialled, 'data');
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(got).toBe(100);
      const ended = once(p.accepted, 'end');
      p.accepted.resume();
      await until(() => got === 300, 'the bytes written while paused');
      p.dialled.end();
      await ended;
      p.accepted.end();
      await once(p.accepted, 'close');
    } finally {
      p.close();
    }
  });

  it('declines (returns false, changes nothing) for a stream that is not a plain socket, a socket read by someone else, or one holding bytes', async () => {
    expect(readSocketInto(new PassThrough(), () => false)).toBe(false);
    const p = await tcpPair();
    try {
      const seen: Buffer[] = [];
      p.dialled.on('data', (d: Buffer) => seen.push(d));
      expect(readSocketInto(p.dialled, () => false)).toBe(false);
      p.accepted.write('abc');
      await until(() => seen.length > 0, "the 'data' listener still gets the bytes");
      expect(Buffer.concat(seen).toString()).toBe('abc');
      // Bytes already in the accepted socket's stream buffer: decline, so none is lost.
      p.dialled.write('xyz');
      await until(() => p.accepted.readableLength > 0, 'bytes buffered in the stream');
      expect(readSocketInto(p.accepted, () => false)).toBe(false);
      expect(p.accepted.read()?.toString()).toBe('xyz');
    } finally {
      p.close();
    }
  });
});

describe('Iocom over TCP reads through readSocketInto', () => {
  const opts = { pingIntervalMs: 0, linkTimeoutMs: 0 };

  it('messages kept by a subscriber (aux views, not copies) stay intact while later reads reuse or replace the buffer (seed 31)', async () => {
    const p = await tcpPair();
    const tx = new Iocom(p.dialled, { ...opts, name: 'tx' });
    const rx = new Iocom(p.accepted, { ...opts, name: 'rx' });
    try {
      // Taken: the sockets have no 'data' listener (the reused buffer is read into directly).
      expect(p.accepted.listenerCount('data')).toBe(0);
      expect(p.dialled.listenerCount('data')).toBe(0);
      const kept: Message[] = [];
      rx.messages$.subscribe((m) => kept.push(m));
      // Header-only messages (nothing lent: the buffer is reused) mixed with aux of 1 B to 9 KiB (lent), over several turns.
      const sizes = pattern(3000, 31);
      const sent: Uint8Array[] = [];
      for (let turn = 0; turn < 30; turn++) {
        for (let i = 0; i < 100; i++) {
          const k = turn * 100 + i;
          const aux = k % 3 === 0 ? new Uint8Array(0) : pattern(1 + (sizes[k]! * 37) % 9000, k + 1);
          sent.push(aux);
          expect(tx.sendOneWay(DMSG.DBG_SHELL, { aux })).toBeTypeOf('boolean');
        }
        await new Promise((r) => setImmediate(r));
      }
      await until(() => kept.length === sent.length, 'every message received');
      const wrong = sent.flatMap((aux, k) => (Buffer.from(kept[k]!.aux).equals(aux) ? [] : [k]));
      expect(wrong).toEqual([]);
    } finally {
      tx.destroy();
      rx.destroy();
      p.close();
    }
  });

  it('earlyFlushBytes: a turn of 100 messages leaves as two writes, the first of earlyFlushBytes', async () => {
    const p = await tcpPair();
    const tx = new Iocom(p.dialled, { ...opts, name: 'tx', earlyFlushBytes: 1024 });
    const rx = new Iocom(p.accepted, { ...opts, name: 'rx' });
    try {
      const writes: number[] = [];
      const write = p.dialled.write.bind(p.dialled) as (c: Uint8Array, cb?: () => void) => boolean;
      p.dialled.write = ((c: Uint8Array, cb?: () => void) => (writes.push(c.length), write(c, cb))) as typeof p.dialled.write;
      let got = 0;
      rx.messages$.subscribe(() => got++);
      for (let i = 0; i < 100; i++) tx.sendOneWay(DMSG.DBG_SHELL);
      await until(() => got === 100, 'the 100 messages');
      expect(writes).toEqual([1024, 6400 - 1024]);
      expect(() => new Iocom(new PassThrough(), { earlyFlushBytes: -1 })).toThrow(/earlyFlushBytes/);
    } finally {
      tx.destroy();
      rx.destroy();
      p.close();
    }
  });
});
