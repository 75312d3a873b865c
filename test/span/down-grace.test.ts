/**
 * DownGrace on a ManualClock: a held span goes down exactly graceMs after
 * its loss, a returning path ends the grace without down, a sure down and
 * close stop the timer, graceMs 0 holds nothing.
 */
import { describe, expect, it } from 'vitest';
import { DOWN_GRACE_MS, DownGrace } from '../../src/span/down-grace.ts';
import { REPAIR_HOLD_MS } from '../../src/span/repair-hold.ts';
import { ManualClock } from '../../src/util/clock.ts';

function setup(graceMs = 100): { clock: ManualClock; grace: DownGrace<string, string>; expired: string[] } {
  const clock = new ManualClock();
  const expired: string[] = [];
  const grace = new DownGrace<string, string>({ clock, graceMs, onExpire: (key, last) => expired.push(`${key}=${last}`) });
  return { clock, grace, expired };
}

describe('DownGrace', () => {
  it('defaults to twice the repair-hold bound', () => {
    expect(DOWN_GRACE_MS).toBe(2 * REPAIR_HOLD_MS);
  });

  it('a held span expires exactly graceMs after its first loss, with what it held', () => {
    const { clock, grace, expired } = setup();
    grace.hold('k', 'first');
    clock.advance(60);
    grace.hold('k', 'second'); // already held: keeps its first timer and value
    expect(clock.pending).toBe(1);
    clock.advance(39);
    expect([expired, grace.isHeld('k'), grace.size]).toEqual([[], true, 1]);
    clock.advance(1);
    expect([expired, grace.isHeld('k'), grace.size, grace.expired, clock.pending]).toEqual([['k=first'], false, 0, 1, 0]);
  });

  it('a path that returns in time ends the grace: no expiry, the timer is stopped', () => {
    const { clock, grace, expired } = setup();
    grace.hold('a', 'x');
    grace.hold('b', 'y');
    clock.advance(99);
    expect(grace.returnedPath('a')).toBe(true);
    expect(grace.returnedPath('a')).toBe(false);
    expect(grace.returnedPath('never')).toBe(false);
    expect(clock.pending).toBe(1);
    clock.advance(1);
    expect([expired, grace.returned, grace.expired]).toEqual([['b=y'], 1, 1]);
    clock.runAll();
    expect(expired).toEqual(['b=y']);
  });

  it('drop (a sure down) and clearAll (close) stop the timers without counting', () => {
    const { clock, grace, expired } = setup();
    grace.hold('a', 'x');
    grace.hold('b', 'y');
    grace.hold('c', 'z');
    expect(grace.drop('a')).toBe(true);
    expect(grace.drop('a')).toBe(false);
    grace.clearAll();
    expect([grace.size, clock.pending]).toEqual([0, 0]);
    clock.runAll();
    expect([expired, grace.expired, grace.returned]).toEqual([[], 0, 0]);
    // Held again after a drop: a new timer, from now.
    grace.hold('a', 'again');
    clock.advance(100);
    expect(expired).toEqual(['a=again']);
  });

  it('graceMs 0 holds nothing (the caller reports down at once)', () => {
    const { clock, grace } = setup(0);
    expect(grace.enabled).toBe(false);
    grace.hold('k', 'v');
    expect([grace.isHeld('k'), clock.pending]).toEqual([false, 0]);
  });
});
