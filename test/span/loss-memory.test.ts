import { describe, expect, it } from 'vitest';
import { LossMemory } from '../../src/span/loss-memory.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { nodeIdOf } from '../helpers/mesh.ts';

describe('LossMemory', () => {
  it('refuses a withdrawn epoch of an instance, not a new one', () => {
    const m = new LossMemory();
    m.withdraw('k', 5);
    expect(m.isWithdrawn('k', 5)).toBe(true);
    expect(m.isWithdrawn('k', 6)).toBe(false);
    expect(m.isWithdrawn('j', 5)).toBe(false);
  });

  it('finds a lost link on a path only at its incarnation', () => {
    const m = new LossMemory();
    const [a, b, c] = [nodeIdOf(1), nodeIdOf(2), nodeIdOf(3)];
    expect(m.lostLinkOn([a, b, c], [0, 4, 9])).toBeNull();
    m.loseLink({ a, b, inc: 4 });
    expect(m.lostLinkOn([a, b, c], [0, 4, 9])).toEqual({ a, b, inc: 4 });
    expect(m.lostLinkOn([a, b, c], [0, 5, 9])).toBeNull(); // restored link, new incarnation
    expect(m.lostLinkOn([b, a, c], [0, 4, 9])).toBeNull(); // the other direction
    expect(m.lostLinkOn([a, b, c], undefined)).toBeNull(); // a hop that did not record incarnations
  });

  it('is bounded: the oldest entries are forgotten first', () => {
    const m = new LossMemory(3);
    for (let e = 1; e <= 4; e++) m.withdraw('k', e);
    expect(m.isWithdrawn('k', 1)).toBe(false);
    expect([2, 3, 4].map((e) => m.isWithdrawn('k', e))).toEqual([true, true, true]);
  });

  it('forgets entries ttlMs after they were remembered, on the injected clock', () => {
    const clock = new ManualClock();
    const m = new LossMemory(100, { clock, ttlMs: 1000 });
    const [a, b] = [nodeIdOf(1), nodeIdOf(2)];
    m.withdraw('k', 1);
    m.loseLink({ a, b, inc: 7 });
    clock.advance(600);
    m.withdraw('k', 2);
    clock.advance(399);
    expect(m.isWithdrawn('k', 1)).toBe(true);
    expect(m.lostLinkOn([a, b], [0, 7])).toEqual({ a, b, inc: 7 });
    clock.advance(1);
    expect(m.isWithdrawn('k', 1)).toBe(false);
    expect(m.lostLinkOn([a, b], [0, 7])).toBeNull();
    expect(m.isWithdrawn('k', 2)).toBe(true);
    clock.advance(600);
    expect(m.isWithdrawn('k', 2)).toBe(false);
    // Remembering again restarts the time.
    m.withdraw('k', 1);
    clock.advance(999);
    expect(m.isWithdrawn('k', 1)).toBe(true);
  });
});
