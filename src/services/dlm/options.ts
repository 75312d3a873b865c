/**
 * Options of a DLM node and of a lockspace, with their defaults, validated
 * in one place.
 */
import { systemClock, type Clock } from '../../util/clock.ts';
import { DLM_LOCKSPACE_LEN } from './constants.ts';
import { DlmError } from './errors.ts';
import { defaultResourceHash, type ResourceHash } from './hash.ts';
import type { RecoveryOps } from './recovery/recovery-ops.ts';
import type { Scheduler } from './scheduler.ts';
import type { DlmMessageEvent } from './transport.ts';

export interface DlmOptions {
  /** This node's id, a non-zero u32 (the endpoint's when one is given). @default 1 */
  nodeid?: number;
  /** Time source for resource retirement. @default systemClock */
  clock?: Clock;
  /** Where AST/BAST delivery runs. @default a microtask FIFO */
  scheduler?: Scheduler;
  /** Resource-name hash (pins directory nodes in tests). @default jhash */
  hash?: ResourceHash;
  /** How long an unused resource stays cached before it is retired (`toss_secs`), ms. @default 10000 */
  tossMs?: number;
  /** Messages kept per lockspace while it is stopped (more are dropped and counted). @default 100000 */
  maxSavedMessages?: number;
  /** Sees every DLM message sent and received (key fields). @default none */
  observer?: (event: DlmMessageEvent) => void;
  /** Receives what a user AST/BAST threw (it never propagates). @default ignored (counted in stats) */
  onCallbackError?: (err: unknown) => void;
}

export interface ResolvedDlmOptions {
  nodeid: number;
  clock: Clock;
  scheduler: Scheduler | null;
  hash: ResourceHash;
  tossMs: number;
  maxSavedMessages: number;
  observer: ((event: DlmMessageEvent) => void) | null;
  onCallbackError: ((err: unknown) => void) | null;
}

export const DLM_DEFAULTS = Object.freeze({ nodeid: 1, tossMs: 10_000, maxSavedMessages: 100_000 });

function u32(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 0xfffffffe) throw new DlmError('EINVAL', `${name} must be an integer in [${min}, 4294967294], got ${String(v)}`);
  return v;
}

export function resolveDlmOptions(o: DlmOptions = {}): ResolvedDlmOptions {
  const tossMs = o.tossMs ?? DLM_DEFAULTS.tossMs;
  if (typeof tossMs !== 'number' || !(tossMs >= 0) || !Number.isFinite(tossMs)) throw new DlmError('EINVAL', `tossMs must be a finite number >= 0, got ${String(tossMs)}`);
  return {
    nodeid: u32('nodeid', o.nodeid ?? DLM_DEFAULTS.nodeid, 1),
    clock: o.clock ?? systemClock,
    scheduler: o.scheduler ?? null,
    hash: o.hash ?? defaultResourceHash,
    tossMs,
    maxSavedMessages: u32('maxSavedMessages', o.maxSavedMessages ?? DLM_DEFAULTS.maxSavedMessages, 0),
    observer: o.observer ?? null,
    onCallbackError: o.onCallbackError ?? null,
  };
}

export interface LockspaceOptions {
  /** LVB length in bytes, a multiple of 8 (0 allowed: VALBLK transfers nothing). @default 32 */
  lvblen?: number;
  /** Initial members (node ids); they start with slots 1..n in node-id order. @default [this node] */
  members?: readonly number[];
  /** Recovery callbacks (`recover_prep`, `recover_slot`, `recover_done`), added to an existing lockspace too. @default none */
  ops?: RecoveryOps;
  /**
   * DLM_LSFL_NODIR: each resource is mastered by its hash node (no
   * directory, no LOOKUP/REMOVE); every recovery purges and rebuilds all
   * master copies. Every member must agree (a member with another setting
   * is refused in recovery). @default false
   */
  nodir?: boolean;
}

export const LOCKSPACE_DEFAULTS = Object.freeze({ lvblen: 32 });

/**
 * The largest `lvblen`: every message carrying an LVB must fit one midcomms
 * frame (`DLM_MAX_APP_BUFSIZE`, 4072 bytes). The longest is recovery's RCOM
 * LOCK: the 48-byte rcom header + the 108-byte `rcom_lock` + the LVB, so
 * 4072 - 156 = 3916, rounded down to a multiple of 8. (A lock message, 88
 * bytes + the LVB, fits with room to spare.) A larger LVB would make those
 * messages unsendable and recovery wait for ever.
 */
export const MAX_LVBLEN = 3912;

export function validateLockspaceName(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length > DLM_LOCKSPACE_LEN) throw new DlmError('EINVAL', `lockspace name must be 1..${DLM_LOCKSPACE_LEN} bytes, got ${bytes.length}`);
  return bytes;
}

export function resolveLvblen(lvblen: unknown): number {
  const v = lvblen ?? LOCKSPACE_DEFAULTS.lvblen;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v % 8 !== 0 || v > MAX_LVBLEN) throw new DlmError('EINVAL', `lvblen must be a multiple of 8 in [0, ${MAX_LVBLEN}], got ${String(v)}`);
  return v;
}

export function resolveMembers(members: readonly number[] | undefined, self: number): number[] {
  const list = members ?? [self];
  for (const m of list) u32('member id', m, 1);
  const sorted = [...new Set(list)].sort((a, b) => a - b);
  if (!sorted.includes(self)) throw new DlmError('EINVAL', `members must include this node ${self}, got [${sorted.join(', ')}]`);
  return sorted;
}
