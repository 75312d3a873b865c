/**
 * Repair holds: after a lost link, a router does not announce a replacement
 * path to an instance while a neighbour may still offer a better one.
 *
 * Why: when a link next to a service's origin is lost, the root-cause record
 * (root-cause.ts) tells every router at once which of its paths are dead. If
 * each router then announced its best remaining path straight away, it would
 * announce whatever it happens to hold (often a long detour, or nothing),
 * and announce again as its neighbours' own replacements arrive: path
 * exploration, `changed` storms and `down`/`up` at routers that stay
 * reachable. Instead a router waits, per instance, for the neighbours whose
 * dead offers it pruned *itself* (before they closed them) and that go first
 * (below); each of those sends its final replacement (a CREATE, then the
 * DELETE of the dead offer), so the repair spreads outward roughly in order
 * of distance, like Dijkstra's algorithm, and each relay is replaced once.
 *
 * Who goes first, so that no two routers wait for each other:
 * - a neighbour that was strictly closer to the origin: its dead offer's dist
 *   ≤ our old best dist. An offer is the sender's best path avoiding us plus
 *   one hop, and a path through us is longer than our own best, so this is
 *   exactly "its old best dist < ours". Distances strictly decrease along a
 *   chain of such waits, which ends at the router next to the lost link
 *   (it holds no dead offer, so it waits on no one).
 * - while only one lost link is known to the hold: a neighbour whose dead
 *   offer to us is matched by no dead offer of ours to it (it has nothing of
 *   ours to wait for), or, when both are dead, the one with the smaller offer
 *   across the link, then the smaller node id (goesFirst(); both ends see
 *   both offers, so they agree). This covers neighbours that were farther
 *   but end up closer. A second lost link can make ours dead at the
 *   neighbour without our knowing, so a hold that learns of a second one
 *   keeps only the strictly closer neighbours.
 * That argument assumes the mesh was quiet before the loss; for anything
 * else (events overlapping, a peer that never closes its dead offer) every
 * hold ends after `holdMs` at the latest (`expired` counts those).
 *
 * The decisions are pure functions (mustWait, goesFirst); RepairHolds keeps
 * the records and one timer per held instance.
 */
import type { Clock } from '../util/clock.ts';
import type { RootCause } from './root-cause.ts';

/** How long an instance may be held at most, by default (ms). */
export const REPAIR_HOLD_MS = 2000;

/** A dead offer this router pruned before its sender closed it. */
export interface PendingOffer {
  /** The received span link (the Router's link id). */
  readonly linkId: string;
  /** Its dist as received (the sender's dist + 1). */
  readonly dist: number;
}

interface PendingEntry extends PendingOffer {
  /** Waited for only because the sender cannot be waiting for us (one cause known): dropped when a second cause arrives. */
  readonly byCause: boolean;
}

/**
 * Must an instance still wait? `candidate`: the dist of its best link now
 * (null: none). It waits while a neighbour it waits for could still offer as
 * good as what it has (dist ≤ candidate: a neighbour's new offer is never
 * shorter than its dead one, since losing a link never shortens a path).
 */
export function mustWait(pending: Iterable<PendingOffer>, candidate: number | null): boolean {
  for (const p of pending) if (candidate === null || p.dist <= candidate) return true;
  return false;
}

/**
 * Does the neighbour that sent us a dead offer of `theirDist` go first (we
 * wait for it), or does it wait for us? It can only wait for us if our offer
 * to it is dead too (`ourDist`, null when ours is alive or there is none):
 * then the smaller offer across the link goes first, the smaller node id on
 * a tie. Both ends see both offers, so they agree.
 */
export function goesFirst(theirDist: number, ourDist: number | null, theirId: string, ourId: string): boolean {
  if (ourDist === null) return true;
  return theirDist < ourDist || (theirDist === ourDist && theirId < ourId);
}

interface Hold<K> {
  readonly key: K;
  readonly oldBest: number;
  readonly cause: RootCause;
  /** A second lost link reached this hold: only offers of strictly closer neighbours count. */
  multi: boolean;
  readonly pending: Map<string, PendingEntry>;
  timer: unknown;
}

/** The outcome of evaluating an instance. */
export type HoldVerdict =
  /** Not held: plan and publish as usual. */
  | { readonly wait: false; readonly cause: null }
  /** Keep waiting: do not plan or publish it. */
  | { readonly wait: true }
  /** The hold has just ended: plan and publish it, the relay deletions carrying `cause`. */
  | { readonly wait: false; readonly cause: RootCause };

export interface RepairHoldsOptions<K> {
  readonly clock: Clock;
  /** @default REPAIR_HOLD_MS */
  readonly holdMs?: number;
  /** A hold ran out of time: the owner plans the instance now (with `cause`). */
  readonly onExpire: (key: K, cause: RootCause) => void;
}

/** The instances held, keyed by K (the Router's NodeKey). */
export class RepairHolds<K extends string> {
  readonly #holds = new Map<K, Hold<K>>();
  /** Pending link id → its instance. */
  readonly #byLink = new Map<string, K>();
  readonly #clock: Clock;
  readonly #holdMs: number;
  readonly #onExpire: (key: K, cause: RootCause) => void;
  #expired = 0;

  constructor(options: RepairHoldsOptions<K>) {
    this.#clock = options.clock;
    this.#holdMs = options.holdMs ?? REPAIR_HOLD_MS;
    this.#onExpire = options.onExpire;
  }

  /** Instances held now. */
  get size(): number {
    return this.#holds.size;
  }

  /** Holds that ended by running out of time (0 after a single loss in a quiet mesh). */
  get expired(): number {
    return this.#expired;
  }

  isHeld(key: K): boolean {
    return this.#holds.has(key);
  }

  /**
   * A dead offer `offer` to instance `key` was pruned for `cause` while its
   * sender still has it open. `oldBest`: the instance's best dist before
   * this prune (kept from the first prune of a hold); `first`: goesFirst()
   * for its sender. Offers the instance does not wait for are not recorded.
   */
  pruned(key: K, oldBest: number, offer: PendingOffer, cause: RootCause, first: boolean): void {
    let hold = this.#holds.get(key);
    const best = hold?.oldBest ?? oldBest;
    if (hold && !sameCause(hold.cause, cause) && !hold.multi) {
      hold.multi = true;
      for (const [id, p] of hold.pending) if (p.byCause) { hold.pending.delete(id); this.#byLink.delete(id); }
    }
    const closer = offer.dist <= best;
    if (!closer && (!first || hold?.multi === true)) return;
    if (!hold) {
      hold = { key, oldBest: best, cause, multi: false, pending: new Map(), timer: null };
      const h = hold;
      hold.timer = this.#clock.setTimeout(() => this.#expire(h), this.#holdMs);
      this.#holds.set(key, hold);
    }
    hold.pending.set(offer.linkId, { ...offer, byCause: !closer });
    this.#byLink.set(offer.linkId, key);
  }

  /** The sender closed link `linkId` (or its link went down): the instance it was pending for, if any. */
  settle(linkId: string): K | undefined {
    const key = this.#byLink.get(linkId);
    if (key === undefined) return undefined;
    this.#byLink.delete(linkId);
    this.#holds.get(key)?.pending.delete(linkId);
    return key;
  }

  /** Decide about instance `key`, whose best link now has dist `candidate` (null: none); ends its hold if it need not wait. */
  evaluate(key: K, candidate: number | null): HoldVerdict {
    const hold = this.#holds.get(key);
    if (!hold) return { wait: false, cause: null };
    if (mustWait(hold.pending.values(), candidate)) return { wait: true };
    this.#end(hold);
    return { wait: false, cause: hold.cause };
  }

  /** Forget the hold of `key` (the instance was withdrawn). */
  clear(key: K): void {
    const hold = this.#holds.get(key);
    if (hold) this.#end(hold);
  }

  /** Forget every hold and stop every timer. */
  clearAll(): void {
    for (const hold of [...this.#holds.values()]) this.#end(hold);
  }

  #end(hold: Hold<K>): void {
    if (this.#holds.get(hold.key) !== hold) return;
    this.#holds.delete(hold.key);
    this.#clock.clearTimeout(hold.timer);
    for (const id of hold.pending.keys()) this.#byLink.delete(id);
  }

  #expire(hold: Hold<K>): void {
    if (this.#holds.get(hold.key) !== hold) return;
    this.#expired++;
    this.#end(hold);
    this.#onExpire(hold.key, hold.cause);
  }
}

function sameCause(a: RootCause, b: RootCause): boolean {
  return a.a === b.a && a.b === b.b && a.inc === b.inc;
}
