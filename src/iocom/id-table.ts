/**
 * The open transactions of one side of a link, by msgid (Transaction._id).
 * Every round trip adds, looks up and removes a few entries: in a Map that
 * cost ~20 ns an operation (hashing and the builtin's bookkeeping), a
 * sizeable share of a round trip. Ids live in an open-addressing table with
 * linear probing; removal shifts the probe run back (Knuth's algorithm R):
 * no tombstones.
 *
 * The peer chooses the msgids of the transactions it opens, so the table must
 * not let it choose where they land (hash flooding: with the former fixed,
 * invertible multiplier, ids `imul(i, inverse)` all fell into one run and
 * 65,000 CREATEs took 18 s). Two defences:
 * - a keyed hash: both 32-bit halves of the id are mixed with two secret
 *   random 32-bit keys per table (murmur3-style multiply/xor-shift rounds),
 *   so a peer that cannot see the keys cannot compute colliding ids;
 * - bounded probes: no entry sits more than MAX_PROBE slots past its home,
 *   so no lookup, insert or removal ever probes more than MAX_PROBE + 1
 *   slots, whatever the ids. An insert that would go farther rebuilds the
 *   table with new keys, if at least a quarter of the entries were added
 *   since the last rebuild (so rebuilds cost O(1) per insert, amortized);
 *   otherwise the insert is refused (`add` returns false), which the iocom
 *   turns into the loss of the offending link.
 * Bigint ids (a peer's above 2^53) are hashed the same way: V8 hashes numbers
 * and bigints in a Map without a seed, which a peer could flood too.
 */

import { getRandomValues } from 'node:crypto';

/** What the table holds: anything that knows its id. */
export interface HasId {
  readonly _id: number | bigint;
}

export interface IdTableOptions {
  /**
   * Derive the hash keys from this seed instead of the system's random
   * source: for tests that need to compute colliding ids. Never in
   * production: a known seed lets a peer compute them too.
   */
  seed?: number;
}

/** What the table's probing costs now (for tests and stats). */
export interface IdTableProbeStats {
  /** The farthest any entry sits from its home slot (≤ MAX_PROBE). */
  maxDisplacement: number;
  /** Rebuilds with new keys since the table was made. */
  rebuilds: number;
  /** Inserts refused because they would have exceeded MAX_PROBE. */
  refused: number;
  slots: number;
}

const MIN_BITS = 4;
/**
 * A table that grew is not shrunk below 2^KEEP_BITS slots (2 KiB): a link
 * whose open transactions swing between a few and ~100 every batch would
 * otherwise halve and double its table on every swing.
 */
const KEEP_BITS = 8;
/** No entry sits farther than this from its home slot. */
export const MAX_PROBE = 128;

/** splitmix32: the key stream of a seeded table. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO32 = 4294967296;

export class IdTable<T extends HasId> {
  #slots: Array<T | undefined>;
  #bits: number;
  #mask: number;
  #count = 0;
  #k0 = 0;
  #k1 = 0;
  readonly #seed: { s: number } | null;
  #sinceRebuild = 0;
  #rebuilds = 0;
  #refused = 0;

  constructor(options: IdTableOptions = {}) {
    this.#seed = options.seed === undefined ? null : { s: options.seed | 0 };
    this.#newKeys();
    this.#bits = MIN_BITS;
    this.#mask = (1 << MIN_BITS) - 1;
    this.#slots = new Array<T | undefined>(1 << MIN_BITS).fill(undefined);
  }

  get size(): number {
    return this.#count;
  }

  #newKeys(): void {
    if (this.#seed !== null) {
      this.#k0 = splitmix32(this.#seed);
      this.#k1 = splitmix32(this.#seed);
    } else {
      const k = getRandomValues(new Uint32Array(2));
      this.#k0 = k[0]!;
      this.#k1 = k[1]!;
    }
  }

  /** The keyed 32-bit hash of an id's two halves; the top `bits` bits pick the home slot. */
  #hash(id: number | bigint): number {
    let lo: number;
    let hi: number;
    if (typeof id === 'number') {
      lo = id | 0;
      hi = (id / TWO32) | 0;
    } else {
      lo = Number(BigInt.asUintN(32, id)) | 0;
      hi = Number(BigInt.asUintN(32, id >> 32n)) | 0;
    }
    let h = Math.imul(lo ^ this.#k0, 0xcc9e2d51);
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ hi ^ this.#k1;
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
    return h ^ (h >>> 16);
  }

  #home(id: number | bigint): number {
    return this.#hash(id) >>> (32 - this.#bits);
  }

  get(id: number | bigint): T | undefined {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(id);
    // Every entry is within MAX_PROBE of its home: a miss is known after MAX_PROBE + 1 slots.
    for (let d = 0; d <= MAX_PROBE; d++) {
      const t = slots[i];
      if (t === undefined || t._id === id) return t;
      i = (i + 1) & mask;
    }
    return undefined;
  }

  has(id: number | bigint): boolean {
    return this.get(id) !== undefined;
  }

  /**
   * Add `t` under its `_id`, which must not be in the table. Returns false
   * (and adds nothing) when the ids seen so far crowd one run of the table
   * too often to rebuild it again yet: a sign of ids chosen against it.
   */
  add(t: T): boolean {
    if ((this.#count + 1) * 2 > this.#slots.length) this.#resize(this.#bits + 1, false);
    if (!this.#place(t)) {
      // A run longer than MAX_PROBE: new keys, unless that was done too recently.
      if (this.#sinceRebuild * 4 < this.#count || !this.#rebuild(this.#bits, true) || !this.#place(t)) {
        this.#refused++;
        return false;
      }
    }
    this.#count++;
    this.#sinceRebuild++;
    return true;
  }

  /** Put `t` in the first free slot within MAX_PROBE of its home; false if there is none. */
  #place(t: T): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(t._id);
    for (let d = 0; d <= MAX_PROBE; d++) {
      if (slots[i] === undefined) {
        slots[i] = t;
        return true;
      }
      i = (i + 1) & mask;
    }
    return false;
  }

  #resize(bits: number, newKeys: boolean): void {
    if (!this.#rebuild(bits, newKeys)) this.#rebuild(bits, true);
  }

  /**
   * Re-place every entry in a table of 2^bits slots (with new keys if asked).
   * Tries new keys a few times if an entry does not fit within MAX_PROBE;
   * returns false (table unchanged) if none did, which random keys make
   * practically impossible.
   */
  #rebuild(bits: number, newKeys: boolean): boolean {
    const old = this.#slots;
    const oldBits = this.#bits;
    const oldK0 = this.#k0;
    const oldK1 = this.#k1;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (newKeys || attempt > 0) this.#newKeys();
      this.#bits = bits;
      this.#mask = (1 << bits) - 1;
      this.#slots = new Array<T | undefined>(1 << bits).fill(undefined);
      let ok = true;
      for (let i = 0; i < old.length && ok; i++) {
        const t = old[i];
        if (t !== undefined) ok = this.#place(t);
      }
      if (ok) {
        if (newKeys || attempt > 0) {
          this.#rebuilds++;
          this.#sinceRebuild = 0;
        }
        return true;
      }
    }
    this.#slots = old;
    this.#bits = oldBits;
    this.#mask = (1 << oldBits) - 1;
    this.#k0 = oldK0;
    this.#k1 = oldK1;
    return false;
  }

  /** Remove the entry with this id; false if there was none. */
  delete(id: number | bigint): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(id);
    for (let d = 0; ; d++) {
      if (d > MAX_PROBE) return false;
      const t = slots[i];
      if (t === undefined) return false;
      if (t._id === id) break;
      i = (i + 1) & mask;
    }
    // Shift back every later entry of the run that may not sit after the hole
    // (moving an entry back only brings it nearer its home).
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const t = slots[j];
      if (t === undefined) break;
      const k = this.#home(t._id);
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
    if (this.#count * 8 < slots.length && this.#bits > KEEP_BITS) this.#resize(this.#bits - 1, false);
    return true;
  }

  /** Every entry (order unspecified). */
  values(): T[] {
    const out: T[] = [];
    for (const t of this.#slots) if (t !== undefined) out.push(t);
    return out;
  }

  /** How far entries sit from their homes now, and how often the table had to defend itself. O(slots). */
  probeStats(): IdTableProbeStats {
    const slots = this.#slots;
    let max = 0;
    for (let i = 0; i < slots.length; i++) {
      const t = slots[i];
      if (t === undefined) continue;
      const d = (i - this.#home(t._id)) & this.#mask;
      if (d > max) max = d;
    }
    return { maxDisplacement: max, rebuilds: this.#rebuilds, refused: this.#refused, slots: slots.length };
  }

  /** The keyed 32-bit hash of `id` under the current keys (its top bits pick the home slot). For tests that build colliding ids. @internal */
  hashOf(id: number | bigint): number {
    return this.#hash(id) >>> 0;
  }
}
