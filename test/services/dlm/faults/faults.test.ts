/**
 * Issue 14's headline test, in-process: random lock/convert/unlock/cancel
 * traffic on 5 DLM nodes (each on its own Router, over 2 relay routers,
 * in-memory links, one ManualClock) under seeded faults, every history
 * checked by the independent checker (test/helpers/dlm-history-checker.ts).
 *
 * The suite runs a short seeded set (FAULT_SEEDS below); `npm run
 * test:faults` runs the full count (FAULTS_FULL=1). A failing seed is
 * printed with the violations; rerun one with FAULT_SEED=<n>.
 * Totals are in docs/faults.md.
 */
import { describe, expect, it } from 'vitest';
import * as dlmIndex from '../../../../src/services/dlm/index.ts';
import { DlmLock } from '../../../../src/services/dlm/index.ts';
import { Lockspace } from '../../../../src/services/dlm/lockspace.ts';
import { checkHistory, describeViolations, type CheckOptions } from '../../../helpers/dlm-history-checker.ts';
import type { HistoryEvent } from '../../../helpers/dlm-history-types.ts';
import { runFaultSeed, type FaultRunOptions } from './harness.ts';

const FULL = process.env.FAULTS_FULL === '1';
const ONE = process.env.FAULT_SEED ? [Number(process.env.FAULT_SEED)] : null;

/** `lk.fence` (the fence engineer's API) is on the lock handle: then every PW/EX grant must carry one. */
const FENCES_LANDED = Object.getOwnPropertyDescriptor(DlmLock.prototype, 'fence') !== undefined;
/** Recovery (stop/start without EOPNOTSUPP, the lease gate, fence) and the views driver (voters, views$) are what kills and partitions need. */
const RECOVERY_LANDED = typeof (Lockspace.prototype as unknown as { setGate?: unknown }).setGate === 'function';
const VIEWS_LANDED = 'NO_VOTERS_STATE' in dlmIndex;

/**
 * Every DLM node a voter, its views state on its own disk (kept across
 * kills). Views timings are the defaults scaled by 3 (heartbeat 150 ms,
 * lease 600 ms, elections 450-900 ms): the defaults' 50 ms heartbeat
 * triples the messages per 50 ms step and the run time with them.
 */
const VOTERS: FaultRunOptions['joinOptions'] = (ids, _id, disk) => ({ voters: ids, views: { store: disk, heartbeatInterval: 150, lease: 600, electionMin: 450, electionMax: 900 } });

/**
 * Seeds in `npm test` (the suite's time budget for this file is about 30 s
 * on 2 shared cores); `npm run test:faults` runs 200 of each. docs/faults.md
 * has the totals of both.
 */
const SUITE_FLAP_SEEDS = 16;
/**
 * Kill/restart/partition seeds in the suite: 1001-1004, plus two that failed
 * on main at f938ee7 and pass since the views name each member's run (1018:
 * every holder of the latest view restarted, no view was committed again;
 * 1093: a restarted node's fresh lockspace resumed without recovery, an
 * overlap). docs/faults.md has the causes.
 */
const SUITE_ALL_SEEDS = [1001, 1002, 1003, 1004, 1018, 1093];

/**
 * With recovery on the branch (integ at 12:05 UTC: main + recov + the views
 * driver) these runs find real failures, listed in docs/faults.md
 * "Findings". The suite skips them, naming what is missing; `npm run
 * test:faults` (FAULTS_FULL=1) and FAULTS_KNOWN=1 run them anyway. The
 * checker is not relaxed for them. Remove an entry when its fix lands.
 */
const KNOWN_FAILING = false; // rejoin: the suite seeds pass (lookup list, gate replay order, quorum-keeping proposal fixed)
const MISSING_ALL =
  "skipped with recovery until fixed: a restarted node's lockspace is fenced by the views driver and not started again, so its requests never complete (seeds 1001, 1003, 1004); a zero LVB read after a write on a busy resource (seed 1001)";

const checkOptions: CheckOptions = { fences: FENCES_LANDED ? 'required' : 'absent-ok' };

interface Totals {
  seeds: number;
  histories: number;
  faultEvents: number;
  events: number;
  ops: number;
  grants: number;
  lvbReads: number;
  statuses: Record<string, number>;
  /** Seeds whose history broke a rule, with the violations (all seeds run; the test fails at the end). */
  failures: string[];
}

async function runSeeds(seeds: readonly number[], options: Omit<FaultRunOptions, 'seed'>): Promise<Totals> {
  const totals: Totals = { seeds: 0, histories: 0, faultEvents: 0, events: 0, ops: 0, grants: 0, lvbReads: 0, statuses: {}, failures: [] };
  for (const seed of seeds) {
    const run = await runFaultSeed({ ...options, seed });
    const report = checkHistory(run.history, checkOptions);
    // The seed and what went wrong, on failure (rerun it with FAULT_SEED=<seed>).
    if (report.violations.length > 0) totals.failures.push(`seed ${seed} (faults ${JSON.stringify(options.faults)}):\n${describeViolations(report.violations, 5)}`);
    totals.seeds++;
    totals.histories++;
    totals.faultEvents += run.faultEvents;
    totals.events += report.stats.events;
    totals.ops += report.stats.ops;
    totals.grants += report.stats.grants;
    totals.lvbReads += report.stats.lvbReads;
    for (const e of run.history as HistoryEvent[]) if (e.type === 'done') totals.statuses[e.status] = (totals.statuses[e.status] ?? 0) + 1;
  }
  return totals;
}

function seedList(count: number, base: number, suite?: readonly number[]): number[] {
  return ONE ?? (suite && !FULL ? [...suite] : Array.from({ length: count }, (_, i) => base + i));
}

describe('DLM safety under faults, in-process (5 nodes, 2 relays, ManualClock)', () => {
  it(
    'link flaps (cut and restore node-relay and relay-relay links, the mesh stays connected): every history passes the checker',
    async () => {
      // With recovery and the views driver on main the lockspace runs with voters (a flap can make a
      // node's span leave and come back, a membership change: with recovery only views make that
      // safe); before that, without (views without recovery cannot change the member list).
      const totals = await runSeeds(seedList(FULL ? 200 : SUITE_FLAP_SEEDS, 1), { steps: 120, faults: ['flap'], faultRate: 0.3, ...(RECOVERY_LANDED && VIEWS_LANDED ? { joinOptions: VOTERS } : {}) });
      console.log(`faults/flap: ${JSON.stringify(totals)}`);
      expect(totals.failures, totals.failures.join('\n')).toEqual([]);
      // The runs did what they claim: faults, contention, every kind of completion.
      expect(totals.faultEvents).toBeGreaterThanOrEqual(ONE ? 1 : SUITE_FLAP_SEEDS * 40);
      expect(totals.grants).toBeGreaterThan(totals.seeds * 100);
      expect(totals.lvbReads).toBeGreaterThan(totals.seeds * 50);
      if (!ONE) for (const s of ['OK', 'EAGAIN', 'ECANCEL', 'EDEADLK']) expect(totals.statuses[s] ?? 0, s).toBeGreaterThan(0);
    },
    FULL ? 3_600_000 : 240_000, // safety nets: the short run takes ~10-20 s idle; it hit 60 s at load 25-35
  );

  it('the harness and checker catch a broken DLM: a node granting from a private lockspace shows up as overlaps', async () => {
    const run = await runFaultSeed({ seed: 7, steps: 60, faults: ['flap'], sabotage: 'private-lockspace' });
    const kinds = new Set(checkHistory(run.history, checkOptions).violations.map((v) => v.kind));
    expect(kinds.has('overlap')).toBe(true);
  });

  // Needs recovery ("recov") and the views driver ("vdrive") on the branch; then a known failure (above).
  const needsRecovery = RECOVERY_LANDED && VIEWS_LANDED && !KNOWN_FAILING ? it : it.skip;
  needsRecovery(
    `kills, restarts, minority and no-majority partitions and link flaps (needs recovery, the views driver and leases): every history passes${KNOWN_FAILING ? ` [${MISSING_ALL}]` : ''}`,
    async () => {
      const totals = await runSeeds(seedList(200, 1001, SUITE_ALL_SEEDS), { steps: 120, faults: ['flap', 'kill', 'partition'], faultRate: 0.3, joinOptions: VOTERS });
      console.log(`faults/all: ${JSON.stringify(totals)}`);
      expect(totals.failures, totals.failures.join('\n')).toEqual([]);
      expect(totals.faultEvents).toBeGreaterThan(0);
    },
    FULL ? 3_600_000 : 240_000, // safety nets: the short run takes ~10-20 s idle; it hit 60 s at load 25-35
  );
});
