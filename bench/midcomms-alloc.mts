/**
 * Bytes allocated per remote DLM cycle (EX lock + unlock from the
 * non-master, two round trips, both nodes in this process, memory link) and
 * per raw echo round trip, of the source tree TREE (default: this one), from
 * V8's sampling heap profiler with the objects that minor and major GCs
 * collected counted too (so the sum is what was allocated, not what stayed).
 * Not part of `npm run bench`: a tool for before/after comparisons of two
 * trees (run it once per tree; make the other tree with `git archive <commit>
 * | tar -x -C DIR` and a node_modules symlink). Prints the top allocating
 * functions of the DLM case too.
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/midcomms-alloc.mts [TREE] [CYCLES]
 */
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
const CYCLES = Number(process.argv[3] ?? 20000);
const src = (p: string): string => pathToFileURL(resolve(root, 'src', p)).href;

const { Dlm, LKM, MidcommsEndpoint, newLksb } = await import(src('services/dlm/index.ts'));
const { midcomms } = await import(src('services/midcomms/index.ts'));
const { Router, SVC_CMD } = await import(src('span/index.ts'));
const { memoryPair } = await import(src('transport/memory.ts'));

async function turnUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`not reached: ${what}`);
}

const routers = [0, 1].map((i) => new Router({ name: `m${i}`, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } }));
const [la, lb] = memoryPair();
routers[0]!.attach(la);
routers[1]!.attach(lb);
const mcs = routers.map((r) => midcomms(r));
await turnUntil(() => routers.every((r) => r.members('midcomms').length === 2), 'midcomms');
const endpoints = routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
const ids = endpoints.map((e) => e.nodeid as number);
const first = ids[0]! < ids[1]! ? 0 : 1;
const dlms = endpoints.map((endpoint) => new Dlm({ endpoint, hash: () => 0 }));
const ls = dlms.map((d) => d.newLockspace('bench', { lvblen: 0, members: ids }));
const master = ls[first]!;
const other = ls[1 - first]!;
let pinned = 0;
master.lock(LKM.NL, newLksb(0), 0, 'r0', () => pinned++);
await turnUntil(() => pinned === 1, 'pinned');

const echoOn = routers[first]!;
const client = routers[1 - first]!;
echoOn.serve('micro-echo', (tx: any) => {
  tx.rx$.subscribe({ next: (m: any) => tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: m.aux }), complete: () => tx.close(), error: () => {} });
});
await turnUntil(() => client.members('micro-echo').some((m: any) => !m.local), 'echo');
const tx = client.open('micro-echo', SVC_CMD.EXAMPLE_ECHO);
let waiting: (() => void) | null = null;
tx.rx$.subscribe({ next: () => waiting?.(), error: () => {} });
const aux = new Uint8Array(88);

async function raw(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((r) => {
      waiting = r;
      tx.send(SVC_CMD.EXAMPLE_ECHO, { aux });
    });
  }
}

function cycleOnce(): Promise<void> {
  return new Promise<void>((res, rej) => {
    const lksb = newLksb(0);
    let stage = 0;
    const rv = other.lock(LKM.EX, lksb, 0, 'r0', () => {
      if (stage === 0) {
        stage = 1;
        if (lksb.status !== 0) return rej(new Error(`lock status ${lksb.status}`));
        const u = other.unlock(lksb.lkid, 0, lksb);
        if (u !== 0) rej(new Error(`unlock ${u}`));
      } else res();
    });
    if (rv !== 0) rej(new Error(`lock ${rv}`));
  });
}
async function dlm(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await cycleOnce();
}

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

const session = new Session();
session.connect();
async function sampled(run: () => Promise<void>): Promise<{ total: number; byFn: Map<string, number> }> {
  await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  await run();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: Node } };
  const byFn = new Map<string, number>();
  let total = 0;
  const walk = (n: Node): void => {
    total += n.selfSize;
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return { total, byFn };
}

await raw(2000);
await dlm(2000);
const epoch = ((await import(src('iocom/multicast.ts'))) as { subscriberEpoch?: { n: number } }).subscriberEpoch;
const r = await sampled(() => raw(CYCLES));
const e0 = epoch?.n ?? NaN;
const d = await sampled(() => dlm(CYCLES));
// How often an rx$ subscriber changed during the DLM rounds (each change costs the receive tap's cached observer one full check).
if (epoch !== undefined) console.log(`subscriber changes per DLM cycle: ${((epoch.n - e0) / CYCLES).toFixed(2)}`);
console.log(`${root}: bytes per raw round trip ${(r.total / CYCLES).toFixed(0)}; per DLM cycle ${(d.total / CYCLES).toFixed(0)} (both nodes, sampling heap profile, ${CYCLES} each)`);
for (const [k, v] of [...d.byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 12))) console.log(`  ${(v / CYCLES).toFixed(0).padStart(6)}  ${k}`);
session.disconnect();
tx.close();
for (const x of dlms) x.close();
for (const e of endpoints) e.close();
for (const m of mcs) m.destroy();
for (const rt of routers) for (const l of rt.links) l.iocom.destroy();
await Promise.all(routers.map((rt) => rt.close()));
