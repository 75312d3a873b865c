/**
 * What a lockspace does with bytes a peer sent it (`dlm_receive_buffer`):
 * RCOM goes to recovery (recovery/rcom-receive.ts); a lock message is saved
 * while locking is stopped or the gate is closed (bounded: past
 * maxSavedMessages it is dropped and counted), else decoded, checked
 * (its h_nodeid is the sender, the sender a member and not this node) and
 * handled by the master side (master-side.ts) or the owner side
 * (owner-side.ts). Never throws: a bad message is refused and counted, a
 * bug in a handler is reported to the host's callbackError.
 *
 * `Lockspace.receive()` (lockspace.ts) is the entry point.
 */
import { DlmError } from './errors.ts';
import type { Lockspace } from './lockspace.ts';
import { handleMasterMessage } from './master-side.ts';
import { observeMessage } from './message-observe.ts';
import { newExtraCopies, type ExtraCopies } from './extra-copies.ts';
import { DLM_CMD, decodeLockMessageInto, emptyMessage, headerNodeid, MSG, type DlmMessage } from './message.ts';
import { handleOwnerMessage } from './owner-side.ts';
import type { LockingGate } from './recovery/locking-gate.ts';
import { receiveRcom } from './recovery/rcom-receive.ts';
import type { RecoveryDriver } from './recovery/recovery-driver.ts';

/** What receiving reaches of the Lockspace's own parts: one object, made once. */
export interface ReceiveState {
  readonly recovery: RecoveryDriver;
  readonly locking: LockingGate;
  /**
   * The record a received lock message is decoded into (message.ts
   * `decodeLockMessageInto`): the handlers keep nothing of it past their
   * return, so one serves every message that is not received inside the
   * handling of another (`depth` > 0: a transport that delivers
   * synchronously); those get an object of their own.
   */
  readonly record: DlmMessage;
  /** Where the record's short name or LVB is copied (extra-copies.ts `ExtraCopies`; depth 0 only, as the record). */
  readonly copies: ExtraCopies;
  /** Lock messages being handled now (nested receives). */
  depth: number;
}

/** A ReceiveState for a lockspace's recovery driver and locking gate. */
export function newReceiveState(recovery: RecoveryDriver, locking: LockingGate): ReceiveState {
  return { recovery, locking, record: emptyMessage(MSG.REQUEST), copies: newExtraCopies(), depth: 0 };
}

/** `members.includes(from)` as a loop the compiler inlines (a member list is short). */
function isMember(members: readonly number[], from: number): boolean {
  for (let i = 0; i < members.length; i++) if (members[i] === from) return true;
  return false;
}

/** Bytes from node `from` (already matched to this lockspace). Never throws. */
export function receiveLockspaceMessage(ls: Lockspace, st: ReceiveState, from: number, bytes: Uint8Array): void {
  if (ls.released) return;
  if (bytes.length > 14 && bytes[14] === DLM_CMD.RCOM) {
    try {
      receiveRcom(ls, st.recovery, from, bytes);
    } catch (err) {
      ls.refuse('INTERNAL');
      ls.host.callbackError(err);
    }
    return;
  }
  const g = st.locking;
  if (g.stopped || (g.gate !== null && g.blocked())) {
    // Bounded: past the limit a message is dropped and counted, never buffered.
    if (g.saved.length >= ls.host.maxSavedMessages) ls.refuse('SAVED_OVERFLOW');
    else g.saved.push({ from, bytes: bytes.slice() });
    return;
  }
  let m: DlmMessage;
  try {
    m = st.depth === 0 ? decodeLockMessageInto(bytes, ls.lvblen, st.record, st.copies) : decodeLockMessageInto(bytes, ls.lvblen, emptyMessage(MSG.REQUEST));
    const sender = headerNodeid(bytes);
    if (sender !== from) throw new DlmError('EBADMSG', `h_nodeid ${sender} is not the sender ${from}`);
  } catch (err) {
    ls.refuse(err instanceof DlmError ? err.code : 'EBADMSG');
    return;
  }
  if (!isMember(ls.members, from) || from === ls.ourNodeid) {
    ls.refuse('NOT_MEMBER');
    return;
  }
  ls.stats.received++;
  if (ls.host.observe) observeMessage(ls.host, ls.name, 'recv', from, ls.ourNodeid, m);
  st.depth++;
  try {
    if (!handleMasterMessage(ls, from, m)) handleOwnerMessage(ls, from, m);
  } catch (err) {
    // A bug, not a peer's fault; never let it escape the receive path.
    ls.refuse('INTERNAL');
    ls.host.callbackError(err);
  } finally {
    st.depth--;
  }
}
