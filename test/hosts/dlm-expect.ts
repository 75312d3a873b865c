/** The assertions every DLM-across-hosts test makes on a run (dlm-scenario.ts). */
import { expect } from 'vitest';
import type { DlmRun } from './dlm-scenario.ts';

/** Where to look and how to rerun, for failure messages. */
export function whereOf(run: DlmRun): string {
  return `seed ${run.seed} (rerun: DLM_HOSTS_SEED=${run.seed}; history in ${run.reportDir}/${run.historyFile})`;
}

/** The checker's verdict and the run's floor: every host granted requests, every PW/EX grant has a fencing token. */
export function expectClean(run: DlmRun, minGrants: number): void {
  const where = whereOf(run);
  expect(run.report.violations, `${where}\n${run.violationsText}`).toEqual([]);
  for (const [h, c] of run.perHost) expect(c.grants, `${where}: ${h} granted requests`).toBeGreaterThanOrEqual(minGrants);
  expect(run.fenced.grants, `${where}: PW/EX grants`).toBeGreaterThan(0);
  expect(run.fenced.withToken, `${where}: PW/EX grants with a fencing token`).toBe(run.fenced.grants);
}
