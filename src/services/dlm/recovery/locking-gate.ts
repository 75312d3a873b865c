/**
 * Whether locking runs on a lockspace (§4.1, §4.8, the contract's
 * `setGate`): stopped (by `stop()` until recovery ends) or gated (a
 * caller's predicate, e.g. a lease, says no). While blocked, API calls are
 * deferred and incoming lock messages saved (the request queue, bounded);
 * `resume()` and an opening gate replay the saved messages in arrival
 * order, run the recovery's after-replay step, then the deferred calls.
 */
import type { SavedMessage } from './purge.ts';

export class LockingGate {
  /** Locking stopped (stop() until recovery's end). Read on the hot path. */
  stopped = false;
  /** The caller's predicate, or null (one null check per message and call). */
  gate: (() => boolean) | null = null;
  /** The request queue: lock messages saved while blocked. */
  readonly saved: SavedMessage[] = [];
  /** API calls made while blocked. */
  readonly deferred: (() => void)[] = [];
  #gatedWork = false;
  /** A replay is running: a gate check inside it (a replayed message's own) must not start another. */
  #replaying = false;
  #afterReplay: (() => void) | null = null;
  readonly #replayOne: (m: SavedMessage) => void;
  readonly #onResume: () => void;
  readonly #onError: (err: unknown) => void;

  /** `replayOne` re-receives a saved message; `onResume` runs first at every replay (e.g. re-arming timers). */
  constructor(replayOne: (m: SavedMessage) => void, onResume: () => void, onError: (err: unknown) => void) {
    this.#replayOne = replayOne;
    this.#onResume = onResume;
    this.#onError = onError;
  }

  /** Locking cannot run now. A gate found open again flushes what it held first. */
  blocked(): boolean {
    if (this.stopped) return true;
    if (this.gate === null) return false;
    if (!this.#gateOpen()) {
      this.#gatedWork = true;
      return true;
    }
    if (this.#gatedWork && !this.#replaying) this.#flush();
    return false;
  }

  /** No gate, or the gate says yes now (no side effect but reporting a throwing gate). */
  get gateOpen(): boolean {
    return this.gate === null || this.#gateOpen();
  }

  setGate(fn: (() => boolean) | null): void {
    this.gate = fn;
    if (!this.stopped && !this.#replaying && this.#gatedWork && (fn === null || this.#gateOpen())) this.#flush();
  }

  /** Enable locking (recovery's end or a start without recovery): replay, `after`, deferred calls; or wait for the gate. */
  resume(after: () => void): void {
    this.stopped = false;
    // A newer recovery's step replaces one still waiting behind the gate (that run is over).
    this.#afterReplay = null;
    if (this.gate !== null && !this.#gateOpen()) {
      this.#gatedWork = true;
      this.#afterReplay = after;
      return;
    }
    this.#gatedWork = false;
    this.#replay(after);
  }

  /** Forget everything held (fence). */
  clear(): void {
    this.saved.length = 0;
    this.deferred.length = 0;
    this.#gatedWork = false;
    this.#afterReplay = null;
  }

  #gateOpen(): boolean {
    try {
      return this.gate!() === true;
    } catch (err) {
      this.#onError(err);
      return false;
    }
  }

  #flush(): void {
    this.#gatedWork = false;
    const after = this.#afterReplay;
    this.#afterReplay = null;
    this.#replay(after ?? noop);
  }

  /**
   * Saved messages in arrival order, then `after` (recovery's phase 8), then
   * the deferred calls. Not re-entered: a replayed message or call checks
   * the gate, and an open gate must not start a nested replay that would run
   * the deferred calls before `after`.
   */
  #replay(after: () => void): void {
    if (this.#replaying) {
      // Asked again from inside (a recovery ended by what ran): runs right after this one.
      if (after !== noop) this.#afterReplay = after;
      this.#gatedWork = true;
      return;
    }
    this.#replaying = true;
    try {
      this.#onResume();
      const saved = this.saved.splice(0, this.saved.length);
      for (let i = 0; i < saved.length; i++) {
        if (this.stopped) {
          // Stopped again by what ran (a new recovery keeps the rest, in order).
          this.saved.unshift(...saved.slice(i));
          return;
        }
        this.#replayOne(saved[i]!);
      }
      after();
      const deferred = this.deferred.splice(0, this.deferred.length);
      for (let i = 0; i < deferred.length; i++) {
        if (this.#heldBack()) {
          // Stopped or gated again by what ran: the rest waits, in order.
          this.deferred.unshift(...deferred.slice(i));
          return;
        }
        deferred[i]!();
      }
    } finally {
      this.#replaying = false;
    }
    if (this.#gatedWork && !this.#heldBack()) this.#flush();
  }

  /** Like blocked(), without flushing (inside a replay). */
  #heldBack(): boolean {
    if (this.stopped) return true;
    if (this.gate === null) return false;
    if (!this.#gateOpen()) {
      this.#gatedWork = true;
      return true;
    }
    return false;
  }
}

function noop(): void {}
