/**
 * A first-in first-out queue on a ring of slots (a power of two, doubled
 * when full): push and shift touch one slot each, with no `length` change
 * and no array per batch, unlike `Array#shift` / `length = 0` / `splice`,
 * which cost a runtime call on every drain of a hot queue (the DLM's
 * callbacks and scheduler tasks, a few per lock operation).
 */
export class Fifo<T> {
  #slots: (T | undefined)[];
  #mask: number;
  #head = 0;
  #count = 0;

  /** `capacity`: initial slots, rounded up to a power of two (at least 4). */
  constructor(capacity = 16) {
    let n = 4;
    while (n < capacity) n *= 2;
    this.#slots = new Array<T | undefined>(n).fill(undefined);
    this.#mask = n - 1;
  }

  get length(): number {
    return this.#count;
  }

  push(item: T): void {
    if (this.#count === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#count) & this.#mask] = item;
    this.#count++;
  }

  /** The oldest item (removed), or undefined when empty. */
  shift(): T | undefined {
    if (this.#count === 0) return undefined;
    const i = this.#head;
    const item = this.#slots[i];
    this.#slots[i] = undefined; // keep nothing alive that was taken
    this.#head = (i + 1) & this.#mask;
    this.#count--;
    return item;
  }

  #grow(): void {
    const old = this.#slots;
    const n = old.length * 2;
    const slots = new Array<T | undefined>(n).fill(undefined);
    for (let k = 0; k < this.#count; k++) slots[k] = old[(this.#head + k) & this.#mask];
    this.#slots = slots;
    this.#mask = n - 1;
    this.#head = 0;
  }
}
