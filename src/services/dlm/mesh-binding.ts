/**
 * The DLM on the mesh: the thin adapter between the DLM's abstract transport
 * (`DlmEndpoint`) and midcomms sessions (one per peer: ordered, exactly once,
 * across link cuts), plus lockspace membership from spans.
 *
 * ```ts
 * const mc = midcomms(router);
 * const dlm = new Dlm({ endpoint: new MidcommsEndpoint(router, mc) });
 * const ls = await joinOverSpans(router, dlm, 'app', { lvblen: 32 });   // members: whoever serves dlm:app
 * const q = await joinOverSpans(router, dlm, 'safe', { voters: [1, 2, 3] }); // members: views with a quorum of 1,2,3
 * q.state$.subscribe(console.log);                                        // 'member of view 1 (granting)', ...
 * ```
 *
 * DLM node ids are midcomms node ids: `nodeidOf(router node id)`, midcomms'
 * default (a midcomms given another `nodeid` option does not fit).
 */
import { BehaviorSubject, NEVER, type Observable } from 'rxjs';
import type { Router } from '../../span/index.ts';
import { DLM_CMD, nodeidOf } from '../midcomms/index.ts';
import type { Midcomms } from '../midcomms/index.ts';
import type { DlmLockspace } from './api.ts';
import type { Dlm } from './dlm.ts';
import { DlmError } from './errors.ts';
import type { LockspaceOptions } from './options.ts';
import type { DlmEndpoint } from './transport.ts';
import { lockspaceTarget, memberNodeid, startMeshViews, type MeshViews, type MeshViewsOptions } from './views/driver-mesh.ts';
import { resolveViewsDriverOptions } from './views/driver-options.ts';
import { clearLeftMarker, cleanlyLeft, serveLeftMarker } from './views/clean-leave.ts';
import type { ViewsDriver, ViewsStats } from './views/driver.ts';
import type { ViewsOutput } from './views/types.ts';

interface Unsubscribable {
  unsubscribe(): void;
}

/** Messages a MidcommsEndpoint holds per peer at most while midcomms has no room (about 150 bytes each). */
export const DEFAULT_MAX_BACKLOG = 65_536;
const EMPTY = new Uint8Array(0);

/** One peer's held messages: `q[head..]` wait, in order. */
interface Backlog {
  q: Uint8Array[];
  head: number;
}

type McSession = ReturnType<Midcomms['session']>;

/** A peer by DLM node id: one map lookup per message sent. */
interface Peer {
  /** Its router node id. */
  node: string;
  /** Its midcomms session, once asked for (asked again once closed: midcomms then makes a new one). */
  session: McSession | null;
  /** Messages held while midcomms has no room (see `#drain`); null when none. */
  backlog: Backlog | null;
}

/** A `DlmEndpoint` over midcomms: peers are the routers that serve midcomms. */
export class MidcommsEndpoint implements DlmEndpoint {
  readonly nodeid: number;
  /**
   * `send()` is done with the bytes when it returns: midcomms copies a
   * message into its frame as it commits it (`Session.tryPost`), and a
   * message held here is a copy (test/services/dlm/mesh-scratch.test.ts
   * checks this seam).
   */
  readonly copiesOnSend = true;
  /**
   * Messages arrive from midcomms' session reads, i.e. from the event loop
   * (a link's data), never inside `send()`: the node runs the ASTs a
   * message completes at the end of its delivery (scheduler.ts).
   */
  readonly asyncReceive = true;
  readonly #router: Router;
  readonly #mc: Midcomms;
  /** DLM node id -> the peer (router node id, session, backlog). */
  readonly #peers = new Map<number, Peer>();
  /** The peer `send()` found last, and its node id (see send()). */
  #lastTo = -1;
  #lastPeer: Peer | null = null;
  readonly #subs = new Map<string, Unsubscribable>();
  readonly #membership: Unsubscribable;
  #receiver: ((from: number, bytes: Uint8Array) => void) | null = null;
  /** Messages for a node id that no midcomms member has (dropped). */
  unknownPeer = 0;
  /** Sends midcomms refused (its session closed or fenced), backlog overflows included. */
  sendErrors = 0;
  /** Messages dropped because a peer's backlog was full (`maxBacklog`). */
  backlogDrops = 0;
  /** Received messages whose receiver threw (a bug: the DLM's receive never throws); counted, never thrown on. */
  receiverErrors = 0;
  readonly #onReceiverError = (): void => {
    this.receiverErrors++;
  };
  /** Most messages held per peer while its session has no room (default DEFAULT_MAX_BACKLOG). */
  readonly maxBacklog: number;
  // Per peer (`Peer.backlog`): messages held here, in order, while midcomms
  // has no room for them; drained one commit at a time. Without it a burst
  // past midcomms' window and waiter limit (1024 + 1024 messages by default)
  // would lose DLM messages, and their locks would wait for ever.
  readonly #onSendError = (): void => {
    this.sendErrors++;
  };

  constructor(router: Router, mc: Midcomms, options: { service?: string; maxBacklog?: number } = {}) {
    const service = options.service ?? 'midcomms';
    const maxBacklog = options.maxBacklog ?? DEFAULT_MAX_BACKLOG;
    if (!Number.isInteger(maxBacklog) || maxBacklog < 0) throw new DlmError('EINVAL', `maxBacklog must be an integer >= 0, got ${maxBacklog}`);
    this.maxBacklog = maxBacklog;
    this.#router = router;
    this.#mc = mc;
    this.nodeid = mc.nodeid;
    for (const m of router.members(service)) this.#learn(m.node, m.local);
    this.#membership = router.members$(service).subscribe((e) => {
      if (e.type === 'join') this.#learn(e.member.node, e.member.local);
    });
  }

  /** A router serving midcomms: file its DLM node id and read its session. */
  #learn(node: string, local: boolean): void {
    if (local || node === this.#router.nodeId) return;
    const id = nodeidOf(node);
    const known = this.#peers.get(id);
    if (known === undefined) this.#peers.set(id, { node, session: null, backlog: null });
    else if (known.node !== node) {
      known.node = node;
      known.session = null;
    }
    if (this.#subs.has(node)) return;
    let session;
    try {
      session = this.#mc.session(node);
    } catch {
      return; // midcomms closed, or its session table is full
    }
    const from = nodeidOf(node);
    // read(): messages$ without rxjs per message. borrow: a lock message is
    // decoded at once and the DLM copies what it keeps (names, LVBs), so it
    // is a view of the received batch, valid during the call (no copy in
    // midcomms); recovery messages are copied here, as they may be kept.
    const sub = session.read(
      (bytes) => this.#receiver?.(from, bytes[14] === DLM_CMD.RCOM ? bytes.slice() : bytes),
      () => this.#subs.delete(node),
      this.#onReceiverError,
      { borrow: true },
    );
    this.#subs.set(node, sub);
  }

  send(to: number, bytes: Uint8Array): void {
    // The peer of the last send (a lock's messages go to one master): no map probe. Peers are never
    // removed from #peers and keep their object, so the remembered one is the map's.
    let peer = this.#lastPeer;
    if (peer === null || this.#lastTo !== to) {
      peer = this.#peers.get(to) ?? null;
      if (peer === null) {
        this.unknownPeer++;
        return;
      }
      this.#lastTo = to;
      this.#lastPeer = peer;
    }
    const held = peer.backlog;
    if (held !== null) {
      // Behind earlier messages to this peer: keep the order.
      if (held.q.length - held.head >= this.maxBacklog) {
        this.backlogDrops++;
        this.sendErrors++;
      } else held.q.push(bytes.slice()); // the DLM's bytes are a view into its slab
      return;
    }
    try {
      let session = peer.session;
      if (session === null || session.closed) peer.session = session = this.#mc.session(peer.node);
      // tryPost(): no promise (and no microtask) per message when there is room.
      if (!session.tryPost(bytes, this.#onSendError)) {
        if (this.maxBacklog === 0) {
          this.backlogDrops++;
          this.sendErrors++;
          return;
        }
        const backlog: Backlog = { q: [bytes.slice()], head: 0 };
        peer.backlog = backlog;
        void this.#drain(peer, session, backlog);
      }
    } catch {
      this.sendErrors++;
    }
  }

  /** Sends the held messages one commit at a time (more may be added meanwhile); then direct sends resume. */
  async #drain(peer: Peer, session: McSession, held: Backlog): Promise<void> {
    try {
      while (held.head < held.q.length) {
        await session.send(held.q[held.head]!);
        held.q[held.head++] = EMPTY;
        // A long episode: drop the sent prefix now and then (bounded by maxBacklog waiting).
        if (held.head >= 1024 && held.head * 2 >= held.q.length) {
          held.q.splice(0, held.head);
          held.head = 0;
        }
      }
    } catch {
      this.sendErrors += held.q.length - held.head;
    } finally {
      if (peer.backlog === held) peer.backlog = null;
    }
  }

  setReceiver(receiver: ((from: number, bytes: Uint8Array) => void) | null): void {
    this.#receiver = receiver;
  }

  /** Stop reading sessions and following membership (midcomms itself stays). */
  close(): void {
    this.#membership.unsubscribe();
    for (const s of this.#subs.values()) s.unsubscribe();
    this.#subs.clear();
    this.#receiver = null;
    for (const peer of this.#peers.values()) {
      const held = peer.backlog;
      if (held === null) continue;
      held.q.length = 0; // their drains end
      held.head = 0;
      peer.backlog = null;
    }
  }
}

/** The span service a node serves while it is in lockspace `name`. */
export function lockspaceService(name: string): string {
  return `dlm:${name}`;
}

/** A lockspace whose member list follows the routers serving `dlm:<name>`. */
export interface SpanMembership {
  readonly lockspace: DlmLockspace;
  /** Member-list changes refused, without voters only: a departure while resources are in use here (no quorum), or a list start() rejected. */
  readonly refusedChanges: number;
  /**
   * Every output of the membership-view protocol (committed views, granting,
   * stopped, status), with `voters`; without voters nothing is emitted.
   */
  readonly views$: Observable<ViewsOutput>;
  /**
   * The membership status text now: with voters the views protocol's
   * ('member of view 3 (granting)', 'minority: waiting (view 3, no quorum
   * lease)', 'excluded from view 4: waiting', ...); without voters
   * 'following spans (no quorum: no split-brain protection)'.
   */
  readonly state: string;
  /** `state` as it changes (replays the current text on subscribe). */
  readonly state$: Observable<string>;
  /** The views driver's counters and protocol state (null without voters). */
  readonly viewsStats: ViewsStats | null;
  /** The views driver itself (null without voters), for tests and tools. */
  readonly views: ViewsDriver | null;
  /** Stop following spans and withdraw this node's `dlm:<name>` service. */
  close(): void;
}

/** Options of `joinOverSpans`: the lockspace's, plus `voters` and the views timings. */
export interface JoinOverSpansOptions extends Omit<LockspaceOptions, 'members'> {
  /**
   * The configured member list (DLM node ids). With it, membership changes
   * go through the views protocol (Raft with leases, docs/views.md): a view
   * needs a majority of `voters`, a minority side stops granting. Without
   * it the lockspace follows spans directly, with no quorum and no
   * split-brain protection. @default none
   */
  voters?: readonly number[];
  /** Views timings, store and clock (used only with `voters`; defaults in docs/views.md). */
  views?: Omit<MeshViewsOptions, 'voters'>;
}

/** Text of `state` without voters. */
export const NO_VOTERS_STATE = 'following spans (no quorum: no split-brain protection)';

/**
 * Join lockspace `name` with its members discovered from spans: this node
 * serves `dlm:<name>`.
 *
 * With `options.voters`, the views driver decides the members: the lockspace
 * starts stopped, gated by the views lease, and is (re)started with each
 * committed view this node grants under (docs/views.md).
 *
 * Without voters every join/leave of that service restarts the lockspace
 * with the new list (stop, then start; a restarted peer is passed as
 * departed; recovery runs, docs/dlm.md "Recovery"). No quorum: a member
 * that vanishes may be cut off rather than dead, so its departure is refused
 * (and counted in `refusedChanges`) while resources are in use here; use
 * `voters` to survive failures.
 */
export async function joinOverSpans(router: Router, dlm: Dlm, name: string, options: JoinOverSpansOptions = {}): Promise<SpanMembership> {
  const service = lockspaceService(name);
  const { voters, views: viewsOptions, ...lsOptions } = options;
  const ids = (): number[] => [...new Set([dlm.nodeid, ...router.members(service).map((m) => memberNodeid(m, dlm.nodeid))])].sort((a, b) => a - b);
  if (voters !== undefined) {
    resolveViewsDriverOptions(dlm.nodeid, { ...viewsOptions, voters }); // validate before joining
    // Joined alone (stopped and gated by the driver at once): the first view this node grants under
    // then always differs, so its first start runs recovery with the others (directory rebuild,
    // barriers). Joined with the voters, a node starting under a view with exactly those members
    // (a restart named with its new run, a late first start) resumed without recovery and acted
    // as directory and master with empty tables while the others recovered (fault seed 1093).
    const lockspace = await dlm.join(name, { ...lsOptions, members: [dlm.nodeid] });
    let m: MeshViews;
    try {
      m = startMeshViews(router, name, service, dlm.nodeid, { ...viewsOptions, voters }, lockspaceTarget(lockspace.raw), dlm.options.clock, 'midcomms');
    } catch (err) {
      dlm.releaseLockspace(name, 3);
      throw err;
    }
    return {
      lockspace,
      refusedChanges: 0,
      views$: m.driver.views$,
      get state() {
        return m.driver.state;
      },
      state$: m.driver.state$,
      get viewsStats() {
        return m.driver.stats;
      },
      views: m.driver,
      close() {
        m.close();
      },
    };
  }
  clearLeftMarker(router, name); // joining again: no longer gone
  const ad = router.serve(service, (tx) => {
    // Nothing is opened on this service: it only marks membership.
    tx.rx$.subscribe({ error: () => {} });
    tx.close();
  });
  let lockspace: DlmLockspace;
  try {
    lockspace = await dlm.join(name, { ...lsOptions, members: ids() });
  } catch (err) {
    ad.close();
    throw err;
  }
  let refused = 0;
  const incarnations = new Map<number, number>();
  const restarted = (): number[] => {
    const out: number[] = [];
    for (const m of router.members(service)) {
      if (m.local || m.incarnation === null) continue;
      const id = nodeidOf(m.node);
      const before = incarnations.get(id);
      if (before !== undefined && before !== m.incarnation) out.push(id);
      incarnations.set(id, m.incarnation);
    }
    return out;
  };
  restarted();
  // A peer reachable over midcomms only now: recovery re-sends the polls its endpoint had to drop.
  const reach = router.members$('midcomms').subscribe((e) => {
    if (e.type === 'join' && !e.member.local) lockspace.raw.peerReachable(nodeidOf(e.member.node));
  });
  const sub = router.members$(service).subscribe(() => {
    const raw = lockspace.raw;
    if (raw.released) return;
    const next = ids();
    const departed = restarted().filter((n) => next.includes(n));
    // Members gone after announcing a clean leave (clean-leave.ts): recovered without recoverSlot (spec §4.1).
    const gone = cleanlyLeft(router, name);
    const left = raw.members.filter((m) => !next.includes(m) && gone.has(m));
    const same = next.length === raw.members.length && next.every((m, i) => m === raw.members[i]);
    if (same && departed.length === 0) return;
    // Without voters a member that vanished may be cut off, not dead (no quorum tells them
    // apart): while resources are in use here its departure is refused, as before recovery.
    if (departed.length === 0 && raw.members.some((m) => !next.includes(m)) && raw.inUse) {
      refused++;
      return;
    }
    const before = [...raw.members];
    raw.stop();
    try {
      raw.start(next, { ...(departed.length > 0 ? { departed } : {}), ...(left.length > 0 ? { left } : {}) }); // recovery (docs/dlm.md "Recovery")
    } catch (err) {
      if (!(err instanceof DlmError)) throw err;
      refused++;
      raw.start(before);
    }
  });
  const state$ = new BehaviorSubject<string>(NO_VOTERS_STATE);
  return {
    lockspace,
    get refusedChanges() {
      return refused;
    },
    views$: NEVER,
    state: NO_VOTERS_STATE,
    state$: state$.asObservable(),
    viewsStats: null,
    views: null,
    close() {
      sub.unsubscribe();
      reach.unsubscribe();
      state$.complete();
      serveLeftMarker(router, name); // a clean leave: announced before the membership goes
      ad.close();
    },
  };
}
