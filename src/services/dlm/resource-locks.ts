/**
 * Every lock of one resource known here, in any role (`Resource.locks`, its
 * use count): a list threaded through the locks themselves (`Lock.rsOwner`,
 * `rsPrev`, `rsNext`). A remote lock cycle adds and removes a lock on each
 * side; a `Set` hashed each new lock and grew, tombstoned and rehashed its
 * table as locks came and went. Here add and delete are a few pointer
 * stores. The part of the `Set` API its users need: `add`, `delete`, `has`,
 * `size`, iteration in insertion order (over a snapshot, so a loop may add
 * or delete as it goes). A lock is in at most one resource's list (its own
 * resource's).
 */
import type { Lock } from './lock.ts';

export class ResourceLocks implements Iterable<Lock> {
  #head: Lock | null = null;
  #tail: Lock | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(lkb: Lock): boolean {
    return lkb.rsOwner === this;
  }

  /** Append `lkb` (nothing when it is in already). Returns this, as Set.add does. */
  add(lkb: Lock): this {
    if (lkb.rsOwner === this) return this;
    lkb.rsOwner?.delete(lkb); // never happens: a lock belongs to one resource
    lkb.rsOwner = this;
    lkb.rsPrev = this.#tail;
    lkb.rsNext = null;
    if (this.#tail === null) this.#head = lkb;
    else this.#tail.rsNext = lkb;
    this.#tail = lkb;
    this.#size++;
    return this;
  }

  /** Remove `lkb`; false when it was not in. */
  delete(lkb: Lock): boolean {
    if (lkb.rsOwner !== this) return false;
    const prev = lkb.rsPrev;
    const next = lkb.rsNext;
    if (prev === null) this.#head = next;
    else prev.rsNext = next;
    if (next === null) this.#tail = prev;
    else next.rsPrev = prev;
    lkb.rsOwner = null;
    lkb.rsPrev = lkb.rsNext = null;
    this.#size--;
    return true;
  }

  /** The locks in insertion order, as an array made now. */
  toArray(): Lock[] {
    const out: Lock[] = [];
    for (let l = this.#head; l !== null; l = l.rsNext) out.push(l);
    return out;
  }

  /** Iterates a snapshot (toArray()): changes made during the loop do not affect it. */
  [Symbol.iterator](): IterableIterator<Lock> {
    return this.toArray()[Symbol.iterator]();
  }

  values(): IterableIterator<Lock> {
    return this[Symbol.iterator]();
  }
}
