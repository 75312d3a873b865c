/**
 * Fencing tokens guarding storage (docs/dlm.md "Fencing tokens"): every
 * PW/EX grant carries `lk.fence`, a number that only rises per resource
 * across all holders. A storage service that remembers the highest token
 * it has seen per resource and refuses writes with a lower one keeps a
 * holder that was paused (GC, swap, a stopped VM) or cut off from writing
 * after its lock went to someone else: the lock alone cannot, because the
 * paused holder does not know it lost the lock (Chubby's sequencers; etcd
 * issue #11456 shows the failure without them).
 *
 * The demo: two DLM nodes (an in-process simulated network, DlmSim). Client
 * A on node 1 takes EX on "block-7", writes, then pauses in the middle of a
 * second write. Its lease runs out and the lock is taken from it (here a
 * supervisor force-unlocks it; in a cluster, recovery does the same when
 * node 1 is cut off). Client B on node 2 gets EX with a higher token and
 * writes. A wakes up and its late write reaches storage: refused.
 *
 *   npm run example -- examples/fenced-storage.ts   (in this repository)
 *   npx tsx fenced-storage.ts                       (copied into a project that installed dmsg-mesh)
 */
import { DlmSim } from 'dmsg-mesh';
import type { DlmLock } from 'dmsg-mesh';

/** The storage side: one high-water mark per resource, writes below it refused. */
class FencedStore {
  readonly #highest = new Map<string, number>();
  readonly #data = new Map<string, string>();

  /** Write `value` under `token`; the same holder may write again with the same token. */
  write(resource: string, token: number, value: string): { ok: true } | { ok: false; reason: string } {
    if (!Number.isSafeInteger(token) || token <= 0) return { ok: false, reason: 'no fencing token (the lock does not hold PW or EX)' };
    const highest = this.#highest.get(resource) ?? 0;
    if (token < highest) return { ok: false, reason: `stale token ${token} < ${highest}` };
    this.#highest.set(resource, token);
    this.#data.set(resource, value);
    return { ok: true };
  }

  read(resource: string): string | undefined {
    return this.#data.get(resource);
  }
}

const sim = new DlmSim({ nodes: [1, 2] });
/** Run the simulated network until `p` settles. */
async function drive<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const q = p.finally(() => (done = true));
  for (let i = 0; i < 100 && !done; i++) await sim.settle({ timers: false });
  return q;
}

const store = new FencedStore();
const RES = 'block-7';
const ls1 = await sim.node(1).join('storage', { members: [1, 2] });
const ls2 = await sim.node(2).join('storage', { members: [1, 2] });

function show(who: string, lk: DlmLock, value: string): void {
  const r = store.write(RES, lk.fence, value);
  console.log(`${who} writes "${value}" with token ${lk.fence}: ${r.ok ? 'accepted' : `refused (${r.reason})`}`);
}

// A takes EX and writes.
const a = await drive(ls1.lock(RES, 'EX'));
console.log(`A (node 1) holds EX on ${RES}, token ${a.fence}`);
show('A', a, 'v1 from A');

// A starts a second write and pauses before it reaches storage.
const tokenA = a.fence;
const lateWrite = (): ReturnType<FencedStore['write']> => store.write(RES, tokenA, 'v2 from A (late)');
console.log('A pauses in the middle of a write ...');

// A's lease runs out: the lock is taken from it.
await drive(a.unlock({ force: true }));
console.log(`A's lock is revoked (A does not know: it is paused)`);

// B on node 2 gets EX, with a higher token, and writes.
const b = await drive(ls2.lock(RES, 'EX'));
console.log(`B (node 2) holds EX on ${RES}, token ${b.fence}`);
show('B', b, 'v2 from B');
const tokenB = b.fence;

// A wakes up; its write finally lands.
const late = lateWrite();
console.log(`A wakes up; its late write with token ${tokenA}: ${late.ok ? 'accepted' : `refused (${late.reason})`}`);

// A reader under PR has no token (B's own token reads 0 once it converts
// down to PR): the store refuses its writes too.
await drive(b.convert('PR'));
const reader = await drive(ls1.lock(RES, 'PR'));
show('a PR reader', reader, 'v3 from a reader');

console.log(`${RES} = "${store.read(RES)}"`);
const ok = !late.ok && store.read(RES) === 'v2 from B' && tokenB > tokenA && reader.fence === 0;
await drive(reader.unlock());
await drive(b.unlock());
await drive(ls1.leave());
await drive(ls2.leave());
console.log(ok ? 'stale write refused: fencing works' : 'FENCING FAILED');
process.exitCode = ok ? 0 : 1;
