/**
 * The send path's direct write (`Session.#transmit`): a sequenced frame
 * just committed goes straight to the current channel when nothing else is
 * due, else through the pump, in order. The frame it writes is the one kept
 * for retransmission (byte for byte after a reconnect); an ACK owed, a
 * joined transmit-threshold ACK and a blocked channel with frames waiting
 * before it take the pump; a write that loses the channel hands what is due to the
 * channel that became current during it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Channel, ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { encodeDlmMessage, encodeOptsStamped, encodeOptsStampedIn } from '../../../src/services/midcomms/frame-encoder.ts';
import { FrameSlab } from '../../../src/services/midcomms/frame-slab.ts';
import type { FakeNode } from './fake-net.ts';
import { msg, twoNodes } from './fake-net.ts';

const OPTS = 3;
const ACK = 4;

/** The frames of a batch: [h_cmd, bytes]. */
function frames(batch: Uint8Array): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  for (let off = 0; off < batch.length; ) {
    const length = batch[off + 12]! | (batch[off + 13]! << 8);
    out.push([batch[off + 14]!, batch.slice(off, off + length)]);
    off += length;
  }
  return out;
}

/** The OPTS frames in `batches` whose inner message carries `n` (msg()'s number at inner offset 16). */
function optsCarrying(batches: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of batches) {
    for (const [cmd, f] of frames(b)) {
      if (cmd === OPTS && new DataView(f.buffer, f.byteOffset).getUint32(24 + 16, true) === n) out.push(f);
    }
  }
  return out;
}

describe('the direct write of a committed frame', () => {
  it('writes the frame at once, alone, and the same bytes go again after a reconnect (retained frame byte-identical)', async () => {
    const { net, a, gotB } = twoNodes();
    await a.send(msg(0));
    net.deliverAll();
    const link = net.links[0]!;
    expect(a.tryPost(msg(1, 200), () => {})).toBe(true);
    expect(link.fwd.batches.length).toBe(1);
    const first = optsCarrying(link.fwd.batches, 1);
    expect(first.length).toBe(1);
    expect(first[0]!.length).toBe(24 + 200);
    net.cut(link); // lost in flight
    // A new channel opens at once and everything unacknowledged goes again, in order.
    const again = net.links.flatMap((l) => optsCarrying(l.fwd.batches, 1));
    expect(again.length).toBe(1);
    expect(Buffer.from(again[0]!).equals(Buffer.from(first[0]!))).toBe(true);
    expect(a.stats().retransmits).toBe(2); // message 0 (never acknowledged) and 1
    net.settle();
    expect(gotB).toEqual([0, 1]);
    expect(a.stats().queueMessages).toBe(0);
  });

  it('a frame committed while others wait before it (blocked channel) goes behind them, in order', async () => {
    const { net, a, gotB } = twoNodes({ b: { ackDelayMs: 0 } });
    await a.send(msg(0));
    net.deliverAll();
    net.highWaterMark = 0;
    await a.send(msg(1)); // written; the channel pushes back now
    await a.send(msg(2)); // waits for the pump
    await a.send(msg(3));
    const link = net.links[0]!;
    expect(optsCarrying(link.fwd.batches, 2)).toEqual([]);
    net.highWaterMark = Number.POSITIVE_INFINITY;
    net.settle();
    expect(gotB).toEqual([0, 1, 2, 3]);
  });

  it('a transmit-threshold ACK is joined in front of the frame (one write), as before', async () => {
    const { net, a, b } = twoNodes({ b: { ackDelayMs: 0 } });
    for (let i = 0; i < 33; i++) await a.send(msg(i));
    net.deliverAll();
    const link = net.links[0]!;
    expect(b.tryPost(msg(900), () => {})).toBe(true);
    expect(link.rev.batches.length).toBe(1);
    expect(frames(link.rev.batches[0]!).map(([c]) => c)).toEqual([ACK, OPTS]);
  });

  it('a write that loses the channel: the channel that became current meanwhile takes what is due at once', async () => {
    const { net, A, a, b, gotB } = twoNodes({ b: { ackDelayMs: 0 } });
    let failNext = false;
    const open = net.open.bind(net);
    net.open = (from: FakeNode, to: string, sink: ChannelSink): Channel | null => {
      const ch = open(from, to, sink);
      if (ch === null || from !== A) return ch;
      return {
        write: (bytes) => {
          if (failNext) {
            failNext = false;
            throw new Error('socket gone');
          }
          return ch.write(bytes);
        },
        close: (reason) => ch.close(reason),
      };
    };
    await a.send(msg(0));
    net.deliverAll();
    await b.send(msg(100)); // a valid frame on a's channel: it was productive (a new one opens at once)
    net.deliverAll();
    const first = net.links[0]!;
    failNext = true;
    expect(a.tryPost(msg(1), () => {})).toBe(true);
    // The failed write lost the first channel; the second, current at once, has message 1 already.
    const second = net.links.find((l) => l !== first && l.from === A)!;
    expect(second).toBeDefined();
    expect(optsCarrying(second.fwd.batches, 1).length).toBe(1);
    net.settle();
    expect(gotB).toEqual([0, 1]);
  });
});

describe('encodeOptsStampedIn (the send path\'s encoder, whole-word stores into a slab)', () => {
  it('is byte for byte encodeOptsStamped, across slab boundaries (fast-check, seed 11)', () => {
    const slab = new FrameSlab(1024); // small: frames roll over to new slabs often
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 255 }),
        (cmd, extra, seq, nodeid, ls, fill) => {
          const inner = encodeDlmMessage(cmd, ls, new Uint8Array((cmd === 1 ? 72 : 32) + extra).fill(fill), 0xdeadbeef, 0x00030001);
          const want = encodeOptsStamped(0x00030002, nodeid, seq, inner);
          const got = encodeOptsStampedIn(slab, 0x00030002, nodeid, seq, inner);
          expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
        },
      ),
      { seed: 11, numRuns: 2000 },
    );
  });

  it('refuses a frame past 4096 bytes, as encodeOptsStamped does', () => {
    const inner = encodeDlmMessage(1, 1, new Uint8Array(4096 - 16 - 24 + 1));
    expect(() => encodeOptsStampedIn(new FrameSlab(), 0x00030002, 1, 0, inner)).toThrow(RangeError);
  });
});

describe('FrameSlab.reserve (the next slab made after the write, not before the next one)', () => {
  it('starts a new slab when the next bytes would not fit; frames cut before keep their bytes; the reserved room is then used', () => {
    const slab = new FrameSlab(256);
    const a = slab.alloc(200).fill(7);
    const before = a.buffer;
    slab.reserve(100); // 56 left: a new slab now
    const b = slab.alloc(100);
    expect(b.buffer).not.toBe(before);
    expect(b.byteOffset).toBe(0);
    expect(a.every((x) => x === 7)).toBe(true);
    slab.reserve(100); // 156 left: nothing to do
    const c = slab.alloc(100);
    expect(c.buffer).toBe(b.buffer);
    expect(c.byteOffset).toBe(100);
    expect(slab.lastAt).toBe(100);
  });

  it('frames across many slab switches (reserve after each write) all arrive intact, in order', async () => {
    const { net, a, gotB } = twoNodes({ a: { windowMessages: 4096, windowBytes: 4 << 20 } });
    await a.send(msg(0));
    net.deliverAll();
    // 2000 frames of 1024 + 24 bytes: about 32 slabs' worth; every frame is whole and arrives intact.
    for (let i = 1; i <= 2000; i++) expect(a.tryPost(msg(i, 1024), () => {})).toBe(true);
    net.settle();
    expect(gotB).toEqual([...Array(2001).keys()]);
  });
});
