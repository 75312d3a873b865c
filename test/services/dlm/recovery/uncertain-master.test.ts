/**
 * A resource flagged "master uncertain" (a cached remote master revived from
 * the toss list, §3.5) whose master recovery then made this node. Found by
 * the fault test (seed 1029): the next request took the uncertain path and
 * set the lock's master to this node's own id instead of 0 (local), so its
 * unlock was sent as a message to itself, refused, and never completed.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../../src/services/dlm/index.ts';
import { cluster } from '../cluster.ts';

const { CW, EX } = LKM;

describe('uncertain master that recovery made local', () => {
  it('the request is mastered here (lkb.nodeid 0), the unlock completes, later requests are not parked', () => {
    const c = cluster(3);
    const ls1 = c.ls.get(1)!;
    const r = ls1.createRsb(new TextEncoder().encode('d1u'));
    r.master = 1; // recovery made node 1 the master
    r.uncertain = true; // still flagged from a cached remote master
    const a = c.holder(1, 'A');
    const b = c.holder(1, 'B');
    expect(c.lock(a, CW, 'd1u')).toBe(0);
    expect(c.run()).toEqual(['A ast 0']);
    expect(ls1.lockById(a.lksb.lkid)!.nodeid).toBe(0);
    expect(c.lock(b, CW, 'd1u')).toBe(0);
    expect(c.run()).toEqual(['B ast 0']);
    expect(c.sent().filter((m) => m.startsWith('1>1'))).toEqual([]);
    c.unlock(a);
    c.unlock(b);
    expect(c.run()).toEqual(['A ast EUNLOCK', 'B ast EUNLOCK']);
    const x = c.holder(2, 'X');
    c.lock(x, EX, 'd1u');
    expect(c.run()).toEqual(['X ast 0']);
    expect(ls1.pendingOperations).toBe(0);
  });
});
