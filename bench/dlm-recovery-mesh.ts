/**
 * DLM recovery over real routers (issue 14's `dlm_recovery_ms`, beside the
 * simulator rows of bench/dlm-recovery.ts): N in-process Routers, every pair
 * joined by a memory link (a full mesh: the victim relays nobody's traffic),
 * midcomms on each, the DLM's MidcommsEndpoint and a Dlm per router, real
 * timers (systemClock). Every message is a midcomms frame in a DMSG
 * transaction through the routers, as between processes, without sockets.
 *
 * One round, per cluster size N (3 and 7):
 * 1. N nodes join one lockspace (lvblen 32, the default hash: directories
 *    spread over the nodes, the first requester masters).
 * 2. Baseline (`dlm_mesh_lock_10k_ms_<N>_nodes`): 10,000 EX locks taken,
 *    resource i by node i % N, until every one is granted.
 * 3. For each resource the victim (the highest node id) holds, a survivor
 *    queues an EX request; the round waits until every request got its
 *    master's answer (queued, nothing granted).
 * 4. Kill: the victim's links are destroyed and its router closed; the clock
 *    starts. Membership is driven by the bench, as in the simulator rows:
 *    every survivor stop()s, then every survivor start()s with the
 *    survivors' list (no failure detection or views protocol in the time:
 *    with voters the views driver adds its election and lease timeouts,
 *    about a second with the mesh defaults). The round ends when every
 *    waiting request is granted and no survivor is recovering. That wall
 *    time is `dlm_mesh_recovery_ms_<N>_nodes`; this process's CPU time over
 *    the same span is in a note.
 * 5. Checked outside the timing: every waiting request granted with status
 *    0, every survivor's own lock still granted EX.
 *
 * Median of the rounds, each on a fresh cluster. A failed case is a row.
 */
import { DLM_ERRNO, Dlm, LKM, MidcommsEndpoint, newLksb, type Lksb, type Lockspace } from '../src/services/dlm/index.ts';
import { midcomms, type Midcomms } from '../src/services/midcomms/index.ts';
import { Router } from '../src/span/index.ts';
import { memoryPair } from '../src/transport/memory.ts';
import { LKSTS } from '../src/services/dlm/constants.ts';
import { CLOCKS, median, oneLine, type BenchContext } from './harness.ts';

const RESOURCES = 10_000;
const DEFAULT_ROUNDS = 3;
const SIZES = [3, 7] as const;
/** Safety net for one phase of a round (never a measurement). */
const PHASE_MS = 120_000;
const LVBLEN = 32;

interface Node {
  router: Router;
  mc: Midcomms;
  endpoint: MidcommsEndpoint;
  dlm: Dlm;
  ls: Lockspace | null;
}

interface MeshRound {
  lockMs: number;
  recoveryMs: number;
  recoveryCpuMs: number;
  remastered: number;
}

/** Resolves when `check()` holds, re-checked after every macrotask turn; rejects after `ms` (a safety net). */
function until(check: () => boolean, what: string, ms = PHASE_MS): Promise<void> {
  const deadline = performance.now() + ms;
  return new Promise<void>((resolve, reject) => {
    const step = (): void => {
      try {
        if (check()) return resolve();
      } catch (err) {
        return reject(err);
      }
      if (performance.now() > deadline) return reject(new Error(`${what}: not reached within ${ms} ms`));
      setImmediate(step);
    };
    step();
  });
}

/** Resolves when `count()` reaches `target` (checked on every callback through `bump`), with the same safety net. */
function counter(target: number, what: string): { bump: () => void; done: Promise<void>; readonly n: number } {
  let n = 0;
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(() => reject(new Error(`${what}: ${n}/${target} after ${PHASE_MS} ms`)), PHASE_MS);
  if (target === 0) {
    clearTimeout(timer);
    resolve();
  }
  return {
    bump() {
      if (++n === target) {
        clearTimeout(timer);
        resolve();
      }
    },
    done,
    get n() {
      return n;
    },
  };
}

async function startCluster(n: number): Promise<Node[]> {
  const routers = Array.from({ length: n }, (_, i) => new Router({ name: `rec${i}`, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } }));
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const [sa, sb] = memoryPair();
      routers[a]!.attach(sa);
      routers[b]!.attach(sb);
    }
  }
  const mcs = routers.map((r) => midcomms(r));
  await until(() => routers.every((r) => r.members('midcomms').length === n), 'midcomms on every router');
  return routers.map((router, i) => {
    const endpoint = new MidcommsEndpoint(router, mcs[i]!);
    return { router, mc: mcs[i]!, endpoint, dlm: new Dlm({ endpoint }), ls: null };
  });
}

async function closeNode(node: Node): Promise<void> {
  node.dlm.close();
  node.endpoint.close();
  node.mc.destroy();
  for (const l of node.router.links) l.iocom.destroy();
  await node.router.close();
}

/** One round on a fresh cluster of `n` routers. */
export async function meshRecoveryRound(n: number, resources = RESOURCES): Promise<MeshRound> {
  const wall = CLOCKS.wall;
  const cpu = CLOCKS.cpu;
  const nodes = await startCluster(n);
  const closed = new Set<Node>();
  try {
    const ids = nodes.map((x) => x.endpoint.nodeid).sort((a, b) => a - b);
    const byId = new Map(nodes.map((x) => [x.endpoint.nodeid, x]));
    for (const x of nodes) x.ls = x.dlm.newLockspace('bench-recovery', { lvblen: LVBLEN, members: ids });
    const ls = (id: number): Lockspace => byId.get(id)!.ls!;
    const victim = ids[n - 1]!;
    const live = ids.filter((id) => id !== victim);

    // Baseline: the 10,000 locks taken initially.
    const held: { node: number; lksb: Lksb }[] = [];
    let lockFailed = 0;
    const granted = counter(resources, 'initial locks');
    const t0 = wall();
    for (let i = 0; i < resources; i++) {
      const node = ids[i % n]!;
      const lksb = newLksb(LVBLEN);
      held.push({ node, lksb });
      const rv = ls(node).lock(LKM.EX, lksb, 0, `r${i}`, () => {
        if (lksb.status !== 0) lockFailed++;
        granted.bump();
      });
      if (rv !== 0) throw new Error(`lock r${i}: returned ${rv}`);
    }
    await granted.done;
    const lockMs = (wall() - t0) * 1000;
    if (lockFailed > 0) throw new Error(`${lockFailed} initial locks failed`);

    // Survivors queue behind the victim's locks; wait until every request was answered (queued).
    const waiting: { node: number; lksb: Lksb }[] = [];
    let waitFailed = 0;
    const regranted = counter(held.filter((h) => h.node === victim).length, 'requests granted after recovery');
    for (let i = 0; i < resources; i++) {
      if (held[i]!.node !== victim) continue;
      const node = live[i % live.length]!;
      const lksb = newLksb(LVBLEN);
      waiting.push({ node, lksb });
      const rv = ls(node).lock(LKM.EX, lksb, 0, `r${i}`, () => {
        if (lksb.status !== 0) waitFailed++;
        regranted.bump();
      });
      if (rv !== 0) throw new Error(`queue r${i}: returned ${rv}`);
    }
    await until(() => waiting.every((w) => ls(w.node).lockById(w.lksb.lkid)?.status === LKSTS.WAITING), 'requests queued at their masters');
    if (regranted.n > 0) throw new Error(`${regranted.n} requests completed while the victim held EX`);

    // The victim dies; the survivors recover.
    const c1 = cpu();
    const t1 = wall();
    const dead = byId.get(victim)!;
    closed.add(dead);
    for (const l of dead.router.links) l.iocom.destroy();
    const deadClosed = dead.router.close();
    for (const id of live) ls(id).stop();
    for (const id of live) ls(id).start(live);
    await regranted.done;
    await until(() => live.every((id) => !ls(id).recovering), 'survivors done recovering');
    const recoveryMs = (wall() - t1) * 1000;
    const recoveryCpuMs = (cpu() - c1) * 1000;
    await deadClosed;
    dead.dlm.close();
    dead.endpoint.close();
    dead.mc.destroy();

    if (waitFailed > 0) throw new Error(`${waitFailed} waiting requests failed (status ${waiting.find((w) => w.lksb.status !== 0)?.lksb.status})`);
    for (const { node, lksb } of held) {
      if (node === victim) continue;
      const lkb = ls(node).lockById(lksb.lkid);
      if (!lkb || lkb.grmode !== LKM.EX) throw new Error(`node ${node}: a survivor's lock was lost or changed in recovery`);
    }
    for (const { lksb } of waiting) if (lksb.status !== 0 && lksb.status !== DLM_ERRNO.EUNLOCK) throw new Error(`a waiting request ended with ${lksb.status}`);
    const remastered = live.reduce((a, id) => a + ls(id).stats.recovery.remastered, 0);
    return { lockMs, recoveryMs, recoveryCpuMs, remastered };
  } finally {
    await Promise.all(nodes.filter((x) => !closed.has(x)).map((x) => closeNode(x).catch(() => {})));
  }
}

/** Report the over-routers recovery rows under `bench` (called by bench/dlm.ts). */
export async function runMeshRecoveryRows(ctx: BenchContext, bench = 'dlm', size: { resources?: number; rounds?: number } = {}): Promise<void> {
  const { reporter } = ctx;
  const resources = size.resources ?? RESOURCES;
  const nRounds = size.rounds ?? DEFAULT_ROUNDS;
  reporter.note(
    `${bench}: dlm_mesh_recovery_ms = the same recovery over real routers (in-process, a memory link between every pair, midcomms, real timers): from closing the victim's router until the survivors' queued EX requests are granted; membership driven by the bench (stop on all, then start with the survivors), no failure detection in the time; wall time, median of ${nRounds} rounds, each a fresh cluster; baseline: taking the ${resources.toLocaleString('en')} locks initially over the same routers`,
  );
  for (const n of SIZES) {
    const rounds: MeshRound[] = [];
    try {
      for (let r = 0; r < nRounds; r++) {
        reporter.progress(`${bench}: recovery over routers, ${n} nodes, round ${r + 1}/${nRounds} ...`);
        rounds.push(await meshRecoveryRound(n, resources));
      }
    } catch (err) {
      reporter.failed({ bench, metric: `dlm_mesh_recovery_ms_${n}_nodes`, reason: oneLine(err) });
      continue;
    }
    const base = `dlm_mesh_lock_10k_ms_${n}_nodes`;
    reporter.result({ bench, metric: base, value: median(rounds.map((r) => r.lockMs)), unit: 'ms' });
    reporter.result({ bench, metric: `dlm_mesh_recovery_ms_${n}_nodes`, value: median(rounds.map((r) => r.recoveryMs)), unit: 'ms', baseline: base });
    reporter.note(
      `${bench}: over routers, ${n} nodes: ${rounds[0]!.remastered} resources remastered per round; recovery wall ms per round ${rounds.map((r) => r.recoveryMs.toFixed(0)).join(', ')}; this process's CPU ms over the same spans ${rounds.map((r) => r.recoveryCpuMs.toFixed(0)).join(', ')}`,
    );
  }
}
