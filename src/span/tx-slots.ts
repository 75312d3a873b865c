/**
 * Per-router facts about transactions (role, host, opened-by-us), kept in
 * the transaction's internal `_span` slot rather than in WeakMaps/WeakSets.
 *
 * Why: a router made three to four weak-table insertions per transaction
 * (a round trip through one relay: client, relay, server). Each insertion
 * was a runtime call (~5% of the relay benchmark's CPU, "set natives") and
 * every live entry is an ephemeron the garbage collector must revisit (GC
 * was 24-30% of the same profile). A slot dies with its transaction, as a
 * weak entry does.
 *
 * Same semantics as one WeakMap per router: a slot records which router
 * (RouterCore) it belongs to, and another router sees nothing in it. One
 * difference: a transaction belongs to one link, so to one router; should a
 * second router record a fact about it, the first router's facts about it
 * are dropped (two WeakMaps would have kept both).
 */
import type { Transaction } from '../iocom/transaction.ts';

/** What one router keeps about one transaction. */
class SpanSlot {
  readonly owner: object;
  role: unknown = undefined;
  host: unknown = undefined;
  opened = false;
  constructor(owner: object) {
    this.owner = owner;
  }
}

function slotOf(tx: Transaction, owner: object): SpanSlot | undefined {
  const s = tx._span as SpanSlot | undefined;
  return s !== undefined && s.owner === owner ? s : undefined;
}

function makeSlot(tx: Transaction, owner: object): SpanSlot {
  let s = tx._span as SpanSlot | undefined;
  if (s === undefined || s.owner !== owner) tx._span = s = new SpanSlot(owner);
  return s;
}

/** A WeakMap<Transaction, V> of one router, stored in the transactions' slots. */
export class TxSlotMap<V> {
  readonly #owner: object;
  readonly #field: 'role' | 'host';
  constructor(owner: object, field: 'role' | 'host') {
    this.#owner = owner;
    this.#field = field;
  }
  get(tx: Transaction): V | undefined {
    return slotOf(tx, this.#owner)?.[this.#field] as V | undefined;
  }
  has(tx: Transaction): boolean {
    return this.get(tx) !== undefined;
  }
  set(tx: Transaction, v: V): this {
    makeSlot(tx, this.#owner)[this.#field] = v;
    return this;
  }
  delete(tx: Transaction): boolean {
    const s = slotOf(tx, this.#owner);
    if (s === undefined || s[this.#field] === undefined) return false;
    s[this.#field] = undefined;
    return true;
  }
}

/** A WeakSet<Transaction> of one router (transactions it opened), stored in the slots. */
export class TxSlotSet {
  readonly #owner: object;
  constructor(owner: object) {
    this.#owner = owner;
  }
  has(tx: Transaction): boolean {
    return slotOf(tx, this.#owner)?.opened === true;
  }
  add(tx: Transaction): this {
    makeSlot(tx, this.#owner).opened = true;
    return this;
  }
  delete(tx: Transaction): boolean {
    const s = slotOf(tx, this.#owner);
    if (s === undefined || !s.opened) return false;
    s.opened = false;
    return true;
  }
}
