/**
 * Adversarial review (session 9) of the DLM's MicrotaskScheduler
 * (scheduler.ts), which runs every AST/BAST and the deferred bookkeeping,
 * as its microtasks are trimmed. Random programs of the calls the node and
 * the lockspaces make: post() and postAfter() from the top level, from
 * inside received messages (beginReceive/endReceive, nested: a transport
 * that delivers synchronously), from inside lock()/unlock() calls
 * (beginCall/endCall, with receives nested in them), and from inside tasks;
 * tasks that throw (onError's count).
 *
 * Checked on every program: each task runs exactly once; post() tasks in
 * the order posted; none runs inside a lock()/unlock() call (§2.6), nor
 * synchronously inside post()/postAfter(); every throw reaches onError once
 * and the other tasks still run.
 *
 * BUG found here (were it.fails; fixed by dlm9: a postAfter microtask that
 * finds post() tasks pending leaves its tasks to the end of their drain),
 * with a three-call repro: postAfter() is
 * documented to run its task "once the tasks pending now have run", but
 * when a postAfter microtask is already queued (an earlier postAfter at
 * idle), a later postAfter task joins it and runs BEFORE post() tasks that
 * were pending at its call: postAfter(X) at idle; post(T); postAfter(Y) runs
 * X, Y, T. In the DLM (queueCast: destroyLock's checkUnusedSoon -> postAfter,
 * then the AST's post), an unlock outside any receive or drain (e.g. of a
 * locally mastered lock from application code) checks the resource for
 * retirement BEFORE its unlock AST runs: a lock taken again from that AST
 * finds the resource queued for retirement (a clock read, a retirement entry,
 * a revive), what unused-soon.ts exists to avoid. Found with seed 3 of the
 * random programs (DLM_SCHED_DEBUG=1 prints the count per seed).
 *
 * Seeds fixed, in the test name; DLM_SCHED_SEEDS=n runs n more.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.ts';
import { Dlm, newLksb } from '../../../src/services/dlm/index.ts';
import { MicrotaskScheduler } from '../../../src/services/dlm/scheduler.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

async function program(seed: number) {
  const rand = lcg(Math.imul(seed, 0x9e3779b1) >>> 0);
  const failures: string[] = [];
  /** postAfter tasks that ran before post() tasks pending at their call (the BUG below, fixed): asserted empty. */
  const afterEarly: string[] = [];
  let errors = 0;
  const sched = new MicrotaskScheduler(() => void errors++);
  let calls = 0;
  let inPost = 0;
  let nextId = 0;
  let thrown = 0;
  const ran: number[] = [];
  const runCount = new Map<number, number>();
  const postOrder: number[] = [];
  /** For each postAfter task: the post() tasks posted before it. */
  const afterNeeds = new Map<number, number>();
  const isAfter = new Set<number>();
  let budget = 400;

  const task = (id: number, depth: number) => (): void => {
    if (calls > 0) failures.push(`task ${id} ran inside a lock()/unlock() call`);
    if (inPost > 0) failures.push(`task ${id} ran synchronously inside post()/postAfter()`);
    runCount.set(id, (runCount.get(id) ?? 0) + 1);
    ran.push(id);
    if (isAfter.has(id)) {
      const need = afterNeeds.get(id)!;
      for (let i = 0; i < need; i++) if (!runCount.has(postOrder[i]!)) afterEarly.push(`postAfter task ${id} ran before post() task ${postOrder[i]} posted earlier`);
    }
    if (depth < 3) act(depth + 1, 2);
    if (rand() < 0.08) {
      thrown++;
      throw new Error(`planted ${id}`);
    }
  };
  const post = (depth: number): void => {
    const id = nextId++;
    postOrder.push(id);
    inPost++;
    sched.post(task(id, depth));
    inPost--;
  };
  const postAfter = (depth: number): void => {
    const id = nextId++;
    isAfter.add(id);
    afterNeeds.set(id, postOrder.length);
    inPost++;
    sched.postAfter(task(id, depth));
    inPost--;
  };
  /** Up to `n` random actions. */
  function act(depth: number, n: number): void {
    for (let i = 0; i < n && budget > 0; i++) {
      budget--;
      const r = rand();
      if (r < 0.35) post(depth);
      else if (r < 0.5) postAfter(depth);
      else if (r < 0.75 && depth < 4) {
        sched.beginReceive();
        act(depth + 1, 1 + Math.floor(rand() * 3));
        sched.endReceive();
      } else if (depth < 4) {
        // A lock()/unlock() call: posts (its AST later), sometimes a receive nested in it.
        calls++;
        sched.beginCall();
        act(depth + 1, 1 + Math.floor(rand() * 3));
        sched.endCall();
        calls--;
      }
    }
  }
  while (budget > 0) {
    act(0, 1 + Math.floor(rand() * 4));
    const waits = Math.floor(rand() * 3);
    for (let i = 0; i < waits; i++) await null;
  }
  for (let i = 0; i < 50; i++) await null;
  await new Promise<void>((r) => setImmediate(r));
  const postRan = ran.filter((id) => !isAfter.has(id));
  return { afterEarly, failures, ran, runCount, nextId, postOrder, postRan, errors, thrown };
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
for (let i = 0; i < Number(process.env.DLM_SCHED_SEEDS ?? 0); i++) SEEDS.push(100 + i);

describe('DLM MicrotaskScheduler under random nesting (review9)', () => {
  it(`seeds ${SEEDS.join(',')}: each task once, post() FIFO, never inside a call or post(), throws reported`, async () => {
    let total = 0;
    for (const seed of SEEDS) {
      const r = await program(seed);
      expect(r.failures.slice(0, 5), `seed ${seed}`).toEqual([]);
      if (process.env.DLM_SCHED_DEBUG && r.afterEarly.length > 0) console.log(`seed ${seed}: ${r.afterEarly.length} postAfter tasks ran early, e.g. ${r.afterEarly[0]}`);
      expect(r.afterEarly.slice(0, 3), `seed ${seed}: no postAfter task before a post() task posted earlier`).toEqual([]);
      for (let id = 0; id < r.nextId; id++) if (r.runCount.get(id) !== 1) expect.fail(`seed ${seed}: task ${id} ran ${r.runCount.get(id) ?? 0} times`);
      expect(r.postRan, `seed ${seed}: post() tasks in the order posted`).toEqual(r.postOrder);
      expect(r.errors, `seed ${seed}: every throw reported once`).toBe(r.thrown);
      total += r.nextId;
    }
    expect(total).toBeGreaterThan(SEEDS.length * 100);
  });
});

describe('BUG (review9): postAfter runs before post() tasks pending at its call', () => {
  it('postAfter(X) at idle; post(T); postAfter(Y): Y runs after T (it ran X, Y, T before the fix)', async () => {
    const order: string[] = [];
    const s = new MicrotaskScheduler(() => {});
    s.postAfter(() => void order.push('X'));
    s.post(() => void order.push('T'));
    s.postAfter(() => void order.push('Y'));
    for (let i = 0; i < 10; i++) await null;
    expect(order.indexOf('Y'), order.join(',')).toBeGreaterThan(order.indexOf('T'));
  });

  it('a locally mastered lock unlocked from application code, locked again from its unlock AST: no retirement entry (it was queued for retirement before the AST ran, before the fix)', async () => {
    const clock = new ManualClock();
    const dlm = new Dlm({
      endpoint: { nodeid: 1, asyncReceive: true, send: () => {}, setReceiver: () => {} },
      clock,
      tossMs: 1000,
    });
    const ls = dlm.newLockspace('local', { lvblen: 0, members: [1] });
    const lksb = newLksb(0);
    const again = newLksb(0);
    let granted = 0;
    let tossInAst: number | null | undefined;
    let relocked = -1;
    // The lock's AST: its grant, then (status EUNLOCK) its unlock's completion, which locks the name again.
    const ast = (): void => {
      if (lksb.status === 0) {
        granted++;
        return;
      }
      tossInAst = ls.rsbs.get('x')?.toss;
      relocked = ls.lock(5, again, 0, 'x', () => {}, undefined, undefined);
    };
    expect(ls.lock(5, lksb, 0, 'x', ast, undefined, undefined)).toBe(0);
    for (let i = 0; i < 10; i++) await null;
    expect(granted).toBe(1);
    expect(ls.unlock(lksb.lkid, 0, lksb)).toBe(0);
    for (let i = 0; i < 10; i++) await null;
    expect(relocked, 'the unlock AST ran and locked again').toBe(0);
    expect(again.status).toBe(0);
    expect(tossInAst ?? null, 'not queued for retirement when its unlock AST runs').toBeNull();
    expect(clock.pending, 'no retirement timer armed').toBe(0);
  });
});
