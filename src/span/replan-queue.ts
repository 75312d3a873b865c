/**
 * Deferred replanning after a link is lost. A link carrying thousands of
 * spans ends all of them at once; replanning and publishing each node (and
 * then every node, since the set of peers changed) in the same event would
 * block the event loop for seconds (issue 7 item 3). Instead the lost spans
 * leave the table at once (O(log) each) and the nodes they touch are
 * replanned here in batches of REPLAN_BATCH, one batch per event-loop turn,
 * so other links' messages (a PING) are served in between. Keys carry the
 * root cause their relay DELETEs must report.
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
}

export class ReplanQueue {
  readonly #target: ReplanTarget;
  /** Pending keys, each with the root cause it was queued with (last wins). */
  readonly #pending = new Map<NodeKey, RootCause | null>();
  #all = false;
  #scheduled = false;
  #closed = false;
  /** Batches run so far (for tests and stats). */
  batches = 0;

  constructor(target: ReplanTarget) {
    this.#target = target;
  }

  get pending(): number {
    return this.#pending.size + (this.#all ? 1 : 0);
  }

  /** Replan `key` soon. */
  add(key: NodeKey, cause: RootCause | null): void {
    this.#pending.set(key, cause);
    this.#schedule();
  }

  /** Replan every node soon (the set of peers changed). */
  addAll(): void {
    this.#all = true;
    this.#schedule();
  }

  /** Drop what is pending (the router is closing). */
  close(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#all = false;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
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
    for (const [key, cause] of this.#pending) {
      if (n++ === REPLAN_BATCH) break;
      this.#pending.delete(key);
      try {
        this.#target.replan(key, cause);
      } catch {
        // Replanning sends on links; a link that fails fails on its own.
      }
    }
    if (this.#pending.size > 0 || this.#all) this.#schedule();
  }
}
