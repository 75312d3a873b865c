/**
 * md-cluster benchmark (`npm run bench -- md-cluster`): broadcasts per
 * second among 3 nodes with examples/md-cluster (token/message/ack dance,
 * every receiver processing each message), on the simulated DLM (DlmSim:
 * in process, messages encoded and decoded, no sockets), against a baseline
 * measured in the same run on the same simulator: remote NL->EX->NL
 * conversion cycles of one node on a resource mastered on another.
 *
 * One broadcast is ~16 conversions on 3 nodes (the sender 6, each receiver
 * 5) and several are waits on another node, so the ratio is expected far
 * below 1. Rounds interleaved, median of ROUNDS.
 */
import { DlmSim } from '../src/services/dlm/index.ts';
import { MdNode } from '../examples/md-cluster/md-node.ts';
import { MSG, MD_LVBLEN } from '../examples/md-cluster/message.ts';
import { CLOCKS, currentClock, median, oneLine, type BenchContext } from './harness.ts';

export const BENCH = 'md-cluster';
const ROUNDS = 5;

/** Run `p` to completion on the simulator. */
async function drive<T>(sim: DlmSim, p: Promise<T>): Promise<T> {
  let done = false;
  const q = p.finally(() => (done = true));
  await sim.settle({ timers: false });
  if (!done) throw new Error('still waiting after the simulation settled');
  return q;
}

async function mdArray(): Promise<{ sim: DlmSim; nodes: MdNode[] }> {
  const ids = [1, 2, 3];
  const sim = new DlmSim({ nodes: ids });
  const nodes: MdNode[] = [];
  for (const id of ids) nodes.push(new MdNode(await sim.node(id).join('md-bench', { lvblen: MD_LVBLEN, members: ids }), { slot: id, slots: 3 }));
  for (const n of nodes) await drive(sim, n.join());
  return { sim, nodes };
}

type Case = (budget: number) => Promise<number>;

async function broadcastCase(): Promise<Case> {
  const { sim, nodes } = await mdArray();
  let k = 0;
  return async (budget) => {
    const now = CLOCKS[currentClock()];
    const t0 = now();
    let n = 0;
    while (now() - t0 < budget) {
      await drive(sim, nodes[k++ % 3]!.broadcast(MSG.METADATA_UPDATED));
      n++;
    }
    for (const node of nodes) if (node.errors.length > 0) throw new Error(`receive errors: ${oneLine(node.errors[0])}`);
    return n / (now() - t0);
  };
}

async function conversionCase(): Promise<Case> {
  const sim = new DlmSim({ nodes: [1, 2] });
  const owner = await sim.node(2).join('conv-bench', { lvblen: MD_LVBLEN, members: [1, 2] });
  const other = await sim.node(1).join('conv-bench', { lvblen: MD_LVBLEN, members: [1, 2] });
  // Node 1 creates the resource first, so it masters it; node 2 converts remotely.
  const anchor = await drive(sim, other.lock('r', 'NL'));
  const lk = await drive(sim, owner.lock('r', 'NL'));
  void anchor;
  return async (budget) => {
    const now = CLOCKS[currentClock()];
    const t0 = now();
    let n = 0;
    while (now() - t0 < budget) {
      await drive(sim, lk.convert('EX').then(() => lk.convert('NL')));
      n++;
    }
    return n / (now() - t0);
  };
}

export async function run(ctx: BenchContext): Promise<void> {
  await runMdClusterRows(ctx);
}

/** The md-cluster rows, reported under `bench` (`npm run bench -- dlm` reports them too). */
export async function runMdClusterRows(ctx: BenchContext, bench = BENCH): Promise<void> {
  const { reporter } = ctx;
  reporter.note(`${bench}: ${ctx.seconds} s of ${currentClock()} time per metric, ${ROUNDS} interleaved rounds, median; 3 nodes on the in-process DLM simulator (messages encoded and decoded), not sockets`);
  const cases: Record<string, () => Promise<Case>> = { dlm_sim_convert_cycles_per_s: conversionCase, md_broadcasts_per_s: broadcastCase };
  const ready: Record<string, Case> = {};
  for (const [metric, make] of Object.entries(cases)) {
    try {
      ready[metric] = await make();
    } catch (err) {
      reporter.failed({ bench, metric, reason: `setup: ${oneLine(err)}` });
    }
  }
  const rounds: Record<string, number[]> = {};
  const failed: Record<string, string> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [metric, c] of Object.entries(ready)) {
      if (failed[metric]) continue;
      try {
        (rounds[metric] ??= []).push(await c(ctx.seconds / ROUNDS));
      } catch (err) {
        failed[metric] = oneLine(err);
      }
    }
  }
  for (const metric of Object.keys(ready)) {
    if (failed[metric]) reporter.failed({ bench, metric, reason: failed[metric]! });
    else reporter.result({ bench, metric, value: median(rounds[metric]!), unit: metric === 'md_broadcasts_per_s' ? 'broadcasts/s' : 'cycles/s', ...(metric === 'md_broadcasts_per_s' ? { baseline: 'dlm_sim_convert_cycles_per_s' } : {}) });
  }
}
