/**
 * One clock for every process of a hosts run, for history events that are
 * merged by time across processes (dlm-scenario.ts, dlm-host.ts).
 *
 * It reads CLOCK_MONOTONIC (`process.hrtime.bigint()`: one kernel clock, the
 * same in every process and network namespace of the machine, no
 * per-process state) plus one offset the harness measures once and hands to
 * every host program, so its values read as wall-clock milliseconds
 * (Date.now()'s domain, in which the views driver's lease ends are given).
 *
 * Not `performance.timeOrigin + performance.now()`: each Node process pairs a
 * wall-clock and a monotonic reading at its own start, and under load the
 * pair can be off. Seen here (kill run seed 18 with every process pinned to
 * one CPU, load about 25): one restarted host's events were about 1.5 ms
 * late against the others', so the grant of a value that host had just
 * released by unlock was recorded up to 1.1 ms before the unlock, and the
 * history checker reported 34 overlaps and 26 LVB reads of values "no one
 * wrote" (docs/hosts.md, Findings).
 */

/** CLOCK_MONOTONIC in milliseconds (fractional). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The two clocks measureWallOffsetMs() reads (injectable for its tests). */
export interface ClockReaders {
  /** Whole milliseconds of wall-clock time (Date.now). */
  readonly wall: () => number;
  /** Fractional milliseconds of CLOCK_MONOTONIC. */
  readonly mono: () => number;
}

/**
 * Date.now() minus monotonicMs(), measured at ticks of Date.now() (the
 * millisecond it changes, the two readings back to back; the largest of a
 * few samples, as a preemption between the reads only makes it smaller):
 * accurate to a few microseconds when not preempted, within 1 ms in any case.
 */
export function measureWallOffsetMs(samples = 5, read: ClockReaders = { wall: Date.now, mono: monotonicMs }): number {
  let best = -Infinity;
  for (let i = 0; i < samples; i++) {
    const start = read.wall();
    let now = start;
    let m = read.mono();
    // Bounded: Date.now() changes within 1 ms; 100k reads are far more than that.
    for (let spin = 0; spin < 100_000 && now === start; spin++) {
      now = read.wall();
      m = read.mono();
    }
    best = Math.max(best, now - m);
  }
  return best;
}

/** The shared clock with a given offset (measureWallOffsetMs() in the harness, passed to every host). */
export function sharedClock(offsetMs: number): () => number {
  return () => monotonicMs() + offsetMs;
}
