/**
 * A/B of the DLM's own CPU on the remote path between two source trees in
 * ONE process (not part of `npm run bench`): two `Dlm` nodes per tree joined
 * by a bare endpoint that delivers each message on its own microtask (as a
 * network receive would: never inside the sender's call), the node's default
 * scheduler, no midcomms, iocom or sockets. Node 2 runs sequential EX
 * lock+unlock cycles on a resource node 1 masters (PAR=n: n resources in
 * flight). Rounds alternate A B, B A, ..., in process CPU time, so load on a
 * shared machine hits both alike. Prints CPU µs per cycle (both nodes:
 * four messages encoded, decoded and handled) and the median per-round B/A.
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/dlm-core-ab.mts TREE_A TREE_B [ROUNDS] [MS]
 *   DLM_CORE_ONLY=1 npx tsx ... bench/dlm-core-ab.mts TREE [ROUNDS] [MS]   (one tree, e.g. for --cpu-prof)
 *   DLM_CORE_NULL=1 npx tsx ... bench/dlm-core-ab.mts                       (the harness alone, no DLM)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const only = process.env.DLM_CORE_ONLY === '1';
const MS_NULL = 100;
if (process.env.DLM_CORE_NULL === '1') await harnessAlone(); // exits
const nTrees = only ? 1 : 2;
const roots = process.argv.slice(2, 2 + nTrees).map((r) => resolve(r));
if (roots.length !== nTrees) {
  process.stderr.write('usage: dlm-core-ab.mts TREE_A TREE_B [ROUNDS] [MS]\n');
  process.exit(2);
}
const ROUNDS = Number(process.argv[2 + nTrees] ?? 30);
const MS = Number(process.argv[3 + nTrees] ?? 100);
const PAR = Number(process.env.PAR ?? 1);
const TICK = Promise.resolve();

/** One tree's pair, ready: the function running its cycles for `ms` wall ms, returning CPU µs per cycle. */
async function pair(root: string): Promise<(ms: number) => Promise<number>> {
  const dlmMod = await import(pathToFileURL(`${root}/src/services/dlm/index.ts`).href);
  const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  // The network copies what it is given (as midcomms does, into its receive
  // slab): into a ring of 4096-byte slots of one preallocated buffer, so the
  // copy allocates no ArrayBuffer.
  const ringBytes = new Uint8Array(1024 * 4096);
  let next = 0;
  const endpoint = (id: number) => ({
    nodeid: id,
    copiesOnSend: true,
    asyncReceive: true, // delivered on a microtask: never inside send()
    send(to: number, bytes: Uint8Array): void {
      const at = next * 4096;
      next = (next + 1) & 1023;
      ringBytes.set(bytes, at);
      const copy = new Uint8Array(ringBytes.buffer, at, bytes.length);
      void TICK.then(() => receivers.get(to)?.(id, copy));
    },
    setReceiver(fn: ((from: number, bytes: Uint8Array) => void) | null): void {
      if (fn) receivers.set(id, fn);
      else receivers.delete(id);
    },
  });
  const dlms = [1, 2].map((id) => new dlmMod.Dlm({ endpoint: endpoint(id), hash: () => 0, tossMs: 1e9 }));
  const ls = dlms.map((d: any) => d.newLockspace('bench', { lvblen: 0, members: [1, 2] }));
  const names = Array.from({ length: PAR }, (_, i) => `r${i}`);
  let pinned = 0;
  for (const n of names) ls[0].lock(dlmMod.LKM.NL, dlmMod.newLksb(0), 0, n, () => pinned++);
  for (let i = 0; i < 100 && pinned < PAR; i++) await new Promise<void>((r) => setImmediate(r));
  if (pinned !== PAR) throw new Error('not pinned');
  const other = ls[1];
  const cycle1 = (name: string): Promise<void> =>
    new Promise((res, rej) => {
      const lksb = dlmMod.newLksb(0);
      let stage = 0;
      const rv = other.lock(dlmMod.LKM.EX, lksb, 0, name, () => {
        if (stage === 0) {
          stage = 1;
          if (lksb.status !== 0) return rej(new Error(`lock ${name}: status ${lksb.status}`));
          const u = other.unlock(lksb.lkid, 0, lksb);
          if (u !== 0) rej(new Error(`unlock ${name}: returned ${u}`));
        } else res();
      });
      if (rv !== 0) rej(new Error(`lock ${name}: returned ${rv}`));
    });
  const cycle = PAR === 1 ? () => cycle1('r0') : () => Promise.all(names.map(cycle1));
  return async (ms: number): Promise<number> => {
    const t0 = cpu();
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 64; k++) await cycle();
      n += 64 * PAR;
    }
    return ((cpu() - t0) * 1e6) / n;
  };
}

const runs = [];
for (const r of roots) runs.push(await pair(r));
for (const run of runs) await run(300); // warm-up
const per: number[][] = runs.map(() => []);
for (let i = 0; i < ROUNDS; i++) {
  // A B, then B A: neither always runs first.
  const order = i % 2 ? [...runs.keys()].reverse() : [...runs.keys()];
  for (const k of order) per[k]!.push(await runs[k]!(MS));
}
const med = (x: number[]): number => {
  const s = [...x].sort((p, q) => p - q);
  return s[s.length >> 1]!;
};
const desc = per.map((x, k) => `${k === 0 ? 'A' : 'B'} ${roots[k]} median ${med(x).toFixed(3)} min ${Math.min(...x).toFixed(3)}`).join('; ');
const ratio = per.length === 2 ? `; B/A per round median ${med(per[0]!.map((x, i) => per[1]![i]! / x)).toFixed(3)}` : '';
console.log(`core CPU us per cycle (PAR=${PAR}, ${ROUNDS} rounds of ${MS} ms): ${desc}${ratio}`);
process.exit(0);

/**
 * The harness's own work per cycle, without a DLM (DLM_CORE_NULL=1): the
 * same endpoint (a copy into the ring, a view, a closure and a promise
 * reaction per message), four messages per cycle, the completion hop on a
 * microtask as a scheduler would, and the cycle's promise. What the core
 * figures include besides the DLM.
 */
async function harnessAlone(): Promise<never> {
  const tick = Promise.resolve();
  const ringBytes = new Uint8Array(1024 * 4096);
  let next = 0;
  const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  const send = (id: number, to: number, bytes: Uint8Array): void => {
    const at = next * 4096;
    next = (next + 1) & 1023;
    ringBytes.set(bytes, at);
    const copy = new Uint8Array(ringBytes.buffer, at, bytes.length);
    void tick.then(() => receivers.get(to)?.(id, copy));
  };
  const reply = new Uint8Array(88);
  const request = new Uint8Array(92);
  let pending: (() => void) | null = null;
  let stage = 0;
  receivers.set(1, (from) => send(1, from, reply)); // the "master" answers each message
  receivers.set(2, () => {
    void tick.then(() => {
      if (stage === 0) {
        stage = 1;
        send(2, 1, reply); // the "unlock"
      } else {
        const done = pending!;
        pending = null;
        done();
      }
    });
  });
  const cycle = (): Promise<void> =>
    new Promise((res) => {
      stage = 0;
      pending = res;
      send(2, 1, request);
    });
  const run = async (ms: number): Promise<number> => {
    const t0 = cpu();
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 64; k++) await cycle();
      n += 64;
    }
    return ((cpu() - t0) * 1e6) / n;
  };
  await run(300);
  const xs: number[] = [];
  for (let i = 0; i < 20; i++) xs.push(await run(MS_NULL));
  xs.sort((a, b) => a - b);
  console.log(`harness alone (no DLM): CPU us per cycle median ${xs[10]!.toFixed(3)} min ${xs[0]!.toFixed(3)} (20 rounds of ${MS_NULL} ms)`);
  process.exit(0);
}
