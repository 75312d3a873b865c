import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IdTable } from '../../src/iocom/id-table.ts';

class Item {
  readonly _id: number | bigint;
  constructor(id: number | bigint) {
    this._id = id;
  }
}

type Op = { kind: 'add' | 'delete' | 'get'; id: number | bigint };

/** Ids that collide a lot: small sequential ones, aligned "pointers", huge numbers, bigints. */
const idArb: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: 1, max: 64 }).map((n) => 0x7f0000001000 + n * 64),
  fc.integer({ min: 0, max: 20 }).map((n) => Number.MAX_SAFE_INTEGER - n),
  fc.integer({ min: 0, max: 20 }).map((n) => 2 ** 32 * n + 5),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 53n + 30n }),
);

const opArb = (ids: fc.Arbitrary<number | bigint>): fc.Arbitrary<Op> =>
  fc.record({ kind: fc.constantFrom('add' as const, 'add' as const, 'delete' as const, 'get' as const), id: ids });

describe('IdTable', () => {
  const cases = [
    ['any size', idArb, Infinity, 600],
    // Heavy churn of a few ids in the smallest table: probe runs cross its end, holes open on both sides.
    ['a small, crowded table', fc.integer({ min: 1, max: 40 }), 7, 3000],
  ] as const;
  for (const [what, ids, maxLive, maxOps] of cases) {
  it(`behaves as a Map from id to item through any sequence of adds, deletes and lookups: ${what} (property)`, () => {
    fc.assert(
      fc.property(fc.array(opArb(ids), { maxLength: maxOps, size: 'max' }), (ops) => {
        const table = new IdTable<Item>();
        const model = new Map<number | bigint, Item>();
        for (const op of ops) {
          if (op.kind === 'add') {
            if (model.has(op.id) || model.size >= maxLive) continue; // the table's contract: ids are unique
            const it = new Item(op.id);
            table.add(it);
            model.set(op.id, it);
          } else if (op.kind === 'delete') {
            expect(table.delete(op.id)).toBe(model.delete(op.id));
          } else {
            expect(table.get(op.id)).toBe(model.get(op.id));
            expect(table.has(op.id)).toBe(model.has(op.id));
          }
          expect(table.size).toBe(model.size);
        }
        for (const [id, it] of model) expect(table.get(id)).toBe(it);
        expect(new Set(table.values())).toEqual(new Set(model.values()));
      }),
      { seed: 42, numRuns: 100 },
    );
  });
  }

  it('grows and shrinks through a large burst and keeps every entry reachable', () => {
    const table = new IdTable<Item>();
    const items: Item[] = [];
    for (let i = 1; i <= 20000; i++) {
      const it = new Item(i * 16);
      items.push(it);
      table.add(it);
    }
    expect(table.size).toBe(20000);
    for (const it of items) expect(table.get(it._id)).toBe(it);
    for (let i = 0; i < 19990; i++) expect(table.delete(items[i]!._id)).toBe(true);
    expect(table.size).toBe(10);
    for (let i = 19990; i < 20000; i++) expect(table.get(items[i]!._id)).toBe(items[i]);
    expect(table.get(16)).toBeUndefined();
    expect(table.delete(16)).toBe(false);
  });
});
