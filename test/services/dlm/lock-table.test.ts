/**
 * The lock table's index (lock-table.ts `LockIndex`: a ring of slots by the
 * id's low bits plus a Map for ids whose slot is taken) against a Map doing
 * the same operations: lookups, size and iteration order always agree, ids
 * that share a slot (4096 apart) included (fast-check, fixed seed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Lock } from '../../../src/services/dlm/lock.ts';
import { LockIndex, LockTable } from '../../../src/services/dlm/lock-table.ts';

describe('LockIndex', () => {
  it('agrees with a Map under random add/delete, colliding ids included (fast-check, seed 5)', () => {
    // Ids from a small set where several share a ring slot (x, x + 4096, x + 8192 ...).
    const id = fc.constantFrom(1, 2, 4097, 8193, 4098, 12289, 0xfffff001, 0xffffffff, 4096, 8192);
    const op = fc.record({ add: fc.boolean(), id });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const index = new LockIndex();
        const map = new Map<number, Lock>();
        for (const o of ops) {
          if (o.add) {
            if (map.has(o.id)) continue; // the table never files an id twice
            const lkb = new Lock(o.id, false);
            index.add(lkb);
            map.set(o.id, lkb);
          } else expect(index.delete(o.id)).toBe(map.delete(o.id));
          expect(index.size).toBe(map.size);
          for (const k of [1, 2, 4097, 8193, 4098, 12289, 0xfffff001, 0xffffffff, 4096, 8192, 3]) {
            expect(index.get(k)).toBe(map.get(k));
            expect(index.has(k)).toBe(map.has(k));
          }
          expect([...index.values()]).toEqual([...map.values()]);
        }
        index.clear();
        expect(index.size).toBe(0);
        expect([...index]).toEqual([]);
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('iteration skips a lock deleted before the loop reaches it, as a Map does', () => {
    const index = new LockIndex();
    const locks = [1, 2, 3, 4].map((i) => new Lock(i, false));
    for (const l of locks) index.add(l);
    const seen: number[] = [];
    for (const l of index.values()) {
      seen.push(l.lkid);
      if (l.lkid === 1) index.delete(3);
    }
    expect(seen).toEqual([1, 2, 4]);
  });

  it('the table files new locks in id order; a wrapped id still in use is skipped', () => {
    const t = new LockTable();
    const a = t.newLock(false);
    const b = t.newLock(true);
    expect([a.lkid, b.lkid]).toEqual([1, 2]);
    expect(t.byId.get(1)).toBe(a);
    expect(t.byId.get(2)).toBe(b);
    expect(b.masterCopy).toBe(true);
    t.byId.delete(1);
    expect(t.byId.get(1)).toBeUndefined();
    expect(t.byId.get(2)).toBe(b);
    expect(t.byId.size).toBe(1);
  });
});
