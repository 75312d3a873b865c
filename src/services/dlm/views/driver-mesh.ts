/**
 * The views driver on the mesh: its Raft messages travel as one-shot
 * transactions (CREATE|DELETE, the message in aux) on the lockspace's own
 * span service `dlm:<name>`, addressed to the peer's router; its proposals
 * come from the routers serving that service (with their incarnations); it
 * drives the lockspace through `ViewsTarget`.
 *
 * Raft tolerates loss, duplication and reordering, so the transport is best
 * effort: no route is a counted send error, a peer that does not answer
 * costs nothing (the one-shot transaction ends with its link).
 */
import { Subscription } from 'rxjs';
import { DMSGF, SVC_CODE_BASE, svcCmd, type Member, type Router, type Transaction } from '../../../span/index.ts';
import { systemClock, type Clock } from '../../../util/clock.ts';
import { nodeidOf } from '../../midcomms/index.ts';
import type { Lockspace } from '../lockspace.ts';
import { VIEWS_MAX_MESSAGE_BYTES } from './driver-codec.ts';
import type { ViewsDriverOptions } from './driver-options.ts';
import { MemoryViewsStore, type ViewsStore } from './driver-store.ts';
import { MembershipTracker } from './driver-membership.ts';
import { ViewsDriver, type ViewsTarget } from './driver.ts';
import type { NodeId } from './types.ts';

/** The command word of a views message on `dlm:<name>` (DLM service range). */
export const VIEWS_CMD = svcCmd(SVC_CODE_BASE.DLM + 0x11);

/** What `joinOverSpans` / `startDlmNode` take to run views (all but `voters` have defaults). */
export interface MeshViewsOptions extends ViewsDriverOptions {
  /** Where `Persisted` lives. @default a MemoryViewsStore (survives nothing: use a FileViewsStore for restarts) */
  readonly store?: ViewsStore;
  /** Clock of the views timers. @default the DLM node's clock, else systemClock */
  readonly clock?: Clock;
}

/**
 * A raw lockspace as a `ViewsTarget`. The recovery contract's `setGate`,
 * `fence` and `start(members, opts)` are used when the lockspace has them;
 * a lockspace without them (before recovery landed) is driven by stop/start
 * alone, and `unsupported` counts the calls it could not make.
 */
export function lockspaceTarget(raw: Lockspace): ViewsTarget & { readonly unsupported: number } {
  const r = raw as unknown as {
    stop(): void;
    start(members: readonly number[], opts?: { generation?: number; departed?: readonly number[] }): void;
    setGate?: (fn: (() => boolean) | null) => void;
    fence?: (status: number) => void;
  };
  let unsupported = 0;
  return {
    stop: () => r.stop(),
    start: (members, opts) => r.start(members, opts),
    setGate: (fn) => {
      if (typeof r.setGate === 'function') r.setGate(fn);
      else unsupported++;
    },
    fence: (status) => {
      if (typeof r.fence === 'function') r.fence(status);
      else unsupported++;
    },
    get unsupported() {
      return unsupported;
    },
  };
}

/** The driver of one lockspace on the mesh, plus what it counts there. */
export interface MeshViews {
  readonly driver: ViewsDriver;
  readonly tracker: MembershipTracker;
  /** Handle a transaction opened on `dlm:<name>` (the service handler calls this). */
  handle(tx: Transaction): void;
  /** Incoming transactions that were not views messages (wrong command, too large). */
  readonly foreign: number;
  close(): void;
}

/** DLM node id of a member of `dlm:<name>` (this router: `self`). */
export function memberNodeid(m: Member, self: NodeId): NodeId {
  return m.local ? self : nodeidOf(m.node);
}

/** Run views for lockspace service `service` on `router`, driving `target`. */
export function startMeshViews(router: Router, service: string, self: NodeId, options: MeshViewsOptions, target: ViewsTarget, defaultClock?: Clock): MeshViews {
  const { store, clock, ...driverOptions } = options;
  const routerOf = (to: NodeId): string => {
    for (const m of router.members(service)) if (!m.local && nodeidOf(m.node) === to) return m.node;
    throw new Error(`views: no router serving ${service} is DLM node ${to}`);
  };
  const send = (to: NodeId, bytes: Uint8Array): void => {
    const tx = router.open(service, VIEWS_CMD, { aux: bytes, delete: true, node: routerOf(to) });
    tx.rx$.subscribe({ error: () => {} });
  };
  const driver = new ViewsDriver(self, driverOptions, { clock: clock ?? defaultClock ?? systemClock, store: store ?? new MemoryViewsStore(), send, target });
  const tracker = new MembershipTracker(self, driver.config.views.voters);
  const viewsClock = clock ?? defaultClock ?? systemClock;
  let last = '';
  const propose = (): void => {
    tracker.observe(router.members(service).map((m) => ({ nodeid: memberNodeid(m, self), incarnation: m.incarnation })));
    const p = tracker.proposal();
    const key = p.join(',');
    if (key === last) return;
    last = key;
    driver.propose(p);
  };
  // members() drops a node as soon as its last live path is gone, while
  // members$ reports the leave only after the router's down grace: look
  // every heartbeat interval too.
  let closed = false;
  let poll: unknown = null;
  const every = driver.config.views.heartbeatInterval;
  const tick = (): void => {
    if (closed) return;
    propose();
    poll = viewsClock.setTimeout(tick, every);
  };
  const subs = new Subscription();
  subs.add(router.members$(service).subscribe(() => propose()));
  subs.add(
    driver.views$.subscribe((o) => {
      if (o.type !== 'committed') return;
      const pending = tracker.pendingDeparture.length;
      tracker.committed(o.members);
      if (tracker.pendingDeparture.length !== pending) queueMicrotask(propose); // a departed node may come back now
      else last = ''; // re-propose at the next look: a new leader may have missed the last one
    }),
  );
  tick();
  let foreign = 0;
  return {
    driver,
    tracker,
    get foreign() {
      return foreign;
    },
    handle(tx) {
      let first = true;
      tx.rx$.subscribe({
        next: (m) => {
          if (!first) return;
          first = false;
          if ((m.header.cmd & DMSGF.BASECMDMASK) !== (VIEWS_CMD & DMSGF.BASECMDMASK) || m.aux.length > VIEWS_MAX_MESSAGE_BYTES) foreign++;
          else driver.receive(m.aux);
          if (tx.canSend) tx.close();
        },
        complete: () => {
          if (tx.canSend) tx.close();
        },
        error: () => {},
      });
    },
    close() {
      closed = true;
      viewsClock.clearTimeout(poll);
      subs.unsubscribe();
      driver.close();
    },
  };
}
