/**
 * The receive table of spec §4.4, written out independently of
 * src/iocom/state-rules.ts, with the corrections §9 asks for:
 *  - §9.1: libdmsg's asserts (duplicate CREATE, DELETE/REPLY for an unknown
 *    state) become per-link protocol errors;
 *  - §9.2: a repeated DELETE (abort-after-DELETE) is EALREADY (drop);
 *  - §4.4 ABORT semantics: ABORT|DELETE must be dropped when the state is
 *    gone or reused; ABORT on a one-way message is dropped; ABORT|CREATE
 *    alone is only the "non-blocking" modifier, so it excuses nothing.
 * Cells the table leaves open are decided by the lifetime rules (§4.4 step 4,
 * §4.5): each direction is CREATEd once and DELETEd once, so a second
 * REPLY|CREATE is a duplicate and a message after that direction's DELETE is
 * a state error.
 */
export type StateKind = 'none' | 'notCreated' | 'open' | 'rxDeleted';
export const STATE_KINDS: readonly StateKind[] = ['none', 'notCreated', 'open', 'rxDeleted'];

export interface Flags {
  C: boolean;
  D: boolean;
  R: boolean;
  A: boolean;
  /** REVTRANS set (only matters for CREATE without REPLY and no state). */
  revtrans?: boolean;
}

export type Expected =
  | { action: 'new' | 'deliver' | 'oneway' | 'drop' }
  | { action: 'error'; code: 'DUPLICATE_TRANS' | 'UNKNOWN_TRANS' | 'BAD_STATE' };

const NEW: Expected = { action: 'new' };
const DELIVER: Expected = { action: 'deliver' };
const ONEWAY: Expected = { action: 'oneway' };
const DROP: Expected = { action: 'drop' };
const err = (code: 'DUPLICATE_TRANS' | 'UNKNOWN_TRANS' | 'BAD_STATE'): Expected => ({ action: 'error', code });

/** All 16 combinations of C, D, R, A. */
export function allFlags(): Flags[] {
  const out: Flags[] = [];
  for (let i = 0; i < 16; i++) out.push({ C: (i & 8) !== 0, D: (i & 4) !== 0, R: (i & 2) !== 0, A: (i & 1) !== 0 });
  return out;
}

export function flagName(f: Flags): string {
  const s = [f.C && 'C', f.D && 'D', f.R && 'R', f.A && 'A', f.revtrans && 'REVTRANS'].filter(Boolean).join('|');
  return s === '' ? 'none' : s;
}

export function specVerdict(f: Flags, state: StateKind, parentMissing: boolean): Expected {
  // Step 1: a circuit that names no transaction: EALREADY (a race with an abort).
  if (parentMissing) return DROP;
  const abortDelete = f.A && f.D;
  if (f.C && !f.R) {
    // "C or C|D (no R)": new state, or a duplicate.
    if (state !== 'none') return abortDelete ? DROP : err('DUPLICATE_TRANS');
    if (f.revtrans) return abortDelete ? DROP : err('BAD_STATE'); // the opener's CREATE cannot name our transaction
    return NEW;
  }
  if (f.C && f.R) {
    // "R|C or R|C|D": the reply direction opens; fatal without a state.
    if (state === 'none') return abortDelete ? DROP : err('UNKNOWN_TRANS');
    if (state === 'notCreated') return DELIVER;
    return abortDelete ? DROP : err('DUPLICATE_TRANS');
  }
  if (f.D) {
    // "D" and "R|D": rows are the same.
    if (state === 'none') return f.A ? DROP : err('UNKNOWN_TRANS');
    if (state === 'notCreated') return f.A ? DROP : err('BAD_STATE');
    if (state === 'rxDeleted') return DROP;
    return DELIVER;
  }
  // "none" and "R only": streaming or one-way.
  if (state === 'none') return f.A ? DROP : ONEWAY;
  if (state === 'rxDeleted') return f.A ? DROP : err('BAD_STATE');
  if (state === 'notCreated' && f.A) return DROP; // mid-stream ABORT needs rxcmd CREATE
  return DELIVER;
}
