/**
 * §2.7 last bullet, §4.2 steps 1 and 7: callback delivery is suspended
 * while a lockspace recovers. ASTs/BASTs that come up from stop() until the
 * recovery finishes are held and delivered after it, exactly once, in
 * order, 25 per scheduler task; an aborted recovery keeps them held.
 */
import { describe, expect, it } from 'vitest';
import { DlmSim, LKM } from '../../../../src/services/dlm/index.ts';
import { CALLBACK_BATCH } from '../../../../src/services/dlm/callback-hold.ts';
import { pinHash } from '../cluster.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, PR, EX } = LKM;

/** Stop all live nodes and start them with the live list, with every message among them held (the recovery cannot finish). */
function frozenRecovery(c: ReturnType<typeof recoveryCluster>): void {
  c.holdAmong();
  c.restart();
  c.run();
}

describe('callbacks suspended during recovery (§2.7, §4.2 steps 1/7)', () => {
  it('an AST and a BAST that come up while recovering are held until it ends, then delivered once, in order', async () => {
    const c = recoveryCluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(1, 'B');
    c.lock(a, EX, 'd0a'); // node 1 is the directory node: mastered here
    expect(await c.settle()).toEqual(['A ast 0']);
    // B's PR is blocked by A's EX (BAST to A queued), A converts down to NL (A's AST, then B's grant).
    c.lock(b, PR, 'd0a');
    c.convert(a, NL);
    // The callbacks are posted but have not run: node 3 dies, recovery starts and cannot finish.
    c.ls.get(1)!.onRecoveryDone(() => void c.log.push('recovery done'));
    c.kill(3);
    frozenRecovery(c);
    expect(c.log).toEqual([]);
    expect(c.ls.get(1)!.recovering).toBe(true);
    expect(c.ls.get(1)!.heldCallbacks).toBe(3);
    c.releaseAmong(c.live());
    expect(await c.settle()).toEqual(['recovery done', 'A bast PR', 'A ast 0', 'B ast 0']);
    expect(c.ls.get(1)!.heldCallbacks).toBe(0);
    expect(await c.settle()).toEqual([]);
  });

  it('an UNLOCK completed by recovery itself (§4.4, its master died) is held until the recovery ends', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    c.lock(m, NL, 'd2a'); // node 3 is the directory node and so the master
    const a = c.holder(2, 'A');
    c.lock(a, PR, 'd2a');
    expect((await c.settle()).sort()).toEqual(['A ast 0', 'M ast 0']);
    c.ls.get(2)!.onRecoveryDone(() => void c.log.push('recovery done'));
    c.sim.hold(2, 3);
    c.unlock(a); // in flight to node 3, never delivered
    expect(await c.settle()).toEqual([]);
    c.kill(3);
    frozenRecovery(c);
    // Deliver round by round: step 4 completes the unlock (fake EUNLOCK) while recovering; it is held.
    let heldWhileRecovering = false;
    for (let round = 0; round < 40 && c.ls.get(2)!.recovering; round++) {
      c.step();
      if (!c.ls.get(2)!.recovering) break;
      expect(c.log).toEqual([]);
      if (c.ls.get(2)!.heldCallbacks === 1) heldWhileRecovering = true;
    }
    expect(heldWhileRecovering).toBe(true);
    c.releaseAmong(c.live());
    expect(await c.settle()).toEqual(['recovery done', 'A ast EUNLOCK']);
    expect(c.ls.get(2)!.lockById(a.lksb.lkid)).toBeUndefined();
  });

  it('an aborted recovery keeps them held; the next one that finishes delivers them once', async () => {
    const c = recoveryCluster(3);
    const a = c.holder(1, 'A');
    c.lock(a, EX, 'd0a');
    c.kill(3);
    frozenRecovery(c);
    expect(c.ls.get(1)!.heldCallbacks).toBe(1);
    // A new stop() aborts the run; the next start() is frozen too.
    c.restart();
    c.run();
    expect(c.ls.get(1)!.stats.recovery.aborted).toBeGreaterThan(0);
    expect(c.log).toEqual([]);
    expect(c.ls.get(1)!.heldCallbacks).toBe(1);
    c.releaseAmong(c.live());
    expect(await c.settle()).toEqual(['A ast 0']);
    expect(await c.settle()).toEqual([]);
  });

  it('fence(): what is held is delivered, then the fence completions, even when the lockspace is stopped again at once (a node waiting to rejoin)', async () => {
    const c = recoveryCluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(1, 'B');
    c.lock(a, EX, 'd0a');
    expect(await c.settle()).toEqual(['A ast 0']);
    c.lock(b, PR, 'd0a'); // A's BAST posted, B waits
    c.kill(3);
    frozenRecovery(c);
    expect(c.ls.get(1)!.heldCallbacks).toBe(1);
    // Node 1 is excluded: fenced, and stopped again right away by its manager.
    c.ls.get(1)!.fence();
    c.ls.get(1)!.stop();
    expect(c.run()).toEqual(['A bast PR', 'A ast ENOTCONN', 'B ast ENOTCONN']);
    expect(c.ls.get(1)!.heldCallbacks).toBe(0);
    expect(c.ls.get(1)!.stopped).toBe(true);
  });

  it(`held callbacks are released ${CALLBACK_BATCH} per scheduler task, a 0 ms timer between batches; new ones queue behind them`, () => {
    const sim = new DlmSim({ nodes: [1], hash: pinHash });
    const ls = sim.node(1).newLockspace('ls', { lvblen: 0 });
    const order: number[] = [];
    const n = 2 * CALLBACK_BATCH + 10;
    for (let i = 0; i < n; i++) {
      const lksb = { lkid: 0, status: 0, flags: 0, lvb: null };
      // Granted at once (mastered here), the AST posted; it comes up after stop(): held.
      expect(ls.lock(EX, lksb, 0, `r${i}`, () => void order.push(i))).toBe(0);
    }
    ls.stop();
    sim.runPending();
    expect(ls.heldCallbacks).toBe(n);
    expect(order).toEqual([]);
    ls.start([1]); // same list: no recovery, locking and callbacks resume at once
    sim.runPending();
    expect(order.length).toBe(CALLBACK_BATCH);
    // One more AST comes up now: it waits behind the held ones.
    const late = { lkid: 0, status: 0, flags: 0, lvb: null };
    expect(ls.lock(EX, late, 0, 'late', () => void order.push(-1))).toBe(0);
    sim.runPending();
    expect(order.length).toBe(CALLBACK_BATCH);
    expect(sim.clock.pending).toBe(1);
    sim.clock.advance(0);
    sim.runPending();
    expect(order.length).toBe(2 * CALLBACK_BATCH);
    sim.clock.advance(0);
    sim.runPending();
    expect(order).toEqual([...Array.from({ length: n }, (_, i) => i), -1]);
    expect(ls.heldCallbacks).toBe(0);
    expect(sim.clock.pending).toBe(0);
  });

  it('TS API: a lock granted just before a recovery resolves only after it; an unlock to a dead master resolves after it too', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
    const ls = new Map<number, Awaited<ReturnType<ReturnType<DlmSim['node']>['join']>>>();
    for (const id of [1, 2, 3]) ls.set(id, await sim.node(id).join('ls', { lvblen: 8, members: [1, 2, 3] }));
    const m = await settledLock(sim, ls.get(3)!.lock('d2a', 'NL')); // node 3 masters d2a
    expect(m.mode).toBe('NL');
    const a = await settledLock(sim, ls.get(2)!.lock('d2a', 'PR'));
    const events: string[] = [];
    for (const id of [1, 2]) ls.get(id)!.raw.onRecoveryDone(() => void events.push(`n${id} recovered`));
    sim.hold(2, 3);
    const unlocked = a.unlock().then(() => void events.push('unlock resolved'));
    const granted = ls.get(1)!.lock('d0a', 'EX').then(() => void events.push('lock resolved'));
    // Node 3 dies before any callback ran; the survivors recover with their messages held.
    for (const other of [1, 2]) sim.hold(3, other);
    ls.get(3)!.raw.stop();
    for (const [x, y] of [[1, 2], [2, 1]] as const) sim.hold(x, y);
    for (const id of [1, 2]) ls.get(id)!.raw.stop();
    for (const id of [1, 2]) ls.get(id)!.raw.start([1, 2]);
    sim.runPending();
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    expect(events).toEqual([]);
    sim.release(1, 2);
    sim.release(2, 1);
    await sim.settle();
    await Promise.all([unlocked, granted]);
    expect(events.slice(0, 2).sort()).toEqual(['n1 recovered', 'n2 recovered']);
    expect(events.slice(2).sort()).toEqual(['lock resolved', 'unlock resolved']);
  });
});

async function settledLock<T>(sim: DlmSim, p: Promise<T>): Promise<T> {
  await sim.settle();
  return p;
}
