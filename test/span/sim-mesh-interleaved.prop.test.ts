/**
 * Span relaying with events landing while earlier ones are still spreading
 * (a random number of deliveries between events). Every delivered span is
 * checked for loops (sim-mesh `violations`); the quiescent end state must be
 * exact (see sim-mesh.prop.test.ts for the list).
 */
import { describe } from 'vitest';
import { check, interleavedRun, scenario } from './sim-scenarios.ts';

describe('span relaying over a simulated mesh, interleaved events', () => {
  check('line: interleaved events', scenario('line', 30, 15), interleavedRun, 60, 201);
  check('ring: interleaved events', scenario('ring', 30, 15), interleavedRun, 80, 202);
  check('star: interleaved events', scenario('star', 30, 15), interleavedRun, 60, 203);
  check('full mesh: interleaved events', scenario('full', 12, 15), interleavedRun, 40, 204);
  check('random graphs up to 50 routers: interleaved events', scenario('random', 50, 15), interleavedRun, 80, 205);
  check('random graphs of 30-50 routers: interleaved events', scenario('random', 50, 15, 30), interleavedRun, 20, 206);
  // The consistency assertion only cuts exploration; without it the end state is the same.
  check(
    'random graphs without the consistency assertion: interleaved events',
    scenario('random', 30, 10).map((s) => ({ ...s, consistencyCheck: false })),
    interleavedRun,
    30,
    207,
  );
  // Sticky relays only choose among equally short paths; without them the end state is the same too.
  check(
    'random graphs without sticky relays: interleaved events',
    scenario('random', 30, 10).map((s) => ({ ...s, preferCurrent: false })),
    interleavedRun,
    30,
    208,
  );
});
