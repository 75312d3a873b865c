/**
 * What recovery does with an operation waiting for a reply (spec §4.4), as
 * pure rule tables: `waiterFix` before the rebuild (phase 4), `resendAction`
 * once locking is enabled again (phase 8). Each operation of the caller
 * completes exactly once; the caller never learns that its master changed.
 */
import { LKSTS, type LockStatus, type ModeOrIV } from '../constants.ts';
import type { WaitType } from '../lock.ts';
import { isMiddleConversion } from './lvb-recovery-rules.ts';

/** Phase 4 for one lock. */
export type WaiterFix =
  /** Nothing to do (no reply awaited from a departed node). */
  | 'none'
  /** Re-issue after recovery (lookup, request, up-conversion). */
  | 'resend'
  /** Middle conversion: as if the master had answered "queued"; granted mode unknown. */
  | 'queued-middle'
  /** UNLOCK: complete now with EUNLOCK; the lock is gone. */
  | 'fake-unlock'
  /** CANCEL: complete now (see `fakeCancel`). */
  | 'fake-cancel';

export interface WaiterState {
  waitType: WaitType;
  grmode: ModeOrIV;
  rqmode: ModeOrIV;
  /** The node the operation was sent to departed (a lookup counts as departed always). */
  targetGone: boolean;
  /** A redirect delay is running (no message in flight): its timer re-drives the lock. */
  retryPending: boolean;
  /**
   * The CANCEL/UNLOCK sent while a conversion was in flight (§2.9): still
   * awaited when the conversion's reply has come (waitType 'none').
   */
  secondary: 'none' | 'unlock' | 'cancel';
}

/** §4.4: what a waiting operation becomes when recovery starts. */
export function waiterFix(w: WaiterState): WaiterFix {
  switch (w.waitType) {
    case 'none':
      // The main reply came but the overlapping operation's did not: fake that one
      // (Linux dlm_recover_waiters_pre, "wait_type 0 with an overlap").
      if (!w.targetGone || w.secondary === 'none') return 'none';
      return w.secondary === 'unlock' ? 'fake-unlock' : 'fake-cancel';
    case 'lookup':
      // The directory is rebuilt anyway: every lookup in flight is redone.
      return w.retryPending ? 'none' : 'resend';
    case 'request':
      return w.targetGone ? 'resend' : 'none';
    case 'convert':
      if (!w.targetGone) return 'none';
      return isMiddleConversion(w.grmode, w.rqmode) ? 'queued-middle' : 'resend';
    case 'unlock':
      return w.targetGone ? 'fake-unlock' : 'none';
    case 'cancel':
      return w.targetGone ? 'fake-cancel' : 'none';
  }
}

/** The completion a faked CANCEL reply gives, by where the lock stood. */
export type FakeCancel = 'to-granted' | 'destroy' | 'no-ast';

/** A cancelled conversion goes back to granted; a cancelled request ends; nothing pending: no AST. */
export function fakeCancel(status: LockStatus): FakeCancel {
  if (status === LKSTS.CONVERT) return 'to-granted';
  if (status === LKSTS.WAITING || status === LKSTS.NONE) return 'destroy';
  return 'no-ast';
}

/** Phase 8 for one lock marked in phase 4. */
export type ResendAction =
  /** Re-issue the request from scratch (new lookup if needed). */
  | 'request'
  /** Re-send the conversion to the (new) master. */
  | 'convert'
  /** Send UNLOCK (force) to the new master. */
  | 'unlock'
  /** Send CANCEL to the new master. */
  | 'cancel'
  /** Complete with EUNLOCK; the lock never reached a master. */
  | 'ast-unlock'
  /** Complete with ECANCEL; the request never reached a master. */
  | 'ast-cancel-destroy'
  /** Complete the conversion with ECANCEL; the lock keeps its granted mode. */
  | 'ast-cancel-keep'
  | 'none';

export interface ResendState {
  /** What was marked: a request/lookup, an up-conversion, or a middle conversion made "queued" with a second operation pending. */
  op: 'request' | 'convert' | 'middle';
  overlapUnlock: boolean;
  overlapCancel: boolean;
  /** The UNLOCK/CANCEL sent while a conversion was in flight. */
  secondary: 'none' | 'unlock' | 'cancel';
}

/** §4.4 "after locking is re-enabled": an overlapping unlock/cancel is honoured instead. */
export function resendAction(s: ResendState): ResendAction {
  const unlock = s.overlapUnlock || s.secondary === 'unlock';
  const cancel = s.overlapCancel || s.secondary === 'cancel';
  switch (s.op) {
    case 'request':
      return unlock ? 'ast-unlock' : cancel ? 'ast-cancel-destroy' : 'request';
    case 'convert':
      return unlock ? 'unlock' : cancel ? 'ast-cancel-keep' : 'convert';
    case 'middle':
      return unlock ? 'unlock' : cancel ? 'cancel' : 'none';
  }
}
