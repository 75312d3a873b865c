import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../src/util/clock.ts';

describe('ManualClock', () => {
  it('fires timers only inside advance(), in due order, ties in set order', () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    expect(fired).toEqual([]);
    expect(clock.delays).toEqual([10, 20, 20]);
    clock.advance(15);
    expect(fired).toEqual(['a@1010']);
    expect(clock.now()).toBe(1015);
    clock.advance(5);
    expect(fired).toEqual(['a@1010', 'b@1020', 'c@1020']);
    expect(clock.pending).toBe(0);
  });

  it('fires a timer set by a timer within the same advance when it falls due', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 5);
    clock.advance(10);
    expect(fired).toEqual([5, 10]);
  });

  it('clearTimeout cancels; runAll drains and refuses a timer that re-arms forever', () => {
    const clock = new ManualClock();
    let n = 0;
    const h = clock.setTimeout(() => n++, 1);
    clock.clearTimeout(h);
    clock.setTimeout(() => n++, 100);
    expect(clock.runAll()).toBe(1);
    expect(n).toBe(1);
    expect(clock.now()).toBe(100);
    const rearm = (): void => void clock.setTimeout(rearm, 1);
    rearm();
    expect(() => clock.runAll(50)).toThrow(RangeError);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });

  it('systemClock is real time', () => {
    const t = systemClock.now();
    expect(Math.abs(t - Date.now())).toBeLessThan(1000);
    const h = systemClock.setTimeout(() => {}, 1000);
    systemClock.clearTimeout(h);
  });
});
