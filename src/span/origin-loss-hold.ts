/**
 * Origin-loss holds: when the router that originates an instance looks dead,
 * do not re-announce each of its remaining paths in turn while the news of
 * its other lost links is still on its way.
 *
 * Why: when a router dies, each of its d neighbours loses only its own link
 * and names that link in its DELETEs (root-cause.ts). A router that also
 * holds the instance through another neighbour of the dead router is right,
 * locally, to switch to that path and re-announce it downstream (a single cut
 * must not take the service down), until that neighbour's DELETE arrives
 * too: up to d - 1 switches per router, each a CREATE + DELETE on every
 * link downstream (docs/perf.md A.5: span messages per directed link =
 * the dead router's degree minus one).
 *
 * Rule: a router that has pruned paths to an instance for two different lost
 * links both next to the instance's originator (the lost link's upstream end
 * is the first id of the path) holds the instance: it neither replans its
 * relays nor publishes it while paths to the instance remain, and releases
 * it when none is left (the originator is gone: one DELETE per link
 * downstream instead of a switch per lost link) or after `holdMs` at the
 * latest (the originator lost two links but lives: the replacement is
 * announced late, never lost). A single lost link next to the originator
 * holds nothing (the failover case is not delayed at all), and two such
 * losses further apart than `holdMs` do not add up.
 *
 * The hold only defers planning: the span table is current throughout, so
 * the router still forwards over its best remaining path.
 */
import type { Clock } from '../util/clock.ts';
import type { RootCause } from './root-cause.ts';

/**
 * A bound to use (ms): the repair-hold bound. The Router's span option
 * `originLossHoldMs` is 0 (off) by default: the rule cannot tell two cuts
 * next to a live originator in quick succession from its death, and then
 * announces the replacement only when the hold runs out, while the span
 * layer's contract is that every single cut converges without waiting for
 * a timer (test/span/cut-storm.prop.test.ts).
 */
export const ORIGIN_LOSS_HOLD_MS = 2000;

/** How many different lost links next to the originator start a hold. */
export const ORIGIN_LOSS_LINKS = 2;

interface Entry {
  /** Lost links next to the originator seen for this instance ("b/inc") since `since`. */
  readonly links: Set<string>;
  /** When the first of them was seen (clock ms): links further apart than holdMs do not add up. */
  since: number;
  /** The last of them (carried by the relay DELETEs when the hold ends). */
  cause: RootCause;
  /** Held since the ORIGIN_LOSS_LINKS-th; null: not held (yet). */
  timer: unknown;
  /** The timer fired, or the hold ended: the entry only counts links now (no second hold). */
  done: boolean;
}

export interface OriginLossHoldsOptions<K> {
  readonly clock: Clock;
  /** @default ORIGIN_LOSS_HOLD_MS; 0 turns the rule off (the Router passes its span option originLossHoldMs, default 0). */
  readonly holdMs?: number;
  /** A hold ran out of time: the owner plans the instance now (with `cause`). */
  readonly onExpire: (key: K, cause: RootCause) => void;
}

/** The instances held because their originator looks dead, keyed by K (the Router's NodeKey). */
export class OriginLossHolds<K extends string> {
  readonly #entries = new Map<K, Entry>();
  readonly #clock: Clock;
  readonly #holdMs: number;
  readonly #onExpire: (key: K, cause: RootCause) => void;
  #held = 0;
  #expired = 0;
  #started = 0;

  constructor(options: OriginLossHoldsOptions<K>) {
    this.#clock = options.clock;
    this.#holdMs = options.holdMs ?? ORIGIN_LOSS_HOLD_MS;
    this.#onExpire = options.onExpire;
  }

  /** Instances held now. */
  get size(): number {
    return this.#held;
  }

  /** Holds started so far. */
  get started(): number {
    return this.#started;
  }

  /** Holds that ended by running out of time (the originator lived on). */
  get expired(): number {
    return this.#expired;
  }

  isHeld(key: K): boolean {
    const e = this.#entries.get(key);
    return e !== undefined && e.timer !== null;
  }

  /**
   * Paths to instance `key` were pruned for `cause`, a lost link whose
   * upstream end is the instance's originator. Starts the hold at the
   * ORIGIN_LOSS_LINKS-th different such link.
   */
  lostNextToOrigin(key: K, cause: RootCause): void {
    if (this.#holdMs <= 0) return;
    const now = this.#clock.now();
    let e = this.#entries.get(key);
    if (e !== undefined && e.timer === null && now - e.since > this.#holdMs) {
      // An old loss: start counting again.
      this.#entries.delete(key);
      e = undefined;
    }
    if (e === undefined) {
      e = { links: new Set(), since: now, cause, timer: null, done: false };
      this.#entries.set(key, e);
    }
    // An entry lives until the instance has no path left or is withdrawn (evaluate, clear), or a later loss resets it.
    e.links.add(`${cause.b}/${cause.inc}`);
    e.cause = cause;
    if (e.timer !== null || e.done || e.links.size < ORIGIN_LOSS_LINKS) return;
    const entry = e;
    this.#held++;
    this.#started++;
    e.timer = this.#clock.setTimeout(() => {
      if (this.#entries.get(key) !== entry || entry.timer === null) return;
      this.#expired++;
      this.#stop(entry);
      this.#onExpire(key, entry.cause);
    }, this.#holdMs);
  }

  /**
   * Instance `key` changed; `hasPaths`: whether any path to it remains.
   * Returns null when it is not held, 'wait' while held with paths left,
   * or the hold's last cause when the hold ends now (no path left).
   */
  evaluate(key: K, hasPaths: boolean): null | 'wait' | RootCause {
    const e = this.#entries.get(key);
    if (e === undefined) return null;
    if (!hasPaths) {
      // Nothing left to hold or to count against: forget the instance.
      this.#entries.delete(key);
      if (e.timer === null) return null;
      this.#stop(e);
      return e.cause;
    }
    return e.timer !== null ? 'wait' : null;
  }

  /** Forget instance `key` (withdrawn by its originator). */
  clear(key: K): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    if (e.timer !== null) this.#stop(e);
  }

  /** Forget every instance and stop every timer. */
  clearAll(): void {
    for (const key of [...this.#entries.keys()]) this.clear(key);
  }

  #stop(e: Entry): void {
    this.#clock.clearTimeout(e.timer);
    e.timer = null;
    e.done = true;
    this.#held--;
  }
}
