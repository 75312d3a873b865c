/**
 * What a router remembers is gone, so that stale copies still travelling
 * through the mesh are refused instead of explored: withdrawn advertisements
 * (instance, epoch) and lost links (upstream id, downstream id, incarnation).
 * Both are bounded: the oldest entries are forgotten first, and every entry
 * is forgotten `ttlMs` after it was remembered (on the injected clock: a
 * stale copy is long gone by then). Pure data; time comes from the clock.
 */
import { systemClock, type Clock } from '../util/clock.ts';
import type { NodeId } from './path-record.ts';
import type { RootCause } from './root-cause.ts';

/** Entries kept per kind. */
export const LOSS_MEMORY_SIZE = 4096;
/** How long an entry is kept (ms). */
export const LOSS_MEMORY_TTL_MS = 10 * 60_000;

/** A set that forgets its oldest entry past `size`, and any entry older than `ttlMs`. */
class BoundedSet {
  /** Key → time remembered; Map order is insertion order, oldest first. */
  readonly #map = new Map<string, number>();
  readonly #size: number;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  constructor(size: number, ttlMs: number, clock: Clock) {
    this.#size = size;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }
  get size(): number {
    this.#expire();
    return this.#map.size;
  }
  has(k: string): boolean {
    const at = this.#map.get(k);
    if (at === undefined) return false;
    if (this.#clock.now() - at < this.#ttlMs) return true;
    this.#expire();
    return false;
  }
  add(k: string): void {
    this.#expire();
    this.#map.delete(k);
    this.#map.set(k, this.#clock.now());
    if (this.#map.size > this.#size) this.#map.delete(this.#map.keys().next().value!);
  }
  /** Drop expired entries from the oldest end. */
  #expire(): void {
    const cutoff = this.#clock.now() - this.#ttlMs;
    for (const [k, at] of this.#map) {
      if (at > cutoff) break;
      this.#map.delete(k);
    }
  }
}

export interface LossMemoryOptions {
  /** @default systemClock */
  clock?: Clock;
  /** @default LOSS_MEMORY_TTL_MS */
  ttlMs?: number;
}

export class LossMemory {
  readonly #withdrawn: BoundedSet;
  readonly #lostLinks: BoundedSet;

  constructor(size = LOSS_MEMORY_SIZE, options: LossMemoryOptions = {}) {
    const clock = options.clock ?? systemClock;
    const ttl = options.ttlMs ?? LOSS_MEMORY_TTL_MS;
    this.#withdrawn = new BoundedSet(size, ttl, clock);
    this.#lostLinks = new BoundedSet(size, ttl, clock);
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
