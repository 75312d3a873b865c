/**
 * The local-master cases of the DLM benchmark, shared by bench/dlm.ts (in
 * its own process, among the other cases) and bench/dlm-local-worker.ts (a
 * fresh process): lock+unlock cycles with the master local (low-level API,
 * callbacks drained per cycle), and the raw baseline, a Map-based lock table
 * doing the same calls (set, callback, delete).
 */
import { Dlm, LKM, ManualScheduler, newLksb } from '../src/services/dlm/index.ts';

export const BATCH = 256;
/** The resource names the cycles go through, in turn. */
export const LOCAL_NAMES: readonly string[] = Array.from({ length: 100 }, (_, i) => `res${i}`);

let sink = 0;
/** Keeps results observable so the optimiser cannot drop the work. */
export function localSink(): number {
  return sink;
}

/** EX lock + unlock cycles on a lockspace of its own (one node, no messages); a batch does BATCH. */
export function localBatch(): () => number {
  const scheduler = new ManualScheduler();
  const ls = new Dlm({ nodeid: 1, scheduler }).newLockspace('bench', { lvblen: 0 });
  const lksb = newLksb(0);
  const ast = (): void => {
    sink += lksb.status;
  };
  let i = 0;
  return () => {
    for (let k = 0; k < BATCH; k++) {
      ls.lock(LKM.EX, lksb, 0, LOCAL_NAMES[i++ % LOCAL_NAMES.length]!, ast);
      scheduler.runPending();
      ls.unlock(lksb.lkid, 0, lksb);
      scheduler.runPending();
    }
    return BATCH;
  };
}

/** The raw baseline: a lock table in a Map, the same callbacks, no DLM rules. */
export function mapBatch(): () => number {
  const table = new Map<string, number>();
  const tasks: (() => void)[] = [];
  let next = 1;
  const ast = (): void => {
    sink++;
  };
  let i = 0;
  return () => {
    for (let k = 0; k < BATCH; k++) {
      const name = LOCAL_NAMES[i++ % LOCAL_NAMES.length]!;
      if (!table.has(name)) table.set(name, next++);
      tasks.push(ast);
      for (const t of tasks.splice(0)) t();
      table.delete(name);
      tasks.push(ast);
      for (const t of tasks.splice(0)) t();
    }
    return BATCH;
  };
}
