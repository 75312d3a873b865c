import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IdTable, MAX_PROBE } from '../../src/iocom/id-table.ts';

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
        const table = new IdTable<Item>({ seed: 11 });
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

  it('the table refuses nothing and rebuilds nothing for honest ids (sequential, aligned, random), probes stay short', () => {
    const honest: Array<[string, (i: number) => number | bigint]> = [
      ['sequential', (i) => i],
      ['aligned', (i) => 0x7f0000001000 + i * 64],
      ['high words', (i) => 2 ** 32 * i + 5],
      ['bigints', (i) => 2n ** 60n + BigInt(i)],
    ];
    for (const [what, id] of honest) {
      const table = new IdTable<Item>({ seed: 3 });
      for (let i = 1; i <= 20000; i++) expect(table.add(new Item(id(i)))).toBe(true);
      const p = table.probeStats();
      expect({ what, rebuilds: p.rebuilds, refused: p.refused }).toEqual({ what, rebuilds: 0, refused: 0 });
      expect(p.maxDisplacement).toBeLessThan(MAX_PROBE / 2);
    }
  });

  it('hash flooding: 65,000 ids chosen against the former fixed multiplier spread out (bounded probes, nothing refused)', () => {
    // The former hash was imul(lo ^ hi, 0x9e3779b1) >>> (32 - bits): ids imul(i, inverse) hash to i,
    // so the first 2^15 of them shared home slot 0 of a 2^17-slot table (one probe run of 32768).
    const INVERSE = 0x0e8b2f51;
    expect(Math.imul(0x9e3779b1, INVERSE) >>> 0).toBe(1);
    const oldHome = (id: number, bits: number): number => Math.imul((id | 0) ^ ((id / 4294967296) | 0), 0x9e3779b1) >>> (32 - bits);
    const ids = Array.from({ length: 65000 }, (_, i) => Math.imul(i + 1, INVERSE) >>> 0);
    expect(ids.slice(0, 32767).every((id) => oldHome(id, 17) === 0)).toBe(true);
    const table = new IdTable<Item>({ seed: 99 });
    for (const id of ids) expect(table.add(new Item(id))).toBe(true);
    const p = table.probeStats();
    expect(p.maxDisplacement).toBeLessThan(MAX_PROBE / 2);
    expect(p.refused).toBe(0);
    for (const id of ids) expect(table.get(id)?._id).toBe(id);
    // And they leave as they came.
    for (const id of ids) expect(table.delete(id)).toBe(true);
    expect(table.size).toBe(0);
  });

  it('hash flooding with a known seed: ids colliding under the current keys trigger a rebuild with new keys, then a refusal; probes never exceed MAX_PROBE', () => {
    const table = new IdTable<Item>({ seed: 1234 });
    for (let i = 1; i <= 1000; i++) table.add(new Item(i)); // 2048 slots
    /** `n` fresh ids whose hash has its top 14 bits at 0 under the current keys: one home at every size up to 2^14 slots. */
    const colliding = (n: number, from: number): number[] => {
      const out: number[] = [];
      for (let id = from; out.length < n; id++) if (table.hashOf(id) >>> 18 === 0) out.push(id);
      return out;
    };
    // The attacker knows the keys: 300 ids with one home.
    const first = colliding(300, 1_000_000);
    let refusedAt = -1;
    first.forEach((id, i) => {
      if (!table.add(new Item(id)) && refusedAt < 0) refusedAt = i;
    });
    let p = table.probeStats();
    expect(refusedAt).toBe(-1);
    expect(p.rebuilds).toBe(1); // at the run's MAX_PROBE + 1-th entry: new keys, the run dissolved
    expect(p.maxDisplacement).toBeLessThan(MAX_PROBE / 2);
    // It learns the new keys too (a fixed seed; random keys stay secret) and tries again at once:
    // too soon for another rebuild, so the table refuses rather than let a run grow.
    const second = colliding(200, 50_000_000);
    let added = 0;
    for (const id of second) if (table.add(new Item(id))) added++;
    p = table.probeStats();
    expect(p.rebuilds).toBe(1);
    expect(p.refused).toBe(200 - added);
    expect(p.refused).toBeGreaterThan(0);
    expect(p.maxDisplacement).toBeLessThanOrEqual(MAX_PROBE);
    expect(table.size).toBe(1000 + 300 + added);
    // Lookups of refused or unknown ids end within MAX_PROBE + 1 slots and find nothing.
    for (const id of second.slice(added)) expect(table.get(id)).toBeUndefined();
  });
});
