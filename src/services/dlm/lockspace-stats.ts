/** A lockspace's counters (`Lockspace.stats`) and counts over its locks, for tests and `dmsg locks`. */
import type { Lock, WaitType } from './lock.ts';
import type { Resource } from './resource.ts';
import type { RecoveryStats } from './recovery/recovery-status.ts';

/** Counters, for tests and `dmsg locks`. */
export interface LockspaceStats {
  sent: number;
  received: number;
  /** Messages refused by the codec or the receive checks, by reason code. */
  refused: Record<string, number>;
  /** Replies/GRANT/BAST naming a lock that is gone (normal races), ignored. */
  ignored: number;
  callbacks: number;
  callbackErrors: number;
  /** Locks this node granted as master (at once or later by a grant pass), local or remote owners. */
  grants: number;
  /** Requests and conversions this node, as master, queued because they could not be granted at once. */
  waits: number;
  /** Blocking callbacks this node, as master, decided (to local holders or as BAST messages). */
  basts: number;
  /** Recovery runs and what they moved (§4). */
  recovery: RecoveryStats;
}

const NONE_TYPES: ReadonlySet<WaitType> = new Set(['none']);

/** Master copies among `locks` (what a leave without recovery would lose). */
export function countMasterCopies(locks: Iterable<Lock>): number {
  let n = 0;
  for (const lkb of locks) if (lkb.masterCopy) n++;
  return n;
}

/** Locks with an operation awaiting a reply or parked behind a lookup (0 when quiet). */
export function countPendingOperations(locks: Iterable<Lock>, resources: Iterable<Resource>): number {
  let n = 0;
  for (const lkb of locks) if (!NONE_TYPES.has(lkb.waitType) || lkb.secondary !== 'none') n++;
  for (const r of resources) n += r.lookupList.length;
  return n;
}
