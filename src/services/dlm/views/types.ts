/**
 * Types of the membership-view protocol (Raft, Ongaro & Ousterhout 2014, with a
 * fixed voter set; the log carries the sequence of views). Pure data: node ids
 * are DLM node ids, times are numbers in whatever unit the driver's clock uses
 * (the step function never reads a clock; every event carries `now`).
 */

export type NodeId = number;

/**
 * One log entry (Raft §5.3). `view` entries change the membership; `noop` is §8's entry a new leader commits first.
 * A view's `incarnations` (parallel to `members`; absent: all 0) name each member's run: a node restarted
 * since has a new incarnation, so a view naming it again is a different view and the lockspace recovers
 * (its old locks are purged). 0 means unknown.
 */
export type Entry =
  | {
      readonly term: number;
      readonly kind: 'view';
      readonly view: number;
      readonly members: readonly NodeId[];
      readonly incarnations?: readonly number[];
      /** Members of the previous view this one leaves out that left cleanly (released the lockspace; spec §4.1: not a failure). Absent: none. */
      readonly left?: readonly NodeId[];
    }
  | { readonly term: number; readonly kind: 'noop' };

/** What survives a crash (Raft Figure 2, "persistent state on all servers"). */
export interface Persisted {
  readonly currentTerm: number;
  readonly votedFor: NodeId | null;
  readonly log: readonly Entry[];
}

/** Messages between nodes (Raft Figure 2), plus the lease fields of docs/views.md. */
export type Message =
  | { readonly type: 'vote-req'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly lastLogIndex: number; readonly lastLogTerm: number }
  | { readonly type: 'vote-rep'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly granted: boolean }
  | {
      readonly type: 'append';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly leaderCommit: number;
      /** The leader's time when it sent this round; echoed in the reply. */
      readonly sentAt: number;
      /** Granting lease: the receiver may grant until this time (exclusive); 0 = none. */
      readonly leaseUntil: number;
    }
  | { readonly type: 'append-rep'; readonly from: NodeId; readonly to: NodeId; readonly term: number; readonly success: boolean; readonly matchIndex: number; readonly sentAt: number };

export type TimerKind = 'election' | 'heartbeat' | 'lease';

/** Inputs of `step`. */
export type ViewsEvent =
  | { readonly type: 'message'; readonly now: number; readonly message: Message }
  | { readonly type: 'timer'; readonly now: number; readonly kind: TimerKind }
  /**
   * The members this node can see (spans serving the lockspace, live midcomms incarnations), with the
   * incarnation of each where known (absent or 0: unknown).
   */
  | {
      readonly type: 'propose';
      readonly now: number;
      readonly members: readonly NodeId[];
      readonly incarnations?: Readonly<Record<number, number>>;
      /** Voters this node saw leave the lockspace cleanly (a leader names those its next view leaves out in the entry's `left`). */
      readonly left?: readonly NodeId[];
    }
  /** The node restarts after a crash with what it persisted (volatile state is lost), as run `incarnation` (@default 0: unknown). */
  | { readonly type: 'restart'; readonly now: number; readonly persisted: Persisted; readonly incarnation?: number };

/** Signals for the lockspace and its `state$`. */
export type ViewsOutput =
  | { readonly type: 'committed'; readonly view: number; readonly members: readonly NodeId[]; readonly incarnations?: readonly number[]; readonly left?: readonly NodeId[] }
  /** This node may grant under `view` until `until` (exclusive); repeated when the lease is extended. */
  | { readonly type: 'granting'; readonly view: number; readonly until: number }
  /** This node stops granting (it stopped at the latest at the `until` of its last `granting`). */
  | { readonly type: 'stopped'; readonly view: number; readonly reason: 'lease-expired' | 'new-term' | 'excluded' | 'view-change' }
  | { readonly type: 'status'; readonly text: string };

/** A timer the driver must (re)arm: fire a `timer` event of `kind` at time `at`. Rearming replaces the old one. */
export interface TimerRequest {
  readonly kind: TimerKind;
  readonly at: number;
}

export interface StepResult {
  readonly state: ViewsState;
  readonly messages: readonly Message[];
  readonly timers: readonly TimerRequest[];
  readonly outputs: readonly ViewsOutput[];
}

/** Validated configuration (see options.ts for the defaults). */
export interface ViewsConfig {
  readonly self: NodeId;
  /** The configured member list: the voters; every quorum is a majority of it. */
  readonly voters: readonly NodeId[];
  /** Election timeout range (Raft §5.2), drawn per election from the state's seeded generator. */
  readonly electionMin: number;
  readonly electionMax: number;
  readonly heartbeatInterval: number;
  /** Lease length: how long a granting lease lasts, and how long a new leader waits before committing. */
  readonly lease: number;
  /** Seed of the election-timeout generator (kept in the state, so `step` stays pure). */
  readonly seed: number;
}

export type Role = 'follower' | 'candidate' | 'leader';

/** A node's whole state. Immutable: `step` returns a new one. */
export interface ViewsState extends Persisted {
  readonly config: ViewsConfig;
  readonly role: Role;
  readonly commitIndex: number;
  readonly rng: number;
  readonly electionAt: number;
  readonly heartbeatAt: number;
  readonly votes: readonly NodeId[];
  readonly nextIndex: Readonly<Record<number, number>>;
  readonly matchIndex: Readonly<Record<number, number>>;
  /** Per follower, the latest `sentAt` it acknowledged in this term (leader only). */
  readonly ackAt: Readonly<Record<number, number>>;
  /** Leader: it commits nothing and grants nothing before this time (electedAt + lease). */
  readonly readyAt: number;
  /** Leader: the largest lease it has handed out in this term. */
  readonly leaseIssued: number;
  /** The granting lease this node holds (exclusive end); 0 = none. */
  readonly leaseUntil: number;
  /** The members this node last proposed (used when it leads). */
  readonly desired: readonly NodeId[] | null;
  /** Their incarnations, parallel to `desired` (0: unknown). */
  readonly desiredIncarnations: readonly number[];
  /** Voters this node last saw leave cleanly (from its last proposal). */
  readonly desiredLeft: readonly NodeId[];
  /**
   * This run's incarnation (volatile; 0: unknown). A node grants only under a committed view naming it
   * with exactly this incarnation: with a non-zero one, never under view 0 (the voters, incarnations
   * unknown) nor under a view made before it restarted.
   */
  readonly incarnation: number;
  /** What this node last announced: the view it grants under, or null. */
  readonly grantingView: number | null;
  readonly grantingUntil: number;
  readonly lastCommittedView: number;
  readonly lastStatus: string;
}
