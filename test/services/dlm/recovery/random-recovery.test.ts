/**
 * Randomized recovery (fixed seeds, printed on failure): 5 nodes, random
 * lock / convert / unlock / cancel traffic, random single and double node
 * deaths (some while messages are in flight, some in the middle of a
 * recovery), each followed by recovery on the survivors. An independent
 * checker, written here from the spec and sharing no code with the DLM,
 * holds the history to:
 * - no two incompatible modes granted at once on a resource (a killed
 *   node's locks count as held until the survivors restart without it);
 * - granted modes of survivors are never lost or downgraded by recovery;
 * - every operation of a survivor completes exactly once (and, when the
 *   run winds down, every one has completed).
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, newLksb, type Lksb } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';
import { mulberry32 } from '../../../helpers/prng.ts';

// The compatibility matrix of §1.4, NL CR CW PR PW EX, written out independently.
const COMPAT = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 0],
  [1, 1, 1, 0, 0, 0],
  [1, 1, 0, 1, 0, 0],
  [1, 1, 0, 0, 0, 0],
  [1, 0, 0, 0, 0, 0],
];
const ok = (a: number, b: number): boolean => COMPAT[a]![b] === 1;

interface Holder {
  id: string;
  node: number;
  res: string;
  lksb: Lksb;
  /** Granted mode as the callbacks tell it (-1: none). */
  mode: number;
  op: null | { kind: 'request' | 'convert' | 'unlock'; rq: number };
  completions: number;
  started: number;
}

const RES = ['d0a', 'd1b', 'd2c', 'd3d', 'd4e', 'd1f'];

interface RunTotals {
  ops: number;
  deaths: number;
  recoveries: number;
}

async function run(seed: number, nodir = false): Promise<RunTotals> {
  const rand = mulberry32(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const c = recoveryCluster(5, { nodir });
  const errors: string[] = [];
  const fail = (msg: string): void => void errors.push(msg);
  const holders: Holder[] = [];
  /** Holders of killed nodes still counted as holding (until the survivors restart without them). */
  const ghosts: Holder[] = [];
  for (const node of c.ids) for (let i = 0; i < 2; i++) holders.push({ id: `n${node}h${i}`, node, res: '', lksb: newLksb(32), mode: -1, op: null, completions: 0, started: 0 });

  const conflict = (h: Holder, mode: number): Holder | undefined =>
    [...holders, ...ghosts].find((o) => o !== h && o.res === h.res && o.mode >= 0 && !(o.op?.kind === 'unlock') && !c.dead.has(o.node) && !ok(o.mode, mode)) ??
    ghosts.find((o) => o.res === h.res && o.mode >= 0 && !ok(o.mode, mode));

  const ast = (h: Holder) => (): void => {
    if (c.dead.has(h.node)) return;
    const st = h.lksb.status;
    if (!h.op) return fail(`${h.id}: completion ${st} with no operation pending (completed twice?)`);
    const op = h.op;
    h.op = null;
    h.completions++;
    if (st === 0) {
      if (op.kind === 'unlock') return fail(`${h.id}: unlock completed with 0`);
      const other = conflict(h, op.rq);
      if (other) fail(`${h.id} granted ${op.rq} on ${h.res} while ${other.id} holds ${other.mode}`);
      h.mode = op.rq;
    } else if (st === DLM_ERRNO.EUNLOCK) {
      h.mode = -1;
    } else if (st === DLM_ERRNO.ECANCEL || st === DLM_ERRNO.EAGAIN || st === DLM_ERRNO.EDEADLK) {
      if (op.kind === 'request') h.mode = -1;
    } else {
      fail(`${h.id}: unexpected status ${st} for ${op.kind}`);
    }
  };
  const bast = (): void => {};

  let ops = 0;
  const step = (): void => {
    const h = pick(holders.filter((x) => !c.dead.has(x.node)));
    const ls = c.ls.get(h.node)!;
    const r = rand();
    if (h.op) {
      if ((h.op.kind === 'request' || h.op.kind === 'convert') && r < 0.3) ls.unlock(h.lksb.lkid, LKF.CANCEL, h.lksb); // 0, or EBUSY/EINVAL: both fine
      return;
    }
    const mode = Math.floor(rand() * 6);
    if (h.mode < 0) {
      h.res = pick(RES);
      const flags = rand() < 0.2 ? LKF.NOQUEUE : 0;
      h.op = { kind: 'request', rq: mode };
      if (ls.lock(mode, h.lksb, flags, h.res, ast(h), undefined, bast) !== 0) h.op = null;
      else (ops++, h.started++);
    } else if (r < 0.5 && mode !== h.mode) {
      h.op = { kind: 'convert', rq: mode };
      if (ls.lock(mode, h.lksb, LKF.CONVERT | (rand() < 0.15 ? LKF.NOQUEUE : 0), null, ast(h), undefined, bast) !== 0) h.op = null;
      else (ops++, h.started++);
    } else if (r < 0.85) {
      h.op = { kind: 'unlock', rq: -1 };
      if (ls.unlock(h.lksb.lkid, 0, h.lksb) !== 0) h.op = null;
      else (ops++, h.started++);
    }
  };
  const traffic = (n: number): void => {
    for (let i = 0; i < n; i++) {
      step();
      if (rand() < 0.3) c.sim.runPending();
    }
  };

  /** Holders of live nodes with no operation pending: what recovery must keep. */
  const snapshot = (): Map<Holder, number> => new Map(holders.filter((h) => !c.dead.has(h.node) && !h.op && h.mode >= 0).map((h) => [h, h.mode]));
  const checkKept = (before: Map<Holder, number>): void => {
    for (const [h, mode] of before) {
      if (h.op || h.mode !== mode) fail(`${h.id}: granted ${mode} before recovery, ${h.mode} (op ${h.op?.kind}) after`);
      const lkb = c.ls.get(h.node)!.lockById(h.lksb.lkid);
      if (!lkb || lkb.grmode !== mode) fail(`${h.id}: its lockspace lost or changed its ${mode} lock (${lkb?.grmode})`);
    }
  };
  /** Quiescent: every live master's queues hold only compatible granted modes. */
  const checkMasters = (): void => {
    for (const id of c.live()) {
      for (const d of c.ls.get(id)!.dump()) {
        if (d.master !== id) continue;
        const granted = [...d.grant, ...d.convert].map((l) => l.grmode).filter((m) => m >= 0);
        for (let i = 0; i < granted.length; i++) for (let j = i + 1; j < granted.length; j++) if (!ok(granted[i]!, granted[j]!)) fail(`master ${id}: ${d.name} grants ${granted[i]} and ${granted[j]}`);
      }
    }
  };

  let deaths = 0;
  let recoveries = 0;
  const killAndRecover = async (): Promise<void> => {
    const live = c.live();
    const nVictims = live.length > 3 && rand() < 0.3 ? 2 : 1;
    const victims: number[] = [];
    while (victims.length < nVictims) {
      const v = pick(live.filter((x) => !victims.includes(x)));
      victims.push(v);
    }
    // Operations are in flight when the victims die: issued while every link is held, then a few delivery rounds.
    c.holdAmong(live);
    traffic(10 + Math.floor(rand() * 10));
    const rounds = Math.floor(rand() * 4);
    for (let i = 0; i < rounds; i++) c.step(live);
    const before = snapshot();
    const midRecovery = nVictims === 1 && live.length > 3 && rand() < 0.3;
    for (const v of victims) {
      c.kill(v);
      deaths++;
      for (const h of holders) if (h.node === v) ghosts.push(h);
    }
    const survivors = c.live();
    c.releaseAmong(survivors);
    if (midRecovery) {
      // A second death a few rounds into the first recovery.
      c.holdAmong(survivors);
      c.restart();
      ghosts.length = 0;
      for (let i = 0; i < 1 + Math.floor(rand() * 5); i++) c.step(survivors);
      const v = pick(survivors);
      c.kill(v);
      deaths++;
      for (const h of holders) if (h.node === v) ghosts.push(h);
      for (const h of before.keys()) if (h.node === v) before.delete(h);
      c.releaseAmong(c.live());
    }
    c.restart();
    ghosts.length = 0; // the survivors' view excludes the dead from now on
    await c.sim.settle();
    recoveries++;
    for (const id of c.live()) if (c.ls.get(id)!.recovering) fail(`node ${id} still recovering`);
    checkKept(before);
    checkMasters();
  };

  {
    for (let epoch = 0; epoch < 3; epoch++) {
      traffic(40);
      await c.sim.settle();
      checkMasters();
      if (c.live().length > 2) await killAndRecover();
    }
    traffic(30);
    await c.sim.settle();
    checkMasters();
    // Wind down: cancel what waits, unlock what is held, until nothing is left.
    for (let round = 0; round < 6; round++) {
      for (const h of holders) {
        if (c.dead.has(h.node)) continue;
        const ls = c.ls.get(h.node)!;
        if (h.op && h.op.kind !== 'unlock') ls.unlock(h.lksb.lkid, LKF.CANCEL, h.lksb);
        else if (!h.op && h.mode >= 0) {
          h.op = { kind: 'unlock', rq: -1 };
          if (ls.unlock(h.lksb.lkid, 0, h.lksb) !== 0) h.op = null;
          else h.started++;
        }
      }
      await c.sim.settle();
    }
    for (const h of holders) {
      if (c.dead.has(h.node)) continue;
      if (h.op) fail(`${h.id}: ${h.op.kind} never completed`);
      if (h.mode >= 0) fail(`${h.id}: still holds ${h.mode} after unlocking`);
      if (h.completions !== h.started) fail(`${h.id}: ${h.started} operations, ${h.completions} completions`);
    }
    const directory = c.msgs.filter((m) => m.type === 'LOOKUP' || m.type === 'LOOKUP_REPLY' || m.type === 'REMOVE').length;
    if (nodir && directory > 0) fail(`${directory} directory messages in a NODIR lockspace`);
    if (errors.length > 0) throw new Error(`seed ${seed}: ${errors.slice(0, 5).join('; ')}`);
    return { ops, deaths, recoveries };
  }
}

describe('randomized recovery with an independent checker', () => {
  const seeds = Array.from({ length: 24 }, (_, i) => 1000 + i * 7919);
  it(`${seeds.length} seeds: 5 nodes, random traffic, single/double deaths, deaths mid-recovery`, async () => {
    let totalOps = 0;
    let totalDeaths = 0;
    let totalRecoveries = 0;
    for (const seed of seeds) {
      const r = await run(seed).catch((err: unknown) => {
        throw new Error(`randomized recovery failed for seed ${seed}: ${(err as Error).message}`);
      });
      totalOps += r.ops;
      totalDeaths += r.deaths;
      totalRecoveries += r.recoveries;
    }
    expect(totalDeaths).toBeGreaterThanOrEqual(seeds.length * 3);
    expect(totalRecoveries).toBeGreaterThanOrEqual(seeds.length * 2);
    expect(totalOps).toBeGreaterThan(seeds.length * 50);
  });

  const nodirSeeds = Array.from({ length: 16 }, (_, i) => 5000 + i * 7919);
  it(`NODIR lockspaces (every master copy purged and rebuilt at the hash masters), ${nodirSeeds.length} seeds, same checker, and no directory message`, async () => {
    let totalDeaths = 0;
    let totalOps = 0;
    for (const seed of nodirSeeds) {
      const r = await run(seed, true).catch((err: unknown) => {
        throw new Error(`randomized NODIR recovery failed for seed ${seed}: ${(err as Error).message}`);
      });
      totalDeaths += r.deaths;
      totalOps += r.ops;
    }
    expect(totalDeaths).toBeGreaterThanOrEqual(nodirSeeds.length * 3);
    expect(totalOps).toBeGreaterThan(nodirSeeds.length * 50);
  });
});
