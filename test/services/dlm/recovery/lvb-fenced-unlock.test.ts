/**
 * An unlock that a fence overtakes (fault seed 1172 of the kill/partition
 * run): the holder of PW unlocks with an LVB while it is cut off from the
 * master; the survivors exclude it, purge its lock and mark the LVB
 * VALNOTVALID (§4.5, §4.7); the excluded node's lockspace is fenced. Its
 * unlock never reached the master, so its LVB write never happened: the
 * TypeScript API must not report the unlock as done (it did, and the
 * application believed a value was stored that no later reader could see),
 * but fail it with the fence status (docs/dlm.md `fence(status)`: every lock
 * completes once with `status`).
 */
import { describe, expect, it } from 'vitest';
import { DlmError, DlmSim, SBF, type DlmLockspace } from '../../../../src/services/dlm/index.ts';
import { lvbTrio, u32, withU32 } from './lvb-trio.ts';

/** Nodes 1-3; node 1 masters `d0r` (first to lock it), node 3 keeps an NL lock on it, node 2 holds PW. */
async function setup() {
  const { sim, l1, l2, l3, settle, m } = await lvbTrio('lvbf');
  const keeper = l3.lock('d0r', 'NL');
  const writer = l2.lock('d0r', 'PW');
  await settle();
  return { sim, l1, l2, l3, settle, m, keep: await keeper, w: await writer };
}

/** Nodes 1 and 3 exclude node 2 (stop on all, then start without it); node 2 is fenced, as the views driver does. */
function exclude2(l1: DlmLockspace, l2: DlmLockspace, l3: DlmLockspace): void {
  l1.raw.stop();
  l3.raw.stop();
  l1.raw.start([1, 3]);
  l3.raw.start([1, 3]);
  l2.raw.fence();
}

describe('an unlock overtaken by a fence (fault seed 1172)', () => {
  it('fails with the fence status (ENOTCONN), not success: its LVB write never reached the master, which now reports VALNOTVALID', async () => {
    const { sim, l1, l2, l3, settle, keep, w } = await setup();
    expect(w.mode).toBe('PW');
    expect(l1.raw.dump().find((d) => d.name === 'd0r')?.master).toBe(1);
    sim.hold(2, 1); // node 2 is cut off from the master
    const unlocked = w.unlock({ lvb: withU32(7) }).then(
      () => 'resolved',
      (e: unknown) => (e instanceof DlmError ? e.code : String(e)),
    );
    await settle();
    expect(sim.heldCount(2, 1)).toBe(1); // the UNLOCK (with the LVB) is still on its way
    exclude2(l1, l2, l3);
    await sim.settle();
    expect(await unlocked).toBe('ENOTCONN');
    expect(w.ended).toBe(true);
    // The survivors: the PW holder was purged, its value never arrived (§4.7: VALNOTVALID).
    const up = keep.convert('PR');
    await sim.settle();
    await up;
    expect(keep.mode).toBe('PR');
    expect(keep.sbflags & SBF.VALNOTVALID).toBe(SBF.VALNOTVALID);
    expect(u32(keep.lvb)).not.toBe(7);
  });

  it('the same when the unlock waits behind a closed gate (the lease ran out, as in the seed) and the fence comes first', async () => {
    const { sim, l1, l2, l3, w } = await setup();
    l2.raw.setGate(() => false); // node 2 stopped granting: calls wait
    const unlocked = w.unlock({ lvb: withU32(9) }).then(
      () => 'resolved',
      (e: unknown) => (e instanceof DlmError ? e.code : String(e)),
    );
    await sim.settle();
    exclude2(l1, l2, l3);
    await sim.settle();
    expect(await unlocked).toBe('ENOTCONN');
    expect(w.ended).toBe(true);
  });
});
