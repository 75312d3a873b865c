/**
 * The views driver on the mesh: its Raft messages travel as one-shot
 * transactions (CREATE|DELETE, the message in aux) on the service
 * `dlm-views:<name>`, addressed to the peer's router; its proposals come from
 * the routers serving the lockspace's membership service `dlm:<name>` (with
 * their incarnations), which this node serves except while it is rejoining
 * after a restart; it drives the lockspace through `ViewsTarget`.
 *
 * Raft tolerates loss, duplication and reordering, so the transport is best
 * effort: no route is a counted send error, a peer that does not answer
 * costs nothing. But it must know who sent each message: a forged `from`
 * with a huge term would stop elections for good. So a node takes voter X's
 * messages only from a channel it opened itself on X's router
 * (driver-channels.ts), and the driver refuses a message whose `from` is
 * not X.
 *
 * DLM node ids and routers: a DLM node id is `nodeidOf(router node id)`, a
 * 32-bit FNV-1a hash of the router's uuid (midcomms' node id; mesh-binding
 * uses the same). Anyone can pick a uuid that hashes to a voter's id, so the
 * mapping from a voter to a router is taken only when exactly one router
 * serving `dlm-views:<name>` has that id (`routerOfVoter`); with two, neither
 * is believed (no send, no channel accepted) until one is gone.
 */
import { Subscription } from 'rxjs';
import { type Member, type Router, type Service } from '../../../span/index.ts';
import { systemClock, type Clock } from '../../../util/clock.ts';
import { nodeidOf } from '../../midcomms/index.ts';
import type { Lockspace } from '../lockspace.ts';
import { ViewsChannels, type ChannelStats } from './driver-channels.ts';
import type { ViewsDriverOptions } from './driver-options.ts';
import { MemoryViewsStore, type ViewsStore } from './driver-store.ts';
import { MembershipTracker } from './driver-membership.ts';
import { ViewsDriver, type ViewsTarget } from './driver.ts';
import { clearLeftMarker, cleanlyLeft, serveLeftMarker } from './clean-leave.ts';
import type { NodeId } from './types.ts';

export { VIEWS_CMD, VIEWS_CHANNEL_CMD } from './driver-channels.ts';

/** The span service carrying lockspace `name`'s views messages. */
export function viewsService(name: string): string {
  return `dlm-views:${name}`;
}

/** What `joinOverSpans` / `startDlmNode` take to run views (all but `voters` have defaults). */
export interface MeshViewsOptions extends ViewsDriverOptions {
  /** Where `Persisted` lives. @default a MemoryViewsStore (survives nothing: use a FileViewsStore for restarts) */
  readonly store?: ViewsStore;
  /** Clock of the views timers. @default the DLM node's clock, else systemClock */
  readonly clock?: Clock;
}

/** A raw lockspace as a `ViewsTarget` (the recovery contract: stop, start with options, setGate, fence). */
export function lockspaceTarget(raw: Lockspace): ViewsTarget {
  return {
    stop: () => raw.stop(),
    start: (members, opts) => raw.start(members, opts),
    setGate: (fn) => raw.setGate(fn),
    fence: (status) => raw.fence(status),
  };
}

/** The driver of one lockspace on the mesh, plus what it counts there. */
export interface MeshViews {
  readonly driver: ViewsDriver;
  readonly tracker: MembershipTracker;
  /** Incoming transactions on `dlm-views:<name>` that were not views traffic (wrong command, too large). */
  readonly foreign: number;
  /** The authenticated transport (driver-channels.ts): channels opened and accepted, messages sent, refusals by reason. */
  readonly channels: ChannelStats;
  /** This node serves the membership service now (not while rejoining). */
  readonly serving: boolean;
  /**
   * Leave cleanly: announce it (clean-leave.ts: the `dlm-left:<name>`
   * tombstone, so the others recover this node without `recoverSlot`), then
   * stop the driver and withdraw both services.
   */
  close(): void;
}

/**
 * The one router among `members` (of `dlm-views:<name>`) whose DLM node id is
 * `id`, or null when none is, or more than one (a hash collision, perhaps
 * made on purpose: then none is believed).
 */
export function routerOfVoter(members: readonly Member[], id: NodeId): string | null {
  let found: string | null = null;
  for (const m of members) {
    if (m.local || nodeidOf(m.node) !== id) continue;
    if (found !== null) return null;
    found = m.node;
  }
  return found;
}

/** DLM node id of a member of `dlm:<name>` (this router: `self`). */
export function memberNodeid(m: Member, self: NodeId): NodeId {
  return m.local ? self : nodeidOf(m.node);
}

/**
 * Run views for lockspace `name` on `router`, driving `target`: serves
 * `dlm-views:<name>` (messages) and `membership` (`dlm:<name>`, withheld while
 * rejoining). With `transportService` (the DLM's: 'midcomms'), only members
 * that also serve it are proposed. @throws ViewsOptionsError, ViewsStoreError
 */
export function startMeshViews(router: Router, name: string, membership: string, self: NodeId, options: MeshViewsOptions, target: ViewsTarget, defaultClock?: Clock, transportService?: string): MeshViews {
  const { store, clock, ...driverOptions } = options;
  const service = viewsService(name);
  clearLeftMarker(router, name); // joining again: no longer gone
  const viewsClock = clock ?? defaultClock ?? systemClock;
  // The driver validates the voters (and throws on bad ones) before any channel opens.
  const channels = new ViewsChannels({
    router,
    service,
    self,
    voters: driverOptions.voters,
    routerOf: (id) => routerOfVoter(router.members(service), id),
    deliver: (bytes, sender) => driver.receive(bytes, sender),
  });
  // Views name each member's run (the router's incarnation): a restarted node is named again with a new one.
  const driver = new ViewsDriver(self, driverOptions, { clock: viewsClock, store: store ?? new MemoryViewsStore(), send: (to, bytes) => channels.send(to, bytes), target, incarnation: router.incarnation });
  const tracker = new MembershipTracker(self, driver.config.views.voters, { byIncarnation: driver.incarnation !== 0 });
  let last = '';
  /** Since when each voter has not been seen serving the lockspace (this node's clock; absent key: serving). */
  const absentSince = new Map<NodeId, number>();
  /**
   * As leader: the voters that acknowledged an append sent after this node
   * first saw them not serving the lockspace — alive for the views protocol
   * but not members (restarted nodes waiting to be left out). A node cut
   * off cannot acknowledge an append sent after the cut.
   */
  const answering = (): Set<NodeId> => {
    const st = driver.protocolState;
    const out = new Set<NodeId>();
    if (st.role !== 'leader') return out;
    for (const [id, at] of Object.entries(st.ackAt)) {
      const since = absentSince.get(Number(id));
      if (since !== undefined && at > since) out.add(Number(id));
    }
    return out;
  };
  const propose = (): void => {
    // With a transport service (midcomms), a member must also serve it: its DLM messages are dropped until then.
    const reach = transportService === undefined ? null : new Set(router.members(transportService).map((m) => m.node));
    const seen = router.members(membership).filter((m) => m.local || reach === null || reach.has(m.node));
    tracker.learnLog(driver.protocolState.log);
    tracker.observe(seen.map((m) => ({ nodeid: memberNodeid(m, self), incarnation: m.incarnation })));
    const now = viewsClock.now();
    const serving = new Set(seen.map((m) => memberNodeid(m, self)));
    for (const v of driver.config.views.voters) {
      if (serving.has(v)) absentSince.delete(v);
      else if (!absentSince.has(v)) absentSince.set(v, now);
    }
    const p = tracker.proposal(answering());
    const incs = tracker.runsOf(p);
    // Voters that announced a clean leave and no longer serve the lockspace (a rejoin withdraws the tombstone).
    const left = [...cleanlyLeft(router, name)].filter((n) => !serving.has(n) && driver.config.views.voters.includes(n)).sort((a, b) => a - b);
    const key = `${p.map((n) => `${n}:${incs[n] ?? 0}`).join(',')}/${left.join(',')}`;
    if (key === last) return;
    last = key;
    driver.propose(p, incs, left);
  };
  // members() drops a node as soon as its last live path is gone, while
  // members$ reports the leave only after the router's down grace: look
  // every heartbeat interval too.
  let closed = false;
  let poll: unknown = null;
  const every = driver.config.views.heartbeatInterval;
  const tick = (): void => {
    if (closed) return;
    channels.ensure();
    propose();
    poll = viewsClock.setTimeout(tick, every);
  };
  const subs = new Subscription();
  subs.add(router.members$(membership).subscribe(() => propose()));
  // A voter's views span back (a path again, even within the router's down grace): open our channel on it now,
  // before its next heartbeat, not at our next tick.
  subs.add(router.spans$.subscribe((e) => {
    if (e.type !== 'down' && e.span.service === service) channels.ensure();
  }));
  if (transportService !== undefined) subs.add(router.members$(transportService).subscribe(() => propose()));
  // The membership service: nothing is opened on it, it only marks this node as a member.
  let marker: Service | null = null;
  const mark = (): void => {
    // Rejoining through a view without it, it withdraws; rejoining by incarnation, it stays (and is named with its new run).
    if (marker !== null || closed || (driver.rejoining && !driver.rejoinsByIncarnation)) return;
    marker = router.serve(membership, (tx) => {
      tx.rx$.subscribe({ error: () => {} });
      tx.close();
    });
  };
  subs.add(
    driver.views$.subscribe((o) => {
      if (o.type !== 'committed') return;
      mark(); // a view that left this node out ends its rejoining
      const pending = tracker.pendingDeparture.length;
      tracker.committed(o.members);
      if (tracker.pendingDeparture.length !== pending) queueMicrotask(propose); // a departed node may come back now
      else last = ''; // re-propose at the next look: a new leader may have missed the last one
    }),
  );
  const messages = router.serve(service, (tx) => channels.handle(tx));
  mark();
  tick();
  return {
    driver,
    tracker,
    get foreign() {
      return channels.stats.refused.foreign;
    },
    get channels() {
      return channels.stats;
    },
    get serving() {
      return marker !== null;
    },
    close() {
      if (closed) return;
      // Announced before the membership is withdrawn: a peer sees the tombstone first (spans keep their order per path).
      serveLeftMarker(router, name);
      closed = true;
      viewsClock.clearTimeout(poll);
      subs.unsubscribe();
      driver.close();
      channels.close();
      marker?.close();
      messages.close();
    },
  };
}
