/**
 * One lock (the kernel's lkb) in one of its three roles (spec §1.1, §7):
 * - local copy: owned here, its resource mastered here;
 * - process copy: owned here, mastered on `nodeid` (the owner's view);
 * - master copy: the master's record of a lock owned by node `nodeid`.
 * Recovery (`recovery/`) rebuilds master copies from process copies.
 */
import { LKM as LKM_, LKSTS as LKSTS_, type LockStatus, type ModeOrIV } from './constants.ts';
import type { RuleLock } from './grant-rules.ts';
import type { Resource } from './resource.ts';
import type { ResourceLocks } from './resource-locks.ts';

// Local copies: a transpiler may turn imported bindings into getters on hot paths.
const LKM = LKM_;
const LKSTS = LKSTS_;

/** The caller's status block (`struct dlm_lksb`). */
export interface Lksb {
  /** Completion status, set just before the AST runs. */
  status: number;
  /** Lock id, set by lock() before it returns. */
  lkid: number;
  /** DLM_SBF_* of the last completion. */
  flags: number;
  /** The caller's LVB buffer (`lvblen` bytes), or null. */
  lvb: Uint8Array | null;
  /** Fencing token as of the last completion: set while the lock holds PW/EX, else 0 (fence-rules.ts). */
  fence?: number;
}

export function newLksb(lvblen = 0): Lksb {
  return { status: 0, lkid: 0, flags: 0, lvb: lvblen > 0 ? new Uint8Array(lvblen) : null, fence: 0 };
}

export type AstFn = (astarg: unknown) => void;
export type BastFn = (astarg: unknown, mode: number) => void;

/** A remote operation a process copy awaits a reply for. */
export type WaitType = 'none' | 'lookup' | 'request' | 'convert' | 'unlock' | 'cancel';

export class Lock implements RuleLock {
  readonly lkid: number;
  /** Master copy: the owner node. Process copy: the master node. Local copy: 0. */
  nodeid = 0;
  /** The peer's lock id (master copy: owner's lkid; process copy: master's lkid). */
  remid = 0;
  readonly masterCopy: boolean;
  resource: Resource | null = null;
  grmode: ModeOrIV = LKM.IV;
  rqmode: ModeOrIV = LKM.IV;
  status: LockStatus = LKSTS.NONE;
  exflags = 0;
  sbflags = 0;
  highbast = 0;
  hasBast = false;
  /** Caller buffer (local/process copy) or the master copy's own buffer. */
  lvb: Uint8Array | null = null;
  lvbseq = 0;
  /** Fencing token of the current PW/EX grant, 0 below PW (fence-rules.ts). */
  fence = 0;
  /** The owner (the kernel's ownpid; 0 = the lockspace handle), orphans.ts. */
  ownpid = 0;
  /** Its owner went away and it is PERSISTENT: kept granted until adopted or purged (orphans.ts). */
  orphan = false;
  /** A user lock (has an owner; master copy: its REQUEST had the USER bit), user-lock.ts. */
  user = false;
  /** Master copies: `user` is known (made from a REQUEST; one rebuilt by recovery without the flag is not checked). */
  userKnown = false;
  /** Cancelled by a deadlock detector: the next completion's ECANCEL reads EDEADLK (deadlock-cancel.ts). */
  deadlockCancel = false;
  ast: AstFn | null = null;
  bast: BastFn | null = null;
  astarg: unknown = undefined;
  lksb: Lksb | null = null;
  /** Process copies: the remote operation awaiting its reply. */
  waitType: WaitType = 'none';
  /** Process copies: an UNLOCK/CANCEL sent while a conversion was in flight. */
  secondary: 'none' | 'unlock' | 'cancel' = 'none';
  overlapUnlock = false;
  overlapCancel = false;
  /** The operation recorded as an overlap carried FORCEUNLOCK/CANCEL flags. */
  unlockFlags = 0;
  /** Consecutive redirects (EBADR/ENOTBLK, a directory that disagrees) of the current request. */
  redirects = 0;
  /** A redirect delay is running (`retryLater`): its timer re-drives the lock, nothing is in flight. */
  retryPending = false;
  /** Recovery marked the operation awaiting a departed node for re-driving (§4.4). */
  resend: 'request' | 'convert' | 'middle' | null = null;
  /** The terminal completion was queued: the lkid is gone. */
  endOfLife = false;
  // BAST suppression memory (§2.7), owner side.
  lastCastMode: ModeOrIV = LKM.IV;
  lastCbMode: ModeOrIV = LKM.IV;
  lastCbWasBast = false;
  // Its place in its resource's list of locks (resource-locks.ts).
  rsOwner: ResourceLocks | null = null;
  rsPrev: Lock | null = null;
  rsNext: Lock | null = null;
  /** When it was filed in the lockspace's lock table (lock-table.ts: iteration order). */
  tableSeq = 0;

  constructor(lkid: number, masterCopy: boolean) {
    this.lkid = lkid;
    this.masterCopy = masterCopy;
  }
}

/** A caller's status block and callbacks, taken by a lock (a request, a conversion, an adopted orphan). */
export function takeCallbacks(lkb: Lock, lksb: Lksb, ast: AstFn, astarg: unknown, bast: BastFn | null | undefined): void {
  lkb.ast = ast;
  lkb.bast = bast ?? null;
  lkb.hasBast = typeof bast === 'function';
  lkb.astarg = astarg;
  lkb.lksb = lksb;
}
