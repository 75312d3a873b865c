import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.ts';
import { ORIGIN_LOSS_HOLD_MS, OriginLossHolds } from '../../src/span/origin-loss-hold.ts';
import { id } from './fixtures.ts';

const O = id(1);
const cause = (b: number, inc = 1) => ({ a: O, b: id(b), inc });

function holds(holdMs?: number) {
  const clock = new ManualClock();
  const expired: string[] = [];
  const h = new OriginLossHolds<string>({ clock, ...(holdMs !== undefined ? { holdMs } : {}), onExpire: (key, c) => expired.push(`${key}:${c.b}`) });
  return { h, clock, expired };
}

describe('OriginLossHolds', () => {
  it('one lost link next to the originator holds nothing (a failover is not delayed)', () => {
    const { h, clock } = holds();
    h.lostNextToOrigin('n', cause(2));
    h.lostNextToOrigin('n', cause(2)); // the same link again (another path over it)
    expect(h.isHeld('n')).toBe(false);
    expect(h.evaluate('n', true)).toBeNull();
    expect(h.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('a second lost link next to it holds the instance while paths remain, and releases it with the last cause when none is left', () => {
    const { h, clock, expired } = holds();
    h.lostNextToOrigin('n', cause(2));
    h.lostNextToOrigin('n', cause(3));
    expect(h.isHeld('n')).toBe(true);
    expect(h.size).toBe(1);
    expect(h.started).toBe(1);
    expect(h.evaluate('n', true)).toBe('wait');
    h.lostNextToOrigin('n', cause(4));
    expect(h.evaluate('n', true)).toBe('wait');
    expect(h.evaluate('n', false)).toEqual(cause(4));
    expect(h.isHeld('n')).toBe(false);
    expect(h.size).toBe(0);
    expect(clock.pending).toBe(0); // its timer stopped
    expect(h.evaluate('n', false)).toBeNull(); // forgotten
    expect(expired).toEqual([]);
  });

  it('a hold runs out after ORIGIN_LOSS_HOLD_MS on the injected clock (the originator lived): no second hold from the same losses', () => {
    const { h, clock, expired } = holds();
    h.lostNextToOrigin('n', cause(2));
    h.lostNextToOrigin('n', cause(3));
    clock.advance(ORIGIN_LOSS_HOLD_MS - 1);
    expect(h.isHeld('n')).toBe(true);
    clock.advance(1);
    expect(expired).toEqual([`n:${id(3)}`]);
    expect(h.isHeld('n')).toBe(false);
    expect(h.expired).toBe(1);
    expect(h.evaluate('n', true)).toBeNull();
    // Losses long after the first ones count afresh: one new loss alone holds nothing.
    clock.advance(ORIGIN_LOSS_HOLD_MS + 1);
    h.lostNextToOrigin('n', cause(4, 2));
    expect(h.isHeld('n')).toBe(false);
  });

  it('two losses further apart than the bound do not add up', () => {
    const { h, clock } = holds();
    h.lostNextToOrigin('n', cause(2));
    clock.advance(ORIGIN_LOSS_HOLD_MS + 1);
    h.lostNextToOrigin('n', cause(3));
    expect(h.isHeld('n')).toBe(false);
    h.lostNextToOrigin('n', cause(4));
    expect(h.isHeld('n')).toBe(true);
  });

  it('instances are held apart; clear() and clearAll() stop their timers; holdMs 0 turns the rule off', () => {
    const { h, clock } = holds();
    for (const k of ['a', 'b']) {
      h.lostNextToOrigin(k, cause(2));
      h.lostNextToOrigin(k, cause(3));
    }
    h.lostNextToOrigin('c', cause(2));
    expect([h.isHeld('a'), h.isHeld('b'), h.isHeld('c')]).toEqual([true, true, false]);
    h.clear('a');
    expect(h.isHeld('a')).toBe(false);
    expect(h.size).toBe(1);
    h.clearAll();
    expect(h.size).toBe(0);
    expect(clock.pending).toBe(0);
    const off = holds(0);
    off.h.lostNextToOrigin('n', cause(2));
    off.h.lostNextToOrigin('n', cause(3));
    expect(off.h.isHeld('n')).toBe(false);
  });
});
