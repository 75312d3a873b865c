/** InboundBuffer's counts against a plain array model, under random pushes, shifts and resets (fast-check, fixed seed). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InboundBuffer } from '../../../src/services/midcomms/inbound-buffer.ts';
import type { InboundEntry } from '../../../src/services/midcomms/inbound-buffer.ts';

const op = fc.oneof(
  fc.record({ t: fc.constant('msg' as const), n: fc.integer({ min: 0, max: 300 }), sequenced: fc.boolean() }),
  fc.record({ t: fc.constantFrom('fin' as const, 'skip' as const) }),
  fc.record({ t: fc.constant('shift' as const), k: fc.integer({ min: 1, max: 1500 }) }),
  fc.record({ t: fc.constant('forget' as const) }),
);

describe('InboundBuffer', () => {
  it('length, messages, bytes and sequenced match a model through pushes, shifts (past the compaction point) and forgetSequence (seed 5)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(op, fc.integer({ min: 1, max: 1200 })), { maxLength: 40 }), (ops) => {
        const buf = new InboundBuffer();
        let model: InboundEntry[] = [];
        for (const [o, times] of ops) {
          for (let i = 0; i < (o.t === 'shift' || o.t === 'forget' ? 1 : times); i++) {
            if (o.t === 'msg') {
              const e: InboundEntry = { kind: 'msg', bytes: new Uint8Array(o.n), sequenced: o.sequenced };
              buf.push(e);
              model.push(e);
            } else if (o.t === 'fin' || o.t === 'skip') {
              const e: InboundEntry = { kind: o.t };
              buf.push(e);
              model.push(e);
            } else if (o.t === 'shift') {
              for (let k = 0; k < o.k; k++) expect(buf.shift()).toEqual(model.shift());
            } else {
              buf.forgetSequence();
              model = model.filter((e) => e.kind === 'msg').map((e) => (e.kind === 'msg' ? { kind: 'msg', bytes: e.bytes, sequenced: false } : e));
            }
          }
          expect(buf.length).toBe(model.length);
          expect(buf.messages).toBe(model.filter((e) => e.kind === 'msg').length);
          expect(buf.bytes).toBe(model.reduce((s, e) => s + (e.kind === 'msg' ? e.bytes.length : 0), 0));
          expect(buf.sequenced).toBe(model.filter((e) => e.kind !== 'msg' || e.sequenced).length);
          expect(buf.peek()?.kind).toBe(model[0]?.kind);
        }
      }),
      { seed: 5, numRuns: 25 },
    );
  });
});
