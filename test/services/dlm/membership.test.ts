/**
 * Membership driven by the test (stop / start with a member list, §4.1's
 * contract; recovery itself is tested in recovery/), lockspace routing, and
 * calls that name a master copy.
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKM } from '../../../src/services/dlm/index.ts';
import { cluster } from './cluster.ts';

const { NL, PR, EX } = LKM;

describe('stop and start', () => {
  it('while stopped, calls are accepted but wait, and incoming messages are saved; start runs them in order', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, EX, 'd1m');
    c.run();
    c.sent();
    c.ls.get(1)!.stop();
    expect(c.lock(b, PR, 'd1m')).toBe(0); // node 3 is running: LOOKUP, then REQUEST to the stopped master
    expect(c.unlock(a)).toBe(0); // accepted, deferred
    expect(c.run()).toEqual([]);
    expect(c.sent()).toEqual(['3>2 LOOKUP', '2>3 LOOKUP_REPLY(0) master=1', '3>1 REQUEST']);
    c.ls.get(1)!.start([1, 2, 3]);
    // The saved REQUEST runs first (queued behind A, BAST), then A's deferred unlock grants B.
    expect(c.run()).toEqual(['A bast PR', 'A ast EUNLOCK', 'B ast 0']);
  });

  it('a new member list with no resource in use is taken, and the directory follows it', async () => {
    const c = cluster(3);
    for (const id of c.ids) c.ls.get(id)!.stop();
    for (const id of [1, 2]) c.ls.get(id)!.start([1, 2]); // node 3 stays stopped: it left
    await c.sim.settle(); // recovery (nothing to move)
    const a = c.holder(1, 'A');
    c.lock(a, NL, 'd1n'); // members[1] is node 2 again; node 3 is out
    expect(c.run()).toEqual(['A ast 0']);
    expect(c.sent()).toEqual(['1>2 LOOKUP', '2>1 LOOKUP_REPLY(0) master=1']);
    // Messages from a node outside the lockspace are refused.
    const x = c.holder(3, 'X');
    c.ls.get(3)!.start([1, 2, 3]); // a stale view
    c.lock(x, NL, 'd0n'); // node 3 thinks the directory is node 1
    expect(c.run()).toEqual([]);
    expect(c.ls.get(1)!.stats.refused.NOT_MEMBER).toBe(1);
  });

  it('a membership change with a resource in use runs recovery instead of refusing (no EOPNOTSUPP)', async () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    c.lock(a, PR, 'd0x');
    c.run();
    for (const id of c.ids) c.ls.get(id)!.stop();
    for (const id of [1, 2]) c.ls.get(id)!.start([1, 2]);
    expect(c.ls.get(1)!.recovering).toBe(true);
    await c.sim.settle();
    expect(c.ls.get(1)!.recovering).toBe(false);
    expect(c.ls.get(1)!.members).toEqual([1, 2]);
    expect(c.unlock(a)).toBe(0);
    expect(c.run()).toEqual(['A ast EUNLOCK']);
  });
});

describe('routing and roles', () => {
  it('messages for an unknown lockspace are counted, not delivered', () => {
    const c = cluster(2);
    c.sim.node(2).newLockspace('other', { members: [1, 2] });
    const a = c.holder(2, 'A');
    c.sim.node(1).releaseLockspace('ls', 2);
    c.lock(a, PR, 'd0r');
    c.run();
    expect(c.sim.node(1).unroutable).toBe(1);
  });

  it('a master copy cannot be converted or unlocked through the API (EINVAL)', () => {
    const c = cluster(3);
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, NL, 'd1c');
    c.lock(b, PR, 'd1c');
    c.run();
    const master = c.ls.get(1)!;
    const copy = master.dump()[0]!.grant.find((l) => l.role === 'master')!;
    const lksb = { status: 0, lkid: copy.lkid, flags: 0, lvb: null };
    expect(master.lock(EX, lksb, LKF.CONVERT, null, () => {})).toBe(DLM_ERRNO.EINVAL);
    expect(master.unlock(copy.lkid, 0)).toBe(DLM_ERRNO.EINVAL);
  });
});
