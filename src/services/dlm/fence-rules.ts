/**
 * Fencing tokens (beyond Linux; docs/dlm.md "Fencing tokens"): every grant
 * of PW or EX carries a per-resource number that only rises, so storage a
 * holder writes to can refuse a holder that was paused or cut off and whose
 * lock was meanwhile granted to someone else (Chubby's sequencers).
 *
 * A token is `generation * 2**32 + counter`, a JS safe integer:
 * - `generation` is the lockspace's, raised by every recovery, so a token
 *   never has to be rebuilt when a resource is remastered in recovery;
 * - within a generation the master draws the next token from the resource's
 *   high-water mark `fenceHigh`, and never below the node's `fenceFloor`:
 *   the highest token of any resource this node forgot (retired as master,
 *   or learned from a REMOVE as directory node). The directory node hands
 *   its floor out in LOOKUP_REPLY, and a master that retires a resource
 *   sends its high mark in REMOVE, so a resource mastered elsewhere after
 *   retirement continues above every token it had. One number per
 *   lockspace per node: memory does not grow with names.
 *
 * Which grants draw a new token: one that raises the lock's granted mode to
 * PW or EX (a new PW/EX request, NL/CR/CW/PR -> PW/EX, PW -> EX). A
 * down-conversion or same-mode conversion that stays at PW/EX keeps its
 * token (no other writer could have been granted meanwhile; the owner
 * completes down-conversions without a reply, so it could not learn a new
 * one). Any grant below PW carries 0: `lk.fence` reads 0 while the lock
 * does not hold PW or EX.
 *
 * Wire carriage: the kernel's lock message has two fields it never reads,
 * `m_parent_lkid` and `m_parent_remid` (parent locks were never
 * implemented). A token travels there, low 32 bits in `m_parent_lkid`,
 * high bits in `m_parent_remid`, in REQUEST_REPLY, CONVERT_REPLY and GRANT
 * (the lock's token), LOOKUP_REPLY (the directory's floor), REMOVE (the
 * retiring master's high mark) and REQUEST (the sender's floor, a
 * defence). A kernel peer ignores the fields and sends zeros, which read as
 * "no token": the layouts and the known-answer tests are unchanged.
 * Pure: no state, no I/O.
 */
import { LKM as LKM_, type ModeOrIV } from './constants.ts';
import type { DlmMessage } from './message.ts';

const LKM = LKM_;

/** The weight of one generation in a token (tokens of generation g are above g * 2**32). */
export const FENCE_GENERATION_UNIT = 2 ** 32;

/** What a grant needs of its resource. */
export interface FenceResource {
  /** The highest token this master issued for the resource (0 = none). */
  fenceHigh: number;
}

/** What a grant needs of its lockspace. */
export interface FenceContext {
  /** The lockspace's recovery generation. */
  readonly generation: number;
  /** The highest token of any resource this node forgot, or was told of. */
  readonly fenceFloor: number;
}

/** The next token: above the resource's mark, the node's floor, and in `generation`'s range or above. */
export function nextFence(high: number, floor: number, generation: number): number {
  return Math.max(high, floor, generation * FENCE_GENERATION_UNIT) + 1;
}

/**
 * The token a lock carries after the master grants `lock.rqmode` over its
 * current `grmode` (call before the modes change). Draws a new token (and
 * raises the resource's mark) when the grant raises the mode to PW or EX.
 */
export function fenceOnGrant(r: FenceResource, grmode: ModeOrIV, rqmode: ModeOrIV, current: number, ctx: FenceContext): number {
  if (rqmode < LKM.PW) return 0;
  if (grmode >= rqmode) return current;
  const t = nextFence(r.fenceHigh, ctx.fenceFloor, ctx.generation);
  r.fenceHigh = t;
  return t;
}

/**
 * The token the owner's process copy keeps when it follows a grant of
 * `rqmode` over `grmode`: the master's (from `m`), or, for a conversion the
 * owner completes alone (`m` null), its own.
 */
export function fenceOnOwnerGrant(m: DlmMessage | null, grmode: ModeOrIV, rqmode: ModeOrIV, current: number): number {
  if (rqmode < LKM.PW) return 0;
  if (m === null) return current;
  return readFence(m) || (grmode >= rqmode ? current : 0);
}

/**
 * A floor or mark a peer sent (REMOVE, LOOKUP_REPLY, REQUEST), as this node
 * takes it: at most one generation ahead of ours (a counter that ran past
 * 2**32 grants), else 0. A member cannot push tokens out of the safe
 * integers, or so far ahead that they stop rising.
 */
export function peerFloor(m: DlmMessage, generation: number): number {
  const v = readFence(m);
  return v < (generation + 2) * FENCE_GENERATION_UNIT ? v : 0;
}

/** Put a token (or floor) in the message's unused parent-lock fields. */
export function writeFence(m: DlmMessage, token: number): void {
  // The low part by a multiply and subtract: `%` on a number past 2**31 is a slow floating-point remainder.
  const high = Math.floor(token / FENCE_GENERATION_UNIT);
  m.parentLkid = (token - high * FENCE_GENERATION_UNIT) >>> 0;
  m.parentRemid = high >>> 0;
}

/** Tokens stay JS safe integers: a high part from 2**21 on is not a token. */
const MAX_HIGH = 2 ** 21;

/** The message carries a token past the safe range (a broken or hostile master): read as none, counted by the receiver. */
export function fenceOutOfRange(m: DlmMessage): boolean {
  return m.parentRemid >>> 0 >= MAX_HIGH;
}

/** The token a message carries (0 = none, e.g. from a kernel peer, or a value past the safe range). */
export function readFence(m: DlmMessage): number {
  const high = m.parentRemid >>> 0;
  if (high >= MAX_HIGH) return 0;
  return high * FENCE_GENERATION_UNIT + (m.parentLkid >>> 0);
}
