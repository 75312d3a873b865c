/**
 * A conversion and its CANCEL/FORCEUNLOCK against the death of their master
 * (§2.8, §2.9, §4.4), at small scope: every message among the three nodes is
 * held and delivered round by round; the CANCEL/FORCEUNLOCK is issued after
 * round `j` and the master dies after round `k` (j <= k), with the conversion
 * blocked by nobody, by a lock on the dying master, or by a lock on a
 * survivor. For every case: each operation completes exactly once with a
 * status the spec allows, the owner's and the new master's copies agree, no
 * overlap stays outstanding, and the lock can then be unlocked (no EBUSY for
 * ever: the hosts kill run seed 3 stall) so that another node gets EX.
 */
import { describe, expect, it } from 'vitest';
import { DLM_ERRNO, LKF, LKM, modeName } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, PR, EX } = LKM;
const ROUNDS = 4; // CONVERT, its reply + CANCEL, CANCEL_REPLY, spare

type Blocker = 'none' | 'dying-master' | 'survivor';

async function run(flag: number, blocker: Blocker, j: number, k: number) {
  const c = recoveryCluster(3);
  const m = c.holder(3, 'M');
  c.lock(m, blocker === 'dying-master' ? PR : NL, 'd0m'); // directory node 1; node 3 masters the resource
  expect(await c.settle()).toEqual(['M ast 0']);
  const b = c.holder(2, 'B');
  if (blocker === 'survivor') {
    c.lock(b, PR, 'd0m');
    expect(await c.settle()).toEqual(['B ast 0']);
  }
  const a = c.holder(1, 'A');
  c.lock(a, NL, 'd0m');
  expect(await c.settle()).toEqual(['A ast 0']);
  c.holdAmong();
  expect(c.convert(a, EX)).toBe(0);
  for (let round = 0; round < k; round++) {
    if (round === j) expect(c.unlock(a, flag)).toBe(0);
    c.step();
  }
  if (j === k) expect(c.unlock(a, flag)).toBe(0);
  c.kill(3);
  c.releaseAmong([1, 2]);
  const out = [...c.log.splice(0), ...(await c.recover()), ...(await c.settle())].filter((s) => s.startsWith('A '));
  return { c, a, b, out };
}

describe('conversion + CANCEL/FORCEUNLOCK, master killed after every round', () => {
  for (const [flagName, flag] of [
    ['CANCEL', LKF.CANCEL],
    ['FORCEUNLOCK', LKF.FORCEUNLOCK],
  ] as const) {
    for (const blocker of ['none', 'dying-master', 'survivor'] as const) {
      it(`${flagName}, blocker ${blocker}: one completion each, copies agree, the lock can be released`, async () => {
        for (let k = 0; k <= ROUNDS; k++) {
          for (let j = 0; j <= k; j++) {
            const where = `${flagName} blocker=${blocker} cancel after round ${j}, kill after round ${k}`;
            const { c, a, b, out } = await run(flag, blocker, j, k);
            const lkb = c.ls.get(1)!.lockById(a.lksb.lkid);
            if (flag === LKF.CANCEL) {
              // The conversion ends once: granted (the cancel lost the race) or cancelled with the old mode.
              expect(out, where).toHaveLength(1);
              expect(['A ast 0', 'A ast ECANCEL'], where).toContain(out[0]);
              expect(lkb, where).toBeDefined();
              expect(modeName(lkb!.grmode), where).toBe(out[0] === 'A ast 0' ? 'EX' : 'NL');
              if (blocker === 'survivor') expect(out[0], where).toBe('A ast ECANCEL');
            } else {
              // A granted conversion completes first; the unlock always ends the lock.
              expect(out.at(-1), where).toBe('A ast EUNLOCK');
              expect(out.slice(0, -1).every((s) => s === 'A ast 0') && out.length <= 2, where).toBe(true);
              expect(lkb === undefined || lkb.endOfLife, where).toBe(true);
            }
            if (lkb && !lkb.endOfLife) {
              expect([lkb.waitType, lkb.secondary, lkb.overlapCancel, lkb.overlapUnlock], where).toEqual(['none', 'none', false, false]);
              const master = c.ls.get(1)!.dump().find((d) => d.name === 'd0m')!.master;
              expect(c.queues(master, 'd0m'), where).toContain(`${master === 1 ? 'own' : 'n1'}:${modeName(lkb.grmode)}`);
              expect(c.unlock(a), where).toBe(0);
              expect(await c.settle(), where).toEqual(['A ast EUNLOCK']);
            } else expect(c.unlock(a), where).toBe(DLM_ERRNO.ENOENT);
            if (blocker === 'survivor') {
              expect(c.unlock(b), where).toBe(0);
              expect(await c.settle(), where).toEqual(['B ast EUNLOCK']);
            }
            const n = c.holder(2, 'N');
            c.lock(n, EX, 'd0m');
            expect(await c.settle(), where).toEqual(['N ast 0']);
          }
        }
      });
    }
  }
});
