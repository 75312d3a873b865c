/**
 * The views messages' codec and the driver's receive path under fuzzing
 * (fast-check, fixed seeds): valid messages round-trip; any bytes and any
 * mutated message are counted as in or dropped, and never throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeViewsMessage, encodeViewsMessage, MemoryViewsStore, ViewsDriver, type Message } from '../../../../src/services/dlm/views/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';

const VOTERS = [1, 2, 3];
const nat = fc.nat({ max: 1_000_000 });
const voter = fc.constantFrom(...VOTERS);
const members = fc.subarray(VOTERS, { minLength: 1 }).map((m) => [...m].sort((a, b) => a - b));
const entry = fc.oneof(
  fc.record({ term: nat, kind: fc.constant('noop' as const) }),
  fc.record({ term: nat, kind: fc.constant('view' as const), view: fc.integer({ min: 1, max: 1000 }), members }),
);
const toSelf = fc.constant(2);
const fromOther = fc.constantFrom(1, 3);
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('vote-req' as const), from: fromOther, to: toSelf, term: nat, lastLogIndex: nat, lastLogTerm: nat }),
  fc.record({ type: fc.constant('vote-rep' as const), from: fromOther, to: toSelf, term: nat, granted: fc.boolean() }),
  fc.record({ type: fc.constant('append' as const), from: fromOther, to: toSelf, term: nat, prevIndex: nat, prevTerm: nat, entries: fc.array(entry, { maxLength: 5 }), leaderCommit: nat, sentAt: nat, leaseUntil: nat }),
  fc.record({ type: fc.constant('append-rep' as const), from: fromOther, to: toSelf, term: nat, success: fc.boolean(), matchIndex: nat, sentAt: nat }),
);

/** A message with one field replaced by an arbitrary JSON value (or removed). */
const mutated = fc.tuple(message, fc.nat(), fc.oneof(fc.jsonValue(), fc.constant(undefined))).map(([m, i, v]) => {
  const o: Record<string, unknown> = { ...m };
  const keys = Object.keys(o);
  const k = keys[i % keys.length]!;
  if (v === undefined) delete o[k];
  else o[k] = v;
  return new TextEncoder().encode(JSON.stringify(o));
});

describe('views codec', () => {
  it('valid messages round-trip exactly', () => {
    fc.assert(
      fc.property(message, (m) => {
        const r = decodeViewsMessage(encodeViewsMessage(m), VOTERS, 2);
        expect(r).toEqual({ ok: true, message: m });
      }),
      { seed: 14, numRuns: 300 },
    );
  });

  it('any bytes, any JSON and any one-field mutation: the driver counts each as in or dropped and never throws', () => {
    const clock = new ManualClock();
    const d = new ViewsDriver(2, { voters: VOTERS }, { clock, store: new MemoryViewsStore(), send: () => {} });
    let fed = 0;
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))), mutated);
    fc.assert(
      fc.property(bytes, (b) => {
        fed++;
        expect(() => d.receive(b)).not.toThrow();
        const s = d.stats;
        expect(s.messagesIn + s.dropped).toBe(fed);
        expect(s.stepErrors).toBe(0);
      }),
      { seed: 1414, numRuns: 600 },
    );
    expect(d.stats.dropped).toBeGreaterThan(0);
    expect(d.stats.messagesIn).toBeGreaterThan(0);
    d.close();
  });
});

describe('views codec: a view entry naming clean leavers (left)', () => {
  const append = (entries: unknown[]): Uint8Array =>
    new TextEncoder().encode(JSON.stringify({ type: 'append', from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, entries, leaderCommit: 0, sentAt: 0, leaseUntil: 0 }));
  it('round-trips a view with left and refuses a left that is empty, unsorted, not voters or names a member', () => {
    const ok = decodeViewsMessage(append([{ term: 1, kind: 'view', view: 2, members: [1, 2], incarnations: [11, 22], left: [3] }]), VOTERS, 2);
    expect(ok.ok && ok.message.type === 'append' && ok.message.entries[0]).toEqual({ term: 1, kind: 'view', view: 2, members: [1, 2], incarnations: [11, 22], left: [3] });
    for (const left of [[], [3, 3], [4], [2], 'x']) {
      const r = decodeViewsMessage(append([{ term: 1, kind: 'view', view: 2, members: [1, 2], left }]), VOTERS, 2);
      expect(r.ok, JSON.stringify(left)).toBe(false);
    }
  });
});
