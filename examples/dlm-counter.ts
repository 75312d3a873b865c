/**
 * A counter held in a DLM lock value block: three nodes, each connected to
 * one relay over loopback TCP, join lockspace "counters" (members found from
 * spans) and each increments the counter ROUNDS times. As with Linux's
 * DLM, each node holds an NL lock on the counter (which keeps the resource
 * and its LVB alive: the LVB goes with the last lock) and converts it up to
 * EX (the grant carries the LVB), adds one, and converts back down to NL
 * (leaving EX writes the LVB). EX serialises the read-modify-write, so no
 * update is lost: the final value, read under PR, is 3 * ROUNDS.
 *
 *   npm run example -- examples/dlm-counter.ts   (in this repository)
 *   npx tsx dlm-counter.ts                       (copied into a project that installed dmsg-mesh)
 */
import { startRelay, midcomms, Dlm, MidcommsEndpoint, joinOverSpans } from 'dmsg-mesh';
import type { DlmLockspace } from 'dmsg-mesh';

const ROUNDS = 200;
const NODES = ['n1', 'n2', 'n3'];

const relay = await startRelay({ name: 'relay', listen: ['127.0.0.1:0'] });
const nodes = await Promise.all(NODES.map((name) => startRelay({ name, connect: [relay.addresses[0]!] })));

/** Poll a condition on event-loop turns, at most ~10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Each node: midcomms sessions to the others, a DLM over them.
const mcs = nodes.map((n) => midcomms(n.router));
await until(() => nodes.every((n) => n.router.members('midcomms').length === NODES.length), 'midcomms on every node');
const endpoints = nodes.map((n, i) => new MidcommsEndpoint(n.router, mcs[i]!));
const dlms = endpoints.map((endpoint) => new Dlm({ endpoint }));
const joined = await Promise.all(nodes.map((n, i) => joinOverSpans(n.router, dlms[i]!, 'counters', { lvblen: 8 })));
await until(() => joined.every((j) => j.lockspace.raw.members.length === NODES.length), 'three members in the lockspace');
console.log(`lockspace "counters": members ${joined[0]!.lockspace.raw.members.join(', ')}`);

const read = (lvb: Uint8Array | null): number => (lvb ? new DataView(lvb.buffer, lvb.byteOffset, 8).getUint32(0, true) : 0);
const encode = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

/** ROUNDS increments under EX; returns how many this node did. */
async function worker(ls: DlmLockspace): Promise<number> {
  const lk = await ls.lock('counter', 'NL');
  let done = 0;
  for (let i = 0; i < ROUNDS; i++) {
    await lk.convert('EX');
    const value = read(lk.lvb);
    await lk.convert('NL', { lvb: encode(value + 1) });
    done++;
  }
  return done;
}

const holders = joined.map((j) => worker(j.lockspace));
const done = await Promise.all(holders);
// Every node still holds its NL lock: a PR reader sees the last value written.
const check = await joined[1]!.lockspace.lock('counter', 'PR');
const final = read(check.lvb);
await check.unlock();
const mastered = joined.map((j) => j.lockspace.raw.dump().filter((r) => r.master === j.lockspace.raw.ourNodeid).length);
console.log(`increments per node: ${done.join(', ')}; resources mastered per node: ${mastered.join(', ')}`);
console.log(`counter = ${final} (expected ${NODES.length * ROUNDS})`);
console.log(final === NODES.length * ROUNDS ? 'no lost update' : 'LOST UPDATES');

for (const j of joined) j.close();
for (const d of dlms) d.close();
for (const e of endpoints) e.close();
for (const m of mcs) m.destroy();
await Promise.all([...nodes.map((n) => n.stop()), relay.stop()]);
process.exitCode = final === NODES.length * ROUNDS ? 0 : 1;
