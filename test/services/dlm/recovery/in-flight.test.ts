/**
 * §4.4: a node dies with operations of survivors in flight to it (their
 * messages held, never delivered). Each operation completes exactly once
 * with the right status, and the caller never learns the master changed.
 */
import { describe, expect, it } from 'vitest';
import { LKF, LKM } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, CW, PR, EX } = LKM;

/** Node 3 masters `name` (it asks the directory, node 2, first) holding `mode`. */
async function mastered(name: string, mode: number) {
  const c = recoveryCluster(3);
  const m = c.holder(3, 'M');
  c.lock(m, mode, name);
  await c.settle();
  return c;
}

describe('operations in flight to a master that dies (§4.4)', () => {
  it('REQUEST: re-sent to the new master, granted once', async () => {
    const c = await mastered('d1a', NL);
    const a = c.holder(1, 'A');
    c.sim.hold(1, 3);
    c.lock(a, EX, 'd1a'); // LOOKUP to node 2, then REQUEST to node 3: held
    expect(await c.settle()).toEqual([]);
    expect(c.sim.heldCount(1, 3)).toBe(1);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast 0']);
    expect(c.ls.get(1)!.stats.recovery.resent).toBe(1);
    expect(await c.settle()).toEqual([]);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(EX);
  });

  it('up-conversion: re-sent, granted once with the new mode', async () => {
    const c = await mastered('d1b', NL);
    const a = c.holder(1, 'A');
    c.lock(a, PR, 'd1b');
    expect(await c.settle()).toEqual(['A ast 0']);
    c.sim.hold(1, 3);
    c.convert(a, EX);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast 0']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(EX);
  });

  it('middle conversion PR->CW with another PR holder: queued with granted mode PR, granted CW once the PR holder leaves', async () => {
    const c = await mastered('d1c', NL);
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(a, PR, 'd1c');
    c.lock(b, PR, 'd1c');
    expect((await c.settle()).sort()).toEqual(['A ast 0', 'B ast 0']);
    c.sim.hold(1, 3);
    c.convert(a, CW);
    c.kill(3);
    expect(await c.recover()).toEqual(['B bast CW']); // CW is incompatible with B's PR: queued, B told
    const master = c.ls.get(1)!.dump().find((d) => d.name === 'd1c')!.master;
    expect(c.queues(master, 'd1c')).toMatch(/C\[(own|n1):PR>CW\]/);
    c.unlock(b);
    expect(await c.settle()).toEqual(['B ast EUNLOCK', 'A ast 0']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(CW);
  });

  it('middle conversion CW->PR alone: granted mode := requested, granted in the recovery grant pass', async () => {
    const c = await mastered('d1d', NL);
    const a = c.holder(1, 'A');
    c.lock(a, CW, 'd1d');
    await c.settle();
    c.sim.hold(1, 3);
    c.convert(a, PR);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast 0']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(PR);
  });

  it('UNLOCK: completes with EUNLOCK during recovery, once; the lock is not rebuilt', async () => {
    const c = await mastered('d1e', NL);
    const a = c.holder(1, 'A');
    const b = c.holder(2, 'B');
    c.lock(a, EX, 'd1e');
    await c.settle();
    c.lock(b, EX, 'd1e'); // queued behind A
    expect(await c.settle()).toEqual(['A bast EX']);
    c.sim.hold(1, 3);
    c.unlock(a);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast EUNLOCK', 'B ast 0']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)).toBeUndefined();
    expect(await c.settle()).toEqual([]);
  });

  it('CANCEL of a queued request: ECANCEL once, the lock ends', async () => {
    const c = await mastered('d1f', EX);
    const a = c.holder(1, 'A');
    c.lock(a, PR, 'd1f');
    expect(await c.settle()).toEqual(['M bast PR']);
    c.sim.hold(1, 3);
    c.unlock(a, LKF.CANCEL);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast ECANCEL']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)).toBeUndefined();
    expect(c.ls.get(1)!.dump().find((d) => d.name === 'd1f')?.grant ?? []).toEqual([]);
  });

  it('CANCEL of a queued conversion: ECANCEL once, the lock keeps its granted mode', async () => {
    const c = await mastered('d1g', PR);
    const a = c.holder(1, 'A');
    c.lock(a, PR, 'd1g');
    await c.settle();
    c.convert(a, EX);
    expect(await c.settle()).toEqual(['M bast EX']);
    c.sim.hold(1, 3);
    c.unlock(a, LKF.CANCEL);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast ECANCEL']);
    const lkb = c.ls.get(1)!.lockById(a.lksb.lkid)!;
    expect([lkb.grmode, lkb.rqmode]).toEqual([PR, -1]);
    expect(c.convert(a, EX)).toBe(0); // and it can convert again on the new master
    expect(await c.settle()).toEqual(['A ast 0']);
  });

  it('a request in flight with an overlapping unlock: EUNLOCK once, never granted', async () => {
    const c = await mastered('d1h', NL);
    const a = c.holder(1, 'A');
    c.sim.hold(1, 3);
    c.lock(a, PR, 'd1h');
    await c.settle();
    expect(c.unlock(a, LKF.FORCEUNLOCK)).toBe(0); // overlaps the request
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast EUNLOCK']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)).toBeUndefined();
  });

  it('an up-conversion in flight with a cancel sent after it: ECANCEL once, granted mode kept', async () => {
    const c = await mastered('d1i', NL);
    const a = c.holder(1, 'A');
    c.lock(a, PR, 'd1i');
    await c.settle();
    c.sim.hold(1, 3);
    c.convert(a, EX);
    expect(c.unlock(a, LKF.CANCEL)).toBe(0);
    c.kill(3);
    expect(await c.recover()).toEqual(['A ast ECANCEL']);
    expect(c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode).toBe(PR);
  });

  it('a LOOKUP in flight to a directory node that dies is redone against the new directory', async () => {
    const c = recoveryCluster(3);
    const a = c.holder(1, 'A');
    c.sim.hold(1, 2); // node 2 is the directory of d1*
    c.lock(a, PR, 'd1j');
    await c.settle();
    c.kill(2);
    expect(await c.recover()).toEqual(['A ast 0']);
    // Members [1, 3]: the directory of d1* is now node 3.
    expect(c.ls.get(3)!.dump().find((d) => d.name === 'd1j')?.master).toBe(1);
  });
});
