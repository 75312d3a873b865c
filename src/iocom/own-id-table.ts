/**
 * The transactions we opened on a link, by the msgid we chose for them: a
 * direct-indexed table. We pick our own msgids, so we pick them to land in
 * free slots: an id lives at slot `id & mask`, and `nextId()` skips counter
 * values whose slot is taken. A lookup, insert or removal is one array access
 * and no hashing, where the keyed table (id-table.ts) hashes with secret keys
 * and probes: that defence is needed only for the peer's msgids, which the
 * peer chooses. A peer can look up any id here (REVTRANS messages name our
 * ids) but cannot choose where ours land, and every lookup is O(1) whatever
 * it names.
 *
 * Ids count up from 1 as before, skipping those whose slot is held by a
 * transaction still open; past Number.MAX_SAFE_INTEGER the counter starts
 * again at 1. An id whose slot is free is in use by no open transaction, so a
 * wrapped counter can never hand out an id still open. At most half the slots
 * are full, so `nextId()` passes over at most one occupied slot per id it
 * hands out, amortized.
 *
 * Growing keeps every entry's slot distinct (ids apart in the low `bits` bits
 * stay apart in more bits); shrinking happens only when no two entries would
 * share a slot.
 */
import type { HasId } from './id-table.ts';

const MIN_BITS = 4;
/**
 * A table that grew is not shrunk below 2^KEEP_BITS slots (2 KiB): a link
 * whose open transactions swing between a few and ~100 every batch would
 * otherwise halve and double its table on every swing.
 */
const KEEP_BITS = 8;

export interface OwnIdTableOptions {
  /** The first id the counter hands out. @default 1 (tests start near Number.MAX_SAFE_INTEGER to see the wrap) */
  firstId?: number;
}

export class OwnIdTable<T extends HasId> {
  #slots: Array<T | undefined>;
  #bits = MIN_BITS;
  #mask = (1 << MIN_BITS) - 1;
  #count = 0;
  #next = 1;

  constructor(options: OwnIdTableOptions = {}) {
    const first = options.firstId ?? 1;
    if (!Number.isSafeInteger(first) || first < 1) throw new RangeError(`firstId must be a safe integer >= 1, got ${first}`);
    this.#next = first;
    this.#slots = new Array<T | undefined>(1 << MIN_BITS).fill(undefined);
  }

  get size(): number {
    return this.#count;
  }

  /**
   * The msgid for the next transaction we open: the next counter value whose
   * slot is free (the table grows first if one more entry would fill it past
   * half). The id is not reserved: `add` the transaction before choosing another.
   */
  nextId(): number {
    if ((this.#count + 1) * 2 > this.#slots.length) this.#resize(this.#bits + 1);
    const slots = this.#slots;
    const mask = this.#mask;
    let id = this.#next;
    while (slots[id & mask] !== undefined) id = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
    this.#next = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
    return id;
  }

  get(id: number | bigint): T | undefined {
    // Our ids are numbers: a bigint id (above 2^53) names none of them.
    if (typeof id !== 'number') return undefined;
    const t = this.#slots[id & this.#mask];
    return t !== undefined && t._id === id ? t : undefined;
  }

  has(id: number | bigint): boolean {
    return this.get(id) !== undefined;
  }

  /**
   * Add `t` under its `_id`, which must come from `nextId()` (a number whose
   * slot is free). Returns false (and adds nothing) otherwise.
   */
  add(t: T): boolean {
    const id = t._id;
    if (typeof id !== 'number') return false;
    if ((this.#count + 1) * 2 > this.#slots.length) this.#resize(this.#bits + 1);
    const i = id & this.#mask;
    if (this.#slots[i] !== undefined) return false;
    this.#slots[i] = t;
    this.#count++;
    return true;
  }

  /** Remove the entry with this id; false if there was none. */
  delete(id: number | bigint): boolean {
    if (typeof id !== 'number') return false;
    const slots = this.#slots;
    const i = id & this.#mask;
    const t = slots[i];
    if (t === undefined || t._id !== id) return false;
    slots[i] = undefined;
    this.#count--;
    // Give memory back after a burst, when the entries still fit one per slot.
    if (this.#count * 8 < slots.length && this.#bits > KEEP_BITS) this.#resize(this.#bits - 1);
    return true;
  }

  /** Every entry (order unspecified). */
  values(): T[] {
    const out: T[] = [];
    for (const t of this.#slots) if (t !== undefined) out.push(t);
    return out;
  }

  /** Slots in the table now (for tests). */
  get slotCount(): number {
    return this.#slots.length;
  }

  /** Re-place every entry in 2^bits slots; a smaller table that two entries would share is not taken. */
  #resize(bits: number): void {
    const mask = (1 << bits) - 1;
    const slots = new Array<T | undefined>(1 << bits).fill(undefined);
    const old = this.#slots;
    for (let i = 0; i < old.length; i++) {
      const t = old[i];
      if (t === undefined) continue;
      const j = (t._id as number) & mask;
      if (slots[j] !== undefined) return; // only when shrinking: keep the larger table
      slots[j] = t;
    }
    this.#slots = slots;
    this.#bits = bits;
    this.#mask = mask;
  }
}
