/**
 * DLM recovery benchmark rows of `npm run bench -- dlm` (issue 14):
 * `dlm_recovery_ms` for 3 and 7 nodes and 10,000 resources, measured on the
 * in-process DLM simulator (DlmSim: every node a Dlm, messages encoded,
 * delivered through one task queue and decoded; no sockets, no routers).
 *
 * One round, per cluster size N:
 * 1. N nodes join one lockspace (lvblen 32, resources mastered where the
 *    directory sends them: the default hash, the first requester masters).
 * 2. Baseline (`dlm_lock_10k_ms_<N>_nodes`): 10,000 EX locks taken, resource
 *    i by node i % N, until every one is granted.
 * 3. For each resource held by the victim (the highest node id, ~10,000/N
 *    of them) a survivor queues an EX request, which waits.
 * 4. The victim dies (its lockspace stops, its messages in both directions
 *    are held for good); the clock starts; every survivor stop()s, then every
 *    survivor start()s with the survivors' list (stop on all before start on
 *    any); the simulator runs until every waiting request is granted and no
 *    survivor is recovering. That time is `dlm_recovery_ms_<N>_nodes`:
 *    from the member's death to the locks granted again on the survivors
 *    (directory rebuild, remastering ~1/N of the resources, rebuilding their
 *    survivors' locks, purging the victim's, the grant pass).
 * 5. Checked outside the timing: every waiting request granted with status 0,
 *    every survivor's original lock still granted EX.
 *
 * Recovery's barrier polls back off on the lockspace's ManualClock; when
 * the simulator is idle before the end, the clock is advanced to the next
 * timer at once (virtual time, not counted: the rows are the process's own
 * work, CPU time by default). The virtual time skipped is printed in a note.
 * Median of 3 rounds, each on a fresh cluster. A failed case is a row.
 */
import { DlmSim, LKM, newLksb, type Lksb, type Lockspace } from '../src/services/dlm/index.ts';
import { CLOCKS, currentClock, median, oneLine, type BenchContext } from './harness.ts';

const RESOURCES = 10_000;
const DEFAULT_ROUNDS = 3;
const SIZES = [3, 7] as const;
/** Simulator steps without progress before a round is declared stuck. */
const MAX_IDLE_STEPS = 10_000;

interface RoundResult {
  lockMs: number;
  recoveryMs: number;
  virtualMs: number;
  remastered: number;
}

const names = Array.from({ length: RESOURCES }, (_, i) => `r${i}`);

/** Run the simulator until `done()`; advance the ManualClock to its next timer when idle. Returns the virtual ms skipped. */
function runUntil(sim: DlmSim, done: () => boolean, what: string): number {
  let virtualMs = 0;
  let idle = 0;
  while (!done()) {
    if (sim.scheduler.runPending() > 0) {
      idle = 0;
      continue;
    }
    if (sim.clock.pending > 0 && idle++ < MAX_IDLE_STEPS) {
      const d = sim.clock.delays[0]!;
      sim.clock.advance(d);
      virtualMs += d;
      continue;
    }
    throw new Error(`${what}: stuck (nothing pending, not done)`);
  }
  return virtualMs;
}

/** One round on a fresh cluster of `n` nodes. */
export function recoveryRound(n: number, resources = RESOURCES): RoundResult {
  const now = CLOCKS[currentClock()];
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const sim = new DlmSim({ nodes: ids, tossMs: 1e12 });
  const ls = new Map<number, Lockspace>(ids.map((id) => [id, sim.node(id).newLockspace('bench-recovery', { lvblen: 32, members: ids })]));
  const victim = ids[n - 1]!;
  const live = ids.filter((id) => id !== victim);

  // Baseline: the 10,000 locks taken initially.
  const held: { node: number; lksb: Lksb }[] = [];
  let granted = 0;
  const t0 = now();
  for (let i = 0; i < resources; i++) {
    const node = ids[i % n]!;
    const lksb = newLksb(32);
    held.push({ node, lksb });
    const rv = ls.get(node)!.lock(LKM.EX, lksb, 0, names[i]!, () => {
      if (lksb.status === 0) granted++;
    });
    if (rv !== 0) throw new Error(`lock ${names[i]}: ${rv}`);
  }
  runUntil(sim, () => granted === resources, 'initial locks');
  const lockMs = (now() - t0) * 1000;

  // Survivors queue behind the victim's locks.
  const waiting: Lksb[] = [];
  let waitGranted = 0;
  let waitFailed = 0;
  for (let i = 0; i < resources; i++) {
    if (held[i]!.node !== victim) continue;
    const lksb = newLksb(32);
    waiting.push(lksb);
    const rv = ls.get(live[i % live.length]!)!.lock(LKM.EX, lksb, 0, names[i]!, () => {
      if (lksb.status === 0) waitGranted++;
      else waitFailed++;
    });
    if (rv !== 0) throw new Error(`queue ${names[i]}: ${rv}`);
  }
  sim.runPending();
  if (waitGranted > 0) throw new Error(`${waitGranted} requests granted while the victim held EX`);

  // The victim dies; the survivors recover.
  const t1 = now();
  ls.get(victim)!.stop();
  for (const id of live) {
    sim.hold(victim, id);
    sim.hold(id, victim);
  }
  for (const id of live) ls.get(id)!.stop();
  for (const id of live) ls.get(id)!.start(live);
  const virtualMs = runUntil(sim, () => waitGranted + waitFailed === waiting.length && live.every((id) => !ls.get(id)!.recovering), 'recovery');
  const recoveryMs = (now() - t1) * 1000;

  if (waitFailed > 0) throw new Error(`${waitFailed} waiting requests failed (status ${waiting.find((l) => l.status !== 0)?.status})`);
  for (const { node, lksb } of held) {
    if (node === victim) continue;
    const lkb = ls.get(node)!.lockById(lksb.lkid);
    if (!lkb || lkb.grmode !== LKM.EX) throw new Error(`node ${node}: a survivor's lock was lost or changed in recovery`);
  }
  const remastered = live.reduce((a, id) => a + ls.get(id)!.stats.recovery.remastered, 0);
  for (const d of sim.nodes.values()) d.close();
  return { lockMs, recoveryMs, virtualMs, remastered };
}

/** Report the recovery rows under `bench` (called by bench/dlm.ts). */
export async function runRecoveryRows(ctx: BenchContext, bench = 'dlm', size: { resources?: number; rounds?: number } = {}): Promise<void> {
  const { reporter } = ctx;
  const resources = size.resources ?? RESOURCES;
  const nRounds = size.rounds ?? DEFAULT_ROUNDS;
  reporter.note(
    `${bench}: dlm_recovery_ms = from a member's death until the survivors' EX requests queued behind its locks (${resources.toLocaleString('en')} resources, one EX lock each, spread over the nodes) are granted; in-process DLM simulator (messages encoded and decoded, no sockets); ${currentClock()} time; median of ${nRounds} rounds, each a fresh cluster; baseline: taking the ${resources.toLocaleString('en')} locks initially`,
  );
  for (const n of SIZES) {
    const rounds: RoundResult[] = [];
    try {
      for (let r = 0; r < nRounds; r++) {
        reporter.progress(`${bench}: recovery, ${n} nodes, round ${r + 1}/${nRounds} ...`);
        rounds.push(recoveryRound(n, resources));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      reporter.failed({ bench, metric: `dlm_recovery_ms_${n}_nodes`, reason: oneLine(err) });
      continue;
    }
    const base = `dlm_lock_10k_ms_${n}_nodes`;
    reporter.result({ bench, metric: base, value: median(rounds.map((r) => r.lockMs)), unit: 'ms' });
    reporter.result({ bench, metric: `dlm_recovery_ms_${n}_nodes`, value: median(rounds.map((r) => r.recoveryMs)), unit: 'ms', baseline: base });
    reporter.note(`${bench}: ${n} nodes: ${rounds[0]!.remastered} resources remastered per round; virtual timer time skipped per round: ${rounds.map((r) => r.virtualMs).join(', ')} ms`);
  }
}
