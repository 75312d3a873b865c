/**
 * SendQueue keeps parallel data (frames, FIN indexes, waiters by sequence, a
 * "sent before" high-water index), not an object per message: checked
 * against a model with one object per entry (the former layout), over
 * random operation sequences long enough to go round the ring many times
 * and grow it (hundreds unacknowledged, a FIN and waiters held across the
 * growth), and across the 2^32 sequence wrap (fast-check, fixed seeds).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendQueue } from '../../../src/services/midcomms/send-queue.ts';

interface ModelEntry {
  seq: number;
  frame: Uint8Array;
  fin: boolean;
  waiters: string[];
  transmissions: number;
}

/** The former layout: an object per entry, a transmission count each. */
class Model {
  entries: ModelEntry[] = [];
  cursor = 0;
  seqSend: number;
  constructor(seq: number) {
    this.seqSend = seq >>> 0;
  }
  append(frame: Uint8Array, fin: boolean): number {
    const seq = this.seqSend;
    this.seqSend = (seq + 1) >>> 0;
    this.entries.push({ seq, frame, fin, waiters: [], transmissions: 0 });
    return seq;
  }
  next(): { frame: Uint8Array; retransmit: boolean } | undefined {
    const e = this.entries[this.cursor];
    if (e === undefined) return undefined;
    this.cursor++;
    e.transmissions++;
    return { frame: e.frame, retransmit: e.transmissions > 1 };
  }
  ack(n: number): { count: number; fin: boolean; waiters: string[] } {
    let count = 0;
    let fin = false;
    const waiters: string[] = [];
    while (this.entries.length > 0 && ((this.entries[0]!.seq - n) | 0) < 0) {
      const e = this.entries.shift()!;
      if (this.cursor > 0) this.cursor--;
      count++;
      fin ||= e.fin;
      waiters.push(...e.waiters);
    }
    return { count, fin, waiters };
  }
  get bytes(): number {
    let s = 0;
    for (const e of this.entries) s += e.frame.length;
    return s;
  }
  get messages(): number {
    let n = 0;
    for (const e of this.entries) if (!e.fin) n++;
    return n;
  }
}

type Op =
  | { op: 'append'; size: number; fin: boolean; wait: boolean }
  | { op: 'next' }
  | { op: 'rewind' }
  | { op: 'ack'; k: number }
  | { op: 'clear' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 120, arbitrary: fc.record({ op: fc.constant('append' as const), size: fc.integer({ min: 24, max: 200 }), fin: fc.constant(false), wait: fc.boolean() }) },
  { weight: 20, arbitrary: fc.record({ op: fc.constant('append' as const), size: fc.constant(40), fin: fc.constant(true), wait: fc.boolean() }) },
  { weight: 120, arbitrary: fc.constant({ op: 'next' as const }) },
  { weight: 20, arbitrary: fc.constant({ op: 'rewind' as const }) },
  { weight: 80, arbitrary: fc.record({ op: fc.constant('ack' as const), k: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

function run(initialSeq: number, ops: Op[]): void {
  const q = new SendQueue(initialSeq);
  const m = new Model(initialSeq);
  const resolved: string[] = [];
  const modelResolved: string[] = [];
  let id = 0;
  for (const o of ops) {
    if (o.op === 'append') {
      const frame = new Uint8Array(o.size);
      const s1 = q.append(frame, o.fin);
      const s2 = m.append(frame, o.fin);
      if (s1 !== s2) expect(s1).toBe(s2);
      if (o.wait) {
        const name = `w${id++}`;
        q.addWaiter(s1, { resolve: () => resolved.push(name), reject: () => {} });
        m.entries[m.entries.length - 1]!.waiters.push(name);
      }
    } else if (o.op === 'next') {
      const f = q.nextToTransmit();
      const want = m.next();
      if (f !== want?.frame) expect(f).toBe(want?.frame);
      if (want !== undefined && q.retransmit !== want.retransmit) expect(q.retransmit).toBe(want.retransmit);
    } else if (o.op === 'rewind') {
      q.rewind();
      m.cursor = 0;
    } else if (o.op === 'ack') {
      // Within [firstUnacked, seqSend]: plausible.
      const n = (q.firstUnacked + Math.min(o.k, q.length)) >>> 0;
      if (!q.isPlausibleAck(n)) expect(q.isPlausibleAck(n)).toBe(true);
      const count = q.ack(n);
      const want = m.ack(n);
      if (count !== want.count || q.ackedFin !== want.fin) expect([count, q.ackedFin]).toEqual([want.count, want.fin]);
      for (const list of q.takeAckedWaiters() ?? []) for (const w of list) w.resolve();
      modelResolved.push(...want.waiters);
    } else {
      const dropped = q.clear(initialSeq);
      expect(dropped.map((d) => [d.seq, d.frame, d.fin, d.waiters?.length ?? 0])).toEqual(m.entries.map((e) => [e.seq, e.frame, e.fin, e.waiters.length]));
      m.entries = [];
      m.cursor = 0;
      m.seqSend = initialSeq >>> 0;
    }
    // (Plain comparisons per step, expect() only on a difference: thousands of steps.)
    if (resolved.length !== modelResolved.length || resolved[resolved.length - 1] !== modelResolved[modelResolved.length - 1]) expect(resolved).toEqual(modelResolved);
    const got = [q.length, q.bytes, q.messages, q.seqSend, q.firstUnacked, q.untransmitted];
    const want = [m.entries.length, m.bytes, m.messages, m.seqSend, m.entries[0]?.seq ?? m.seqSend, m.entries.length - m.cursor];
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) expect(got).toEqual(want);
  }
  expect(resolved).toEqual(modelResolved);
  // Whatever is left comes out of clear() as the model has it (frames, FINs, waiters).
  const rest = q.clear();
  expect(rest.map((d) => [d.seq, d.frame, d.fin, d.waiters?.length ?? 0])).toEqual(m.entries.map((e) => [e.seq, e.frame, e.fin, e.waiters.length]));
}

describe('SendQueue (parallel data) against an object-per-entry model', () => {
  it('random operations, short runs, sequence numbers across the wrap (fast-check, seed 21)', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 0xffffff00, 0xfffffff0), fc.array(opArb, { minLength: 1, maxLength: 300 }), (seq, ops) => run(seq, ops)),
      { seed: 21, numRuns: 200 },
    );
  });

  it('long runs round the ring, which grows with a FIN and waiters in it (fast-check, seed 22)', () => {
    const long: fc.Arbitrary<Op[]> = fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), size: fc.integer({ min: 24, max: 64 }), fin: fc.constant(false), wait: fc.boolean() }) },
        { weight: 5, arbitrary: fc.constant({ op: 'next' as const }) },
        { weight: 1, arbitrary: fc.constant({ op: 'rewind' as const }) },
        { weight: 2, arbitrary: fc.record({ op: fc.constant('ack' as const), k: fc.integer({ min: 0, max: 12 }) }) },
      ),
      { minLength: 3000, maxLength: 4000 },
    );
    fc.assert(
      fc.property(fc.constantFrom(0, 0xfffff000), long, (seq, ops) => {
        // A FIN near the end, as a session queues it last.
        // Half sent, a FIN and a waiter among them, then hundreds more unacknowledged: the ring grows twice or more.
        const fill = (k: number): Op[] => Array.from({ length: k }, (_, i) => ({ op: 'append' as const, size: 24 + (i % 50), fin: false, wait: i % 7 === 0 }));
        const grow: Op[] = [...fill(40), { op: 'append', size: 40, fin: true, wait: true }, ...Array.from({ length: 20 }, () => ({ op: 'next' as const })), ...fill(300), { op: 'next' }, { op: 'rewind' }, { op: 'next' }];
        run(seq, [...ops, ...grow, { op: 'ack', k: 30 }, ...ops.slice(0, 500), { op: 'ack', k: 40 }, ...ops.slice(500, 1000)]);
      }),
      { seed: 22, numRuns: 4 },
    );
  });
});
