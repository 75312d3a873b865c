/**
 * A lockspace's locks by lock id (any role: owner's, process and master
 * copies) and the allocation of new ids: ids count up from 1 and wrap past
 * 0xffffffff, after which a new id is checked against the ids in use.
 */
import { Lock } from './lock.ts';

/** Slots of the id ring (a power of two). */
const RING = 4096;
const MASK = RING - 1;

/**
 * Locks by lkid: a ring of RING slots indexed by the id's low bits, and a
 * Map for an id whose slot a longer-lived lock still holds. Ids are handed
 * out in sequence, so a short-lived lock (a remote lock cycle makes two)
 * costs a slot store and clear instead of a hash-table insert and delete
 * (a Map of churning integer keys rehashes as its deleted entries pile up).
 * The part of the Map API the lockspace uses; iteration is in insertion
 * order, skipping locks removed meanwhile (as a Map's does).
 */
export class LockIndex {
  readonly #ring: (Lock | undefined)[] = new Array<Lock | undefined>(RING).fill(undefined);
  readonly #overflow = new Map<number, Lock>();
  #size = 0;
  /** Insertion counter: `Lock.tableSeq` orders iteration. */
  #seq = 0;

  get size(): number {
    return this.#size;
  }

  get(lkid: number): Lock | undefined {
    const l = this.#ring[lkid & MASK];
    if (l !== undefined && l.lkid === lkid) return l;
    return this.#overflow.size === 0 ? undefined : this.#overflow.get(lkid);
  }

  has(lkid: number): boolean {
    return this.get(lkid) !== undefined;
  }

  /** File `lkb` under its lkid (no lock of that id may be filed: LockTable.newLock checks). */
  add(lkb: Lock): void {
    lkb.tableSeq = ++this.#seq;
    const i = lkb.lkid & MASK;
    if (this.#ring[i] === undefined) this.#ring[i] = lkb;
    else this.#overflow.set(lkb.lkid, lkb);
    this.#size++;
  }

  delete(lkid: number): boolean {
    const i = lkid & MASK;
    const l = this.#ring[i];
    if (l !== undefined && l.lkid === lkid) {
      this.#ring[i] = undefined;
      this.#size--;
      return true;
    }
    if (this.#overflow.delete(lkid)) {
      this.#size--;
      return true;
    }
    return false;
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#overflow.clear();
    this.#size = 0;
  }

  /** Every lock, in the order filed; a lock removed before the loop reaches it is skipped. */
  *values(): IterableIterator<Lock> {
    const all: Lock[] = [...this.#overflow.values()];
    if (this.#size > all.length) for (const l of this.#ring) if (l !== undefined) all.push(l);
    all.sort((a, b) => a.tableSeq - b.tableSeq);
    for (const l of all) if (this.get(l.lkid) === l) yield l;
  }

  [Symbol.iterator](): IterableIterator<Lock> {
    return this.values();
  }
}

export class LockTable {
  /** Every lock known here, by lkid. */
  readonly byId = new LockIndex();
  #nextLkid = 1;
  /** Lock ids wrapped past 0xffffffff once: a new id may be in use, so it is checked. */
  #lkidsWrapped = false;

  /** A new lock with a free id, filed under it. */
  newLock(masterCopy: boolean): Lock {
    for (;;) {
      const id = this.#nextLkid;
      if (id >= 0xffffffff) {
        this.#nextLkid = 1;
        this.#lkidsWrapped = true;
      } else this.#nextLkid = id + 1;
      // Before the first wrap every id is new: no lookup per lock.
      if (!this.#lkidsWrapped || !this.byId.has(id)) {
        const lkb = new Lock(id, masterCopy);
        this.byId.add(lkb);
        return lkb;
      }
    }
  }
}
