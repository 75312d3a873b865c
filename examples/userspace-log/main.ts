/**
 * dm-log-userspace over the mesh: a "kernel" node sends sequenced log
 * requests to the userspace log server, which runs clustered on two nodes
 * (one active at a time, chosen by a DLM EX lock). The first server loses a
 * reply, then stops mid-request; the client resends on its timeout (0.5 s
 * here, 15 s in the kernel) and the standby, now granted the lock, answers.
 *
 *   npm run example -- examples/userspace-log/main.ts   (in this repository)
 */
import { DlmSim, Router, memoryPair } from 'dmsg-mesh';
import { UlogClient } from './client.ts';
import { ClusteredLogServer } from './clustered-server.ts';
import type { ReplyFate } from './log-server.ts';
import { LogStore } from './region-log.ts';
import { ULOG, readU64s, u64, type UlogRequest } from './request.ts';
import { SpanChannel } from './span-channel.ts';

const quiet = { iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } };
const kernel = new Router({ name: 'kernel', ...quiet });
const nodes = [new Router({ name: 'srv1', ...quiet }), new Router({ name: 'srv2', ...quiet })];
for (const n of nodes) {
  const [a, b] = memoryPair();
  kernel.attach(a);
  n.attach(b);
}

// The DLM lockspace of the two server nodes (simulated in process; sim.settle() runs it).
const sim = new DlmSim({ nodes: [1, 2] });
const store = new LogStore(); // the log device both servers share
let dropOne = true;
let holdOne = true;
const fault = (req: UlogRequest): ReplyFate => {
  if (req.type === ULOG.MARK_REGION && dropOne) {
    dropOne = false;
    return 'drop';
  }
  if (req.type === ULOG.GET_SYNC_COUNT && holdOne) {
    holdOne = false;
    return 'hold';
  }
  return 'send';
};
const servers = [
  new ClusteredLogServer(nodes[0]!, await sim.node(1).join('ulog', { members: [1, 2] }), { store, fault }),
  new ClusteredLogServer(nodes[1]!, await sim.node(2).join('ulog', { members: [1, 2] }), { store, fault }),
];
const started = servers.map((s) => s.start());
await sim.settle();
const active = servers.find((s) => s.active)!;
const standby = servers.find((s) => !s.active)!;
console.log(`active log server: ${active.router.name}; standby: ${standby.router.name}`);

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000 && !check(); i++) await new Promise((r) => setImmediate(r));
  if (!check()) throw new Error(`not reached: ${what}`);
}
await waitFor(() => kernel.spans('ulog').length > 0, 'the kernel sees the log server');

const ulog = new UlogClient(new SpanChannel(kernel), { timeoutMs: 500 });
const uuid = 'mirror-demo';
await ulog.request(1n, uuid, ULOG.CTR, u64(4096n, 8n));
await ulog.request(1n, uuid, ULOG.MARK_REGION, u64(2n)); // the first reply is lost: resent after the timeout
console.log(`region 2 clean: ${readU64s(await ulog.request(1n, uuid, ULOG.IS_CLEAN, u64(2n)))[0] === 1n}`);
await ulog.request(1n, uuid, ULOG.SET_REGION_SYNC, u64(5n, 1n));

// The active server stops with a request in hand; the standby takes over.
const pending = ulog.request(1n, uuid, ULOG.GET_SYNC_COUNT);
await waitFor(() => (active.server?.stats.held ?? 0) === 1, 'the request reached the active server');
const stopping = active.stop();
await sim.settle();
await stopping;
await started[servers.indexOf(standby)];
await waitFor(() => kernel.spans('ulog')[0]?.node === standby.router.nodeId, 'the kernel sees the standby');
console.log(`${active.router.name} stopped; ${standby.router.name} active: ${standby.active}`);
console.log(`regions in sync: ${readU64s(await pending)[0]}`);
console.log(`client: ${ulog.stats.sent} sends, ${ulog.stats.timeouts} timeouts, ${ulog.stats.stale} stale replies`);

const last = standby.stop();
await sim.settle();
await last;
await kernel.close();
await Promise.all(nodes.map((n) => n.close()));
console.log('done');
