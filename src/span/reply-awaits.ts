/**
 * Reply awaits: after a lost link, a router that is left with no path to an
 * instance does not publish `down` until the neighbours it closed dead
 * relays to have answered, since one of them may still find a path and
 * offer it (a "valley": the only way round the lost link runs through the
 * router's own neighbours, which learn it from this router's DELETEs).
 *
 * The answer costs nothing extra: it is the DELETE that closes the peer's
 * side of the relay transaction, which the peer sends anyway. A peer that
 * goes after us (goesFirst() in repair-hold.ts, seen from its side) sends it
 * only once its own view of the instance is settled (no repair hold, no
 * awaits of its own), after any replacement offer it makes us, so when the
 * close arrives we know everything it will offer. Who goes first is agreed
 * by both ends, and a router defers its answers only to routers before it
 * while it awaits routers after it, so chains of awaits run one way and end.
 *
 * The argument needs one lost link in a quiet mesh: an instance that sees a
 * second lost link stops awaiting (down is published at once, as before),
 * and every await ends after `awaitMs` at the latest.
 *
 * ReplyAwaits keeps, per instance: the dead offers it pruned (by conn: who
 * goes first is decided with them), the relays whose close it awaits, the
 * closes it owes, and one timer.
 */
import type { Clock } from '../util/clock.ts';
import type { RootCause } from './root-cause.ts';

/** How long an instance may await answers at most, by default (ms). */
export const REPLY_AWAIT_MS = 2000;

interface Entry<K> {
  readonly key: K;
  readonly cause: RootCause;
  /** Dist of the dead offer pruned from each conn. */
  readonly pruned: Map<string, number>;
  /** Relay ids whose close is awaited. */
  readonly awaits: Set<string>;
  /** Closes owed to peers before us. */
  readonly owed: Array<() => void>;
  /** A second lost link was seen: no more awaits or owed closes. */
  multi: boolean;
  timer: unknown;
}

export interface ReplyAwaitsOptions<K> {
  readonly clock: Clock;
  /** @default REPLY_AWAIT_MS */
  readonly awaitMs?: number;
  /** An await ran out of time: the owner publishes and flushes the instance now. */
  readonly onExpire: (key: K) => void;
}

export class ReplyAwaits<K extends string> {
  readonly #entries = new Map<K, Entry<K>>();
  readonly #byRelay = new Map<string, K>();
  readonly #clock: Clock;
  readonly #awaitMs: number;
  readonly #onExpire: (key: K) => void;
  #expired = 0;

  constructor(options: ReplyAwaitsOptions<K>) {
    this.#clock = options.clock;
    this.#awaitMs = options.awaitMs ?? REPLY_AWAIT_MS;
    this.#onExpire = options.onExpire;
  }

  /** Instances with something recorded. */
  get size(): number {
    return this.#entries.size;
  }

  /** Awaits that ended by running out of time. */
  get expired(): number {
    return this.#expired;
  }

  /**
   * A dead offer of dist `dist` to instance `key` from conn `connId` was
   * pruned for `cause`. Returns true when `cause` is a second lost link for
   * this instance: its awaits are dropped (the caller publishes it again).
   */
  notePruned(key: K, connId: string, dist: number, cause: RootCause): boolean {
    const e = this.#entries.get(key);
    if (e && !sameCause(e.cause, cause)) return this.noteCause(key, cause);
    const entry = e ?? this.#create(key, cause);
    const d = entry.pruned.get(connId);
    if (d === undefined || dist < d) entry.pruned.set(connId, dist);
    return false;
  }

  /**
   * Lost link `cause` concerns `key`. If `key` already has another one, it
   * awaits nothing from now on (the two ends of a link may know different
   * lost links, so who goes first is no longer agreed): returns true if
   * that dropped an await (the caller publishes it again).
   */
  noteCause(key: K, cause: RootCause): boolean {
    const e = this.#entries.get(key);
    if (!e || sameCause(e.cause, cause)) return false;
    e.multi = true;
    const had = e.awaits.size > 0;
    this.#drop(e);
    return had;
  }

  /** The dist of the dead offer pruned from `connId` for `key`, if any. */
  prunedDist(key: K, connId: string): number | undefined {
    return this.#entries.get(key)?.pruned.get(connId);
  }

  /** Await the close of relay `relayId` of `key` (deleted for `cause`). */
  await(key: K, relayId: string, cause: RootCause): void {
    const e = this.#entries.get(key);
    if (e && (e.multi || !sameCause(e.cause, cause))) return;
    const entry = e ?? this.#create(key, cause);
    entry.awaits.add(relayId);
    this.#byRelay.set(relayId, key);
  }

  /** The peer closed relay `relayId` (or the link went down): the instance that awaited it, if any. */
  replied(relayId: string): K | undefined {
    const key = this.#byRelay.get(relayId);
    if (key === undefined) return undefined;
    this.#byRelay.delete(relayId);
    this.#entries.get(key)?.awaits.delete(relayId);
    return key;
  }

  awaiting(key: K): boolean {
    return (this.#entries.get(key)?.awaits.size ?? 0) > 0;
  }

  /** Owe `close` to a peer before us until `key` is settled (see flush); false (not owed: close now) once `key` has seen two lost links. */
  owe(key: K, cause: RootCause, close: () => void): boolean {
    const e = this.#entries.get(key) ?? this.#create(key, cause);
    if (e.multi || !sameCause(e.cause, cause)) return false;
    e.owed.push(close);
    return true;
  }

  /** `key` is settled (no repair hold): if it awaits nothing, pay what it owes and forget it. */
  flush(key: K): void {
    const e = this.#entries.get(key);
    if (!e || e.awaits.size > 0) return;
    this.#end(e);
    for (const close of e.owed) close();
  }

  /** Forget everything of `key` (withdrawn), paying what it owes. */
  clear(key: K): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#end(e);
    for (const close of e.owed) close();
  }

  /** Forget everything and stop every timer (nothing is paid: the router is closing). */
  clearAll(): void {
    for (const e of [...this.#entries.values()]) this.#end(e);
  }

  #create(key: K, cause: RootCause): Entry<K> {
    const entry: Entry<K> = { key, cause, pruned: new Map(), awaits: new Set(), owed: [], multi: false, timer: null };
    entry.timer = this.#clock.setTimeout(() => this.#expire(entry), this.#awaitMs);
    this.#entries.set(key, entry);
    return entry;
  }

  #drop(e: Entry<K>): void {
    for (const id of e.awaits) this.#byRelay.delete(id);
    e.awaits.clear();
    // Pay what is owed: with two lost links known, nobody waits for anybody.
    if (e.multi) for (const close of e.owed.splice(0)) close();
  }

  #end(e: Entry<K>): void {
    if (this.#entries.get(e.key) !== e) return;
    this.#entries.delete(e.key);
    this.#clock.clearTimeout(e.timer);
    this.#drop(e);
  }

  #expire(e: Entry<K>): void {
    if (this.#entries.get(e.key) !== e) return;
    if (e.awaits.size > 0) this.#expired++;
    this.#drop(e);
    this.#onExpire(e.key);
  }
}

function sameCause(a: RootCause, b: RootCause): boolean {
  return a.a === b.a && a.b === b.b && a.inc === b.inc;
}
