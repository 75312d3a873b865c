/**
 * `ResourceLocks` (a resource's locks as a list threaded through the locks)
 * against a `Set` doing the same operations: size, membership and iteration
 * order always agree (fast-check, fixed seed); iteration is over a snapshot.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Lock } from '../../../src/services/dlm/lock.ts';
import { ResourceLocks } from '../../../src/services/dlm/resource-locks.ts';

describe('ResourceLocks', () => {
  it('agrees with a Set under random add/delete sequences over two resources (fast-check, seed 7)', () => {
    const op = fc.record({ add: fc.boolean(), lock: fc.integer({ min: 0, max: 9 }), which: fc.integer({ min: 0, max: 1 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const locks = Array.from({ length: 10 }, (_, i) => new Lock(i + 1, false));
        // A lock belongs to one resource: locks 0-4 to the first list, 5-9 to the second.
        const lists = [new ResourceLocks(), new ResourceLocks()];
        const sets = [new Set<Lock>(), new Set<Lock>()];
        for (const o of ops) {
          const lkb = locks[o.lock]!;
          const k = o.lock < 5 ? 0 : 1;
          if (o.add) {
            expect(lists[k]!.add(lkb)).toBe(lists[k]);
            sets[k]!.add(lkb);
          } else expect(lists[k]!.delete(lkb)).toBe(sets[k]!.delete(lkb));
          for (const j of [0, 1]) {
            expect(lists[j]!.size).toBe(sets[j]!.size);
            expect([...lists[j]!].map((l) => l.lkid)).toEqual([...sets[j]!].map((l) => l.lkid));
          }
          for (const l of locks) expect(lists[l.lkid <= 5 ? 0 : 1]!.has(l)).toBe(sets[l.lkid <= 5 ? 0 : 1]!.has(l));
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('iterates a snapshot: deleting and adding inside a loop neither skips nor repeats what was there at its start', () => {
    const list = new ResourceLocks();
    const locks = Array.from({ length: 4 }, (_, i) => new Lock(i + 1, false));
    for (const l of locks) list.add(l);
    const seen: number[] = [];
    for (const l of list) {
      seen.push(l.lkid);
      list.delete(l);
      if (l.lkid === 2) list.add(locks[0]!); // back in, at the end
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect([...list.values()].map((l) => l.lkid)).toEqual([1]);
    expect(list.size).toBe(1);
    expect(list.delete(locks[1]!)).toBe(false);
    expect(locks[1]!.rsOwner).toBeNull();
  });
});
