/**
 * A lockspace's locks by lock id (any role: owner's, process and master
 * copies) and the allocation of new ids: ids count up from 1 and wrap past
 * 0xffffffff, after which a new id is checked against the ids in use.
 */
import { Lock } from './lock.ts';

export class LockTable {
  /** Every lock known here, by lkid. */
  readonly byId = new Map<number, Lock>();
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
        this.byId.set(id, lkb);
        return lkb;
      }
    }
  }
}
