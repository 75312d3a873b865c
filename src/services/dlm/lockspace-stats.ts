/** A lockspace's counters (`Lockspace.stats`), for tests and `dmsg locks`. */

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
}
