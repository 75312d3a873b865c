/**
 * The open transactions of one side of a link, by msgid (Transaction._id).
 * Every round trip adds, looks up and removes a few entries: in a Map that
 * cost ~20 ns an operation (hashing and the builtin's bookkeeping), a
 * sizeable share of a round trip. Number ids (all ours; a peer's below
 * 2^53) live in an open-addressing table with linear probing (Fibonacci
 * hashing spreads sequential and aligned ids alike); bigint ids go to a Map.
 * Removal shifts the probe run back (Knuth's algorithm R): no tombstones.
 */

/** What the table holds: anything that knows its id. */
export interface HasId {
  readonly _id: number | bigint;
}

const MIN_BITS = 4;

export class IdTable<T extends HasId> {
  #slots: Array<T | undefined>;
  #bits: number;
  #mask: number;
  #count = 0;
  #big: Map<bigint, T> | null = null;

  constructor() {
    this.#bits = MIN_BITS;
    this.#mask = (1 << MIN_BITS) - 1;
    this.#slots = new Array<T | undefined>(1 << MIN_BITS).fill(undefined);
  }

  get size(): number {
    return this.#count + (this.#big === null ? 0 : this.#big.size);
  }

  #home(id: number): number {
    // Fibonacci hashing of the low word xor the high word; the top bits are the best mixed.
    return Math.imul((id | 0) ^ ((id / 4294967296) | 0), 0x9e3779b1) >>> (32 - this.#bits);
  }

  get(id: number | bigint): T | undefined {
    if (typeof id !== 'number') return this.#big === null ? undefined : this.#big.get(id);
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(id);
    for (;;) {
      const t = slots[i];
      if (t === undefined || t._id === id) return t;
      i = (i + 1) & mask;
    }
  }

  has(id: number | bigint): boolean {
    return this.get(id) !== undefined;
  }

  /** Add `t` under its `_id`, which must not be in the table. */
  add(t: T): void {
    const id = t._id;
    if (typeof id !== 'number') {
      (this.#big ??= new Map()).set(id, t);
      return;
    }
    if ((this.#count + 1) * 2 > this.#slots.length) this.#grow();
    this.#place(t, id);
    this.#count++;
  }

  #place(t: T, id: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(id);
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = t;
  }

  #grow(): void {
    this.#resize(this.#bits + 1);
  }

  #resize(bits: number): void {
    const old = this.#slots;
    this.#bits = bits;
    this.#mask = (1 << this.#bits) - 1;
    this.#slots = new Array<T | undefined>(1 << this.#bits).fill(undefined);
    for (let i = 0; i < old.length; i++) {
      const t = old[i];
      if (t !== undefined) this.#place(t, t._id as number);
    }
  }

  /** Remove the entry with this id; false if there was none. */
  delete(id: number | bigint): boolean {
    if (typeof id !== 'number') return this.#big === null ? false : this.#big.delete(id);
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(id);
    for (;;) {
      const t = slots[i];
      if (t === undefined) return false;
      if (t._id === id) break;
      i = (i + 1) & mask;
    }
    // Shift back every later entry of the run that may not sit after the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const t = slots[j];
      if (t === undefined) break;
      const k = this.#home(t._id as number);
      // t may move to the hole i unless its home k lies cyclically in (i, j].
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!stays) {
        slots[i] = t;
        i = j;
      }
    }
    slots[i] = undefined;
    this.#count--;
    // Give memory back after a burst (halving leaves the table at most a quarter full).
    if (this.#count * 8 < slots.length && this.#bits > MIN_BITS + 2) this.#resize(this.#bits - 1);
    return true;
  }

  /** Every entry (order unspecified). */
  values(): T[] {
    const out: T[] = [];
    for (const t of this.#slots) if (t !== undefined) out.push(t);
    if (this.#big !== null) for (const t of this.#big.values()) out.push(t);
    return out;
  }
}
