/**
 * The resource table's last-found cache (resource-table.ts): a lookup by
 * name bytes that matches the last resource found returns it only while it
 * is still the table's entry; a retired, forgotten or replaced resource is
 * never returned for its old name. Simulated cluster, ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { LKM } from '../../../src/services/dlm/index.ts';
import { cluster } from './cluster.ts';

const enc = new TextEncoder();

describe('resource table: last-found cache', () => {
  it('the master retires a resource it just served; the same name asked again is a new resource (REMOVE sent, no stale hit)', async () => {
    const c = cluster(3, { tossMs: 1000 });
    const ls1 = c.ls.get(1)!;
    // 'd1k': directory node 2; node 1 asks first, so node 1 masters it; node 3 then requests it from node 1.
    const a = c.holder(1, 'A');
    const b = c.holder(3, 'B');
    c.lock(a, LKM.PR, 'd1k');
    expect(c.run()).toEqual(['A ast 0']);
    c.lock(b, LKM.PR, 'd1k');
    expect(c.run()).toEqual(['B ast 0']);
    expect(c.sent()).toContain('3>1 REQUEST');
    const first = ls1.rsbs.get('d1k')!;
    expect(ls1.findRsbByName(enc.encode('d1k'))).toBe(first); // found by bytes (cached from the REQUEST)
    c.unlock(b);
    c.unlock(a);
    c.run();
    c.sim.clock.advance(1000); // the master retires it
    c.run();
    expect(c.sent()).toContain('1>2 REMOVE');
    expect(ls1.rsbs.has('d1k')).toBe(false);
    expect(ls1.findRsbByName(enc.encode('d1k'))).toBeUndefined();
    // Asked again: created anew, not the retired object.
    const a2 = c.holder(1, 'A2');
    c.lock(a2, LKM.EX, 'd1k');
    expect(c.run()).toEqual(['A2 ast 0']);
    const second = ls1.rsbs.get('d1k')!;
    expect(second).not.toBe(first);
    expect(ls1.findRsbByName(enc.encode('d1k'))).toBe(second);
    expect(ls1.createRsb(enc.encode('d1k'))).toBe(second);
    // A name differing in one byte or in length is not the cached one.
    expect(ls1.findRsbByName(enc.encode('d1j'))).toBeUndefined();
    expect(ls1.findRsbByName(enc.encode('d1kk'))).toBeUndefined();
    expect(ls1.findRsbByName(enc.encode('d1k'))).toBe(second);
  });

  it('after a release (the table cleared) the old resource is not found by its name', () => {
    const c = cluster(2, { tossMs: 1000 });
    const ls1 = c.ls.get(1)!;
    const a = c.holder(1, 'A');
    c.lock(a, LKM.EX, 'd0z');
    c.run();
    const r = ls1.findRsbByName(enc.encode('d0z'));
    expect(r).toBeDefined();
    expect(ls1.release(3)).toBe(0);
    expect(ls1.findRsbByName(enc.encode('d0z'))).toBeUndefined();
  });
});
