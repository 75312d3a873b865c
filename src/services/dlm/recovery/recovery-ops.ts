/**
 * The optional recovery callbacks of a lockspace (`struct dlm_lockspace_ops`,
 * spec §4.1, §4.2 steps 2 and 10), registered with
 * `LockspaceOptions.ops` or `Lockspace.addRecoveryOps()`:
 * - `recoverPrep()`: at every `stop()` (locking stops);
 * - `recoverSlot(slot)`: during the next recovery, once per member judged
 *   failed (departed without being named in `start(..., { left })`, or
 *   re-added with a new incarnation), with the slot it had; not for a clean
 *   leave;
 * - `recoverDone(slots, ourSlot, generation)`: after every recovery that
 *   finished (and every start() that resumed without one), with the slot
 *   table, this node's slot and the generation.
 * They run on the recovery path: they must not block; what they throw is
 * counted (`callbackErrors`) and reported to `onCallbackError`, never
 * propagated. DLM calls made from them wait until locking resumes.
 */
import type { DlmSlot } from './slots.ts';

export interface RecoveryOps {
  recoverPrep?(): void;
  recoverSlot?(slot: DlmSlot): void;
  recoverDone?(slots: readonly DlmSlot[], ourSlot: number, generation: number): void;
}

/** Call `fn` on every registered ops object that has it; errors go to `onError`. */
export function callOps(ops: Iterable<RecoveryOps>, fn: (o: RecoveryOps) => void, onError: (err: unknown) => void): void {
  for (const o of [...ops]) {
    try {
      fn(o);
    } catch (err) {
      onError(err);
    }
  }
}
