/**
 * Adversarial review (session 8): the LVB's lifetime against the deferred
 * unused-resource check (Lockspace.checkUnusedSoon, MicrotaskScheduler.postAfter).
 *
 * The spec (shared/spec/dlm-midcomms.md "LVB lifetime", docs/dlm.md): the
 * resource LVB is discarded as soon as the resource has no more locks on its
 * master; a later reader gets zeros. The discard happens in the unused check
 * (ResourceTable.checkUnused -> Resource.discardLvb). If that check is
 * deferred until after the pending callbacks, a lock taken again from the
 * unlock's AST (or its continuation) on a locally mastered resource finds
 * the old LVB still there and reads it, while the same lock taken a moment
 * later, or with the ManualScheduler, reads zeros: the value a reader sees
 * then depends on when it asked.
 *
 * One node, locally mastered resource, lvblen 16, a ManualClock; each case
 * runs with the node's default scheduler (MicrotaskScheduler) and with the
 * simulator's ManualScheduler.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.ts';
import { Dlm, LKF, LKM, newLksb, type Lockspace } from '../../../src/services/dlm/index.ts';
import { ManualScheduler } from '../../../src/services/dlm/scheduler.ts';

const LVBLEN = 16;
const ticks = async (n = 10): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};
const macrotask = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

function node(manual: boolean): { ls: Lockspace; scheduler: ManualScheduler | null } {
  const scheduler = manual ? new ManualScheduler() : null;
  const dlm = new Dlm({
    endpoint: { nodeid: 1, asyncReceive: true, send: () => {}, setReceiver: () => {} },
    clock: new ManualClock(),
    tossMs: 1000,
    ...(scheduler ? { scheduler } : {}),
  });
  return { ls: dlm.newLockspace('lvb', { lvblen: LVBLEN, members: [1] }), scheduler };
}

/**
 * EX with VALBLK, write 0x5a.. into the LVB, unlock with VALBLK (the unlock
 * from EX writes the resource LVB; it is the resource's last lock). Then a
 * PR|VALBLK lock on the same resource, taken `when`; returns the LVB it read.
 */
async function relockReads(manual: boolean, when: 'in the unlock AST' | 'in a continuation of the unlock AST' | 'a macrotask later', unlockFrom: 'its own grant AST' | 'another lock\'s AST' = 'its own grant AST'): Promise<number[]> {
  const { ls, scheduler } = node(manual);
  const run = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      scheduler?.runPending();
      await ticks();
    }
  };
  const reader = newLksb(LVBLEN);
  reader.lvb!.fill(0xcc); // what the grant must overwrite with the resource LVB (zeros when it has none)
  let readerGranted = false;
  const relock = (): void => {
    expect(ls.lock(LKM.PR, reader, LKF.VALBLK, 'res', () => void (readerGranted = true))).toBe(0);
  };
  const writer = newLksb(LVBLEN);
  let stage = 0;
  expect(
    ls.lock(LKM.EX, writer, LKF.VALBLK, 'res', () => {
      if (stage++ === 0) {
        writer.lvb!.fill(0x5a);
        if (unlockFrom === 'its own grant AST') expect(ls.unlock(writer.lkid, LKF.VALBLK, writer)).toBe(0);
        else {
          // From a callback of another lock (the application's usual shape: unlock one lock when another is granted).
          const other = newLksb(LVBLEN);
          expect(ls.lock(LKM.EX, other, 0, 'other', () => void expect(ls.unlock(writer.lkid, LKF.VALBLK, writer)).toBe(0))).toBe(0);
        }
        return;
      }
      // The unlock's AST: the resource has no lock now.
      if (when === 'in the unlock AST') relock();
      else if (when === 'in a continuation of the unlock AST') void Promise.resolve().then(relock);
    }),
  ).toBe(0);
  await run();
  expect(stage).toBe(2);
  if (when === 'a macrotask later') {
    await macrotask();
    relock();
  }
  await run();
  expect(readerGranted).toBe(true);
  return [...reader.lvb!];
}

describe('the LVB goes with the last lock, whenever the next lock is taken (review of the deferred unused check)', () => {
  const zeros = new Array<number>(LVBLEN).fill(0);
  for (const manual of [true, false]) {
    const sched = manual ? 'ManualScheduler' : 'MicrotaskScheduler';
    it(`${sched}: a PR|VALBLK lock taken a macrotask after the last unlock reads zeros`, async () => {
      expect(await relockReads(manual, 'a macrotask later')).toEqual(zeros);
    });
    it(`${sched}: a PR|VALBLK lock taken inside the last unlock's AST reads zeros, as one taken later does`, async () => {
      expect(await relockReads(manual, 'in the unlock AST')).toEqual(zeros);
    });
    it(`${sched}: a PR|VALBLK lock taken in a promise continuation of the last unlock's AST reads zeros`, async () => {
      expect(await relockReads(manual, 'in a continuation of the unlock AST')).toEqual(zeros);
    });
    it(`${sched}: the last unlock issued from another lock's AST; a PR|VALBLK lock taken a macrotask later reads zeros`, async () => {
      expect(await relockReads(manual, 'a macrotask later', "another lock's AST")).toEqual(zeros);
    });
    it(`${sched}: the last unlock issued from another lock's AST; a PR|VALBLK lock taken inside the unlock's AST reads zeros`, async () => {
      expect(await relockReads(manual, 'in the unlock AST', "another lock's AST")).toEqual(zeros);
    });
    it(`${sched}: the last unlock issued from another lock's AST; a PR|VALBLK lock taken in a continuation of the unlock's AST reads zeros`, async () => {
      expect(await relockReads(manual, 'in a continuation of the unlock AST', "another lock's AST")).toEqual(zeros);
    });
  }
});
