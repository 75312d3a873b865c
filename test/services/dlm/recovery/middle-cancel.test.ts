/**
 * A middle conversion (CW<->PR) cancelled while its master dies (§4.4,
 * §4.7). Recovery gives the queued conversion a granted mode; when that is
 * the requested mode (no other PR/CW holder: Linux's recover_conversion sets
 * grmode := rqmode) the conversion is in effect complete, and a cancel that
 * arrives afterwards must not report ECANCEL while leaving the lock in the
 * requested mode: the API promises "ECANCEL: the lock keeps its mode".
 * Found by the fault test (seed 1030): an ECANCEL'd CW->PR conversion left
 * the lock in PR while the application (told ECANCEL) still used CW, and
 * another node was granted PR: an overlap for the application.
 */
import { describe, expect, it } from 'vitest';
import { LKF, LKM } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, CW, PR } = LKM;

describe('a cancelled middle conversion across the death of its master', () => {
  for (const [from, to] of [
    [CW, PR],
    [PR, CW],
  ] as const) {
    it(`${from === CW ? 'CW->PR' : 'PR->CW'} alone, cancel in flight: the completion and the mode agree`, async () => {
      const c = recoveryCluster(3);
      const m = c.holder(3, 'M');
      c.lock(m, NL, 'd0m'); // directory node 1; node 3 masters the resource
      await c.settle();
      const a = c.holder(1, 'A');
      c.lock(a, from, 'd0m');
      expect(await c.settle()).toEqual(['A ast 0']);
      c.sim.hold(1, 3);
      c.convert(a, to);
      c.unlock(a, LKF.CANCEL); // CANCEL follows the CONVERT, both held
      c.kill(3);
      const out = [...(await c.recover()), ...(await c.settle())];
      expect(out).toHaveLength(1);
      const mode = c.ls.get(1)!.lockById(a.lksb.lkid)!.grmode;
      if (out[0] === 'A ast ECANCEL') expect(mode).toBe(from);
      else {
        expect(out[0]).toBe('A ast 0');
        expect(mode).toBe(to);
      }
    });
  }
});
