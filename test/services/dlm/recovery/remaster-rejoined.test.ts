/**
 * Remaster (§4.2 phase 5b) when the directory names a node that restarted
 * and is a member again (fault seeds 1156 and 1195 of the kill/partition
 * run). An aborted run had that node depart, so the recovery driver still
 * counts it as gone (its old run's locks must be purged); the next run lost
 * the resource's master, and the directory gave mastery to the returned node
 * (a member of this run). Every other node took that answer for "no live
 * master", set the master to 0 and rebuilt none of its locks there: the new
 * master finished with none of them and no LVB, and later reads got zeros
 * without VALNOTVALID although a surviving NL lock held the value (§4.7).
 * Also: a resource left with master 0 while this node's locks on it still
 * name a departed master is remastered too.
 */
import { describe, expect, it } from 'vitest';
import { LKM, LKSTS } from '../../../../src/services/dlm/constants.ts';
import { Lock } from '../../../../src/services/dlm/lock.ts';
import type { Lockspace } from '../../../../src/services/dlm/lockspace.ts';
import { Resource } from '../../../../src/services/dlm/resource.ts';
import { remaster } from '../../../../src/services/dlm/recovery/remaster.ts';
import { RF } from '../../../../src/services/dlm/recovery/resource-flags.ts';
import type { RecoveryRun } from '../../../../src/services/dlm/recovery/recovery-run.ts';

/** Node 3's view of one resource, a granted NL process copy at `lockAt`; the run's members 1, 3, 4 (4 restarted: still in `gone`), node 2 departed. */
function scene(master: number, lockAt: number, dirAnswer: number) {
  const r = new Resource(new TextEncoder().encode('d0r'), 'd0r', 0);
  r.master = master;
  const lkb = new Lock(7, false);
  lkb.resource = r;
  lkb.nodeid = lockAt;
  lkb.grmode = LKM.NL;
  r.add(lkb, LKSTS.GRANTED);
  r.locks.add(lkb);
  const asked: number[] = [];
  const gone = new Set([2, 4]);
  const members = [1, 3, 4];
  const ls = { ourNodeid: 3, rsbs: new Map([['d0r', r]]), stats: { recovery: { remastered: 0 } } } as unknown as Lockspace;
  const run = {
    ls,
    members,
    gone,
    isGone: (n: number) => gone.has(n) || !members.includes(n),
    dirNodeOf: () => 1,
    request: (to: number, _type: number, _buf: Uint8Array, onReply: (rc: { result: number }) => void) => {
      asked.push(to);
      onReply({ result: dirAnswer });
    },
  } as unknown as RecoveryRun;
  let done = false;
  remaster(run, () => (done = true));
  return { r, asked, done: () => done };
}

describe('remaster to a node that restarted and is a member again (fault seeds 1156, 1195)', () => {
  it('takes the directory\'s answer naming a member still counted as gone from an aborted run', () => {
    const s = scene(2, 2, 4);
    expect(s.asked).toEqual([1]);
    expect(s.done()).toBe(true);
    expect(s.r.master).toBe(4);
    expect(s.r.rflags & RF.NEW_MASTER).toBe(RF.NEW_MASTER);
  });

  it('an answer naming a non-member still leaves the master unknown', () => {
    const s = scene(2, 2, 9);
    expect(s.done()).toBe(true);
    expect(s.r.master).toBe(0);
    expect(s.r.rflags & RF.NEW_MASTER).toBe(0);
  });

  it('remasters a resource whose master was forgotten (0) while its locks here name a departed master', () => {
    const s = scene(0, 2, 1);
    expect(s.asked).toEqual([1]);
    expect(s.r.master).toBe(1);
    expect(s.r.rflags & RF.NEW_MASTER).toBe(RF.NEW_MASTER);
  });

  it('leaves alone a resource with master 0 whose locks name a live master, or no master', () => {
    for (const at of [1, 0]) {
      const s = scene(0, at, 1);
      expect(s.asked).toEqual([]);
      expect(s.done()).toBe(true);
      expect(s.r.master).toBe(0);
    }
  });
});
