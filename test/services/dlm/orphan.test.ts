/**
 * Owners, orphans, purge (spec §2.11) and lockspace release force levels
 * (§1.2): closeOwner() orphans PERSISTENT locks and force-unlocks the rest
 * with IVVALBLK; ORPHAN adoption; purge by (node, pid) here and by a PURGE
 * message; release(0..3).
 */
import { describe, expect, it } from 'vitest';
import { Dlm, DLM_ERRNO, DlmSim, isDlmError, LKF, LKM, SBF } from '../../../src/services/dlm/index.ts';
import { emptyMessage, MSG } from '../../../src/services/dlm/message.ts';
import { cluster } from './cluster.ts';
import { singleNode, type Holder } from './harness.ts';
import { injectMessage, lockOwned, masterOn } from '../../helpers/dlm-owner-steps.ts';

function owned(t: ReturnType<typeof singleNode>, h: Holder, mode: number, owner: number, flags = 0, name = 'res'): number {
  return t.ls.lock(mode, h.lksb, flags, name, h.ast, undefined, h.bast, owner);
}

describe('closeOwner', () => {
  it('a non-PERSISTENT EX lock is force-unlocked with IVVALBLK: the next holder sees VALNOTVALID; no callback reaches the closed owner', () => {
    const t = singleNode();
    const a = t.holder('a');
    const b = t.holder('b');
    expect(owned(t, a, LKM.EX, 7, LKF.VALBLK)).toBe(0);
    t.run();
    expect(t.lock(b, LKM.PR, LKF.VALBLK)).toBe(0);
    expect(t.run()).toEqual(['a bast PR']);
    expect(t.ls.closeOwner(7)).toEqual({ orphaned: 0, unlocked: 1 });
    expect(t.run()).toEqual([`b ast 0 sb=${SBF.VALNOTVALID}`]);
    expect(t.ls.orphans).toEqual([]);
  });

  it('a PERSISTENT granted lock becomes an orphan and keeps its mode; locks of other owners are untouched', () => {
    const t = singleNode();
    const a = t.holder('a');
    const other = t.holder('other');
    const b = t.holder('b');
    expect(owned(t, a, LKM.EX, 7, LKF.PERSISTENT)).toBe(0);
    expect(owned(t, other, LKM.NL, 8, 0, 'res2')).toBe(0);
    t.run();
    expect(t.ls.closeOwner(7)).toEqual({ orphaned: 1, unlocked: 0 });
    expect(t.ls.orphans.map((l) => [l.lkid, l.grmode, l.ownpid])).toEqual([[a.lksb.lkid, LKM.EX, 7]]);
    expect(t.lock(b, LKM.PR)).toBe(0);
    // Still blocked by the orphan; the orphan's owner gets no BAST.
    expect(t.run()).toEqual([]);
    expect(t.queues()).toMatch(/^G\[\d+:EX\] C\[\] W\[\d+:IV>PR\]$/);
    expect(t.ls.lockById(other.lksb.lkid)?.grmode).toBe(LKM.NL);
  });

  it('PERSISTENT: an in-progress conversion is cancelled (granted mode kept); a request never granted just goes', () => {
    const t = singleNode();
    const holder = t.holder('holder');
    const a = t.holder('a');
    const w = t.holder('w');
    t.lock(holder, LKM.PR);
    expect(owned(t, a, LKM.PR, 7, LKF.PERSISTENT)).toBe(0);
    t.run();
    expect(t.convert(a, LKM.EX, LKF.PERSISTENT)).toBe(0);
    expect(owned(t, w, LKM.EX, 7, LKF.PERSISTENT)).toBe(0);
    t.run();
    expect(t.ls.closeOwner(7)).toEqual({ orphaned: 1, unlocked: 0 });
    expect(t.run()).toEqual([]);
    const orphans = t.ls.orphans;
    expect(orphans.map((l) => [l.lkid, l.grmode, l.rqmode])).toEqual([[a.lksb.lkid, LKM.PR, LKM.IV]]);
    expect(t.ls.lockById(w.lksb.lkid)).toBeUndefined();
  });
});

describe('adoption (LKF.ORPHAN)', () => {
  it('same mode: 0, the orphan lkid, a completion 0; other mode: EAGAIN; none: ENOENT', () => {
    const t = singleNode();
    const a = t.holder('a');
    expect(owned(t, a, LKM.PW, 7, LKF.PERSISTENT | LKF.VALBLK)).toBe(0);
    t.run();
    a.lksb.lvb!.set([1, 2, 3]);
    t.ls.closeOwner(7);
    const n = t.holder('n');
    expect(owned(t, n, LKM.EX, 9, LKF.ORPHAN)).toBe(DLM_ERRNO.EAGAIN);
    expect(owned(t, n, LKM.PW, 9, LKF.ORPHAN, 'nothing-here')).toBe(DLM_ERRNO.ENOENT);
    expect(t.run()).toEqual([]);
    expect(owned(t, n, LKM.PW, 9, LKF.ORPHAN)).toBe(0);
    expect(n.lksb.lkid).toBe(a.lksb.lkid);
    expect(t.run()).toEqual(['n ast 0']);
    expect(n.lksb.fence).toBeGreaterThan(0);
    expect([...n.lksb.lvb!.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(t.ls.orphans).toEqual([]);
    expect(t.ls.lockById(n.lksb.lkid)!.ownpid).toBe(9);
    // Adopted: an ordinary lock of owner 9 again.
    expect(t.ls.lock(LKM.PW, n.lksb, LKF.ORPHAN, 'res', n.ast, undefined, n.bast, 10)).toBe(DLM_ERRNO.ENOENT);
    expect(t.unlock(n)).toBe(0);
    expect(t.run()).toEqual(['n ast EUNLOCK']);
  });

  it('a remote orphan (process copy) is adopted and then unlocked through its master', () => {
    const c = cluster(3);
    const a = c.holder(2, 'a');
    // 'd0..' has directory node 1; node 1 masters it.
    const m = c.holder(1, 'm');
    expect(c.lock(m, LKM.NL, 'd0o')).toBe(0);
    c.run();
    expect(lockOwned(c, a, LKM.EX, 'd0o', 7, LKF.PERSISTENT)).toBe(0);
    expect(c.run()).toEqual(['a ast 0']);
    c.ls.get(2)!.closeOwner(7);
    expect(c.ls.get(2)!.orphans).toHaveLength(1);
    const n = c.holder(2, 'n');
    expect(lockOwned(c, n, LKM.EX, 'd0o', 8, LKF.ORPHAN)).toBe(0);
    expect(c.run()).toEqual(['n ast 0']);
    expect(c.unlock(n)).toBe(0);
    expect(c.run()).toEqual(['n ast EUNLOCK']);
    expect(c.ls.get(1)!.dump().find((r) => r.name === 'd0o')!.grant.map((l) => l.grmode)).toEqual([LKM.NL]);
  });
});

describe('purge', () => {
  it('here: by pid (others kept), then pid 0 = all; a purged EX orphan invalidates the LVB', () => {
    const t = singleNode();
    const a = t.holder('a');
    const b = t.holder('b');
    const w = t.holder('w');
    expect(owned(t, a, LKM.EX, 7, LKF.PERSISTENT | LKF.VALBLK)).toBe(0);
    expect(owned(t, b, LKM.NL, 8, LKF.PERSISTENT, 'res2')).toBe(0);
    t.run();
    t.ls.closeOwner(7);
    t.ls.closeOwner(8);
    expect(t.ls.orphans).toHaveLength(2);
    expect(t.lock(w, LKM.PR, LKF.VALBLK)).toBe(0);
    t.run();
    expect(t.ls.purge(0, 9)).toBe(0);
    expect(t.run()).toEqual([]);
    expect(t.ls.orphans).toHaveLength(2);
    expect(t.ls.purge(1, 7)).toBe(0);
    expect(t.run()).toEqual([`w ast 0 sb=${SBF.VALNOTVALID}`]);
    expect(t.ls.orphans.map((l) => l.ownpid)).toEqual([8]);
    expect(t.ls.purge(0, 0)).toBe(0);
    expect(t.ls.orphans).toEqual([]);
    expect(t.ls.purge(0, -1)).toBe(DLM_ERRNO.EINVAL);
  });

  it('remote: a PURGE message carries (nodeid, pid); the owner node purges, the waiter on a third node is granted', () => {
    const c = cluster(3);
    const a = c.holder(2, 'a');
    const w = c.holder(3, 'w');
    expect(lockOwned(c, a, LKM.EX, 'd0p', 7, LKF.PERSISTENT)).toBe(0);
    c.run();
    c.ls.get(2)!.closeOwner(7);
    expect(c.lock(w, LKM.EX, 'd0p')).toBe(0);
    expect(c.run()).toEqual([]);
    c.sent();
    expect(c.ls.get(1)!.purge(2, 7)).toBe(0);
    // Purged with IVVALBLK: the EX orphan invalidates the LVB.
    expect(c.run()).toEqual([`w ast 0 sb=${SBF.VALNOTVALID}`]);
    // Node 2 masters 'd0p' (it asked the directory first): the purge is its local unlock.
    expect(c.sent()).toEqual(['1>2 PURGE', '2>3 GRANT(0)']);
    expect(c.ls.get(2)!.orphans).toEqual([]);
    // Not a member: refused synchronously.
    expect(c.ls.get(1)!.purge(9, 7)).toBe(DLM_ERRNO.EINVAL);
  });

  it('a PURGE naming another node is counted and ignored', () => {
    const c = cluster(2);
    const a = c.holder(2, 'a');
    lockOwned(c, a, LKM.EX, 'd0x', 7, LKF.PERSISTENT);
    c.run();
    c.ls.get(2)!.closeOwner(7);
    const m = emptyMessage(MSG.PURGE);
    m.nodeid = 1;
    m.pid = 7;
    injectMessage(c, 1, 2, m);
    c.run();
    expect(c.ls.get(2)!.stats.refused['PURGE_NOT_US']).toBe(1);
    expect(c.ls.get(2)!.orphans).toHaveLength(1);
  });
});

describe('release force levels', () => {
  /** Node 1 masters 'd0m' (it locked and unlocked it; no retirement yet), node 2 holds it EX: a master copy on node 1. */
  const masterCopyOn1 = () => {
    const c = cluster(2);
    const own = c.holder(1, 'own');
    expect(c.lock(own, LKM.NL, 'd0m')).toBe(0);
    c.run();
    expect(c.unlock(own)).toBe(0);
    const remote = c.holder(2, 'remote');
    expect(c.lock(remote, LKM.EX, 'd0m')).toBe(0);
    c.run();
    expect(c.ls.get(1)!.masterCopyCount).toBe(1);
    return c;
  };

  it('0: EBUSY while any lock exists here, a master copy included; 1 then releases', () => {
    const c = masterCopyOn1();
    const ls1 = c.ls.get(1)!;
    expect(ls1.release(0)).toBe(DLM_ERRNO.EBUSY);
    expect(ls1.released).toBe(false);
    expect(ls1.release(1)).toBe(0);
    expect(ls1.released).toBe(true);
  });

  it('1: EBUSY for a granted local lock or an orphan, not for a lock still waiting', () => {
    const t = singleNode();
    const a = t.holder('a');
    t.lock(a, LKM.EX);
    t.run();
    expect(t.ls.release(1)).toBe(DLM_ERRNO.EBUSY);
    const o = t.holder('o');
    expect(t.ls.lock(LKM.PR, o.lksb, LKF.PERSISTENT, 'x', o.ast, undefined, o.bast, 5)).toBe(0);
    t.unlock(a);
    t.run();
    t.ls.closeOwner(5);
    expect(t.ls.orphans).toHaveLength(1);
    expect(t.ls.release(1)).toBe(DLM_ERRNO.EBUSY);
    // Only a waiting request (blocked by node 2's lock) and a master copy: released.
    const c = masterCopyOn1();
    const w = c.holder(1, 'w');
    expect(c.lock(w, LKM.EX, 'd0m')).toBe(0);
    c.run();
    expect(c.ls.get(1)!.lockById(w.lksb.lkid)!.grmode).toBe(LKM.IV);
    expect(c.ls.get(1)!.release(1)).toBe(0);
  });

  it('2 releases with locks and sends REMOVE for unused mastered resources; 3 releases and sends nothing; others are EINVAL', () => {
    for (const force of [2, 3] as const) {
      const c = cluster(2);
      const h = c.holder(2, 'h');
      // Node 2 masters 'd0z' (directory node 1), then stops using it; it also holds 'd0y' EX.
      expect(c.lock(h, LKM.EX, 'd0z')).toBe(0);
      c.run();
      expect(c.unlock(h)).toBe(0);
      const k = c.holder(2, 'k');
      expect(c.lock(k, LKM.EX, 'd0y')).toBe(0);
      c.run();
      c.sent();
      const ls2 = c.ls.get(2)!;
      expect(ls2.release(1)).toBe(DLM_ERRNO.EBUSY);
      expect(ls2.release(force)).toBe(0);
      c.run();
      expect(c.sent()).toEqual(force === 2 ? ['2>1 REMOVE'] : []);
      expect(c.log).toEqual([]);
    }
    const t = singleNode();
    expect(t.ls.release(4 as never)).toBe(DLM_ERRNO.EINVAL);
    expect(t.ls.release(0)).toBe(0);
  });
});

describe('TypeScript API', () => {
  it('owner option, closeOwner (pending ops reject ESHUTDOWN), adoption with flags ORPHAN, purge', async () => {
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('owners', { lvblen: 8 });
    const kept = await ls.lock('r', 'PW', { owner: 7, flags: ['PERSISTENT'] });
    expect(kept.owner).toBe(7);
    const gone = await ls.lock('s', 'EX', { owner: 7 });
    const blocked = ls.lock('s', 'EX', { owner: 7 });
    const other = ls.lock('s', 'PR', { owner: 8 });
    expect(ls.closeOwner(7)).toEqual({ orphaned: 1, unlocked: 2 });
    await expect(blocked).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    expect(gone.ended).toBe(true);
    expect(kept.ended).toBe(true);
    const reader = await other;
    expect(reader.mode).toBe('PR');
    await expect(ls.lock('r', 'EX', { owner: 9, flags: ['ORPHAN'] })).rejects.toMatchObject({ code: 'EAGAIN' });
    const adopted = await ls.lock('r', 'PW', { owner: 9, flags: ['ORPHAN'] });
    expect(adopted.lkid).toBe(kept.lkid);
    expect(adopted.mode).toBe('PW');
    expect(adopted.fence).toBeGreaterThan(0);
    ls.closeOwner(9);
    expect(ls.raw.orphans).toHaveLength(1);
    ls.purge(0, 9);
    expect(ls.raw.orphans).toHaveLength(0);
    await expect(ls.lock('r', 'PR', { owner: -1 })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(() => ls.closeOwner(0)).toThrow(/owner/);
    try {
      ls.purge(5, 1);
      expect.unreachable();
    } catch (err) {
      expect(isDlmError(err) && err.code).toBe('EINVAL');
    }
    await reader.unlock();
    await ls.leave();
  });

  it('leave() with an orphan fails with EBUSY until the orphan is purged', async () => {
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('leave-orphans');
    await ls.lock('r', 'EX', { owner: 3, flags: ['PERSISTENT'] });
    ls.closeOwner(3);
    await expect(ls.leave()).rejects.toMatchObject({ code: 'EBUSY' });
    ls.purge(0, 3);
    await ls.leave();
    expect(dlm.lockspace('leave-orphans')).toBeUndefined();
  });

  it('release(force): EBUSY keeps the handle; 2 ends every lock and rejects pending operations with ESHUTDOWN', async () => {
    const sim = new DlmSim({ nodes: [1] });
    const ls = await sim.node(1).join('rel');
    const held = ls.lock('a', 'EX');
    await sim.settle();
    const lk = await held;
    const waiting = ls.lock('a', 'EX');
    await sim.settle();
    expect(() => ls.release(1)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(lk.ended).toBe(false);
    ls.release(2);
    await expect(waiting).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    expect(lk.ended).toBe(true);
    expect(sim.node(1).lockspace('rel')).toBeUndefined();
  });
});

describe('user and kernel locks (the USER bit in m_flags)', () => {
  it('a lock with an owner is a user lock on its master too; one without stays a kernel lock', () => {
    const c = cluster(2);
    const u = c.holder(2, 'u');
    const k = c.holder(2, 'k');
    expect(lockOwned(c, u, LKM.PR, 'd0u', 7)).toBe(0);
    expect(c.lock(k, LKM.PR, 'd1k')).toBe(0);
    c.run();
    // 'd0u' is mastered by node 2 (it asked first); make node 1 master one instead.
    masterOn(c, 1, 'd0v');
    const v = c.holder(2, 'v');
    expect(lockOwned(c, v, LKM.PR, 'd0v', 9)).toBe(0);
    expect(c.run()).toEqual(['v ast 0']);
    const copies = [...c.ls.get(1)!.allLocks()].filter((l) => l.masterCopy);
    expect(copies.map((l) => [l.ownpid, l.user])).toEqual([[9, true]]);
    expect(c.ls.get(2)!.lockById(k.lksb.lkid)!.user).toBe(false);
  });

  it('a message with the USER bit naming a kernel lock is dropped and counted, on the master and on the owner', () => {
    const c = cluster(2);
    masterOn(c, 1, 'd0w');
    const k = c.holder(2, 'k');
    expect(c.lock(k, LKM.PR, 'd0w')).toBe(0);
    c.run();
    const ls1 = c.ls.get(1)!;
    const ls2 = c.ls.get(2)!;
    const copy = [...ls1.allLocks()].find((l) => l.masterCopy)!;
    expect(copy.user).toBe(false);
    // To the master: a CONVERT with USER for the kernel lock.
    const conv = emptyMessage(MSG.CONVERT);
    Object.assign(conv, { nodeid: 2, lkid: k.lksb.lkid, remid: copy.lkid, grmode: LKM.PR, rqmode: LKM.EX, flags: 0x1 });
    injectMessage(c, 2, 1, conv);
    // To the owner: a BAST with USER for its kernel process copy.
    const bast = emptyMessage(MSG.BAST);
    Object.assign(bast, { nodeid: 1, lkid: copy.lkid, remid: k.lksb.lkid, bastmode: LKM.EX, flags: 0x1 });
    injectMessage(c, 1, 2, bast);
    expect(c.run()).toEqual([]);
    expect(ls1.stats.refused['USER_MISMATCH']).toBe(1);
    expect(ls2.stats.refused['USER_MISMATCH']).toBe(1);
    expect(copy.rqmode).toBe(LKM.IV);
    // Without the bit the same BAST is delivered.
    bast.flags = 0;
    injectMessage(c, 1, 2, bast);
    expect(c.run()).toEqual(['k bast EX']);
  });
});

describe('cancel by a deadlock detector (completion EDEADLK)', () => {
  it('local: a waiting request ends with EDEADLK; a queued conversion reverts with EDEADLK; nothing to cancel leaves no mark', () => {
    const t = singleNode();
    const a = t.holder('a');
    const b = t.holder('b');
    const c = t.holder('c');
    t.lock(a, LKM.PR);
    t.lock(c, LKM.PR);
    t.run();
    expect(t.lock(b, LKM.EX)).toBe(0);
    t.run();
    expect(t.ls.cancelDeadlock(b.lksb.lkid)).toBe(0);
    expect(t.run()).toEqual(['b ast EDEADLK']);
    expect(t.ls.lockById(b.lksb.lkid)).toBeUndefined();
    expect(t.convert(a, LKM.EX)).toBe(0);
    t.run();
    expect(t.ls.cancelDeadlock(a.lksb.lkid)).toBe(0);
    expect(t.run()).toEqual(['a ast EDEADLK']);
    expect(t.ls.lockById(a.lksb.lkid)!.grmode).toBe(LKM.PR);
    // Granted and idle: nothing to cancel, no callback, and a later plain cancel is ECANCEL.
    expect(t.ls.cancelDeadlock(c.lksb.lkid)).toBe(0);
    expect(t.run()).toEqual([]);
    expect(t.convert(c, LKM.EX)).toBe(0);
    t.run();
    expect(t.unlock(c, LKF.CANCEL)).toBe(0);
    expect(t.run()).toEqual(['c ast ECANCEL']);
    expect(t.ls.cancelDeadlock(12345)).toBe(DLM_ERRNO.ENOENT);
  });

  it('remote: the CANCEL goes to the master as usual; the owner reports EDEADLK', () => {
    const c = cluster(3);
    const m = c.holder(1, 'm');
    const o = c.holder(2, 'o');
    c.lock(m, LKM.PR, 'd0d');
    c.run();
    expect(c.lock(o, LKM.PR, 'd0d')).toBe(0);
    c.run();
    expect(c.convert(o, LKM.EX)).toBe(0);
    expect(c.run()).toEqual(['m bast EX']);
    c.sent();
    expect(c.ls.get(2)!.cancelDeadlock(o.lksb.lkid)).toBe(0);
    expect(c.run()).toEqual(['o ast EDEADLK']);
    expect(c.sent()).toEqual(['2>1 CANCEL', '1>2 CANCEL_REPLY(ECANCEL)']);
    expect(c.ls.get(2)!.lockById(o.lksb.lkid)!.grmode).toBe(LKM.PR);
  });
});

it('a master copy that does not know its USER flag (rebuilt by recovery without rl_flags) is not checked', () => {
  const c = cluster(2);
  masterOn(c, 1, 'd0r');
  const u = c.holder(2, 'u');
  expect(lockOwned(c, u, LKM.PR, 'd0r', 5)).toBe(0);
  c.run();
  const copy = [...c.ls.get(1)!.allLocks()].find((l) => l.masterCopy)!;
  expect([copy.user, copy.userKnown]).toEqual([true, true]);
  // As a rebuild that lost the flag would leave it: the owner's USER messages still go through.
  copy.user = false;
  copy.userKnown = false;
  expect(c.convert(u, LKM.EX)).toBe(0);
  expect(c.run()).toEqual(['u ast 0']);
  expect(c.ls.get(1)!.stats.refused['USER_MISMATCH']).toBeUndefined();
  expect(copy.grmode).toBe(LKM.EX);
});
