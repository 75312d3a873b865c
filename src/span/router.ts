/**
 * A mesh node (DragonFly's span database plus its relay scan, per process):
 * the facade over the parts of one router, each in its own file.
 *
 * | concern                                   | file              |
 * |-------------------------------------------|-------------------|
 * | shared state (table, links, roles)        | router-core.ts    |
 * | LNK_CONN handshake                        | conn.ts           |
 * | spans peers send us                       | span-intake.ts    |
 * | carrying out the relay plan               | relay-executor.ts |
 * | withdrawal, lost links (root cause)       | withdrawal.ts     |
 * | waiting for repairs after a lost link     | repair-hold.ts    |
 * | discovery (spans$, spans, waitForSpan)    | discovery.ts      |
 * | where a peer's transaction goes           | dispatch.ts       |
 * | relaying transactions between links       | relay.ts          |
 * | our own advertisements, local open()      | local-ads.ts      |
 * | the in-process link of a local open()     | local-link.ts     |
 * | membership (members$, members)            | membership.ts     |
 * | holding a down while a path may return    | down-grace.ts     |
 * | replanning in batches after a lost link   | replan-queue.ts   |
 * | DBG_SHELL                                 | shell.ts          |
 */
import { randomUUID, randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { Observable, Subject } from 'rxjs';
import { DMSGF, DMSG_ERR, DMSG_PEER } from '../wire/constants.ts';
import { Iocom, type OpenOptions } from '../iocom/iocom.ts';
import type { IocomOptions } from '../iocom/options.ts';
import type { Transaction } from '../iocom/transaction.ts';
import { systemClock } from '../util/clock.ts';
import { sendConn } from './conn.ts';
import { Discovery, type WaitOptions } from './discovery.ts';
import { Dispatch } from './dispatch.ts';
import { endLocal, localSpanFields, openLocal } from './local-ads.ts';
import { SpanError } from './errors.ts';
import { LocalSide } from './local-link.ts';
import { resolveSpanOptions } from './options.ts';
import { RelayExecutor } from './relay-executor.ts';
import { ReplanQueue } from './replan-queue.ts';
import { RouterCore } from './router-core.ts';
import { validateLabel } from './service-id.ts';
import { describeTable, onShellMessage } from './shell.ts';
import { SpanTable, type NodeKey, type SpanNode } from './span-table.ts';
import { Withdrawal } from './withdrawal.ts';
import {
  bestLive,
  firstRemote,
  type AdvertiseOptions,
  type Advertisement,
  type ConnState,
  type LocalAd,
  type Member,
  type MemberEvent,
  type RouteOptions,
  type RouterLink,
  type ServeOptions,
  type Service,
  type ServiceCall,
  type ServiceHandler,
  type RouterOptions,
  type SpanEvent,
  type SpanInfo,
} from './router-types.ts';

export { DMSG_ERR_WITHDRAWN, SERVICE_PEER_TYPE } from './router-types.ts';
export type {
  RouterOptions, SpanInfo, SpanEvent, AdvertiseOptions, Advertisement, RouterLink,
  RouteOptions, Member, MemberEvent, ServeOptions, Service, ServiceCall, ServiceHandler,
} from './router-types.ts';

export class Router {
  readonly nodeId: string;
  readonly name: string;
  /**
   * This run of the router: random and non-zero, carried with every span it
   * originates (path record v4), so others see a restart as a new incarnation.
   */
  readonly incarnation: number;
  /** Span up/down/changed events, one per node (advertised instance) as its best path changes. */
  readonly spans$: Observable<SpanEvent>;
  /**
   * Transactions a peer stacks on a transaction this router opened with
   * `open()` (at any depth below it): the far end talking back. Without a
   * subscriber they are refused with NOSUPP.
   */
  readonly subTransactions$: Observable<Transaction>;

  readonly #core: RouterCore;
  readonly #relays: RelayExecutor;
  readonly #withdrawal: Withdrawal;
  readonly #discovery: Discovery;
  readonly #dispatch: Dispatch;
  readonly #later: ReplanQueue;

  constructor(options: RouterOptions = {}) {
    const { nodeId, name, peerType, peerMask, pfsMask, clusterLabel, connLayout, localRnss, iocom, log, clock, ...spanOptions } = options;
    const routerName = name ?? hostname();
    validateLabel('router name', routerName);
    validateLabel('clusterLabel', clusterLabel ?? '');
    const table = new SpanTable({ ownNodeId: nodeId ?? randomUUID(), options: resolveSpanOptions(spanOptions) });
    this.#core = new RouterCore({
      nodeId: table.ownNodeId,
      name: routerName,
      opts: {
        peerType: peerType ?? DMSG_PEER.ROUTER,
        peerMask: peerMask ?? 0xffffffffffffffffn,
        pfsMask: pfsMask ?? 0xffffffffffffffffn,
        clusterLabel: clusterLabel ?? '',
        connLayout: connLayout ?? 'seed',
        localRnss: localRnss ?? randomInt(1, 0x7fffffff),
      },
      iocomOpts: iocom ?? {},
      table,
      clock: clock ?? systemClock,
      ...(log ? { log } : {}),
    });
    this.nodeId = this.#core.nodeId;
    this.name = this.#core.name;
    this.incarnation = this.#core.incarnation;
    const core = this.#core;
    this.#relays = new RelayExecutor(core, {
      withdrawn: (key, epoch) => this.#withdrawal.withdraw(key, epoch),
      lostLink: (cause) => this.#withdrawal.lostLink(cause),
    });
    this.#withdrawal = new Withdrawal(core, this.#relays);
    this.#discovery = new Discovery(core);
    this.#dispatch = new Dispatch(core, this.#relays, this.#withdrawal);
    core.nodeChanged = (key) => {
      // Not while a repair hold waits for neighbours' replacements (repair-hold.ts).
      const hold = this.#withdrawal.evaluate(key);
      if (hold.wait) {
        // An origin-loss hold: the DELETEs of dead relays still go out, nothing replaces them yet.
        if ('deadOnly' in hold) this.#relays.deleteDead(key);
        return;
      }
      const apply = (): void => {
        this.#relays.replan(key);
        this.#discovery.publish(key);
      };
      // A hold just ended: the deletions of our dead relays carry its lost link.
      if (hold.cause !== null) this.#relays.withRootCause(hold.cause, apply);
      else apply();
    };
    core.replanAll = () => {
      for (const node of core.table.nodes()) if (!this.#withdrawal.isHeld(node.key)) this.#relays.replan(node.key);
    };
    core.connClosed = (connId) => this.#relays.deleteOnConn(connId);
    this.#later = new ReplanQueue({
      replan: (key, cause) => this.#relays.withRootCause(cause, () => core.nodeChanged(key)),
      allKeys: () => core.table.nodeKeys(),
      removeFromConn: (connId, max) => {
        const keys: NodeKey[] = [];
        for (const link of core.table.linksOnConn(connId, max)) {
          core.table.remove(link.linkId);
          core.received.delete(link.linkId);
          keys.push(link.nodeKey);
        }
        return keys;
      },
    });
    core.nodeChangedLater = (key, cause) => this.#later.add(key, cause);
    core.replanAllLater = () => this.#later.addAll();
    this.spans$ = this.#discovery.spans$;
    this.subTransactions$ = this.#dispatch.subTransactions.asObservable();
  }

  /** The links attached now. */
  get links(): RouterLink[] {
    return [...this.#core.conns.values()].map((c) => ({ connId: c.connId, iocom: c.iocom, peerName: c.peerName, peerNodeId: c.peerNodeId }));
  }

  /**
   * Add a link: a Duplex (an Iocom is made for it with the router's iocom
   * options) or an Iocom. Sends our LNK_CONN and starts relaying once the
   * peer's LNK_CONN arrives.
   */
  attach(link: Duplex | Iocom, iocomOptions?: IocomOptions): RouterLink {
    const core = this.#core;
    if (core.closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
    const connId = `c${core.nextConn++}`;
    const iocom = link instanceof Iocom ? link : new Iocom(link, { name: `${this.name}/${connId}`, ...core.iocomOpts, ...iocomOptions });
    const conn: ConnState = { connId, iocom, peerConn: null, peerNodeId: null, peerName: null, ourConn: null, theirConn: null, settled: false };
    core.conns.set(connId, conn);
    iocom.transactions$.subscribe((tx) => this.#dispatch.onTransaction(conn, tx));
    iocom.messages$.subscribe((msg) => {
      // Nothing but LNK_CONN (and PAD, PING, AUTH, which the iocom handles) before the peer's LNK_CONN.
      if (conn.theirConn !== null) return onShellMessage(this, iocom, msg);
      this.#dispatch.refusedBeforeConn++;
      core.log(`link ${connId}: refused one-way 0x${(msg.header.cmd & DMSGF.BASECMDMASK).toString(16)} before the peer's LNK_CONN`);
    });
    iocom.closed$.subscribe((reason) => this.#onLinkClosed(conn, reason.kind === 'error' ? reason.error.message : reason.kind));
    core.log(`link ${connId} up`);
    sendConn(core, conn);
    return { connId, iocom, peerName: null, peerNodeId: null };
  }

  /** Advertise a service: a LNK_SPAN sent to every link (and relayed on by the mesh). */
  advertise(opts: AdvertiseOptions): Advertisement {
    const core = this.#core;
    if (core.closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
    const instance = opts.instance ?? this.name;
    validateLabel('instance name', instance);
    const fields = localSpanFields(core, opts, instance);
    const linkId = `local${core.nextLink++}`;
    const subject = new Subject<Transaction>();
    const added = core.table.add({ linkId, connId: null, peerNodeId: null, fields, path: null });
    if (!added.ok) throw new SpanError('INVALID_ARGUMENT', `cannot advertise ${opts.service}/${instance}: ${added.message}`);
    const local: LocalAd = { linkId, fields, subject, local: null };
    core.locals.set(linkId, local);
    core.log(`advertise ${opts.service}/${instance}`);
    core.nodeChanged(added.link.nodeKey);
    const info = this.#discovery.infoOf(core.table.node(added.link.nodeKey)!)!; // a local link is always live
    return {
      span: info,
      transactions$: subject.asObservable(),
      close: () => {
        if (!core.locals.delete(linkId)) return;
        endLocal(core, this.#withdrawal, local);
        core.log(`withdraw ${opts.service}/${instance}`);
      },
    };
  }

  /** The spans this router sees now (best path per instance), optionally of one service. */
  spans(service?: string): SpanInfo[] {
    return this.#discovery.spans(service);
  }

  /**
   * Resolves with the nearest remote span of `service` (at once if known);
   * rejects with SpanError NO_SPAN when the signal aborts or `timeoutMs`
   * passes on the router's clock.
   */
  waitForSpan(service: string, opts?: AbortSignal | WaitOptions): Promise<SpanInfo> {
    return this.#discovery.waitForSpan(service, opts);
  }

  /**
   * Serve a service: advertise it (a LNK_SPAN relayed through the mesh) and
   * hand every transaction opened on it, remote or local, and every
   * sub-transaction stacked on those, to `handler`.
   *
   * @example
   * ```ts
   * const svc = router.serve('echo', (tx, call) => {
   *   tx.rx$.subscribe({
   *     next: (m) => { if (m.aux.length > 0 && tx.canSend) tx.send(SVC_CMD.EXAMPLE_ECHO, { aux: m.aux }); },
   *     complete: () => tx.close(),
   *     error: () => {},
   *   });
   * });
   * // anywhere in the mesh, this router included:
   * const tx = other.open('echo', SVC_CMD.EXAMPLE_ECHO, { aux: bytes });
   * svc.close(); // withdraw
   * ```
   */
  serve(service: string, handler: ServiceHandler, options: ServeOptions = {}): Service {
    const core = this.#core;
    const ad = this.advertise({ service, ...options });
    const instance = ad.span.instance;
    ad.transactions$.subscribe((tx) => {
      const host = core.hosts.get(tx);
      const parent = tx.parent !== null && core.hosts.has(tx.parent) ? tx.parent : null;
      const call: ServiceCall = {
        service,
        instance,
        parent,
        local: host instanceof LocalSide,
        open: (cmd, opts) => this.openChild(tx, cmd, opts),
      };
      try {
        handler(tx, call);
      } catch (err) {
        // The handler's bug ends this transaction only.
        core.log(`service ${service}/${instance}: handler threw: ${(err as Error)?.message ?? String(err)}`);
        tx.rx$.subscribe({ error: () => {} });
        if (!tx.freed && !tx.dying) tx.abort(DMSG_ERR.NOSUPP);
      }
    });
    return { span: ad.span, close: () => ad.close() };
  }

  /**
   * Open a transaction to a service instance, through any number of relays
   * or, for an instance on this router, through the in-process path (the
   * same Transaction interface, no socket).
   *
   * `span` is a SpanInfo (that instance) or a service name: then the
   * nearest reachable instance (this router's own first, then by dist, then
   * by instance name), unless `opts.instance` / `opts.node` (a node id or
   * router name) narrow the choice; `'service/instance'` names an instance
   * too when no service is called that whole string.
   * @throws SpanError NO_SPAN when no matching instance is reachable.
   */
  open(span: SpanInfo | string, cmd: number, opts: Omit<OpenOptions, 'parent'> & RouteOptions = {}): Transaction {
    const core = this.#core;
    if (core.closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
    if (typeof span !== 'string') {
      // A SpanInfo names one node: no candidate list, no SpanInfo copy, no text unless it fails.
      const n = core.table.node(span.key as NodeKey);
      const tx = n === undefined ? undefined : this.#openOn(n, cmd, opts);
      if (tx !== undefined) return tx;
      throw new SpanError('NO_SPAN', `no reachable span of ${span.service}/${span.instance} is known to ${this.name}`);
    }
    const { candidates, what } = this.#discovery.candidates(span, { instance: opts.instance, node: opts.node });
    for (const info of candidates) {
      const n = core.table.node(info.key as NodeKey);
      if (!n) continue;
      const tx = this.#openOn(n, cmd, opts);
      if (tx !== undefined) return tx;
    }
    throw new SpanError('NO_SPAN', `no reachable span of ${what} is known to ${this.name}`);
  }

  /** Open on `n`'s best live path (in process, or its first live remote link); undefined if it has none. */
  #openOn(n: SpanNode, cmd: number, opts: Omit<OpenOptions, 'parent'>): Transaction | undefined {
    const core = this.#core;
    const best = bestLive(n, core.conns);
    if (best?.connId === null) {
      const local = core.locals.get(best.linkId);
      if (local) return openLocal(core, this.#dispatch, local, cmd, { ext: opts.ext, aux: opts.aux, error: opts.error, delete: opts.delete });
    }
    const link = firstRemote(n, core.conns);
    if (!link) return undefined;
    const rx = core.received.get(link.linkId);
    const conn = core.conns.get(link.connId!);
    if (!rx || !conn || !conn.iocom.isOpen) return undefined;
    const tx = conn.iocom.open(cmd, { ext: opts.ext, aux: opts.aux, error: opts.error, delete: opts.delete, parent: rx });
    this.#dispatch.opened.add(tx);
    core.hosts.set(tx, conn.iocom);
    return tx;
  }

  /** Join/leave events of the routers offering `service` (or every service). */
  members$(service?: string): Observable<MemberEvent> {
    return this.#discovery.members$(service);
  }

  /** The routers offering `service` now, this router first, then by node id. */
  members(service: string): Member[] {
    return this.#discovery.members(service);
  }

  /**
   * Open a sub-transaction stacked on `parent`: a transaction `open()`
   * returned, one a service was handed, or one of their sub-transactions.
   * It goes where `parent` goes (its link, or the in-process path).
   */
  openChild(parent: Transaction, cmd: number, opts: Omit<OpenOptions, 'parent'> = {}): Transaction {
    const host = this.#core.hosts.get(parent);
    if (!host) throw new SpanError('INVALID_ARGUMENT', `${parent} was not opened through router ${this.name}`);
    const tx = host.open(cmd, { ...opts, parent });
    this.#core.hosts.set(tx, host);
    return tx;
  }

  /** Withdraw our spans, close every link gracefully. */
  async close(): Promise<void> {
    const core = this.#core;
    if (core.closed) return;
    core.closed = true;
    // Withdraw our spans first (with DMSG_ERR_WITHDRAWN, so nobody explores backups).
    for (const [linkId, local] of [...core.locals]) {
      core.locals.delete(linkId);
      endLocal(core, this.#withdrawal, local);
    }
    this.#later.close();
    await Promise.all([...core.conns.values()].map((c) => c.iocom.close()));
    this.#withdrawal.close();
    this.#discovery.complete();
    this.#dispatch.subTransactions.complete();
  }

  /** Describe the span table as text (the DBG_SHELL `tree` command). */
  describeTree(): string {
    const core = this.#core;
    return describeTable(core.table, (connId) => core.conns.get(connId)?.peerName ?? '?');
  }

  /**
   * Counts for tests and monitoring. spanMessagesSent: LNK_SPAN CREATEs and
   * DELETEs this router sent for its own (relayed or advertised) spans, acks
   * not counted; spansRefused: received spans refused (limits, bad fields,
   * loops, before LNK_CONN); refusedBeforeConn: peer transactions refused
   * because the peer had not sent its LNK_CONN yet; repairHolds: instances
   * waiting now for neighbours' replacements after a lost link,
   * repairHoldsExpired: holds that ended by their time limit (repair-hold.ts);
   * downGraces: lost spans held now before `down`, downGracesExpired: held
   * spans that went `down` when their grace ended, downGracesReturned: held
   * spans whose path came back in time (down-grace.ts).
   */
  stats(): {
    links: number; spans: number; relays: number; received: number; spanMessagesSent: number; spansRefused: number; refusedBeforeConn: number;
    repairHolds: number; repairHoldsExpired: number; downGraces: number; downGracesExpired: number; downGracesReturned: number;
  } {
    const core = this.#core;
    const grace = this.#discovery.graceStats;
    return {
      downGraces: grace.held,
      downGracesExpired: grace.expired,
      downGracesReturned: grace.returned,
      repairHolds: this.#withdrawal.holds,
      repairHoldsExpired: this.#withdrawal.holdsExpired,
      links: core.conns.size,
      spans: core.table.nodeCount,
      relays: this.#relays.size,
      received: core.received.size,
      spanMessagesSent: core.spanMessagesSent,
      spansRefused: core.spansRefused,
      refusedBeforeConn: this.#dispatch.refusedBeforeConn,
    };
  }

  // ---- internals ------------------------------------------------------------

  #onLinkClosed(conn: ConnState, why: string): void {
    const core = this.#core;
    if (!core.conns.delete(conn.connId)) return;
    core.log(`link ${conn.connId} down${conn.peerName ? ` (${conn.peerName})` : ''}: ${why}`);
    // The iocom already ended every transaction on it (received spans were
    // removed through their rx$); drop relays we had made on it.
    this.#relays.forgetOnConn(conn.connId);
    // Its spans leave the table in batches (thousands may have ended at once).
    if (core.table.countOnConn(conn.connId) > 0) this.#later.dropConn(conn.connId, conn.lost ?? null);
    // The consistency check judges every node's links against the direct
    // peers we have: losing one can change any node's plan. In batches: a
    // lost link may have carried thousands of spans.
    core.replanAllLater();
  }
}
