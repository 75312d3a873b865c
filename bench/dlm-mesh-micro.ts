/**
 * A/B tool for the remote DLM path's CPU (not part of `npm run bench`):
 * two in-process Routers (memory link, or `--tcp`: TCP on 127.0.0.1),
 * midcomms, the MidcommsEndpoint, a lockspace mastered on router 0.
 * Alternates raw echo round trips and sequential EX lock+unlock cycles from
 * the non-master, in process CPU time, and prints CPU µs per raw round trip,
 * per DLM cycle, and the per-cycle excess over two raw round trips (the
 * least and the median of ROUNDS rounds of MS wall milliseconds each; the
 * least is the steadier figure on a busy machine). Both nodes are in this
 * process, so a figure is the CPU of both ends. MICRO_ONLY=raw|dlm runs one
 * case (for --cpu-prof or strace).
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/dlm-mesh-micro.ts [--tcp] [ROUNDS] [MS]
 */
import { Dlm, LKM, MidcommsEndpoint, newLksb, type Lockspace } from '../src/services/dlm/index.ts';
import { midcomms } from '../src/services/midcomms/index.ts';
import { Router, SVC_CMD } from '../src/span/index.ts';
import { memoryPair } from '../src/transport/memory.ts';
import { connectTcp, listenTcp } from '../src/transport/tcp.ts';
import { median } from './harness.ts';

const args = process.argv.slice(2);
const tcp = args.includes('--tcp');
const nums = args.filter((a) => !a.startsWith('--')).map(Number);
const ROUNDS = nums[0] ?? 7;
const MS = nums[1] ?? 500;
const NAMES = Array.from({ length: 4 }, (_, i) => `r${i}`);

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function turnUntil(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`not reached: ${what}`);
}

const routers = [0, 1].map((i) => new Router({ name: `m${i}`, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } }));
let server: { close(): Promise<void> } | null = null;
if (tcp) {
  const s = await listenTcp({ host: '127.0.0.1', port: 0 }, (sock) => void routers[0]!.attach(sock));
  server = s;
  routers[1]!.attach(await connectTcp({ host: '127.0.0.1', port: s.address().port }));
} else {
  const [a, b] = memoryPair();
  routers[0]!.attach(a);
  routers[1]!.attach(b);
}
const mcs = routers.map((r) => midcomms(r));
await turnUntil(() => routers.every((r) => r.members('midcomms').length === 2), 'midcomms');
const endpoints = routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
const ids = endpoints.map((e) => e.nodeid);
const first = ids[0]! < ids[1]! ? 0 : 1;
const dlms = endpoints.map((endpoint) => new Dlm({ endpoint, hash: () => 0 }));
const ls = dlms.map((d) => d.newLockspace('bench', { lvblen: 0, members: ids })) as Lockspace[];
const master = ls[first]!;
const other = ls[1 - first]!;
let pinned = 0;
for (const n of NAMES) master.lock(LKM.NL, newLksb(0), 0, n, () => pinned++);
await turnUntil(() => pinned === NAMES.length, 'pinned');

const echoOn = routers[first]!;
const client = routers[1 - first]!;
echoOn.serve('micro-echo', (tx) => {
  tx.rx$.subscribe({ next: (m) => tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: m.aux }), complete: () => tx.close(), error: () => {} });
});
await turnUntil(() => client.members('micro-echo').some((m) => !m.local), 'echo');
const tx = client.open('micro-echo', SVC_CMD.EXAMPLE_ECHO);
let waiting: (() => void) | null = null;
tx.rx$.subscribe({ next: () => waiting?.(), error: () => {} });
const aux = new Uint8Array(88);

async function raw(ms: number): Promise<number> {
  const t0 = cpu();
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await new Promise<void>((resolve) => {
      waiting = resolve;
      tx.send(SVC_CMD.EXAMPLE_ECHO, { aux });
    });
    n++;
  }
  return ((cpu() - t0) * 1e6) / n;
}

function cycleOnce(name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const lksb = newLksb(0);
    let stage = 0;
    const rv = other.lock(LKM.EX, lksb, 0, name, () => {
      if (stage === 0) {
        stage = 1;
        if (lksb.status !== 0) return reject(new Error(`lock status ${lksb.status}`));
        const u = other.unlock(lksb.lkid, 0, lksb);
        if (u !== 0) reject(new Error(`unlock ${u}`));
      } else resolve();
    });
    if (rv !== 0) reject(new Error(`lock ${rv}`));
  });
}

async function dlm(ms: number): Promise<number> {
  const t0 = cpu();
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await cycleOnce(NAMES[0]!);
    n++;
  }
  return ((cpu() - t0) * 1e6) / n;
}

await raw(200);
await dlm(200);
const r: number[] = [];
const d: number[] = [];
const only = process.env.MICRO_ONLY; // 'raw' or 'dlm': one case (for strace/profiles)
for (let i = 0; i < ROUNDS; i++) {
  r.push(only === 'dlm' ? NaN : await raw(MS));
  d.push(only === 'raw' ? NaN : await dlm(MS));
}
const ex = d.map((x, i) => x - 2 * r[i]!);
const f = (a: number[]): string => `min ${Math.min(...a).toFixed(2)} median ${median(a).toFixed(2)}`;
console.log(`${tcp ? 'tcp' : 'memory'}: CPU us per raw round trip ${f(r)}; per DLM cycle ${f(d)}; cycle - 2 raw ${f(ex)}; 2 raw / cycle ${((2 * Math.min(...r)) / Math.min(...d)).toFixed(3)} (least of each)`);
tx.close();
for (const x of dlms) x.close();
for (const e of endpoints) e.close();
for (const m of mcs) m.destroy();
for (const rt of routers) for (const l of rt.links) l.iocom.destroy();
await Promise.all(routers.map((rt) => rt.close()));
await server?.close();
