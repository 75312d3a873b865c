import { describe, expect, it } from 'vitest';
import { LossMemory } from '../../src/span/loss-memory.ts';
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
});
