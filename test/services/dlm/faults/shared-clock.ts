/**
 * One clock for the 5-process fault run's history (processes.test.ts and
 * fault-node.ts merge their events by time): CLOCK_MONOTONIC
 * (`process.hrtime.bigint()`, one kernel clock for every process of the
 * machine) plus one offset the parent measures and hands to every child, so
 * the values read as Date.now() milliseconds (the domain of the views
 * driver's lease ends, which the history also records).
 *
 * Not `performance.timeOrigin + performance.now()`: each Node process pairs
 * a wall-clock and a monotonic reading at its start, and under CPU
 * contention that pair can be off by 0.1-380 ms in a few processes of
 * hundreds (hosts12, 2026-12-06: a restarted host's events 1.5 ms late gave
 * the checker 34 false overlaps in the hosts kill run). The same helper
 * lives in test/hosts/shared-clock.ts (branch hosts12); to be unified in
 * test/helpers once both are on main.
 */

/** CLOCK_MONOTONIC in (fractional) milliseconds. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Date.now() minus monotonicMs(), read right after Date.now() ticks (the
 * largest of a few samples: a preemption between the two reads only makes
 * it smaller). Bounded loops.
 */
export function measureWallOffsetMs(samples = 5): number {
  let best = -Infinity;
  for (let i = 0; i < samples; i++) {
    const start = Date.now();
    let wall = start;
    let mono = monotonicMs();
    for (let spin = 0; spin < 100_000 && wall === start; spin++) {
      wall = Date.now();
      mono = monotonicMs();
    }
    best = Math.max(best, wall - mono);
  }
  return best;
}

/** The shared clock: monotonicMs() + `offsetMs` (the parent's measureWallOffsetMs()). */
export function sharedClock(offsetMs: number): () => number {
  return () => monotonicMs() + offsetMs;
}
