/**
 * The views driver: runs the pure membership-view protocol (`step`, Raft with
 * leases; docs/views.md) on real events — messages from peers, timers on the
 * injected Clock, proposals from what the mesh shows — persists its state
 * before sending (Raft's rule), and drives a lockspace through `ViewsTarget`:
 * stop / start(members, { generation: view, departed }) / setGate / fence.
 *
 * ```ts
 * const d = new ViewsDriver(self, { voters: [1, 2, 3] }, { clock, store, send: (to, bytes) => ..., target });
 * d.receive(bytes);                 // a message from a peer (any bytes: bad ones are counted and dropped)
 * d.propose([1, 2]);                // the members this node sees
 * d.state$.subscribe(console.log);  // 'member of view 1 (granting)', 'minority: waiting ...'
 * ```
 *
 * Nothing a peer sends throws out of `receive`; a store that fails to save
 * makes the driver keep its old state and send nothing for that event.
 */
import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import type { Clock } from '../../../util/clock.ts';
import { applyOutput, initApplyState, type ApplyAction, type ApplyState } from './driver-apply.ts';
import { decodeViewsMessage, encodeViewsMessage, refuseBySender, zeroDropReasons, type ViewsDropReason } from './driver-codec.ts';
import { resolveViewsDriverOptions, type ViewsDriverConfig, type ViewsDriverOptions } from './driver-options.ts';
import type { ViewsStore } from './driver-store.ts';
import { initViewsState, persistedOf, step } from './step.ts';
import type { Message, NodeId, Persisted, Role, TimerKind, ViewsEvent, ViewsOutput, ViewsState } from './types.ts';
import { incarnationIn, viewAt } from './view-log.ts';
import { ViewsOptionsError } from './options.ts';

/**
 * What the driver needs of a lockspace (the recovery contract): the raw
 * `Lockspace` fits once recovery landed; tests use a fake.
 */
export interface ViewsTarget {
  /** Stop locking (idempotent). */
  stop(): void;
  /** Start with these members; run recovery when they changed or `departed` names re-added nodes. */
  start(members: readonly NodeId[], opts: { generation?: number; departed?: readonly NodeId[]; left?: readonly NodeId[] }): void;
  /** While set and returning false, the lockspace acts as stopped. */
  setGate(fn: (() => boolean) | null): void;
  /** This node was excluded: fail every lock it owns with `status` and forget all state (it rejoins fresh). */
  fence(status: number): void;
}

/** How the driver sends a message to a peer (best effort: Raft tolerates loss). May throw; counted. */
export type ViewsSend = (to: NodeId, bytes: Uint8Array) => void;

export interface ViewsDriverDeps {
  readonly clock: Clock;
  readonly store: ViewsStore;
  readonly send: ViewsSend;
  /** The lockspace to drive. @default none (the driver only decides views) */
  readonly target?: ViewsTarget;
  /** Status passed to `target.fence()` when this node is excluded. @default -107 (ENOTCONN) */
  readonly fenceStatus?: number;
  /**
   * This run's incarnation (a u32 that changes on every restart: on the mesh
   * the router's). Non-zero: the node grants only under a committed view
   * naming it with this incarnation, and a restart rejoins through such a
   * view (see `rejoining`). @default 0 (unknown: a restart rejoins through a
   * view that leaves this node out)
   */
  readonly incarnation?: number;
}

/** Counters and the protocol's state, for `dmsg locks` and tests. */
export interface ViewsStats {
  term: number;
  role: Role;
  /** The latest committed view this node knows. */
  view: number;
  members: readonly NodeId[];
  /** The view the lockspace was last started with (-1: fresh after a fence). */
  appliedView: number;
  /** This node may grant now (lease minus the drift margin not yet over). */
  granting: boolean;
  /** Restarted from persisted state and waiting for a view without it (see ViewsDriver.rejoining). */
  rejoining: boolean;
  /** Milliseconds of granting left (0 when not granting). */
  leaseRemaining: number;
  messagesIn: number;
  messagesOut: number;
  /** Incoming messages dropped (bad or not for us), total and by reason. */
  dropped: number;
  dropReasons: Record<ViewsDropReason, number>;
  /** Sends that threw (no route to the peer, link down). */
  sendErrors: number;
  saves: number;
  /** Saves that failed (the event was then ignored). */
  saveErrors: number;
  /** Actions on the lockspace. */
  stops: number;
  starts: number;
  recoveries: number;
  fences: number;
  /** Errors a target method threw (counted; the driver carries on). */
  targetErrors: number;
  /** Events `step` threw on (dropped; none expected). */
  stepErrors: number;
}

const ENOTCONN = -107;

/** `state` of a node restarted from persisted state until a view leaves it out. */
export const REJOIN_STATE = 'restarted: waiting for a view without this node, then rejoining';
/** `state` of a node restarted from persisted state (rejoining by incarnation) until a view names its new run. */
export const REJOIN_BY_INCARNATION_STATE = 'restarted: waiting for a view naming this run, then rejoining';

function samePersisted(a: Persisted, b: Persisted): boolean {
  return a.currentTerm === b.currentTerm && a.votedFor === b.votedFor && a.log === b.log;
}

export class ViewsDriver {
  readonly self: NodeId;
  readonly config: ViewsDriverConfig;
  readonly #clock: Clock;
  readonly #store: ViewsStore;
  readonly #send: ViewsSend;
  readonly #target: ViewsTarget | null;
  readonly #fenceStatus: number;
  #s: ViewsState;
  #apply: ApplyState;
  /** The lease end of the latest `granting`, minus the drift margin (0: not granting). */
  #grantUntil = 0;
  readonly #timers = new Map<TimerKind, { at: number; handle: unknown }>();
  readonly #queue: ViewsEvent[] = [];
  #busy = false;
  #closed = false;
  /**
   * Restarted from persisted state: this node's lockspace is fresh while the
   * others may still hold its old locks, so it must not grant (nor lead)
   * until a committed view leaves it out. See `rejoining`.
   */
  #rejoining: boolean;
  /** This run's incarnation (0: unknown). */
  readonly #incarnation: number;
  /** Whether a committed view naming this node with `#incarnation` ends the rejoining (else only a view without it does). */
  readonly #rejoinByIncarnation: boolean;
  /** The lockspace's gate: open while this node grants. */
  readonly #gate = (): boolean => this.granting;
  readonly #views = new Subject<ViewsOutput>();
  readonly #state: BehaviorSubject<string>;
  readonly #stats: Omit<ViewsStats, 'term' | 'role' | 'view' | 'members' | 'appliedView' | 'granting' | 'rejoining' | 'leaseRemaining'> = {
    messagesIn: 0,
    messagesOut: 0,
    dropped: 0,
    dropReasons: zeroDropReasons(),
    sendErrors: 0,
    saves: 0,
    saveErrors: 0,
    stops: 0,
    starts: 0,
    recoveries: 0,
    fences: 0,
    targetErrors: 0,
    stepErrors: 0,
  };
  /**
   * Every output of `step`, in order (committed views, granting, stopped,
   * status); a `granting` output's `until` is already shortened by the drift
   * margin: the time this node's lockspace stops granting.
   */
  readonly views$: Observable<ViewsOutput>;
  /** The status text, e.g. 'member of view 3 (granting)', 'minority: waiting (view 3, no quorum lease)'. */
  readonly state$: Observable<string>;

  /**
   * Validates `options` (ViewsOptionsError), loads the store (ViewsStoreError
   * on a bad file) and, with a target, stops it and gates it until this node
   * grants. Arms its first election timer.
   */
  constructor(self: NodeId, options: ViewsDriverOptions, deps: ViewsDriverDeps) {
    this.self = self;
    this.config = resolveViewsDriverOptions(self, options);
    this.#clock = deps.clock;
    this.#store = deps.store;
    this.#send = deps.send;
    this.#target = deps.target ?? null;
    this.#fenceStatus = deps.fenceStatus ?? ENOTCONN;
    const incarnation = deps.incarnation ?? 0;
    if (!Number.isInteger(incarnation) || incarnation < 0 || incarnation > 0xffffffff) throw new ViewsOptionsError(`views: incarnation must be a u32, got ${String(incarnation)}`);
    this.#incarnation = incarnation;
    const persisted = this.#store.load();
    this.#s = initViewsState(this.config.views, this.#clock.now(), persisted ?? undefined, undefined, incarnation);
    this.#apply = initApplyState(self, this.config.views.voters);
    this.#rejoining = persisted !== null && persisted.currentTerm > 0;
    // A view this very run was already named in (the lockspace left and joined again on the same router)
    // cannot tell the others that its state is new: then only a view without this node ends the rejoining.
    this.#rejoinByIncarnation = incarnation !== 0 && !(persisted?.log ?? []).some((e) => e.kind === 'view' && incarnationIn(e, self) === incarnation);
    this.#state = new BehaviorSubject<string>(!this.#rejoining ? 'starting: waiting for a leader' : this.#rejoinByIncarnation ? REJOIN_BY_INCARNATION_STATE : REJOIN_STATE);
    this.views$ = this.#views.asObservable();
    this.state$ = this.#state.asObservable();
    if (this.#target) {
      this.#act(() => this.#target!.stop());
      this.#act(() => this.#target!.setGate(this.#gate));
    }
    this.#armTimer('election', this.#s.electionAt);
  }

  /** The status text now. */
  get state(): string {
    return this.#state.value;
  }

  /** Whether the lockspace may grant now: a lease under the latest committed view, minus the drift margin. */
  get granting(): boolean {
    return !this.#closed && !this.#rejoining && this.#clock.now() < this.#grantUntil;
  }

  /**
   * True after a restart from persisted state until a committed view leaves
   * this node out or (`rejoinsByIncarnation`) names it with this run's
   * incarnation: meanwhile it never grants. Rejoining by incarnation it
   * follows, votes, may lead and keeps serving the lockspace, so the others
   * see its new incarnation and propose it (their recovery purges its old
   * locks, naming it departed). Otherwise it never campaigns and its mesh
   * binding withdraws its membership so the others propose a view without it;
   * after that view it rejoins as a fresh member. A first start (empty
   * store) is not a restart.
   */
  get rejoining(): boolean {
    return this.#rejoining;
  }

  /**
   * How a restart rejoins: true (a non-zero incarnation not named by any view
   * it persisted) through a committed view naming this node with its new
   * incarnation — it keeps serving the lockspace, may lead, and the others
   * recover with it as departed; false through a view that leaves it out
   * (it withdraws from the lockspace and never campaigns meanwhile).
   */
  get rejoinsByIncarnation(): boolean {
    return this.#rejoinByIncarnation;
  }

  /** This run's incarnation (0: unknown). */
  get incarnation(): number {
    return this.#incarnation;
  }

  get stats(): ViewsStats {
    const cv = viewAt(this.#s.log, this.#s.commitIndex, this.config.views.voters);
    const granting = this.granting;
    return {
      ...this.#stats,
      dropReasons: { ...this.#stats.dropReasons },
      term: this.#s.currentTerm,
      role: this.#s.role,
      view: cv.view,
      members: cv.members,
      appliedView: this.#apply.applied?.view ?? -1,
      granting,
      rejoining: this.#rejoining,
      leaseRemaining: granting ? this.#grantUntil - this.#clock.now() : 0,
    };
  }

  /** The view the lockspace was last started with (-1: fresh after a fence). */
  get appliedView(): number {
    return this.#apply.applied?.view ?? -1;
  }

  /** The protocol state (read-only; for tests and `dmsg locks`). */
  get protocolState(): ViewsState {
    return this.#s;
  }

  /**
   * Bytes from a peer. Bad bytes are counted and dropped; never throws.
   * `sender` is the DLM node id the transport authenticated (the mesh:
   * driver-channels.ts): a message whose `from` differs is dropped
   * (`forged-sender`), and so is every message with `sender` null (the
   * transport could not tell). Leave it out only for a transport that
   * cannot misattribute (an in-process fake network). A message from a
   * voter outside this node's latest view with a term more than
   * VIEWS_MAX_TERM_JUMP above ours is dropped too (`term-jump`).
   */
  receive(bytes: Uint8Array, sender?: NodeId | null): void {
    if (this.#closed) return;
    const r = decodeViewsMessage(bytes, this.config.views.voters, this.self);
    if (!r.ok) return this.#drop(r.reason);
    const why = refuseBySender(r.message, sender, this.#s.currentTerm, viewAt(this.#s.log, this.#s.log.length, this.config.views.voters).members);
    if (why !== null) return this.#drop(why);
    this.#stats.messagesIn++;
    this.#run({ type: 'message', now: this.#clock.now(), message: r.message });
  }

  #drop(reason: ViewsDropReason): void {
    this.#stats.dropped++;
    this.#stats.dropReasons[reason]++;
  }

  /**
   * The members this node sees now (this node is always added, with its own
   * incarnation), the incarnation of each where known, and the voters it saw
   * leave the lockspace cleanly (`left`: a view leaving them out names them,
   * and the lockspace recovers them without `recoverSlot`, spec §4.1).
   */
  propose(members: readonly NodeId[], incarnations: Readonly<Record<number, number>> = {}, left: readonly NodeId[] = []): void {
    if (this.#closed) return;
    const incs = { ...incarnations, [this.self]: this.#incarnation };
    this.#run({ type: 'propose', now: this.#clock.now(), members: [...new Set([this.self, ...members])], incarnations: incs, ...(left.length > 0 ? { left: left.filter((n) => n !== this.self) } : {}) });
  }

  /** Stop timers and outputs; the lockspace's gate stays closed. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers.values()) this.#clock.clearTimeout(t.handle);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#grantUntil = 0;
    this.#views.complete();
    this.#state.complete();
  }

  #run(ev: ViewsEvent): void {
    this.#queue.push(ev);
    if (this.#busy) return; // an action of this step re-entered: runs after it
    this.#busy = true;
    try {
      for (let e = this.#queue.shift(); e !== undefined && !this.#closed; e = this.#queue.shift()) this.#step(e);
    } finally {
      this.#busy = false;
    }
  }

  #step(ev: ViewsEvent): void {
    let r: ReturnType<typeof step>;
    try {
      r = step(this.#s, ev);
    } catch {
      // `step` is pure and checked; should a message it was not written for still break it, drop that event only.
      this.#stats.stepErrors++;
      return;
    }
    const before = persistedOf(this.#s);
    const after = persistedOf(r.state);
    if (!samePersisted(before, after)) {
      try {
        this.#store.save(after);
        this.#stats.saves++;
      } catch {
        // Not durable: behave as if the event never happened (Raft must not answer what it did not persist).
        this.#stats.saveErrors++;
        // Try again later (not at once: a store that keeps failing must not spin the event loop).
        const retry = this.#clock.now() + this.config.views.heartbeatInterval;
        if (this.#s.role === 'leader') this.#armTimer('heartbeat', Math.max(this.#s.heartbeatAt, retry));
        else this.#armTimer('election', Math.max(this.#s.electionAt, retry));
        return;
      }
    }
    this.#s = r.state;
    for (const t of r.timers) this.#armTimer(t.kind, t.at);
    for (const m of r.messages) this.#sendMessage(m);
    for (const o of r.outputs) this.#output(o);
  }

  #sendMessage(m: Message): void {
    const msg: Message = m.type === 'append' && m.entries.length > this.config.maxEntriesPerMessage ? { ...m, entries: m.entries.slice(0, this.config.maxEntriesPerMessage) } : m;
    try {
      this.#send(msg.to, encodeViewsMessage(msg));
      this.#stats.messagesOut++;
    } catch {
      this.#stats.sendErrors++;
    }
  }

  #output(raw: ViewsOutput): void {
    if (this.#rejoining) {
      const leftOut = raw.type === 'committed' && !raw.members.includes(this.self);
      const named = raw.type === 'committed' && this.#rejoinByIncarnation && incarnationIn(raw, this.self) === this.#incarnation;
      if (leftOut || named) {
        // Left out, or named with this run: the others recover without our old locks; from now on a fresh member.
        this.#rejoining = false;
        if (this.#s.lastStatus !== '') this.#state.next(this.#s.lastStatus);
      } else if (raw.type === 'granting' || raw.type === 'stopped' || raw.type === 'status') {
        return; // no lease while rejoining: the lockspace stays stopped, state$ keeps saying why
      }
    }
    // The lockspace stops granting driftMargin before the lease ends: `granting.until` says when it really stops.
    const o: ViewsOutput = raw.type === 'granting' ? { ...raw, until: raw.until - this.config.driftMargin } : raw;
    if (o.type === 'granting') {
      const wasClosed = !this.granting;
      this.#grantUntil = o.until;
      // The gate opens again: set it anew so the lockspace runs what it saved while closed (recov's contract).
      if (wasClosed && this.#target && this.#apply.running) this.#act(() => this.#target!.setGate(this.#gate));
    } else if (o.type === 'stopped') this.#grantUntil = 0;
    const { state, actions } = applyOutput(this.#apply, o);
    this.#apply = state;
    for (const a of actions) this.#do(a);
    if (o.type === 'status') this.#state.next(o.text);
    this.#views.next(o);
  }

  #do(a: ApplyAction): void {
    const t = this.#target;
    switch (a.type) {
      case 'stop':
        this.#stats.stops++;
        if (t) this.#act(() => t.stop());
        return;
      case 'start':
        this.#stats.starts++;
        if (a.generation !== undefined) this.#stats.recoveries++;
        if (t) this.#act(() => t.start(a.members, { ...(a.generation !== undefined ? { generation: a.generation } : {}), ...(a.departed.length > 0 ? { departed: a.departed } : {}), ...(a.left && a.left.length > 0 ? { left: a.left } : {}) }));
        return;
      case 'fence':
        this.#stats.fences++;
        if (t) this.#act(() => t.fence(this.#fenceStatus));
        return;
    }
  }

  #act(fn: () => void): void {
    try {
      fn();
    } catch {
      this.#stats.targetErrors++;
    }
  }

  #armTimer(kind: TimerKind, at: number): void {
    const old = this.#timers.get(kind);
    if (old !== undefined) {
      if (old.at === at) return;
      this.#clock.clearTimeout(old.handle);
    }
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(kind);
      if (kind === 'election' && this.#rejoining && !this.#rejoinByIncarnation) {
        // A restarted node that can only rejoin through a view without it must not lead: a leader cannot propose a view without itself.
        this.#armTimer('election', this.#clock.now() + this.config.views.electionMax);
        return;
      }
      this.#run({ type: 'timer', now: this.#clock.now(), kind });
    }, Math.max(0, at - this.#clock.now()));
    this.#timers.set(kind, { at, handle });
  }
}
