/**
 * User and kernel ownership of a lock (spec §2.11): a lock with an owner
 * (`lock(..., owner)` with owner != 0, the kernel's userspace locks) is a
 * *user* lock and its messages carry the USER bit (0x1) in the low 16 bits
 * of `m_flags`, as Linux's do; a lock without one is a kernel lock and
 * carries 0 there, so the bytes of a kernel lock's messages are unchanged.
 * Mixing is refused as the kernel's validate_message does: a message with
 * the USER bit naming a kernel lock is dropped and counted
 * (`USER_MISMATCH`). A master copy is checked only when it knows its
 * flag (made from a REQUEST): one rebuilt by recovery from an RCOM LOCK
 * that did not carry `rl_flags` is not. Pure.
 */
import type { DlmMessage } from './message.ts';

/** `m_flags` bit of a user lock's messages. */
export const MSG_FLAG_USER = 0x1;

/** The `m_flags` value a lock's messages carry. */
export function userFlags(user: boolean): number {
  return user ? MSG_FLAG_USER : 0;
}

/** Whether a message claims a user lock where this node has a kernel lock (dropped). */
export function userMismatch(m: DlmMessage, lockIsUser: boolean): boolean {
  return (m.flags & MSG_FLAG_USER) !== 0 && !lockIsUser;
}
