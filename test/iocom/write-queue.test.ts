import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import net from 'node:net';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Iocom } from '../../src/iocom/iocom.ts';
import { WriteQueue } from '../../src/iocom/write-queue.ts';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { auxCrcOf } from '../../src/wire/frame-encoder.ts';
import type { Message } from '../../src/wire/message.ts';

/** A Writable that keeps a copy of every chunk, and reports backpressure when asked. */
class Sink extends Writable {
  readonly chunks: Uint8Array[] = [];
  constructor(highWaterMark = 16384) {
    super({ highWaterMark });
  }
  override _write(chunk: Uint8Array, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(Uint8Array.from(chunk));
    cb();
  }
  decode(): Message[] {
    const d = new FrameDecoder();
    const out: Message[] = [];
    for (const c of this.chunks) d.pushInto(c, out);
    d.end();
    return out;
  }
}

interface Spec {
  cmd: number;
  msgid: number | bigint;
  circuit: number | bigint;
  error: number;
  ext: Uint8Array;
  aux: Uint8Array;
  auxCrc?: number;
  reserved02?: number;
  reserved18?: bigint;
  bypass: boolean;
  flushAfter: boolean;
}

const bytes = (n: number, seed: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return b;
};

const specArb: fc.Arbitrary<Spec> = fc
  .record({
    units: fc.integer({ min: 1, max: 4 }),
    extLen: fc.integer({ min: 0, max: 192 }),
    auxLen: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1900, max: 2200 }), fc.integer({ min: 5000, max: 70000 })),
    msgid: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    circuit: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    error: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff })),
    pass: fc.boolean(),
    reserved02: fc.integer({ min: 0, max: 0xffff }),
    reserved18: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    bypass: fc.boolean(),
    flushAfter: fc.boolean(),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .map((r) => {
    const extLen = Math.min(r.extLen, (r.units - 1) * 64);
    const aux = bytes(r.auxLen, r.seed);
    const spec: Spec = {
      cmd: (DMSG.DBG_SHELL & ~DMSGF.SIZE) | r.units,
      msgid: r.msgid,
      circuit: r.circuit,
      error: r.error,
      ext: bytes(extLen, r.seed + 1),
      aux,
      bypass: r.bypass,
      flushAfter: r.flushAfter,
    };
    if (r.pass) {
      // A relay passes on the CRC it verified (here: the real one; a kept wrong one is tested below).
      spec.auxCrc = auxCrcOf(aux);
      spec.reserved02 = r.reserved02;
      spec.reserved18 = r.reserved18;
    }
    return spec;
  });

function expectSame(got: Message, want: Spec, seq: number): void {
  const h = got.header;
  expect(h.cmd).toBe(want.cmd >>> 0);
  expect(h.salt & 0xff).toBe(seq & 0xff);
  expect(h.msgid).toBe(BigInt.asUintN(64, BigInt(want.msgid)));
  expect(h.circuit).toBe(BigInt.asUintN(64, BigInt(want.circuit)));
  expect(h.error).toBe(want.error);
  expect(h.auxBytes).toBe(want.aux.length);
  expect(h.reserved02).toBe(want.reserved02 ?? 0);
  expect(h.reserved18).toBe(want.reserved18 ?? 0n);
  expect(Buffer.from(got.aux).equals(want.aux)).toBe(true);
  const ext = new Uint8Array(((want.cmd & DMSGF.SIZE) - 1) * 64);
  ext.set(want.ext);
  expect(Buffer.from(got.ext).equals(ext)).toBe(true);
}

describe('WriteQueue', () => {
  it('writes any mix of messages so the decoder gets them back, in order, with sequence numbers and CRCs (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(specArb, { minLength: 1, maxLength: 60, size: 'max' }), fc.boolean(), async (specs, gateClosedFirst) => {
        const sink = new Sink();
        const q = new WriteQueue(sink, () => {});
        if (gateClosedFirst) q.setGate(false);
        const order: Spec[] = [];
        const held: Spec[] = [];
        for (const s of specs) {
          const pass = s.auxCrc !== undefined ? { auxCrc: s.auxCrc, reserved02: s.reserved02, reserved18: s.reserved18 } : undefined;
          q.enqueue(s.cmd, s.msgid, s.circuit, s.error, s.ext, s.aux, pass, s.bypass);
          if (gateClosedFirst && !s.bypass) held.push(s);
          else order.push(s);
          if (s.flushAfter) q.flush();
          if (!sink.writableNeedDrain) continue;
          await new Promise<void>((r) => sink.once('drain', () => r()));
        }
        if (gateClosedFirst) {
          expect(q.queuedBytes).toBeGreaterThanOrEqual(held.length * 64);
          q.setGate(true);
          order.push(...held);
        }
        q.end();
        await new Promise<void>((r) => sink.once('finish', () => r()));
        const got = sink.decode();
        expect(got).toHaveLength(order.length);
        for (let i = 0; i < got.length; i++) expectSame(got[i]!, order[i]!, i);
        expect(q.stats.messagesOut).toBe(order.length);
        expect(q.queuedBytes).toBe(0);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('keeps one contiguous write per flush across slab refills (thousands of small messages)', () => {
    const sink = new Sink(1 << 30);
    const q = new WriteQueue(sink, () => {});
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3000; i++) q.enqueue(DMSG.DBG_SHELL, i + 1, 0, 0, new Uint8Array(0), new Uint8Array(0), undefined, false);
      q.flush();
    }
    // 5 flushes of 3000 * 64 bytes (< the 256 KiB early-flush mark): one chunk each.
    expect(sink.chunks.map((c) => c.length)).toEqual(Array(5).fill(3000 * 64));
    const got = sink.decode();
    expect(got).toHaveLength(15000);
    expect(got[14999]!.header.msgid).toBe(3000n);
    expect(got[14999]!.header.salt & 0xff).toBe(14999 & 0xff);
  });

  it('keeps a relay\'s aux CRC as given (its sender may have padded with other bytes), inline or not', () => {
    for (const auxLen of [100, 4000]) {
      const sink = new Sink();
      const q = new WriteQueue(sink, () => {});
      q.enqueue(DMSG.DBG_SHELL, 1, 0, 0, new Uint8Array(0), bytes(auxLen, 3), { auxCrc: 0x12345678 }, false);
      q.flush();
      const head = sink.chunks[0]!;
      expect(new DataView(head.buffer, head.byteOffset).getUint32(0x24, true)).toBe(0x12345678);
    }
  });

  it('close() drops what is queued and held; nothing more is written', () => {
    const sink = new Sink();
    const q = new WriteQueue(sink, () => {});
    q.enqueue(DMSG.DBG_SHELL, 1, 0, 0, new Uint8Array(0), bytes(100, 1), undefined, false);
    q.setGate(false);
    q.enqueue(DMSG.DBG_SHELL, 2, 0, 0, new Uint8Array(0), new Uint8Array(0), undefined, false);
    q.close();
    q.setGate(true);
    q.enqueue(DMSG.DBG_SHELL, 3, 0, 0, new Uint8Array(0), new Uint8Array(0), undefined, false);
    q.flush();
    expect(sink.chunks).toHaveLength(0);
    expect(q.queuedBytes).toBe(0);
  });

  describe('early flush (earlyFlushBytes, for relays)', () => {
    const none = new Uint8Array(0);
    it('writes a turn\'s first earlyFlushBytes at once and the rest at the turn\'s end, every turn', async () => {
      const sink = new Sink(1 << 30);
      const q = new WriteQueue(sink, () => {}, (e) => { throw e; }, false, 1024);
      let id = 1;
      for (let turn = 0; turn < 3; turn++) {
        for (let i = 0; i < 100; i++) q.enqueue(DMSG.DBG_SHELL, id++, 0, 0, none, none, undefined, false);
        // The first 16 messages (1024 bytes) went out while the turn queued the others.
        expect(sink.chunks.map((c) => c.length)).toEqual([...Array(2 * turn).keys()].map((k) => (k % 2 === 0 ? 1024 : 84 * 64)).concat([1024]));
        await nextTurn();
      }
      expect(sink.chunks.map((c) => c.length)).toEqual([1024, 84 * 64, 1024, 84 * 64, 1024, 84 * 64]);
      const got = sink.decode();
      expect(got.map((m) => Number(m.header.msgid))).toEqual([...Array(300).keys()].map((k) => k + 1));
      expect(got.map((m) => m.header.salt & 0xff)).toEqual([...Array(300).keys()].map((k) => k & 0xff));
      expect(q.stats.messagesOut).toBe(300);
    });

    it('a turn below earlyFlushBytes is one write; 0 (the default) never writes early', async () => {
      for (const early of [0, 1 << 16]) {
        const sink = new Sink(1 << 30);
        const q = new WriteQueue(sink, () => {}, (e) => { throw e; }, false, early);
        for (let i = 0; i < 100; i++) q.enqueue(DMSG.DBG_SHELL, i + 1, 0, 0, none, none, undefined, false);
        expect(sink.chunks).toHaveLength(0);
        await nextTurn();
        expect(sink.chunks.map((c) => c.length)).toEqual([6400]);
      }
    });

    it('keeps order and sequence numbers when the turn\'s end write meets a full stream (drain)', async () => {
      const sink = new Sink(512);
      const q = new WriteQueue(sink, () => {}, (e) => { throw e; }, false, 256);
      // 256 bytes early, then 1024 at the turn's end: past the stream's 512-byte mark, so the next turn waits for 'drain'.
      for (let i = 0; i < 20; i++) q.enqueue(DMSG.DBG_SHELL, i + 1, 0, 0, none, none, undefined, false);
      expect(sink.chunks.map((c) => c.length)).toEqual([256]);
      await nextTurn();
      expect(sink.chunks.map((c) => c.length)).toEqual([256, 1024]);
      for (let i = 20; i < 40; i++) q.enqueue(DMSG.DBG_SHELL, i + 1, 0, 0, none, none, undefined, false);
      q.end();
      await new Promise<void>((r) => sink.once('finish', () => r()));
      const got = sink.decode();
      expect(got.map((m) => Number(m.header.msgid))).toEqual([...Array(40).keys()].map((k) => k + 1));
      expect(got.map((m) => m.header.salt & 0xff)).toEqual([...Array(40).keys()]);
    });
  });

  describe('slab recycling (recycleSlabs, as for a net.Socket)', () => {
    /**
     * A stream that, as a socket, uses a written buffer until it calls the
     * write back: callbacks are held until release(), and at release each
     * chunk must still hold the bytes it had when written.
     */
    class SlowSink extends Writable {
      readonly received: Uint8Array[] = [];
      /** The slabs (256 KiB buffers) seen in writes. */
      readonly buffers = new Set<ArrayBufferLike>();
      changedBeforeCallback = 0;
      #pending: Array<{ chunk: Uint8Array; copy: Uint8Array; cb: () => void }> = [];
      constructor() {
        super({ highWaterMark: 1 << 30 });
      }
      override _write(chunk: Uint8Array, _e: BufferEncoding, cb: () => void): void {
        if (chunk.buffer.byteLength === 256 * 1024) this.buffers.add(chunk.buffer);
        this.#pending.push({ chunk, copy: Uint8Array.from(chunk), cb });
      }
      /** Complete every write taken so far, in order. */
      release(): void {
        while (this.#pending.length > 0) {
          const p = this.#pending.shift()!;
          if (!Buffer.from(p.chunk).equals(p.copy)) this.changedBeforeCallback++;
          this.received.push(p.copy);
          p.cb();
        }
      }
      decode(): Message[] {
        const d = new FrameDecoder();
        const out: Message[] = [];
        for (const c of this.received) d.pushInto(c, out);
        d.end();
        return out;
      }
    }

    /** Bytes the messages take in slabs (aux above the 2048-byte inline limit goes out as its own chunk). */
    const inlineBytes = (sent: Array<{ aux: Uint8Array }>): number => sent.reduce((n, s) => n + 64 + (s.aux.length <= 2048 ? (s.aux.length + 63) & ~63 : 0), 0);

    const run = async (recycle: boolean, seed: number): Promise<{ sink: SlowSink; sent: Array<{ id: number; aux: Uint8Array }> }> => {
      const sink = new SlowSink();
      const q = new WriteQueue(sink, () => {}, (e) => { throw e; }, recycle);
      const sent: Array<{ id: number; aux: Uint8Array }> = [];
      let x = seed;
      const rnd = (n: number): number => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return (x >>> 8) % n;
      };
      for (let round = 0; round < 24; round++) {
        const k = 100 + rnd(600);
        for (let i = 0; i < k; i++) {
          // Now and then an aux above the inline limit: the slab's bytes before it go out as their own chunk.
          const aux = bytes(rnd(12) === 0 ? 2100 + rnd(3000) : rnd(700), sent.length & 0xff);
          q.enqueue(DMSG.DBG_SHELL, sent.length + 1, 0, 0, new Uint8Array(0), aux, undefined, false);
          sent.push({ id: sent.length + 1, aux });
          // Writes also complete while messages are being queued, between flushes.
          if (rnd(150) === 0) sink.release();
        }
        q.flush();
        // Writes complete late and in bursts, as a socket's do under load.
        if (rnd(3) === 0) {
          sink.release();
          await nextTurn();
        }
      }
      sink.release();
      await nextTurn();
      sink.release();
      return { sink, sent };
    };

    for (const seed of [1, 2]) {
      it(`reuses slabs only after their writes completed; every byte arrives as written (seed ${seed})`, async () => {
        const { sink, sent } = await run(true, seed);
        expect(sink.changedBeforeCallback).toBe(0);
        const got = sink.decode();
        expect(got).toHaveLength(sent.length);
        const bad = got.findIndex((m, i) => m.header.msgid !== BigInt(sent[i]!.id) || (m.header.salt & 0xff) !== (i & 0xff) || !Buffer.from(m.aux).equals(sent[i]!.aux));
        expect(bad, `first message that differs from what was sent`).toBe(-1);
        // Several MiB went through far fewer distinct buffers than 256 KiB slabs: they were reused.
        const slabs = Math.ceil(inlineBytes(sent) / (256 * 1024));
        expect(slabs).toBeGreaterThan(8);
        expect(sink.buffers.size).toBeLessThan(slabs);
      });
    }

    it('keeps reusing slabs while several slabs\' writes are in flight at once (a fast sender: up to its high-water mark queued)', () => {
      const sink = new SlowSink();
      const q = new WriteQueue(sink, () => {}, (e) => { throw e; }, true);
      const aux = bytes(64, 9);
      let sent = 0;
      // ~2048 messages fill a 256 KiB slab; the socket calls back only after 4 more slabs went out.
      for (let slab = 0; slab < 40; slab++) {
        for (let i = 0; i < 2048; i++) q.enqueue(DMSG.DBG_SHELL, 0, 0, 0, new Uint8Array(0), aux, undefined, false);
        sent += 2048;
        q.flush();
        if (slab % 4 === 3) sink.release();
      }
      sink.release();
      expect(sink.changedBeforeCallback).toBe(0);
      expect(sink.decode()).toHaveLength(sent);
      // At most 4-5 slabs in flight, the current one and 2 spares: the rest were reused, not allocated.
      expect(sink.buffers.size).toBeLessThanOrEqual(9);
    });

    it('without recycleSlabs every slab is a fresh buffer', async () => {
      const { sink, sent } = await run(false, 1);
      expect(sink.changedBeforeCallback).toBe(0);
      expect(sink.decode()).toHaveLength(sent.length);
      const slabs = Math.floor(inlineBytes(sent) / (256 * 1024));
      expect(slabs).toBeGreaterThan(8);
      expect(sink.buffers.size).toBeGreaterThanOrEqual(slabs);
    });

    it('an Iocom over a TCP socket on 127.0.0.1 delivers every message of several slabs intact', async () => {
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const port = (server.address() as net.AddressInfo).port;
      const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
      const client = net.connect(port, '127.0.0.1');
      await new Promise<void>((r) => client.once('connect', () => r()));
      const serverSock = await accepted;
      const opts = { pingIntervalMs: 0, linkTimeoutMs: 0 };
      const tx = new Iocom(client, opts);
      const rx = new Iocom(serverSock, opts);
      const N = 12000;
      const got: Uint8Array[] = [];
      const done = new Promise<void>((resolve) => {
        rx.messages$.subscribe((m) => {
          got.push(Uint8Array.from(m.aux));
          if (got.length === N) resolve();
        });
      });
      try {
        for (let i = 0; i < N; i++) {
          tx.sendOneWay(DMSG.DBG_SHELL, { aux: bytes(64 + (i % 200), i & 0xff) });
          if (i % 1000 === 999) await nextTurn();
        }
        await done;
        expect(got.findIndex((a, i) => !Buffer.from(a).equals(bytes(64 + (i % 200), i & 0xff))), 'first message that differs').toBe(-1);
      } finally {
        tx.destroy();
        rx.destroy();
        server.close();
      }
    }, 30_000);
  });
});
