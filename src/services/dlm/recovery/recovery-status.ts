/** Recovery status bits (spec §4.3), the recovery counters, and recovery's timing constants. */

/** A node's recovery status bits; the low node sets the `_ALL` bits. */
export const RS = {
  NODES: 0x01,
  NODES_ALL: 0x02,
  DIR: 0x04,
  DIR_ALL: 0x08,
  LOCKS: 0x10,
  LOCKS_ALL: 0x20,
  DONE: 0x40,
  DONE_ALL: 0x80,
} as const;
/** Every bit: a running node in step with its member list. */
export const RS_ALL = 0xff;

/** Barrier polls start at 20 ms and grow by 20 ms up to 1 s (§4.3). */
export const POLL_START_MS = 20;
export const POLL_STEP_MS = 20;
export const POLL_MAX_MS = 1000;
/** STATUS and NAMES are re-sent when unanswered for `recover_timer` (5 s). */
export const RCOM_RESEND_MS = 5000;
/** An RCOM LOCK refused with EBADR (the new master does not know yet) is re-sent after this, growing like the polls. */
export const LOCK_RETRY_MS = 20;

/** `stats.recovery` of a lockspace. */
export interface RecoveryStats {
  /** Recoveries started (start() with a changed member list or departed nodes). */
  runs: number;
  /** Recoveries aborted by a stop() before they finished. */
  aborted: number;
  /** Recoveries finished. */
  completed: number;
  /** Duration of the last finished recovery, clock ms (start() to locking enabled). */
  lastMs: number;
  /** Resources this node became the new master of. */
  remastered: number;
  /** Locks this node sent to a new master (RCOM LOCK accepted). */
  rebuilt: number;
  /** Master copies of departed nodes' locks this node purged. */
  purged: number;
  /** Saved messages dropped by the request-queue purge (§4.8). */
  droppedSaved: number;
  /** Operations re-driven after recovery (§4.4). */
  resent: number;
  /** RCOM messages ignored by the acceptance filter (stale, early, or malformed). */
  rcomIgnored: number;
  /** This node's slot changed in an assignment (it lost a conflicting claim; slots.ts). */
  slotChanged: number;
}

export function newRecoveryStats(): RecoveryStats {
  return { runs: 0, aborted: 0, completed: 0, lastMs: 0, remastered: 0, rebuilt: 0, purged: 0, droppedSaved: 0, resent: 0, rcomIgnored: 0, slotChanged: 0 };
}
