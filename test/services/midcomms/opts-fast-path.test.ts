/**
 * The receive path's OPTS fast path (`optsInnerStart`, used by the session
 * before the general `parseFrame`): it accepts exactly the frames
 * `parseFrame` classifies as a 3.2 OPTS, with the same inner message, and
 * a session fed frames it refuses still drops them for the general path's
 * reasons.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeDlmMessage, encodeFin, encodeOpts } from '../../../src/services/midcomms/frame-encoder.ts';
import { optsInnerStart, parseFrame } from '../../../src/services/midcomms/frame-reader.ts';
import { msg, twoNodes } from './fake-net.ts';

/** A valid 3.2 OPTS frame: a MSG or RCOM of `size` bytes inside, `optCount` empty-ish options before it. */
function validOpts(kind: number, size: number, optCount: number, seq: number): Uint8Array {
  const body = new Uint8Array(size - 16);
  if (kind === 2) body[0] = 1; // rc_type STATUS (a stateless RCOM is fine inside OPTS as well)
  const inner = encodeDlmMessage(kind, 7, body, 5);
  const options = Array.from({ length: optCount }, (_, i) => ({ type: i + 1, value: new Uint8Array(i * 3) }));
  return encodeOpts(0x00030002, 5, seq, inner, options);
}

describe('optsInnerStart agrees with parseFrame', () => {
  it('on valid frames, FINs, and frames with one byte changed or cut short, anywhere in a bigger buffer (fast-check, seed 7)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2),
        fc.integer({ min: 88, max: 400 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 40 }),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))),
        fc.integer({ min: 0, max: 24 }),
        fc.boolean(),
        (kind, size, optCount, seq, lead, mutation, cut, fin) => {
          const frame = fin ? encodeFin(0x00030002, 5, seq) : validOpts(kind, size, optCount, seq);
          if (mutation !== null) frame[mutation[0] % frame.length] = mutation[1];
          const length = Math.max(0, frame.length - cut);
          const buf = new Uint8Array(lead + frame.length + 8);
          buf.set(frame, lead);
          const p = parseFrame(buf, lead, length);
          const start = optsInnerStart(buf, lead, length);
          if (p.kind === 'opts' && p.version === 0x00030002) {
            expect(start).toBe(p.start);
            expect(p.end).toBe(lead + length);
            expect(buf[start + 14]).toBe(p.innerCmd);
          } else expect(start).toBe(-1);
        },
      ),
      { seed: 7, numRuns: 4000 },
    );
  });

  it('a 3.1 OPTS is not the fast path (parseFrame drops it as badCmd)', () => {
    const frame = validOpts(1, 88, 0, 1);
    frame[0] = 0x01; // h_version 0x00030001
    expect(parseFrame(frame)).toMatchObject({ kind: 'drop', reason: 'badCmd' });
    expect(optsInnerStart(frame, 0, frame.length)).toBe(-1);
  });
});

describe('the session with the fast path', () => {
  it('an OPTS from the wrong node id or after a refused channel still takes the general path (dropped, counted)', async () => {
    const { net, a, b, gotB } = twoNodes();
    await a.send(msg(0));
    net.deliverAll();
    expect(gotB).toEqual([0]);
    const before = b.stats();
    // A frame claiming another sender on the live channel: nodeidMismatch, not delivered.
    const sink = net.links[0]!.fwd.sink!;
    const forged = encodeOpts(0x00030002, 99, 1, msg(1));
    sink.data(forged);
    expect(gotB).toEqual([0]);
    expect(b.stats().drops.nodeidMismatch).toBe(before.drops.nodeidMismatch + 1);
    expect(b.stats().framesReceived).toBe(before.framesReceived + 1);
    // The right sender, in sequence: delivered through the fast path.
    const good = encodeOpts(0x00030002, 1, 1, (() => { const m = msg(1); m[8] = 1; return m; })());
    sink.data(good);
    expect(gotB).toEqual([0, 1]);
    expect(b.stats().framesReceived).toBe(before.framesReceived + 2);
  });
});
