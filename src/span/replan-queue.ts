/**
 * Deferred replanning after a link is lost. A link carrying thousands of
 * spans ends all of them at once; replanning and publishing each node (and
 * then every node, since the set of peers changed) in the same event would
 * block the event loop for seconds (issue 7 item 3). Instead the dead
 * conn's spans leave the table here, and the nodes they touch are replanned
 * in batches of REPLAN_BATCH, the first right after the current event, then
 * one batch per event-loop turn, so other links' messages (a PING) are
 * served in between; meanwhile a dead link's spans are never chosen,
 * reported or relayed (isLiveLink in router-types.ts). Keys carry the root
 * cause their relay DELETEs report.
 */
import type { RootCause } from './root-cause.ts';
import type { NodeKey } from './span-table.ts';

/** Nodes replanned per event-loop turn. */
export const REPLAN_BATCH = 512;

export interface ReplanTarget {
  /** Replan and publish one node, its relay DELETEs carrying `cause`. */
  replan(key: NodeKey, cause: RootCause | null): void;
  /** Every node key now in the table. */
  allKeys(): Iterable<NodeKey>;
  /** Remove up to `max` links of a dead conn from the table; the nodes they were on. */
  removeFromConn(connId: string, max: number): NodeKey[];
}

export class ReplanQueue {
  readonly #target: ReplanTarget;
  /** Pending keys, each with the root cause it was queued with (last wins). */
  readonly #pending = new Map<NodeKey, RootCause | null>();
  /** Dead conns whose links are still to leave the table, with their root cause. */
  readonly #drops = new Map<string, RootCause | null>();
  #all = false;
  #scheduled = false;
  #closed = false;
  /** Batches run so far (for tests and stats). */
  batches = 0;

  constructor(target: ReplanTarget) {
    this.#target = target;
  }

  get pending(): number {
    return this.#pending.size + this.#drops.size + (this.#all ? 1 : 0);
  }

  /** A conn died: remove its links from the table soon, then replan their nodes. */
  dropConn(connId: string, cause: RootCause | null): void {
    this.#drops.set(connId, cause);
    this.#schedule(true);
  }

  /** Replan `key` soon. */
  add(key: NodeKey, cause: RootCause | null): void {
    this.#pending.set(key, cause);
    this.#schedule(true);
  }

  /** Replan every node soon (the set of peers changed). */
  addAll(): void {
    this.#all = true;
    this.#schedule(true);
  }

  /** Drop what is pending (the router is closing). */
  close(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#drops.clear();
    this.#all = false;
  }

  /**
   * The first batch runs as soon as the current event is handled (a
   * microtask), the rest one per event-loop turn. So the relay DELETEs a
   * lost link causes, which carry it as the root cause, leave before this
   * router handles anything else: when a router dies, each neighbour
   * reports its own lost link at once, instead of the mesh exploring paths
   * through the dead router's other links until every report is out (with
   * in-process links, a 200-router mesh explored for good and starved every
   * timer: bench/convergence.ts, death phase after the cut phase).
   */
  #schedule(first: boolean): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    if (first) queueMicrotask(() => this.#run());
    else setImmediate(() => this.#run());
  }

  #run(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    if (this.#all) {
      this.#all = false;
      for (const key of this.#target.allKeys()) if (!this.#pending.has(key)) this.#pending.set(key, null);
    }
    this.batches++;
    let n = 0;
    // First the dead conns' links leave the table (their nodes queue up).
    for (const [connId, cause] of this.#drops) {
      const keys = this.#target.removeFromConn(connId, REPLAN_BATCH - n);
      for (const key of keys) this.#pending.set(key, cause);
      n += keys.length;
      if (n >= REPLAN_BATCH) break;
      this.#drops.delete(connId);
    }
    if (n >= REPLAN_BATCH) {
      this.#schedule(false);
      return;
    }
    for (const [key, cause] of this.#pending) {
      if (n++ === REPLAN_BATCH) break;
      this.#pending.delete(key);
      try {
        this.#target.replan(key, cause);
      } catch {
        // Replanning sends on links; a link that fails fails on its own.
      }
    }
    if (this.#pending.size > 0 || this.#drops.size > 0 || this.#all) this.#schedule(false);
  }
}
