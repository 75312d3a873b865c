/**
 * One tree's side of bench/dlm-remote-ab.mts, loaded once per tree as its
 * own module instance (the importer adds a query string), so no function of
 * the harness is shared between the trees (shared call sites go polymorphic
 * and read the tree set up second slower in A/A runs).
 */
import { pathToFileURL } from 'node:url';

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
async function turnUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error('not reached');
}

/** One tree's pair, ready: the function running its cycles for `ms` wall ms, returning CPU µs per cycle. */
export async function pair(root: string, tcp: boolean) {
  const dlmMod = await import(pathToFileURL(`${root}/src/services/dlm/index.ts`).href);
  const mcMod = await import(pathToFileURL(`${root}/src/services/midcomms/index.ts`).href);
  const span = await import(pathToFileURL(`${root}/src/span/index.ts`).href);
  const mem = await import(pathToFileURL(`${root}/src/transport/memory.ts`).href);
  const tcpMod = await import(pathToFileURL(`${root}/src/transport/tcp.ts`).href);
  const routers = [0, 1].map((i) => new span.Router({ name: `m${i}`, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } }));
  if (tcp) {
    const s = await tcpMod.listenTcp({ host: '127.0.0.1', port: 0 }, (sock: any) => void routers[0]!.attach(sock));
    routers[1]!.attach(await tcpMod.connectTcp({ host: '127.0.0.1', port: s.address().port }));
  } else {
    const [a, b] = mem.memoryPair();
    routers[0]!.attach(a);
    routers[1]!.attach(b);
  }
  const mcs = routers.map((r: any) => mcMod.midcomms(r));
  await turnUntil(() => routers.every((r: any) => r.members('midcomms').length === 2));
  const eps = routers.map((r: any, i: number) => new dlmMod.MidcommsEndpoint(r, mcs[i]));
  const ids = eps.map((e: any) => e.nodeid);
  const first = ids[0] < ids[1] ? 0 : 1;
  const dlms = eps.map((endpoint: any) => new dlmMod.Dlm({ endpoint, hash: () => 0 }));
  const ls = dlms.map((d: any) => d.newLockspace('bench', { lvblen: 0, members: ids }));
  const PAR = Number(process.env.PAR ?? 1);
  const names = Array.from({ length: PAR }, (_, i) => `r${i}`);
  let pinned = 0;
  for (const n of names) ls[first].lock(dlmMod.LKM.NL, dlmMod.newLksb(0), 0, n, () => pinned++);
  await turnUntil(() => pinned === PAR);
  const other = ls[1 - first];
  const cycle1 = (name: string): Promise<void> => new Promise((resolve, reject) => {
    const lksb = dlmMod.newLksb(0);
    let stage = 0;
    const rv = other.lock(dlmMod.LKM.EX, lksb, 0, name, () => {
      if (stage === 0) {
        stage = 1;
        if (lksb.status !== 0) return reject(new Error(`lock ${name}: status ${lksb.status}`));
        const u = other.unlock(lksb.lkid, 0, lksb);
        if (u !== 0) reject(new Error(`unlock ${name}: returned ${u}`));
      } else resolve();
    });
    if (rv !== 0) reject(new Error(`lock ${name}: returned ${rv}`));
  });
  const cycle = PAR === 1 ? () => cycle1('r0') : () => Promise.all(names.map(cycle1));
  return async (ms: number): Promise<number> => {
    const t0 = cpu();
    const end = performance.now() + ms;
    let n = 0;
    while (performance.now() < end) {
      await cycle();
      n += PAR;
    }
    return ((cpu() - t0) * 1e6) / n;
  };
}
