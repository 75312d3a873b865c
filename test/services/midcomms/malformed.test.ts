/**
 * Malformed frames of every kind of §5.4 against a live session, while a
 * bystander session on the same node keeps working. Each is counted and
 * dropped, or closes that one channel; nothing throws, nothing is lost.
 */
import { describe, expect, it } from 'vitest';
import type { ChannelSink } from '../../../src/services/midcomms/channel.ts';
import { encodeAck, encodeHello, encodeOpts, writeHeader } from '../../../src/services/midcomms/frame-encoder.ts';
import { resolveMidcommsOptions } from '../../../src/services/midcomms/options.ts';
import { Session } from '../../../src/services/midcomms/session.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { FakeNet, msg, msgNumber } from './fake-net.ts';

const V32 = 0x00030002;
const V31 = 0x00030001;

function frame(size: number, version: number, seqOrLs: number, nodeid: number, cmd: number): Uint8Array {
  const b = new Uint8Array(size);
  writeHeader(b, 0, version, seqOrLs, nodeid, size, cmd);
  return b;
}

/** An inner MSG from node `nodeid`. */
function inner(nodeid: number, n = 0): Uint8Array {
  const m = msg(n);
  new DataView(m.buffer).setUint32(8, nodeid, true);
  return m;
}

describe('malformed frames against a live session', () => {
  it('every §5.4 kind is counted and dropped or closes its channel; the session and a bystander carry on', async () => {
    const net = new FakeNet();
    const A = net.node('a', { nodeid: 1, incarnation: 0xa1 });
    const B = net.node('b', { nodeid: 2, incarnation: 0xb1 });
    const C = net.node('c', { nodeid: 3, incarnation: 0xc1 });
    const a = A.session('b');
    const b = B.session('a');
    const c = C.session('b');
    const bc = B.session('c');
    const gotB: number[] = [];
    const gotBfromC: number[] = [];
    b.messages$.subscribe((m) => gotB.push(msgNumber(m)));
    bc.messages$.subscribe((m) => gotBfromC.push(msgNumber(m)));
    let nA = 0;
    let nC = 0;
    const exchange = async (): Promise<void> => {
      await a.send(msg(nA++));
      await c.send(msg(nC++));
      net.settle(200);
    };
    await exchange();
    /** The live channel a -> b, as b hears it. */
    const sinkAtB = (): ChannelSink => {
      const link = net.links.find((l) => l.from === A && l.to === B && !l.dead && l.fwd.sink !== null)!;
      return link.fwd.sink!;
    };
    const seqNext = (): number => b.stats().seqNext;
    const cases: Array<[string, () => Uint8Array, (s: ReturnType<typeof b.stats>) => number]> = [
      ['badVersion', () => frame(16, 0x00040002, 0, 1, 4), (s) => s.drops.badVersion],
      ['versionMismatch', () => frame(88, V31, 0, 1, 1), (s) => s.drops.versionMismatch],
      ['badCmd (bare MSG on the 3.2 path)', () => frame(88, V32, 0, 1, 1), (s) => s.drops.badCmd],
      ['badCmd (unknown cmd)', () => frame(16, V32, 0, 1, 9), (s) => s.drops.badCmd],
      [
        'rawRcomType',
        () => {
          const f = frame(48, V32, 0, 1, 2);
          f[16] = 3;
          return f;
        },
        (s) => s.drops.rawRcomType,
      ],
      ['tooShort (OPTS)', () => encodeOpts(V32, 1, seqNext(), inner(1)).subarray(0, 60).map((x, i) => (i === 12 ? 60 : x)), (s) => s.drops.tooShort],
      [
        'badOptlen',
        () => {
          const f = encodeOpts(V32, 1, seqNext(), inner(1));
          f[18] = 4;
          return f;
        },
        (s) => s.drops.badOptlen,
      ],
      [
        'badNextCmd',
        () => {
          const f = encodeOpts(V32, 1, seqNext(), inner(1));
          f[16] = 7;
          return f;
        },
        (s) => s.drops.badNextCmd,
      ],
      [
        'badInnerLength',
        () => {
          const f = encodeOpts(V32, 1, seqNext(), inner(1));
          f[24 + 12] = 99;
          return f;
        },
        (s) => s.drops.badInnerLength,
      ],
      [
        'badInnerVersion',
        () => {
          const f = encodeOpts(V32, 1, seqNext(), inner(1));
          f[24 + 2] = 9;
          return f;
        },
        (s) => s.drops.badInnerVersion,
      ],
      ['nodeidMismatch (outer)', () => encodeAck(V32, 99, 0), (s) => s.drops.nodeidMismatch],
      ['badAck (beyond what we sent)', () => encodeAck(V32, 1, 1_000_000), (s) => s.drops.badAck],
      ['gap', () => encodeOpts(V32, 1, seqNext() + 1000, inner(1)), (s) => s.drops.gap],
      ['duplicate', () => encodeOpts(V32, 1, seqNext() - 1, inner(1)), (s) => s.drops.duplicate],
      ['helloAgain', () => encodeHello(V32, 1, { inc: 0xa1, gen: 1 }, null), (s) => s.drops.helloAgain],
    ];
    for (const [name, make, counter] of cases) {
      const before = counter(b.stats());
      sinkAtB().data(make());
      expect(counter(b.stats()), name).toBe(before + 1);
      await exchange();
    }
    // Stream framing errors close the channel (§5.4 item 1); the session opens another and resends.
    const framing: Array<[string, Uint8Array, 'BAD_FRAME_LENGTH' | 'TRUNCATED']> = [
      ['h_length < 16', frame(16, V32, 0, 1, 4).map((x, i) => (i === 12 ? 8 : x)), 'BAD_FRAME_LENGTH'],
      ['h_length > 4096', frame(16, V32, 0, 1, 4).map((x, i) => (i === 13 ? 0x20 : x)), 'BAD_FRAME_LENGTH'],
      ['truncated', frame(100, V32, 0, 1, 1).subarray(0, 50), 'TRUNCATED'],
    ];
    for (const [name, bytes, code] of framing) {
      const before = b.stats().channelErrors[code];
      sinkAtB().data(bytes);
      expect(b.stats().channelErrors[code], name).toBe(before + 1);
      await exchange();
    }
    // A channel whose first frame is not a HELLO.
    const closed: string[] = [];
    const sink = b.accept({ write: () => true, close: (r) => closed.push(r ?? '') });
    sink.data(encodeAck(V32, 1, 0));
    expect(b.stats().channelErrors.HELLO_EXPECTED).toBe(1);
    expect(closed.length).toBe(1);
    await exchange();
    net.settle(2000);
    expect(gotB).toEqual([...Array(nA).keys()]);
    expect(gotBfromC).toEqual([...Array(nC).keys()]);
    expect(a.stats().queueMessages).toBe(0);
    expect(c.stats().queueMessages).toBe(0);
    expect(bc.stats().drops).toEqual(Object.fromEntries(Object.keys(bc.stats().drops).map((k) => [k, 0])));
    expect(b.stats().internalErrors).toBe(0);
  });

  it('a sequenced message whose inner h_nodeid is not the peer is consumed but not delivered', () => {
    const clock = new ManualClock();
    const s = new Session('p', null, resolveMidcommsOptions({ nodeid: 2, incarnation: 5, clock }), { address: 'me', nextGen: () => 1 });
    const got: number[] = [];
    s.messages$.subscribe((m) => got.push(msgNumber(m)));
    const written: Uint8Array[] = [];
    const sink = s.accept({ write: (b) => (written.push(b), true), close: () => {} });
    sink.data(encodeHello(V32, 7, { inc: 9, gen: 1 }, null));
    sink.data(encodeOpts(V32, 7, 0, inner(7, 100)));
    sink.data(encodeOpts(V32, 7, 1, inner(99, 101)));
    sink.data(encodeOpts(V32, 7, 2, inner(7, 102)));
    expect(got).toEqual([100, 102]);
    expect(s.stats().drops.nodeidMismatch).toBe(1);
    expect(s.stats().seqNext).toBe(3);
    clock.advance(50);
    // the timer ACK covers all three
    const ack = written.at(-1)!;
    expect(ack[14]).toBe(4);
    expect(new DataView(ack.buffer, ack.byteOffset).getUint32(4, true)).toBe(3);
  });
});

describe('a peer that opens channel after channel', () => {
  it('keeps at most 8 channels per session; the oldest idle ones are closed', () => {
    const clock = new ManualClock();
    const s = new Session('p', null, resolveMidcommsOptions({ nodeid: 2, incarnation: 5, clock }), { address: 'me', nextGen: () => 1 });
    const closed: number[] = [];
    // Channels that never say HELLO: held up to the bound, the oldest closed.
    for (let i = 0; i < 100; i++) s.accept({ write: () => true, close: () => closed.push(i) });
    expect(s.stats().channels).toBe(8);
    expect(closed).toEqual([...Array(92).keys()]);
    expect(s.stats().drops.helloAgain).toBe(0);
  });

  it('a channel the peer opens replaces the one it opened before (which it lost)', () => {
    const clock = new ManualClock();
    const s = new Session('p', null, resolveMidcommsOptions({ nodeid: 2, incarnation: 5, clock }), { address: 'me', nextGen: () => 1 });
    const closed: number[] = [];
    for (let i = 0; i < 100; i++) {
      const sink = s.accept({ write: () => true, close: () => closed.push(i) });
      sink.data(encodeHello(V32, 7, { inc: 9, gen: 1 }, null));
    }
    expect(s.stats().channels).toBe(1);
    expect(closed).toEqual([...Array(99).keys()]);
    expect(s.stats().drops.helloAgain).toBe(0);
  });
});

describe('markers cannot pile up behind a paused reader', () => {
  it('in-sequence messages with a wrong inner h_nodeid count against the receive buffer', () => {
    const clock = new ManualClock();
    const s = new Session('p', null, resolveMidcommsOptions({ nodeid: 2, incarnation: 5, clock, maxInboundMessages: 16 }), { address: 'me', nextGen: () => 1 });
    s.messages$.subscribe(() => {});
    const sink = s.accept({ write: () => true, close: () => {} });
    sink.data(encodeHello(V32, 7, { inc: 9, gen: 1 }, null));
    sink.data(encodeOpts(V32, 7, 0, inner(7, 1)));
    s.pauseReading();
    sink.data(encodeOpts(V32, 7, 1, inner(7, 2))); // waits for the reader
    for (let seq = 2; seq < 10_000; seq++) sink.data(encodeOpts(V32, 7, seq, inner(99, seq)));
    // 16 entries held (one message, 15 skip markers); the 17th overflows, what follows is a gap.
    expect(s.stats().seqNext).toBe(17);
    expect(s.stats().drops.overflow).toBe(1);
    expect(s.stats().drops.gap).toBe(10_000 - 18);
    s.resumeReading();
    expect(s.stats().inboundMessages).toBe(0);
  });
});
