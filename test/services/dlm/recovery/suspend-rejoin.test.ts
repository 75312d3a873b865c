/**
 * Requests made while a node rejoins (docs/dlm.md "Requests while
 * recovering or rejoining"): like Linux's dlm_lock() blocking on
 * ls_in_recovery (and dlm_new_lockspace waiting for the first recovery),
 * they wait — nothing leaves the node — until the view that includes it
 * again has recovered, then run as if made then. A cancel (an AbortSignal)
 * ends such a waiting request on the spot: it is never sent; its ECANCEL
 * completion follows the §2.7 rule (held while a recovery runs).
 */
import { describe, expect, it } from 'vitest';
import { DlmSim, isDlmError, LKF, LKM } from '../../../../src/services/dlm/index.ts';
import { pinHash } from '../cluster.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { EX, PR } = LKM;

/** Node 3 is excluded (fenced); 1 and 2 recover without it. */
async function excluded() {
  const c = recoveryCluster(3);
  const holder = c.holder(1, 'H');
  c.lock(holder, EX, 'd0a'); // node 1 masters d0a
  expect(await c.settle()).toEqual(['H ast 0']);
  c.ls.get(3)!.fence();
  for (const id of [1, 2]) c.sim.hold(3, id);
  c.restart({}, [1, 2]);
  expect(await c.settle()).toEqual([]);
  for (const id of [1, 2]) c.sim.release(3, id);
  c.sent();
  const rejoin = async (): Promise<string[]> => {
    for (const id of [1, 2, 3]) c.ls.get(id)!.stop();
    for (const id of [1, 2]) c.ls.get(id)!.start([1, 2, 3], { departed: [3] });
    c.ls.get(3)!.start([1, 2, 3]);
    return c.settle();
  };
  return { c, holder, rejoin };
}

describe('requests made while a node rejoins', () => {
  it('wait (nothing is sent) until the view including the node has recovered, then queue behind the holders as usual', async () => {
    const { c, holder, rejoin } = await excluded();
    const a = c.holder(3, 'A');
    expect(c.lock(a, PR, 'd0a')).toBe(0);
    expect(await c.settle()).toEqual([]);
    expect(c.sent()).toEqual([]);
    expect(c.ls.get(3)!.stopped).toBe(true);
    expect(await rejoin()).toEqual(['H bast PR']); // H holds EX: A waits and H is told
    // Sent only now: the lookup to node 1, the directory node, which masters d0a and queues it at once.
    expect(c.sent().filter((m) => m.startsWith('3>'))).toEqual(['3>1 LOOKUP']);
    c.unlock(holder);
    expect((await c.settle()).sort()).toEqual(['A ast 0', 'H ast EUNLOCK']);
    expect(c.ls.get(3)!.lockById(a.lksb.lkid)!.grmode).toBe(PR);
  });

  it('a cancel ends a waiting request at once (ECANCEL): it is never sent, also not after the rejoin', async () => {
    const { c, rejoin } = await excluded();
    const a = c.holder(3, 'A');
    expect(c.lock(a, EX, 'd0b')).toBe(0);
    expect(c.unlock(a, LKF.CANCEL)).toBe(0);
    expect(await c.settle()).toEqual(['A ast ECANCEL']);
    expect(c.ls.get(3)!.lockById(a.lksb.lkid)).toBeUndefined();
    expect(c.unlock(a, LKF.CANCEL)).toBe(-2); // ENOENT: it is gone
    expect(await rejoin()).toEqual([]);
    expect(c.sent().filter((m) => m.startsWith('3>'))).toEqual([]);
    expect(c.ls.get(3)!.lockCount).toBe(0);
  });

  it('TS API: lock() waits across the rejoin and resolves after it; an AbortSignal rejects a waiting lock() with ECANCEL', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
    const ls = await Promise.all([1, 2, 3].map((id) => sim.node(id).join('ts', { lvblen: 8, members: [1, 2, 3] })));
    ls[2]!.raw.fence();
    for (const o of [1, 2]) sim.hold(3, o);
    for (const l of ls.slice(0, 2)) l.raw.stop();
    for (const l of ls.slice(0, 2)) l.raw.start([1, 2], { departed: [3] });
    await sim.settle();
    for (const o of [1, 2]) sim.release(3, o);
    const events: string[] = [];
    const waiting = ls[2]!.lock('d0c', 'EX').then((lk) => void events.push(`granted ${lk.mode}`));
    const ac = new AbortController();
    const aborted = ls[2]!.lock('d1c', 'EX', { signal: ac.signal }).then(
      () => void events.push('aborted lock granted'),
      (err: unknown) => void events.push(`aborted lock: ${isDlmError(err) ? err.code : String(err)}`),
    );
    await sim.settle();
    expect(events).toEqual([]);
    ac.abort();
    await sim.settle();
    await aborted;
    expect(events).toEqual(['aborted lock: ECANCEL']);
    for (const l of ls) l.raw.stop();
    for (const l of ls.slice(0, 2)) l.raw.start([1, 2, 3], { departed: [3] });
    ls[2]!.raw.start([1, 2, 3]);
    await sim.settle();
    await waiting;
    expect(events).toEqual(['aborted lock: ECANCEL', 'granted EX']);
    expect(ls[2]!.raw.dump().map((r) => r.name)).toEqual(['d0c']);
  });

  it('an abort while the rejoin recovery runs: the request is never sent; its ECANCEL is delivered when the recovery ends (§2.7)', async () => {
    const { c } = await excluded();
    const a = c.holder(3, 'A');
    expect(c.lock(a, EX, 'd0d')).toBe(0);
    c.holdAmong([1, 2, 3]);
    for (const id of [1, 2, 3]) c.ls.get(id)!.stop();
    for (const id of [1, 2]) c.ls.get(id)!.start([1, 2, 3], { departed: [3] });
    c.ls.get(3)!.start([1, 2, 3]);
    c.run();
    expect(c.ls.get(3)!.recovering).toBe(true);
    expect(c.unlock(a, LKF.CANCEL)).toBe(0);
    expect(c.run()).toEqual([]);
    c.releaseAmong([1, 2, 3]);
    expect(await c.settle()).toEqual(['A ast ECANCEL']);
    expect(c.sent().filter((m) => m.startsWith('3>'))).toEqual([]);
  });
});
