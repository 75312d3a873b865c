/**
 * One compliance suite for every transport (memory, tcp v4/v6, unix, tls),
 * as libp2p's interface-compliance tests serve every yamux transport.
 *
 * A factory returns a connected pair plus a cleanup that closes whatever it
 * opened (servers included). After each test the suite checks that no
 * socket/pipe/server handle is left compared with before the test.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

export interface ConnectedPair {
  /** The dialling side. */
  readonly a: Duplex;
  /** The accepting side. */
  readonly b: Duplex;
  /** Destroy both ends if still open and close any server; resolves when all handles are gone. */
  cleanup(): Promise<void>;
}

export interface PairFactoryOptions {
  /** Keep the writable side open after the peer ended (default false, like net). */
  readonly allowHalfOpen: boolean;
}

export type PairFactory = (options: PairFactoryOptions) => Promise<ConnectedPair>;

/** Names of handle kinds that a transport may leak. */
const HANDLE_KINDS = /TCP|Pipe|TLS/;

function handleCount(): number {
  return process.getActiveResourcesInfo().filter((r) => HANDLE_KINDS.test(r)).length;
}

/** Deterministic payload: byte i of chunk k depends on both, so reordering changes the hash. */
export function patternBytes(length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32: cheap and seeded
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** Every byte the stream yields until 'end'. Rejects on 'error' or on 'close' without 'end'. */
export function collect(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    stream.once('error', reject);
    stream.once('close', () => {
      if (!ended) reject(new Error('stream closed before end'));
    });
  });
}

export interface WriteStats {
  falses: number;
  drains: number;
}

/** Write chunks in order, obeying write()'s return value. */
export async function writeAll(stream: Duplex, chunks: readonly Buffer[], stats: WriteStats = { falses: 0, drains: 0 }): Promise<WriteStats> {
  for (const chunk of chunks) {
    if (!stream.write(chunk)) {
      stats.falses++;
      await once(stream, 'drain');
      stats.drains++;
    }
  }
  return stats;
}

/** Split `data` at the given sizes (cycled), yielding views (no copies). */
function split(data: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

export function transportCompliance(name: string, factory: PairFactory): void {
  describe(`${name}: transport compliance`, () => {
    let baseline = 0;
    const open: ConnectedPair[] = [];
    const make = async (allowHalfOpen = false): Promise<ConnectedPair> => {
      const pair = await factory({ allowHalfOpen });
      open.push(pair);
      return pair;
    };

    beforeEach(() => {
      baseline = handleCount();
    });

    afterEach(async () => {
      while (open.length > 0) await open.pop()!.cleanup();
      // A server's 'close' fires before libuv has run the handle's close
      // callback; give the loop a bounded number of turns to finish it.
      for (let turn = 0; turn < 20 && handleCount() !== baseline; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(handleCount(), 'socket/server handles left open after cleanup').toBe(baseline);
    });

    it('carries bytes both ways, in order, under random chunking (seeded)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 40 }),
          fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 200_000 }),
          async (sizesAB, sizesBA, length) => {
            const pair = await make();
            const ab = patternBytes(length, 1);
            const ba = patternBytes(length + 7, 2);
            const gotB = collect(pair.b);
            const gotA = collect(pair.a);
            // End only after both writers are done: without half-open, the
            // first EOF ends the peer's writable side too, and a writer still
            // waiting for 'drain' would then wait forever.
            await Promise.all([writeAll(pair.a, split(ab, sizesAB)), writeAll(pair.b, split(ba, sizesBA))]);
            pair.a.end();
            pair.b.end();
            const [rb, ra] = await Promise.all([gotB, gotA]);
            expect(rb.length).toBe(ab.length);
            expect(ra.length).toBe(ba.length);
            expect(rb.equals(ab)).toBe(true);
            expect(ra.equals(ba)).toBe(true);
            await open.pop()!.cleanup();
          },
        ),
        { seed: 42, numRuns: 8, verbose: 1 },
      );
    });

    it('moves several MiB with backpressure: write() returns false while the reader stalls, then drains', async () => {
      const { a, b } = await make();
      const CHUNK = 64 * 1024;
      const TOTAL = 8 * 1024 * 1024;
      const CAP = 64 * 1024 * 1024; // bound on phase 1 in case backpressure never shows
      const chunks = Array.from({ length: 16 }, (_, k) => patternBytes(CHUNK, 100 + k));
      const sent = createHash('sha256');
      let written = 0;
      let k = 0;
      // Phase 1: nobody reads b, so buffers fill until write() says stop.
      let sawFalse = false;
      while (written < CAP) {
        const c = chunks[k++ % chunks.length]!;
        sent.update(c);
        written += c.length;
        if (!a.write(c)) {
          sawFalse = true;
          break;
        }
      }
      expect(sawFalse, `write() never returned false within ${CAP} bytes`).toBe(true);
      // Phase 2: start reading; the writer waits for 'drain' and goes on.
      const received = createHash('sha256');
      let got = 0;
      const done = new Promise<void>((resolve, reject) => {
        b.on('data', (c: Buffer) => {
          received.update(c);
          got += c.length;
        });
        b.once('end', resolve);
        b.once('error', reject);
      });
      const stats: WriteStats = { falses: 1, drains: 0 };
      await once(a, 'drain');
      stats.drains++;
      const rest: Buffer[] = [];
      for (let more = Math.max(TOTAL, written + CHUNK); written < more; written += CHUNK) {
        const c = chunks[k++ % chunks.length]!;
        sent.update(c);
        rest.push(c);
      }
      await writeAll(a, rest, stats);
      a.end();
      await done;
      expect(got).toBe(written);
      expect(received.digest('hex')).toBe(sent.digest('hex'));
      expect(stats.drains).toBeGreaterThanOrEqual(1);
      expect(written).toBeGreaterThanOrEqual(TOTAL);
    });

    it('end() delivers all data then end; without half-open the peer ends too and both close', async () => {
      const { a, b } = await make();
      const gotB = collect(b);
      const gotA = collect(a);
      const closedA = once(a, 'close');
      const closedB = once(b, 'close');
      a.end(Buffer.from('hello, peer'));
      expect((await gotB).toString()).toBe('hello, peer');
      expect((await gotA).length).toBe(0);
      await Promise.all([closedA, closedB]);
    });

    it('half-close: with allowHalfOpen the peer can still answer after our end()', async () => {
      const { a, b } = await make(true);
      const gotA = collect(a);
      b.resume();
      const bEnded = once(b, 'end');
      a.end(Buffer.from('question'));
      await bEnded;
      expect(b.writable).toBe(true);
      b.end(Buffer.from('answer after your FIN'));
      expect((await gotA).toString()).toBe('answer after your FIN');
    });

    it('destroy() on one side is seen by the other (end or close)', async () => {
      const { a, b } = await make();
      const seen: string[] = [];
      b.on('end', () => seen.push('end'));
      b.on('error', () => seen.push('error'));
      b.resume();
      const closed = once(b, 'close');
      a.write(Buffer.from('last words'));
      a.destroy();
      await closed;
      expect(b.destroyed).toBe(true);
      expect(seen.filter((s) => s === 'error').length).toBeLessThanOrEqual(1);
    });

    it('a pair that is never used still cleans up fully', async () => {
      const pair = await make();
      expect(pair.a.writable && pair.b.writable).toBe(true);
    });
  });
}
