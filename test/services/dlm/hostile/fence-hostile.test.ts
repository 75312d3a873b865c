/**
 * A hostile master hands out fencing tokens (carried in m_parent_lkid /
 * m_parent_remid, fence-rules.ts) that exceed 2^53 or go backwards. The
 * owner must never expose a token that is not a JS safe integer, never
 * throw, and count the bad value; a bystander lockspace on the same node is
 * not affected.
 */
import { describe, expect, it } from 'vitest';
import { LKM, LKF, newLksb, statusName } from '../../../../src/services/dlm/index.ts';
import { MSG, decodeMessage, emptyMessage } from '../../../../src/services/dlm/message.ts';
import { useHostileNet, type HostileNet } from '../../../helpers/dlm-hostile-net.ts';
import { mulberry32 } from '../../../helpers/prng.ts';

const hostileNet = useHostileNet();

/** Node 2 is a master that grants everything at once with the token `token()` gives (low, high words). */
function installMaster(n: HostileNet, token: () => [number, number]): void {
  let next = 100;
  n.onAdversary = ({ from, bytes }) => {
    let m;
    try {
      m = decodeMessage(bytes, 32).msg;
    } catch {
      return;
    }
    const out = emptyMessage(MSG.UNLOCK_REPLY);
    out.nodeid = 2;
    out.remid = m.lkid;
    out.lkid = m.remid || next++;
    if (m.type === MSG.LOOKUP || m.type === MSG.REQUEST || m.type === MSG.CONVERT) {
      out.type = m.type === MSG.CONVERT ? MSG.CONVERT_REPLY : MSG.REQUEST_REPLY;
      out.status = 2; // granted
      out.grmode = m.rqmode;
      out.rqmode = -1;
      [out.parentLkid, out.parentRemid] = token();
    } else if (m.type === MSG.UNLOCK) {
      out.result = -65538; // EUNLOCK
    } else return;
    n.inject(2, from, n.forgeMessage(2, out));
  };
}

describe('hostile fencing tokens', () => {
  it('tokens past 2^53 (high word >= 2^21) read as no token and are counted; fuzzed words never give an unsafe token', async () => {
    const seed = 41;
    const rnd = mulberry32(seed);
    const n = hostileNet([1], { members: [1, 2] });
    const words: [number, number][] = [[0xffffffff, 0xffffffff], [0, 2 ** 21], [5, 2 ** 21 - 1], [1, 0]];
    let i = 0;
    installMaster(n, () => (i < words.length ? words[i++]! : [Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32)]));
    const ls = n.ls.get(1)!;
    for (let k = 0; k < 40; k++) {
      const sb = newLksb(32);
      let done = false;
      ls.lock(LKM.EX, sb, 0, `d1-${k}`, () => (done = true));
      await n.runFor(10);
      expect(done, `seed=${seed} lock ${k}`).toBe(true);
      expect(statusName(sb.status)).toBe('0');
      expect(Number.isSafeInteger(sb.fence), `seed=${seed} lock ${k}: token ${sb.fence}`).toBe(true);
      if (k === 0 || k === 1) expect(sb.fence).toBe(0);
      if (k === 2) expect(sb.fence).toBe((2 ** 21 - 1) * 2 ** 32 + 5);
    }
    expect(n.errors).toEqual([]);
    expect(ls.stats.refused['FENCE_RANGE'] ?? 0, `seed=${seed}`).toBeGreaterThanOrEqual(2);
  });

  it('a master whose tokens go backwards: each grant exposes exactly what the master sent (the storage check refuses the older one); nothing throws', async () => {
    const n = hostileNet([1], { members: [1, 2] });
    const tokens = [10, 7, 3];
    let i = 0;
    installMaster(n, () => [tokens[i++] ?? 1, 1]);
    const ls = n.ls.get(1)!;
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      const sb = newLksb(32);
      ls.lock(LKM.EX, sb, 0, 'd1-same', () => {});
      await n.runFor(10);
      seen.push((sb.fence ?? 0) - 2 ** 32);
      ls.unlock(sb.lkid, 0, sb);
      await n.runFor(10);
    }
    expect(seen).toEqual([10, 7, 3]);
    // What fenced storage does with them: it keeps the highest and refuses the rest.
    let high = 0;
    const accepted = seen.map((t) => (t > high ? ((high = t), true) : false));
    expect(accepted).toEqual([true, false, false]);
    expect(n.errors).toEqual([]);
  });

  it('a bystander lockspace on the same node keeps granting with honest tokens while another lockspace gets garbage', async () => {
    const n = hostileNet([1], { members: [1, 2] });
    installMaster(n, () => [0xffffffff, 0xffffffff]);
    const other = n.nodes.get(1)!.newLockspace('bystander', { lvblen: 32, members: [1] });
    const a = newLksb(32);
    const b = newLksb(32);
    n.ls.get(1)!.lock(LKM.EX, a, 0, 'd1-x', () => {});
    other.lock(LKM.EX, b, LKF.VALBLK, 'res', () => {});
    await n.runFor(10);
    expect(a.fence).toBe(0);
    expect(b.fence).toBeGreaterThan(0);
    expect(Number.isSafeInteger(b.fence)).toBe(true);
    expect(other.stats.refused).toEqual({});
    expect(n.errors).toEqual([]);
  });
});
