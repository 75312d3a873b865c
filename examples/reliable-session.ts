/**
 * A reliable session between two nodes across a relay that dies mid-stream:
 * node A streams numbered DLM messages to node B over midcomms; both reach
 * each other through relay r1 and relay r2; the relay carrying the session
 * is stopped half way. The
 * session opens a new transaction through r2 and resends what B had not
 * acknowledged; B gets every message once, in order.
 *
 *   npm run example -- examples/reliable-session.ts   (in this repository)
 *   npx tsx reliable-session.ts                       (copied into a project that installed dmsg-mesh)
 */
import { startRelay, midcomms, encodeDlmMessage, DLM_CMD } from 'dmsg-mesh';

const TOTAL = 20_000;

// Two relays on loopback; A and B each dial both.
const r1 = await startRelay({ name: 'r1', listen: ['127.0.0.1:0'] });
const r2 = await startRelay({ name: 'r2', listen: ['127.0.0.1:0'] });
const a = await startRelay({ name: 'A', connect: [r1.addresses[0]!, r2.addresses[0]!] });
const b = await startRelay({ name: 'B', connect: [r1.addresses[0]!, r2.addresses[0]!] });

const mcA = midcomms(a.router);
const mcB = midcomms(b.router);
// Wait until each node sees the other's midcomms instance.
for (let i = 0; i < 10_000; i++) {
  const seen = (from: typeof a, to: typeof b): boolean => from.router.spans('midcomms').some((s) => s.node === to.router.nodeId);
  if (seen(a, b) && seen(b, a)) break;
  await new Promise((r) => setTimeout(r, 5));
}

const toB = mcA.session(b.router.nodeId);
const fromA = mcB.session(a.router.nodeId);

let received = 0;
let outOfOrder = 0;
const done = new Promise<void>((resolve) => {
  fromA.messages$.subscribe((m) => {
    const n = new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(16, true);
    if (n !== received) outOfOrder++;
    received++;
    if (received === TOTAL) resolve();
  });
});

/** A 88-byte DLM MSG carrying `n` (lockspace 1). */
function message(n: number): Uint8Array {
  const body = new Uint8Array(72);
  new DataView(body.buffer).setUint32(0, n, true);
  return encodeDlmMessage(DLM_CMD.MSG, 1, body);
}

let stopped = false;
for (let n = 0; n < TOTAL - 1; n++) {
  await toB.send(message(n)); // waits only when the send window is full
  if (n === TOTAL / 2 && !stopped) {
    stopped = true;
    // The relay that has carried more messages is the one on the session's path.
    const carried = (r: typeof r1): number => r.router.links.reduce((sum, l) => sum + l.iocom.stats().messagesIn, 0);
    const [victim, name] = carried(r1) >= carried(r2) ? [r1, 'r1'] : [r2, 'r2'];
    console.log(`sent ${n}; stopping relay ${name} (on the session's path) mid-stream`);
    void victim.stop();
  }
  if (n % 1000 === 0) await new Promise((r) => setImmediate(r));
}
await toB.sendAcked(message(TOTAL - 1)); // the last one: resolves when B acknowledged it (and so all before it)
let timer: ReturnType<typeof setTimeout> | undefined;
await Promise.race([done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${received} of ${TOTAL} arrived`)), 30_000)))]);
clearTimeout(timer);
const s = toB.stats();
console.log(`B received ${received} of ${TOTAL}, ${outOfOrder} out of order`);
console.log(`A: ${s.channelsOpened} channel(s) opened, ${s.retransmits} retransmitted, ${s.queueMessages} unacknowledged`);
console.log(received === TOTAL && outOfOrder === 0 ? 'nothing lost' : 'LOST MESSAGES');

mcA.destroy();
mcB.destroy();
await Promise.all([a.stop(), b.stop(), r1.stop(), r2.stop()]);
