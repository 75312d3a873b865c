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
 * | discovery (spans$, spans, waitForSpan)    | discovery.ts      |
 * | where a peer's transaction goes           | dispatch.ts       |
 * | relaying transactions between links       | relay.ts          |
 * | local services, local open() path         | local-link.ts     |
 * | DBG_SHELL                                 | shell.ts          |
 */
import { randomUUID, randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { Observable, Subject } from 'rxjs';
import { v5 as uuidv5 } from 'uuid';
import { DMSG_PEER } from '../wire/constants.ts';
import { Iocom, type OpenOptions } from '../iocom/iocom.ts';
import type { IocomOptions } from '../iocom/options.ts';
import type { Transaction } from '../iocom/transaction.ts';
import { systemClock } from '../util/clock.ts';
import { sendConn } from './conn.ts';
import { Discovery } from './discovery.ts';
import { Dispatch } from './dispatch.ts';
import { SpanError } from './errors.ts';
import { LocalLink } from './local-link.ts';
import { resolveSpanOptions, type SpanOptions } from './options.ts';
import { RelayExecutor } from './relay-executor.ts';
import { RouterCore } from './router-core.ts';
import { serviceClusterId, validateLabel } from './service-id.ts';
import { onShellMessage } from './shell.ts';
import { SpanTable, type NodeKey, type SpanFields } from './span-table.ts';
import { Withdrawal } from './withdrawal.ts';
import {
  SERVICE_PEER_TYPE,
  firstRemote,
  type AdvertiseOptions,
  type Advertisement,
  type ConnState,
  type LocalAd,
  type RouterLink,
  type RouterOptions,
  type SpanEvent,
  type SpanInfo,
} from './router-types.ts';

export { DMSG_ERR_WITHDRAWN, SERVICE_PEER_TYPE } from './router-types.ts';
export type { RouterOptions, SpanInfo, SpanEvent, AdvertiseOptions, Advertisement, RouterLink } from './router-types.ts';

export class Router {
  readonly nodeId: string;
  readonly name: string;
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
    const core = this.#core;
    this.#relays = new RelayExecutor(core, {
      withdrawn: (key, epoch) => this.#withdrawal.withdraw(key, epoch),
      lostLink: (cause) => this.#withdrawal.lostLink(cause),
    });
    this.#withdrawal = new Withdrawal(core, this.#relays);
    this.#discovery = new Discovery(core);
    this.#dispatch = new Dispatch(core, this.#relays, this.#withdrawal);
    core.nodeChanged = (key) => {
      this.#relays.replan(key);
      this.#discovery.publish(key);
    };
    core.replanAll = () => {
      for (const node of core.table.nodes()) this.#relays.replan(node.key);
    };
    core.connClosed = (connId) => this.#relays.deleteOnConn(connId);
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
    iocom.messages$.subscribe((msg) => onShellMessage(this, iocom, msg));
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
    const clusterId = serviceClusterId(opts.service);
    const fields: SpanFields = {
      peerType: opts.peerType ?? SERVICE_PEER_TYPE,
      pfsType: 0,
      clusterId,
      nodeId: opts.instanceId ?? uuidv5(`${opts.service}\0${instance}`, this.nodeId),
      clusterLabel: opts.service,
      nodeLabel: instance,
      dist: 0,
      rnss: 0,
      // A fresh epoch per advertisement: its withdrawal refuses this one only.
      epoch: randomInt(1, 0xffffffff),
      hops: [0],
    };
    const linkId = `local${core.nextLink++}`;
    const subject = new Subject<Transaction>();
    const added = core.table.add({ linkId, connId: null, peerNodeId: null, fields, path: null });
    if (!added.ok) throw new SpanError('INVALID_ARGUMENT', `cannot advertise ${opts.service}/${instance}: ${added.message}`);
    const local: LocalAd = { linkId, fields, subject, local: null };
    core.locals.set(linkId, local);
    core.log(`advertise ${opts.service}/${instance}`);
    core.nodeChanged(added.link.nodeKey);
    const info = this.#discovery.infoOf(core.table.node(added.link.nodeKey)!);
    return {
      span: info,
      transactions$: subject.asObservable(),
      close: () => {
        if (!core.locals.delete(linkId)) return;
        this.#endLocal(local);
        core.log(`withdraw ${opts.service}/${instance}`);
      },
    };
  }

  /** The spans this router sees now (best path per instance), optionally of one service. */
  spans(service?: string): SpanInfo[] {
    return this.#discovery.spans(service);
  }

  /** Resolves with the first span of `service` (at once if known). */
  waitForSpan(service: string, signal?: AbortSignal): Promise<SpanInfo> {
    return this.#discovery.waitForSpan(service, signal);
  }

  /**
   * Open a transaction to a span's originator, through any number of relays.
   * `span` is a SpanInfo (its current best path is used) or a service name.
   */
  open(span: SpanInfo | string, cmd: number, opts: Omit<OpenOptions, 'parent'> = {}): Transaction {
    const core = this.#core;
    if (core.closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
    let link;
    if (typeof span === 'string') {
      // The best remote path of the first instance that has one (no SpanInfo built).
      for (const node of core.table.findService(span)) {
        link = firstRemote(node);
        if (link) break;
      }
    } else {
      const node = core.table.node(span.key as NodeKey);
      link = node && firstRemote(node);
    }
    if (!link) throw new SpanError('NO_SPAN', `no remote span of ${typeof span === 'string' ? span : `${span.service}/${span.instance}`} is known to ${this.name}`);
    const rx = core.received.get(link.linkId)!;
    const conn = core.conns.get(link.connId!)!;
    const tx = conn.iocom.open(cmd, { ...opts, parent: rx });
    this.#dispatch.opened.add(tx);
    core.hosts.set(tx, conn.iocom);
    return tx;
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
      this.#endLocal(local);
    }
    await Promise.all([...core.conns.values()].map((c) => c.iocom.close()));
    this.#discovery.complete();
    this.#dispatch.subTransactions.complete();
  }

  /** Describe the span table as text (the DBG_SHELL `tree` command). */
  describeTree(): string {
    const core = this.#core;
    const lines: string[] = [];
    for (const c of core.table.clusters()) {
      lines.push(`cluster ${c.clusterLabel} ${c.clusterId} type=${c.peerType}`);
      for (const n of c.nodes) {
        lines.push(`  node ${n.nodeLabel} ${n.nodeId}`);
        for (const l of n.links) {
          const via = l.connId === null ? 'local' : `${l.connId}(${core.conns.get(l.connId)?.peerName ?? '?'})`;
          lines.push(`    dist=${l.fields.dist} rnss=0x${l.fields.rnss.toString(16)} via=${via} path=${l.path.length}`);
        }
      }
    }
    return lines.join('\n') + (lines.length ? '\n' : '');
  }

  /**
   * Counts for tests and monitoring. spanMessagesSent: LNK_SPAN CREATEs and
   * DELETEs this router sent for its own (relayed or advertised) spans, acks
   * not counted; spansRefused: received spans refused (limits, bad fields,
   * loops, before LNK_CONN); refusedBeforeConn: peer transactions refused
   * because the peer had not sent its LNK_CONN yet.
   */
  stats(): { links: number; spans: number; relays: number; received: number; spanMessagesSent: number; spansRefused: number; refusedBeforeConn: number } {
    const core = this.#core;
    return {
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

  /** A local advertisement ends: withdraw it everywhere, end its local transactions. */
  #endLocal(local: LocalAd): void {
    const core = this.#core;
    const link = core.table.link(local.linkId);
    local.subject.complete();
    local.local?.destroy(`${local.fields.clusterLabel}/${local.fields.nodeLabel} was withdrawn`);
    if (link) this.#withdrawal.withdraw(link.nodeKey, local.fields.epoch!);
  }

  #onLinkClosed(conn: ConnState, why: string): void {
    const core = this.#core;
    if (!core.conns.delete(conn.connId)) return;
    core.log(`link ${conn.connId} down${conn.peerName ? ` (${conn.peerName})` : ''}: ${why}`);
    // The iocom already ended every transaction on it (received spans were
    // removed through their rx$); drop relays we had made on it.
    this.#relays.forgetOnConn(conn.connId);
    for (const link of core.table.removeConn(conn.connId)) {
      core.received.delete(link.linkId);
      core.nodeChanged(link.nodeKey);
    }
    // The consistency check judges every node's links against the direct
    // peers we have: losing one can change any node's plan.
    core.replanAll();
  }
}
