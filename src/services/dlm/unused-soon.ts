/**
 * Retirement checks deferred until the pending callbacks have run
 * (`MicrotaskScheduler.postAfter`). The last lock of a resource usually
 * goes with a completion (an unlock's reply), and the application often
 * locks the resource again from that AST or just after it: checked then,
 * the resource is in use again, so the lock costs no clock read and no
 * retirement entry, and it is not revived as a resource whose cached
 * master may be stale (§3.5: no "first lock" round trip parking the
 * others). Nothing can arrive in between (a microtask, no I/O); the check
 * looks at the resource as it is then. The lockspace decides when to defer
 * (not while locking is stopped, not under the simulator's scheduler).
 */
import type { Resource } from './resource.ts';
import type { MicrotaskScheduler } from './scheduler.ts';

export class UnusedSoon {
  readonly #after: MicrotaskScheduler;
  readonly #check: (r: Resource) => void;
  /** Resources waiting for their check, in order (at most one pending postAfter task). */
  readonly #queue: Resource[] = [];

  /** `check(r)` runs once the callbacks pending now have run, for each resource still worth it (the caller decides). */
  constructor(after: MicrotaskScheduler, check: (r: Resource) => void) {
    this.#after = after;
    this.#check = check;
  }

  /** Check `r` after the pending callbacks. */
  add(r: Resource): void {
    const q = this.#queue;
    if (q.length > 0 && q[q.length - 1] === r) return; // (an unlock reply checks its resource twice)
    q.push(r);
    if (q.length === 1) this.#after.postAfter(this.#run);
  }

  readonly #run = (): void => {
    const q = this.#queue;
    for (let i = 0; i < q.length; i++) this.#check(q[i]!);
    while (q.length > 0) q.pop(); // (not `length = 0`: a runtime call)
  };
}
