/**
 * Locks parked behind another lock's lookup (`lookupList`, Linux's
 * res_lookup) must all leave the node, whatever the first lock's request
 * answers. Found by the fault test (seed 1004): three calls deferred while a
 * node rejoined ran at once on the same resource; the first (NOQUEUE) got
 * EAGAIN, the second was queued (EINPROGRESS) and the third never left the
 * node, because confirm_master's failure path released the next parked lock
 * without making it the resource's first lock (Linux sets res_first_lkid to
 * it), so the EINPROGRESS reply did not release the rest.
 */
import { describe, expect, it } from 'vitest';
import { LKF, LKM } from '../../../../src/services/dlm/index.ts';
import { cluster } from '../cluster.ts';

const { PR, PW, EX } = LKM;

describe('the lookup list after a failed first request (confirm_master)', () => {
  it('EAGAIN on the first parked request, EINPROGRESS on the next: the third is still sent and granted', () => {
    const c = cluster(3);
    const m = c.holder(1, 'M');
    c.lock(m, EX, 'd1q'); // node 1 masters d1q (directory: node 2)
    expect(c.run()).toEqual(['M ast 0']);
    c.sent();
    const a = c.holder(3, 'A');
    const b = c.holder(3, 'B');
    const d = c.holder(3, 'D');
    c.lock(a, PW, 'd1q', LKF.NOQUEUE); // looks the master up
    c.lock(b, EX, 'd1q'); // parked behind A's lookup
    c.lock(d, PR, 'd1q'); // parked behind A's lookup
    expect(c.sent()).toEqual(['3>2 LOOKUP']);
    expect(c.run().sort()).toEqual(['A ast EAGAIN', 'M bast EX']);
    // B queued at the master; D must have left node 3 too (Linux: process_lookup_list after B's EINPROGRESS).
    expect(c.sent().filter((s) => s === '3>1 REQUEST')).toHaveLength(3);
    c.unlock(m);
    expect(c.run()).toEqual(['M ast EUNLOCK', 'B ast 0', 'B bast PR']);
    c.unlock(b);
    expect(c.run()).toEqual(['B ast EUNLOCK', 'D ast 0']);
    expect(c.ls.get(3)!.pendingOperations).toBe(0);
  });
});
