/**
 * A CANCEL (or FORCEUNLOCK) sent while a conversion was in flight (§2.9:
 * sent at once, wait_count 2), whose master then answers the CONVERT but
 * dies before answering the CANCEL (§4.4). The owner has no main operation
 * waiting any more, only the overlapping one: recovery must fake its reply
 * (Linux dlm_recover_waiters_pre: "Main reply may have been received leaving
 * a zero wait_type, but a reply for the overlapping op may not have been
 * received"). Found by the hosts DLM kill run (seed 3): the lost CANCEL's
 * state was never cleared, the conversion was granted by the new master
 * after the rebuild, and every later unlock returned EBUSY for ever.
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKM } from '../../../../src/services/dlm/index.ts';
import { waiterFix, type WaiterFix } from '../../../../src/services/dlm/recovery/waiter-rules.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, PR, EX } = LKM;

/**
 * A on node 1 holds NL on a resource mastered by node 3 (directory node 1),
 * converts to EX; the CONVERT reaches node 3, then `flags` (CANCEL or
 * FORCEUNLOCK) is sent while the CONVERT_REPLY is held; the CANCEL/UNLOCK
 * never reaches node 3 (held), the CONVERT_REPLY is delivered, node 3 dies
 * and the survivors recover. `blocker`: who holds PR meanwhile (none: the
 * conversion is granted at once by node 3).
 */
async function scenario(flags: number, blocker: 'none' | 'dying-master' | 'survivor') {
  const c = recoveryCluster(3);
  const m = c.holder(3, 'M');
  c.lock(m, blocker === 'dying-master' ? PR : NL, 'd0m'); // directory node 1; node 3 masters the resource
  expect(await c.settle()).toEqual(['M ast 0']);
  if (blocker === 'survivor') {
    const b = c.holder(2, 'B');
    c.lock(b, PR, 'd0m');
    expect(await c.settle()).toEqual(['B ast 0']);
  }
  const a = c.holder(1, 'A');
  c.lock(a, NL, 'd0m');
  expect(await c.settle()).toEqual(['A ast 0']);
  c.sim.hold(3, 1);
  expect(c.convert(a, EX)).toBe(0);
  c.sim.runPending(); // the CONVERT reaches node 3; its reply is held
  c.sim.hold(1, 3);
  expect(c.unlock(a, flags)).toBe(0); // sent at once (conversion in flight), held
  c.sim.release(3, 1); // the CONVERT_REPLY arrives; the CANCEL/UNLOCK's reply never will
  const before = c.run();
  c.kill(3);
  // Only A's completions matter here (the blocker's BASTs come and go).
  const out = [...before, ...(await c.recover()), ...(await c.settle())].filter((s) => s.startsWith('A '));
  return { c, a, out };
}

describe('an overlapping CANCEL/FORCEUNLOCK whose master died after answering the conversion', () => {
  for (const blocker of ['dying-master', 'survivor'] as const) {
    it(`queued conversion (blocker on ${blocker}), CANCEL lost: ECANCEL with the old mode, then unlock works`, async () => {
      const { c, a, out } = await scenario(LKF.CANCEL, blocker);
      expect(out).toEqual(['A ast ECANCEL']);
      const lkb = c.ls.get(1)!.lockById(a.lksb.lkid)!;
      expect(lkb.grmode).toBe(NL);
      expect(lkb.rqmode).toBe(LKM.IV);
      // The new master's copy agrees (the conversion is not granted there later).
      // The new master (node 1, the directory node) agrees: nothing converting, no EX granted later.
      expect(c.queues(1, 'd0m')).toBe(blocker === 'survivor' ? 'm1 G[n2:PR own:NL] C[] W[]' : 'm1 G[own:NL] C[] W[]');
      expect(c.unlock(a)).toBe(0);
      expect(await c.settle()).toEqual(['A ast EUNLOCK']);
    });
  }

  it('conversion granted before the CANCEL (the cancel lost the race): one completion 0, then unlock works', async () => {
    const { c, a, out } = await scenario(LKF.CANCEL, 'none');
    expect(out).toEqual(['A ast 0']);
    const lkb = c.ls.get(1)!.lockById(a.lksb.lkid)!;
    expect(lkb.grmode).toBe(EX);
    expect(c.unlock(a)).toBe(0);
    expect(await c.settle()).toEqual(['A ast EUNLOCK']);
  });

  for (const blocker of ['none', 'dying-master', 'survivor'] as const) {
    it(`FORCEUNLOCK lost (blocker: ${blocker}): the lock ends with EUNLOCK and a new lock is granted`, async () => {
      const { c, a, out } = await scenario(LKF.FORCEUNLOCK, blocker);
      // Granted before the unlock: the grant completes first; queued: the unlock alone completes (§2.9).
      expect(out).toEqual(blocker === 'none' ? ['A ast 0', 'A ast EUNLOCK'] : ['A ast EUNLOCK']);
      expect(c.unlock(a)).toBe(DLM_ERRNO.ENOENT);
      const b2 = c.holder(2, 'B2');
      c.lock(b2, blocker === 'survivor' ? PR : EX, 'd0m');
      expect(await c.settle()).toEqual(['B2 ast 0']);
    });
  }

  it('after the fix, no recovered lock is left with an outstanding overlap', async () => {
    const { c, a } = await scenario(LKF.CANCEL, 'survivor');
    const lkb = c.ls.get(1)!.lockById(a.lksb.lkid)!;
    expect([lkb.waitType, lkb.secondary, lkb.overlapCancel, lkb.overlapUnlock]).toEqual(['none', 'none', false, false]);
  });
});

describe('waiterFix with only the overlapping operation awaited (§4.4)', () => {
  const rows: [boolean, 'none' | 'unlock' | 'cancel', WaiterFix][] = [
    [true, 'cancel', 'fake-cancel'],
    [true, 'unlock', 'fake-unlock'],
    [true, 'none', 'none'],
    [false, 'cancel', 'none'],
    [false, 'unlock', 'none'],
  ];
  for (const [targetGone, secondary, want] of rows) {
    it(`waitType none, secondary ${secondary}, gone=${targetGone} -> ${want}`, () =>
      expect(waiterFix({ waitType: 'none', grmode: NL, rqmode: LKM.IV, targetGone, retryPending: false, secondary })).toBe(want));
  }
});
