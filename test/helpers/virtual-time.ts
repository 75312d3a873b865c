/**
 * Driving a mesh on a ManualClock: advance virtual time in 10 ms steps and
 * let the mesh deliver (a few event-loop turns) between steps. No sleeps;
 * `runUntil` gives up after `maxMs` of virtual time, naming what it waited for.
 */
import type { ManualClock } from '../../src/util/clock.ts';
import { turn } from './mesh.ts';

export interface VirtualTime {
  run(ms: number): Promise<void>;
  runUntil(check: () => boolean, what: string, maxMs?: number): Promise<void>;
}

export function virtualTime(clock: ManualClock, defaultMaxMs = 10_000): VirtualTime {
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 4; i++) await turn();
    }
  };
  const runUntil = async (check: () => boolean, what: string, maxMs = defaultMaxMs): Promise<void> => {
    for (let t = 0; t < maxMs; t += 10) {
      if (check()) return;
      await run(10);
    }
    throw new Error(`not reached in ${maxMs} ms of virtual time: ${what}`);
  };
  return { run, runUntil };
}
