import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OwnIdTable } from '../../src/iocom/own-id-table.ts';

class Item {
  readonly _id: number | bigint;
  constructor(id: number | bigint) {
    this._id = id;
  }
}

type Op = { kind: 'open' } | { kind: 'close'; pick: number } | { kind: 'get'; id: number };

describe('OwnIdTable (the msgids we choose)', () => {
  it('behaves as a Map through any sequence of opens, closes and lookups, never handing out an open id (property)', () => {
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.constant({ kind: 'open' as const }) },
      { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'close' as const, pick })) },
      { weight: 1, arbitrary: fc.integer({ min: -3, max: 600 }).map((id) => ({ kind: 'get' as const, id })) },
    );
    const firstIdArb = fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 300 }).map((n) => Number.MAX_SAFE_INTEGER - n));
    fc.assert(
      fc.property(firstIdArb, fc.array(opArb, { maxLength: 1000, size: 'max' }), (firstId, ops) => {
        const table = new OwnIdTable<Item>({ firstId });
        const model = new Map<number, Item>();
        const open: number[] = [];
        for (const op of ops) {
          if (op.kind === 'open') {
            const id = table.nextId();
            expect(Number.isSafeInteger(id) && id >= 1).toBe(true);
            expect(model.has(id)).toBe(false);
            const item = new Item(id);
            expect(table.add(item)).toBe(true);
            model.set(id, item);
            open.push(id);
          } else if (op.kind === 'close') {
            if (open.length === 0) {
              expect(table.delete(firstId)).toBe(false);
              continue;
            }
            const id = open.splice(op.pick % open.length, 1)[0]!;
            expect(table.delete(id)).toBe(true);
            expect(table.delete(id)).toBe(false);
            model.delete(id);
          } else {
            expect(table.get(op.id)).toBe(model.get(op.id));
            expect(table.has(op.id)).toBe(model.has(op.id));
          }
          expect(table.size).toBe(model.size);
          expect(table.size * 2).toBeLessThanOrEqual(table.slotCount);
        }
        for (const [id, item] of model) expect(table.get(id)).toBe(item);
        expect(new Set(table.values())).toEqual(new Set(model.values()));
      }),
      { seed: 1313, numRuns: 40 },
    );
  });

  it('counts up from 1 and skips an id whose slot a transaction still open holds', () => {
    const table = new OwnIdTable<Item>();
    const long = new Item(table.nextId());
    expect(long._id).toBe(1);
    table.add(long);
    // Short transactions after it: ids 2, 3, ... up to where the counter meets slot 1 again (16 slots).
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      const id = table.nextId();
      seen.push(id);
      table.add(new Item(id));
      table.delete(id);
    }
    expect(seen.slice(0, 15)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(seen).not.toContain(17); // 17 & 15 === 1: held by the long-lived transaction
    expect(seen).toContain(18);
    expect(table.get(1)).toBe(long);
  });

  it('wraps from Number.MAX_SAFE_INTEGER to 1 without reusing an open id', () => {
    const table = new OwnIdTable<Item>({ firstId: Number.MAX_SAFE_INTEGER - 1 });
    const a = table.nextId();
    table.add(new Item(a));
    const b = table.nextId();
    table.add(new Item(b));
    expect([a, b]).toEqual([Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]);
    const c = table.nextId();
    expect(c).toBe(1);
    table.add(new Item(c));
    expect(table.get(Number.MAX_SAFE_INTEGER)?._id).toBe(Number.MAX_SAFE_INTEGER);
    expect(table.get(1)?._id).toBe(1);
  });

  it('names no entry for bigint or foreign ids and refuses ids not from nextId()', () => {
    const table = new OwnIdTable<Item>();
    const id = table.nextId();
    table.add(new Item(id));
    expect(table.get(BigInt(id))).toBeUndefined();
    expect(table.get(2n ** 60n)).toBeUndefined();
    expect(table.delete(2n ** 60n)).toBe(false);
    expect(table.get(id + 16)).toBeUndefined(); // same slot, other id
    expect(table.add(new Item(id + 16))).toBe(false); // its slot is taken
    expect(table.add(new Item(5n))).toBe(false);
    expect(table.size).toBe(1);
    expect(() => new OwnIdTable({ firstId: 0 })).toThrow(RangeError);
  });

  it('grows through a burst of 4,000 open transactions and shrinks back', () => {
    const table = new OwnIdTable<Item>();
    const items: Item[] = [];
    for (let i = 0; i < 4_000; i++) {
      const it = new Item(table.nextId());
      expect(table.add(it)).toBe(true);
      items.push(it);
    }
    expect(table.slotCount).toBeGreaterThanOrEqual(8_000);
    for (const it of items) expect(table.get(it._id)).toBe(it);
    for (const it of items.slice(10)) expect(table.delete(it._id)).toBe(true);
    expect(table.size).toBe(10);
    expect(table.slotCount).toBeLessThanOrEqual(256);
    for (const it of items.slice(0, 10)) expect(table.get(it._id)).toBe(it);
  });
});
