/**
 * Clean leave vs failure, a member re-added with a new incarnation, a node
 * joining while resources are in use, fence() and setGate() (the contract
 * of /work/prompts/s3/contract.md's lockspace section, docs/dlm.md "Recovery").
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKM } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, PR, EX } = LKM;

/** Node 1 masters d0k (directory node 1) and holds NL; node 3 holds EX; node 2 waits for PR. */
async function contended() {
  const c = recoveryCluster(3);
  const m = c.holder(1, 'M');
  c.lock(m, NL, 'd0k');
  await c.settle();
  const x = c.holder(3, 'X');
  const b = c.holder(2, 'B');
  c.lock(x, EX, 'd0k');
  await c.settle();
  c.lock(b, PR, 'd0k');
  await c.settle();
  c.log.splice(0);
  return { c, x, b };
}

describe('clean leave vs failure (§4.5)', () => {
  it('failure: the dead node\'s lock is purged on the surviving master (no AST) and the waiter is granted', async () => {
    const { c } = await contended();
    c.kill(3);
    expect(await c.recover()).toEqual(['B ast 0']);
    expect(c.ls.get(1)!.stats.recovery.purged).toBe(1);
    expect(c.queues(1, 'd0k')).toBe('m1 G[n2:PR own:NL] C[] W[]');
  });

  it('clean leave: the leaving node unlocks first (the waiter is granted before recovery), nothing is purged', async () => {
    const { c, x } = await contended();
    c.unlock(x);
    expect(await c.settle()).toEqual(['X ast EUNLOCK', 'B ast 0']);
    expect(c.sim.node(3).releaseLockspace('ls', 0)).toBe(0);
    c.dead.add(3);
    expect(await c.recover()).toEqual([]);
    expect(c.ls.get(1)!.stats.recovery.purged).toBe(0);
    expect(c.queues(1, 'd0k')).toBe('m1 G[n2:PR own:NL] C[] W[]');
  });
});

describe('members that come back', () => {
  it('a member re-added with a new incarnation (fenced, then start with departed): its old locks are purged, it rejoins fresh', async () => {
    const { c, x } = await contended();
    c.ls.get(3)!.fence();
    expect(await c.settle()).toEqual(['X ast ENOTCONN']);
    expect(x.lksb.status).toBe(DLM_ERRNO.ENOTCONN);
    expect(c.ls.get(3)!.lockCount).toBe(0);
    expect(c.ls.get(3)!.members).toEqual([3]);
    for (const id of [1, 2, 3]) c.ls.get(id)!.stop();
    for (const id of [1, 2]) c.ls.get(id)!.start([1, 2, 3], { departed: [3] });
    c.ls.get(3)!.start([1, 2, 3]);
    expect(await c.settle()).toEqual(['B ast 0']);
    expect(c.ls.get(1)!.stats.recovery.purged).toBe(1);
    // Node 3 works again as a fresh member.
    const y = c.holder(3, 'Y');
    c.lock(y, PR, 'd0k');
    expect(await c.settle()).toEqual(['Y ast 0']);
    expect(new Set([1, 2, 3].map((id) => c.ls.get(id)!.generation)).size).toBe(1);
  });

  it('a node joining while resources are in use: existing locks stay, the directory moves, everyone can lock', async () => {
    const c = recoveryCluster(3);
    c.ls.get(3)!.fence(); // node 3 starts outside: members [3], nothing known
    for (const id of [1, 2]) c.ls.get(id)!.stop();
    for (const id of [1, 2]) c.ls.get(id)!.start([1, 2]);
    await c.settle();
    const held = Array.from({ length: 6 }, (_, i) => c.holder(1 + (i % 2), `H${i}`));
    held.forEach((h, i) => expect(c.lock(h, PR, `d${i % 3}j${i}`)).toBe(0));
    expect(await c.settle()).toHaveLength(6);
    // Node 3 joins: all stop, all start with [1, 2, 3].
    c.restart({}, [1, 2, 3]);
    expect(await c.settle()).toEqual([]);
    const z = c.holder(3, 'Z');
    c.lock(z, EX, 'd2j5'); // H5 (node 2) holds PR: queued, H5 told
    expect(await c.settle()).toEqual(['H5 bast EX']);
    expect(c.ls.get(3)!.lockById(z.lksb.lkid)!.grmode).toBe(-1);
    c.unlock(held[5]!);
    expect(await c.settle()).toEqual(['H5 ast EUNLOCK', 'Z ast 0']);
    for (const h of held.slice(0, 5)) expect(c.ls.get(h.node)!.lockById(h.lksb.lkid)!.grmode).toBe(PR);
  });
});

describe('setGate (§ contract)', () => {
  it('while the gate is closed calls wait and messages are saved; opening it (setGate again) runs them in order', async () => {
    const c = recoveryCluster(3);
    let open = false;
    c.ls.get(1)!.setGate(() => open);
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    expect(c.lock(a, EX, 'd0g')).toBe(0); // node 1 would master it locally: deferred
    expect(await c.settle()).toEqual([]);
    c.lock(b, PR, 'd0g'); // LOOKUP to node 1: saved
    expect(await c.settle()).toEqual([]);
    open = true;
    c.ls.get(1)!.setGate(() => open);
    // Saved messages first (as after recovery), then the deferred calls.
    expect(await c.settle()).toEqual(['B ast 0', 'B bast EX']);
    c.unlock(b);
    expect(await c.settle()).toEqual(['B ast EUNLOCK', 'A ast 0']);
    c.ls.get(1)!.setGate(null);
  });
});
