/**
 * The send and receive slabs are not zero-filled (frame-slab.ts,
 * `Buffer.allocUnsafeSlow`): every byte handed out must be written before it
 * goes anywhere. Proved with slabs full of garbage: the send path's encoder
 * byte for byte against the zero-based reference encoder, and a whole
 * session (sequenced frames, joined ACKs, slab roll-over, the receive slab)
 * whose every frame on the wire is what the reference encoders make.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Channel, ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { encodeAck, encodeDlmMessage, encodeOptsStamped, encodeOptsStampedIn } from '../../../src/services/midcomms/frame-encoder.ts';
import { FrameSlab } from '../../../src/services/midcomms/frame-slab.ts';
import type { FakeNode } from './fake-net.ts';
import { lcg, msg, twoNodes } from './fake-net.ts';

const OPTS = 3;
const ACK = 4;

/** Slab memory full of garbage (seeded), as non-zeroed memory may be. */
function garbage(seed: number): (bytes: number) => Uint8Array {
  const rnd = lcg(seed);
  return (bytes) => {
    const b = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) b[i] = (rnd() * 256) | 0 || 0xa5;
    return b;
  };
}

function u32(f: Uint8Array, off: number): number {
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(off, true);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('encodeOptsStampedIn into a slab that is not zeroed', () => {
  it('writes every byte: byte for byte encodeOptsStamped, slabs full of garbage (fast-check, seed 12)', () => {
    const slab = new FrameSlab(1024, garbage(12)); // small: many new (garbage) slabs
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
      { seed: 12, numRuns: 2000 },
    );
  });
});

describe('a session whose slabs are full of garbage (Buffer.allocUnsafeSlow mocked)', () => {
  it('every frame it writes is the reference encoders\' (OPTS, joined ACK, bare ACK), every message arrives intact', async () => {
    const dirty = garbage(13);
    const spy = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((n: number) => Buffer.from(dirty(n).buffer as ArrayBuffer));
    const { net, a, b, gotA, gotB } = twoNodes({ b: { ackDelayMs: 0 } });
    // Every batch written, as handed to the channel (copied at once).
    const written: Uint8Array[] = [];
    const open = net.open.bind(net);
    net.open = (from: FakeNode, to: string, sink: ChannelSink): Channel | null => {
      const ch = open(from, to, sink);
      if (ch === null) return ch;
      // The acceptor's end too (handed to the acceptor at the first delivery).
      const link = net.links[net.links.length - 1]!;
      const back = link.acceptorEnd;
      link.acceptorEnd = {
        write: (bytes) => {
          written.push(bytes.slice());
          return back.write(bytes);
        },
        close: (reason) => back.close(reason),
      };
      return {
        write: (bytes) => {
          written.push(bytes.slice());
          return ch.write(bytes);
        },
        close: (reason) => ch.close(reason),
      };
    };
    const want: number[] = [];
    // 33 from a (b owes an ACK past the transmit threshold), then b's reply joins it; then
    // 600 of 1000 bytes each way (many slabs), delivered in turns.
    for (let i = 0; i < 33; i++) {
      await a.send(msg(i));
      want.push(i);
    }
    net.deliverAll();
    expect(b.tryPost(msg(900), () => {})).toBe(true);
    net.deliverAll();
    for (let i = 33; i < 633; i++) {
      expect(a.tryPost(msg(i, 1000), () => {})).toBe(true);
      expect(b.tryPost(msg(1000 + i, 1000), () => {})).toBe(true);
      want.push(i);
      if (i % 50 === 0) net.deliverAll();
    }
    net.settle();
    expect(spy).toHaveBeenCalled();
    expect(gotB).toEqual(want);
    expect(gotA).toEqual([900, ...want.slice(33).map((i) => 1000 + i)]);
    let opts = 0;
    let acks = 0;
    let joined = 0;
    for (const batch of written) {
      let prev = -1;
      for (let off = 0; off < batch.length; ) {
        const length = batch[off + 12]! | (batch[off + 13]! << 8);
        const f = batch.subarray(off, off + length);
        const cmd = f[14]!;
        if (cmd === OPTS) {
          opts++;
          if (prev === ACK) joined++;
          const ref = encodeOptsStamped(u32(f, 0), u32(f, 8), u32(f, 4), f.slice(24));
          expect(Buffer.from(f).equals(Buffer.from(ref))).toBe(true);
        } else if (cmd === ACK) {
          acks++;
          const ref = encodeAck(u32(f, 0), u32(f, 8), u32(f, 4));
          expect(Buffer.from(f).equals(Buffer.from(ref))).toBe(true);
        }
        prev = cmd;
        off += length;
      }
    }
    expect(opts).toBeGreaterThanOrEqual(33 + 1 + 1200);
    expect(acks).toBeGreaterThan(0);
    expect(joined).toBeGreaterThan(0);
  });
});
