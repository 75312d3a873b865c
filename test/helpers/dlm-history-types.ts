/**
 * The recorded history of a DLM fault run: plain JSON-serialisable events,
 * one per public-API observation (a request issued, its completion, a
 * views$ output, a kill ...). Written by `dlm-history-recorder.ts` (in-process
 * or as JSON lines by each relay process) and read by
 * `dlm-history-checker.ts`. This file holds types only and imports nothing,
 * so the checker shares no code with the DLM or the views module.
 *
 * Order: events are checked in array order. In-process runs record into one
 * array (the order things happened in the single event loop); multi-process
 * runs merge each process's lines by `t` (a wall-clock time in ms with
 * sub-ms precision, the same clock source for every process on one host).
 */

/** Lock mode names (spec §1.4). */
export type HMode = 'NL' | 'CR' | 'CW' | 'PR' | 'PW' | 'EX';

interface Base {
  /** Time in ms: the run's clock (ManualClock in-process, wall clock across processes). */
  readonly t: number;
  /** DLM node id of the node the event happened on (0 for run-wide events). */
  readonly node: number;
}

/** A new lock request issued by the application (`ls.lock(res, mode, { flags })`). */
export interface RequestEvent extends Base {
  readonly type: 'request';
  /** Operation id, unique in the history. */
  readonly op: string;
  /** Lock id, unique in the history (node, incarnation and a counter). */
  readonly lock: string;
  readonly res: string;
  readonly mode: HMode;
  /** DLM_LKF_* names passed (NOQUEUE, ...). */
  readonly flags: readonly string[];
}

/** A conversion issued on a lock (`lk.convert(mode, { flags, lvb })`). */
export interface ConvertEvent extends Base {
  readonly type: 'convert';
  readonly op: string;
  readonly lock: string;
  readonly mode: HMode;
  readonly flags: readonly string[];
  /** The LVB the caller buffer holds when the conversion is issued (hex); the value written if the conversion writes (§1.7). */
  readonly lvb?: string;
}

/** An unlock issued (`lk.unlock({ lvb })`). */
export interface UnlockEvent extends Base {
  readonly type: 'unlock';
  readonly op: string;
  readonly lock: string;
  readonly force?: boolean;
  /** The LVB the caller buffer holds when the unlock is issued (hex); written if the lock holds PW/EX. */
  readonly lvb?: string;
}

/** A cancel of the lock's pending request or conversion (the abort signal). */
export interface CancelEvent extends Base {
  readonly type: 'cancel';
  readonly lock: string;
}

/** The completion of an operation, as the API delivered it. */
export interface DoneEvent extends Base {
  readonly type: 'done';
  readonly op: string;
  readonly lock: string;
  /** 'OK' or the DlmError code ('EAGAIN', 'EUNLOCK', 'ECANCEL', ...). */
  readonly status: string;
  /** The lock's granted mode as the API reports it after the completion (`lk.mode`); null when none. */
  readonly mode: HMode | null;
  /** The lock ended with this completion (`lk.ended`). */
  readonly ended: boolean;
  /** The fencing token (`lk.fence`) after a grant of PW/EX; absent when the API gives none. */
  readonly fence?: number;
  /** The caller LVB after the completion (hex). */
  readonly lvb?: string;
  /** DLM_SBF_VALNOTVALID was set in the completion. */
  readonly valnotvalid?: boolean;
}

/**
 * A lock ended with no operation of the application in flight (the API's
 * `lk.ended` turned true and `lk.bast$` completed), e.g. failed by the
 * lockspace's `fence()`; `status` is the completion status (ENOTCONN ...).
 */
export interface EndedEvent extends Base {
  readonly type: 'ended';
  readonly lock: string;
  readonly status: string;
}

/** A views$ output of a node (docs/views.md): a view it saw committed. */
export interface ViewEvent extends Base {
  readonly type: 'view';
  readonly view: number;
  readonly members: readonly number[];
}

/** A views$ output: the node may grant under `view` until `until` (exclusive, same clock as `t`). */
export interface GrantingEvent extends Base {
  readonly type: 'granting';
  readonly view: number;
  readonly until: number;
}

/** A views$ output: the node stopped granting. */
export interface StoppedEvent extends Base {
  readonly type: 'stopped';
  readonly view: number;
  readonly reason: string;
}

/** The node was killed: its process (or router and every object of it) is gone, its state dropped. */
export interface KillEvent extends Base {
  readonly type: 'kill';
}

/** The node was started again (a new incarnation, with its persisted views state). */
export interface RestartEvent extends Base {
  readonly type: 'restart';
}

/** A fault of the network (informational for the checker): cut/restore a link, partition, heal. */
export interface NetEvent extends Base {
  readonly type: 'net';
  readonly what: string;
}

/**
 * The mesh is healed and settled: every node alive, every link up, and the
 * run waited for operations to finish. Every operation of a live node issued
 * before this point must have completed by the end of the history.
 */
export interface HealedEvent extends Base {
  readonly type: 'healed';
}

/** Final snapshot of one lock the application holds on a live node, from the public API (`lk.mode`). */
export interface HeldEvent extends Base {
  readonly type: 'held';
  readonly lock: string;
  readonly mode: HMode | null;
}

/** The end of the history (the snapshot is complete). */
export interface EndEvent extends Base {
  readonly type: 'end';
}

export type HistoryEvent =
  | RequestEvent
  | ConvertEvent
  | UnlockEvent
  | CancelEvent
  | DoneEvent
  | EndedEvent
  | ViewEvent
  | GrantingEvent
  | StoppedEvent
  | KillEvent
  | RestartEvent
  | NetEvent
  | HealedEvent
  | HeldEvent
  | EndEvent;

export type ViolationKind =
  | 'overlap'
  | 'fence-order'
  | 'fence-missing'
  | 'never-completed'
  | 'bad-completion'
  | 'lost-lock'
  | 'lvb'
  | 'malformed';

export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
  /** Indices (in the checked order) of the events involved. */
  readonly at: readonly number[];
}
