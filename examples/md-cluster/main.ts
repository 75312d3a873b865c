/**
 * md-cluster's message passing on the DLM: three nodes of a clustered md
 * array (one DLM lockspace, simulated in process so the run is the same
 * every time) join, probe each other's bitmap slots, broadcast
 * METADATA_UPDATED, RESYNCING (building each node's suspend list) and
 * NEWDISK (agreed through the no-new-dev lock), two senders at once.
 *
 *   npm run example -- examples/md-cluster/main.ts   (in this repository)
 */
import { DlmSim } from 'dmsg-mesh';
import { MdNode } from './md-node.ts';
import { MSG, MD_LVBLEN } from './message.ts';

const ids = [1, 2, 3];
const sim = new DlmSim({ nodes: ids });
const nodes: MdNode[] = [];
for (const id of ids) {
  const ls = await sim.node(id).join('md-4f3c9a', { lvblen: MD_LVBLEN, members: ids });
  nodes.push(new MdNode(ls, { slots: 4, acceptDisk: () => true })); // md slot = DLM slot - 1
}

/** Run the simulation until `p` is done (every message and callback delivered). */
async function run<T>(what: string, p: Promise<T>): Promise<T> {
  let done = false;
  const q = p.finally(() => (done = true));
  await sim.settle();
  if (!done) throw new Error(`${what}: still waiting after the simulation settled`);
  return q;
}

for (const n of nodes) {
  const probes = await run(`join of slot ${n.mdSlot}`, n.join());
  console.log(`md slot ${n.mdSlot} joined; probed ${probes.map((p) => `${p.mdSlot}:${p.state}`).join(' ')}`);
}

await run('metadata update', nodes[0]!.metadataUpdate(() => console.log('slot 0 writes the superblock under the token')));
console.log(`METADATA_UPDATED processed by ${nodes.filter((n) => n.received.some((m) => m.type === MSG.METADATA_UPDATED)).length} nodes`);

await run('two resyncs', Promise.all([nodes[1]!.resyncing(0n, 4096n), nodes[2]!.resyncing(8192n, 16384n)]));
for (const n of nodes) console.log(`slot ${n.mdSlot} suspend list: ${[...n.suspended].map(([s, r]) => `${s}:[${r.low},${r.high})`).join(' ') || '(empty)'}`);

const agreed = await run('new disk', nodes[0]!.addNewDisk(new Uint8Array(16).fill(7), 3));
console.log(`NEWDISK: ${agreed ? 'every node took the disk' : 'refused by some node'}`);

const total = nodes.reduce((a, n) => a + n.sent, 0);
console.log(`${total} broadcasts, ${nodes.reduce((a, n) => a + n.received.length, 0)} receipts, errors: ${nodes.reduce((a, n) => a + n.errors.length, 0)}`);
await run('leave', Promise.all(nodes.map((n) => n.close())));
console.log('done');
