/**
 * What a router remembers is gone, so that stale copies still travelling
 * through the mesh are refused instead of explored: withdrawn advertisements
 * (instance, epoch) and lost links (upstream id, downstream id, incarnation).
 * Both are bounded: the oldest entries are forgotten first. Pure data.
 */
import type { NodeId } from './path-record.ts';
import type { RootCause } from './root-cause.ts';

/** Entries kept per kind. */
export const LOSS_MEMORY_SIZE = 4096;

/** A Set that forgets its oldest entry past `size`. */
class BoundedSet {
  readonly #set = new Set<string>();
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  get size(): number {
    return this.#set.size;
  }
  has(k: string): boolean {
    return this.#set.has(k);
  }
  add(k: string): void {
    if (this.#set.has(k)) return;
    this.#set.add(k);
    if (this.#set.size > this.#size) this.#set.delete(this.#set.values().next().value!);
  }
}

export class LossMemory {
  readonly #withdrawn: BoundedSet;
  readonly #lostLinks: BoundedSet;

  constructor(size = LOSS_MEMORY_SIZE) {
    this.#withdrawn = new BoundedSet(size);
    this.#lostLinks = new BoundedSet(size);
  }

  /** Remember that advertisement `epoch` of instance `nodeKey` was withdrawn. */
  withdraw(nodeKey: string, epoch: number): void {
    this.#withdrawn.add(`${nodeKey}#${epoch}`);
  }

  isWithdrawn(nodeKey: string, epoch: number): boolean {
    return this.#withdrawn.has(`${nodeKey}#${epoch}`);
  }

  /** Remember a lost link (a restored link has a new incarnation, so it is not matched). */
  loseLink(rc: RootCause): void {
    this.#lostLinks.add(`${rc.a}|${rc.b}|${rc.inc}`);
  }

  /** The first lost link a path (with its per-hop incarnations) crosses, or null. */
  lostLinkOn(path: readonly NodeId[], hops: readonly number[] | undefined): RootCause | null {
    if (hops === undefined || this.#lostLinks.size === 0) return null;
    for (let i = 1; i < path.length; i++) {
      if (this.#lostLinks.has(`${path[i - 1]}|${path[i]}|${hops[i]}`)) return { a: path[i - 1]!, b: path[i]!, inc: hops[i]! };
    }
    return null;
  }
}
