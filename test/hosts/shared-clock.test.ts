/** The hosts runs' shared clock (shared-clock.ts): the offset measurement on simulated clocks, and the real readers. */
import { describe, expect, it } from 'vitest';
import { measureWallOffsetMs, monotonicMs, sharedClock, type ClockReaders } from './shared-clock.ts';

/** Simulated clocks: true time advances `step` ms per read; wall = floor(true), mono = true - offset; `jumps` adds time before given reads (a preemption). */
function simulated(offset: number, step: number, jumps: ReadonlyMap<number, number> = new Map()): ClockReaders {
  let t = 1_000_000.25;
  let reads = 0;
  const tick = (): number => {
    t += step + (jumps.get(++reads) ?? 0);
    return t;
  };
  return { wall: () => Math.floor(tick()), mono: () => tick() - offset };
}

describe('shared clock', () => {
  it('measures wall minus monotonic at a tick of the wall clock, to within the read spacing', () => {
    const offset = 1_796_542_753_131.371;
    const got = measureWallOffsetMs(5, simulated(offset, 0.002));
    expect(Math.abs(got - offset)).toBeLessThan(0.01);
  });

  it('a preemption between the two reads of a sample only lowers it: the largest sample wins', () => {
    const offset = 5_000.5;
    // Read 2 is the first monotonic read; after it every sample's wall read comes first, so a jump before an even
    // read lands between the wall and monotonic reads of one spin (a late monotonic read: that sample is too low).
    const jumps = new Map([[2, 0.3], [1000, 3], [1002, 3]]);
    const got = measureWallOffsetMs(5, simulated(offset, 0.001, jumps));
    expect(Math.abs(got - offset)).toBeLessThan(0.01);
  });

  it('reads CLOCK_MONOTONIC: never goes back; with the measured offset it reads as Date.now()', () => {
    const now = sharedClock(measureWallOffsetMs());
    let prev = now();
    for (let i = 0; i < 10_000; i++) {
      const t = now();
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
    }
    expect(Number.isFinite(monotonicMs())).toBe(true);
    // A safety net, not a timing assertion: two readings of the same instant on two clocks, at most a preemption apart.
    expect(Math.abs(now() - Date.now())).toBeLessThan(1000);
  });
});
