/**
 * A mesh node (DragonFly's span database plus its relay scan, per process).
 * It runs LNK_CONN on every attached link, advertises local services as
 * LNK_SPAN transactions, keeps every received span in a SpanTable, relays
 * spans to its other links as the pure planner decides, and relays the
 * transactions opened on those spans toward their originators.
 */
import { randomUUID, randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { Observable, Subject } from 'rxjs';
import { v5 as uuidv5 } from 'uuid';
import { DMSG, DMSGF, DMSG_ERR, DMSG_PEER } from '../wire/constants.ts';
import { encodeLnkConn, decodeLnkConn } from '../wire/ext/lnk-conn.ts';
import { decodeLnkSpan, encodeLnkSpan } from '../wire/ext/lnk-span.ts';
import type { Message } from '../wire/message.ts';
import { Iocom, type OpenOptions } from '../iocom/iocom.ts';
import type { IocomOptions } from '../iocom/options.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { RelayConn } from './filters.ts';
import { decodePathRecordWithEpoch, encodePathRecord, type NodeId } from './path-record.ts';
import { planRelaysForNode, type RelaySpec } from './relay-plan.ts';
import { isRelayed, relayTransaction } from './relay.ts';
import { resolveSpanOptions, type SpanOptions } from './options.ts';
import { serviceClusterId, validateLabel } from './service-id.ts';
import { SpanTable, nodeKeyOf, type NodeKey, type SpanFields, type SpanLink, type SpanNode } from './span-table.ts';
import { SpanError } from './errors.ts';
import { answerShell } from './shell.ts';
import { decodeRootCause, encodeRootCause, pathUsesLink, type RootCause } from './root-cause.ts';
import { LossMemory } from './loss-memory.ts';
import { RepairHolds, goesFirst } from './repair-hold.ts';
import { systemClock } from '../util/clock.ts';



import {
  DMSG_ERR_WITHDRAWN,
  NIL,
  SERVICE_PEER_TYPE,
  firstRemote,
  type AdvertiseOptions,
  type Advertisement,
  type ConnState,
  type LocalAd,
  type ReceivedSpanContext,
  type RelaySpanContext,
  type RelayState,
  type RouterLink,
  type RouterOptions,
  type SpanEvent,
  type SpanInfo,
} from './router-types.ts';

export { DMSG_ERR_WITHDRAWN, SERVICE_PEER_TYPE } from './router-types.ts';
export type { RouterOptions, SpanInfo, SpanEvent, AdvertiseOptions, Advertisement, RouterLink } from './router-types.ts';

/**
 * Does `node` hold more links from `connId` than a peer relays (a peer
 * sending a replacement CREATE before the DELETE of what it replaces)?
 */
function replacesOnConn(node: SpanNode, connId: string, maxRelayedPaths: number): boolean {
  let n = 0;
  for (const l of node.links) if (l.connId === connId && ++n > maxRelayedPaths) return true;
  return false;
}

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

  readonly #opts: Required<Omit<RouterOptions, keyof SpanOptions | 'iocom' | 'log' | 'nodeId' | 'name'>>;
  readonly #iocomOpts: IocomOptions;
  readonly #log: ((line: string) => void) | undefined;
  readonly #table: SpanTable;
  readonly #spans = new Subject<SpanEvent>();
  readonly #subTransactions = new Subject<Transaction>();
  /** Transactions opened with open(), to route what peers stack on them. */
  readonly #opened = new WeakSet<Transaction>();
  #spanMessagesSent = 0;
  #spansRefused = 0;
  readonly #conns = new Map<string, ConnState>();
  readonly #relays = new Map<string, RelayState>();
  readonly #relaysByNode = new Map<NodeKey, Set<string>>();
  /** Received span transactions by link id. */
  readonly #received = new Map<string, Transaction>();
  readonly #locals = new Map<string, LocalAd>();
  readonly #incarnationBase = randomInt(1, 0xffffffff);
  /** Withdrawn advertisements and lost links, so stale copies are refused. */
  readonly #lost = new LossMemory();
  /** The lost link that the relay deletions now under way report (root-cause notification). */
  #rootCause: RootCause | null = null;
  /** Instances not replanned after a lost link until the neighbours that go first have sent their replacements (repair-hold.ts). */
  readonly #holds = new RepairHolds<NodeKey>({
    clock: systemClock,
    onExpire: (key, cause) => this.#withRootCause(cause, () => this.#nodeChanged(key)),
  });
  /** Last SpanInfo published per node, to tell up/down/changed apart. */
  readonly #published = new Map<NodeKey, SpanInfo>();
  #nextConn = 1;
  #nextLink = 1;
  #nextRelay = 1;
  #closed = false;

  constructor(options: RouterOptions = {}) {
    const { nodeId, name, peerType, peerMask, connLayout, localRnss, iocom, log, ...spanOptions } = options;
    this.nodeId = nodeId ?? randomUUID();
    this.name = name ?? hostname();
    validateLabel('router name', this.name);
    this.#opts = {
      peerType: peerType ?? DMSG_PEER.ROUTER,
      peerMask: peerMask ?? 0xffffffffffffffffn,
      connLayout: connLayout ?? 'seed',
      localRnss: localRnss ?? randomInt(1, 0x7fffffff),
    };
    this.#iocomOpts = iocom ?? {};
    this.#log = log;
    this.#table = new SpanTable({ ownNodeId: this.nodeId, options: resolveSpanOptions(spanOptions) });
    this.spans$ = this.#spans.asObservable();
    this.subTransactions$ = this.#subTransactions.asObservable();
  }

  /** The links attached now. */
  get links(): RouterLink[] {
    return [...this.#conns.values()].map((c) => ({ connId: c.connId, iocom: c.iocom, peerName: c.peerName, peerNodeId: c.peerNodeId }));
  }

  /**
   * Add a link: a Duplex (an Iocom is made for it with the router's iocom
   * options) or an Iocom. Sends our LNK_CONN and starts relaying once the
   * peer's LNK_CONN arrives.
   */
  attach(link: Duplex | Iocom, iocomOptions?: IocomOptions): RouterLink {
    if (this.#closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
    const connId = `c${this.#nextConn++}`;
    const iocom = link instanceof Iocom ? link : new Iocom(link, { name: `${this.name}/${connId}`, ...this.#iocomOpts, ...iocomOptions });
    const conn: ConnState = { connId, iocom, peerConn: null, peerNodeId: null, peerName: null, ourConn: null, theirConn: null, settled: false };
    this.#conns.set(connId, conn);
    iocom.transactions$.subscribe((tx) => this.#onTransaction(conn, tx));
    iocom.messages$.subscribe((msg) => this.#onOneWay(conn, msg));
    iocom.closed$.subscribe((reason) => this.#onLinkClosed(conn, reason.kind === 'error' ? reason.error.message : reason.kind));
    this.#logLine(`link ${connId} up`);
    if (iocom.isOpen) {
      const ext = encodeLnkConn(
        { mediaId: this.nodeId, peerMask: this.#opts.peerMask, peerType: this.#opts.peerType, protoVersion: 1, peerLabel: this.name },
        this.#opts.connLayout,
      );
      const cmd = this.#opts.connLayout === 'seed' ? DMSG.LNK_CONN : DMSG.LNK_CONN_V2;
      conn.ourConn = iocom.open(cmd, { ext });
      conn.ourConn.rx$.subscribe({
        next: (msg) => {
          conn.settled = true;
          // The peer closing our CONN: close our side too.
          if (msg.header.cmd & DMSGF.DELETE && conn.ourConn?.canSend) conn.ourConn.close();
        },
        error: () => {},
      });
    }
    return { connId, iocom, peerName: null, peerNodeId: null };
  }

  /** Advertise a service: a LNK_SPAN sent to every link (and relayed on by the mesh). */
  advertise(opts: AdvertiseOptions): Advertisement {
    if (this.#closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
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
    const linkId = `local${this.#nextLink++}`;
    const subject = new Subject<Transaction>();
    const added = this.#table.add({ linkId, connId: null, peerNodeId: null, fields, path: null });
    if (!added.ok) throw new SpanError('INVALID_ARGUMENT', `cannot advertise ${opts.service}/${instance}: ${added.message}`);
    this.#locals.set(linkId, { linkId, fields, subject });
    this.#logLine(`advertise ${opts.service}/${instance}`);
    this.#nodeChanged(added.link.nodeKey);
    const info = this.#infoOf(this.#table.node(added.link.nodeKey)!);
    return {
      span: info,
      transactions$: subject.asObservable(),
      close: () => {
        if (!this.#locals.delete(linkId)) return;
        const link = this.#table.link(linkId);
        subject.complete();
        this.#logLine(`withdraw ${opts.service}/${instance}`);
        if (link) this.#withdraw(link.nodeKey, fields.epoch!);
      },
    };
  }

  /** The spans this router sees now (best path per instance), optionally of one service. */
  spans(service?: string): SpanInfo[] {
    const nodes = service === undefined ? this.#table.nodes() : this.#table.findService(service);
    return nodes.map((n) => this.#infoOf(n));
  }

  /** Resolves with the first span of `service` (at once if known). */
  waitForSpan(service: string, signal?: AbortSignal): Promise<SpanInfo> {
    const now = this.spans(service).filter((s) => s.via !== null);
    if (now.length > 0) return Promise.resolve(now[0]!);
    return new Promise((resolve, reject) => {
      const sub = this.#spans.subscribe((e) => {
        if (e.type !== 'down' && e.span.service === service && e.span.via !== null) {
          sub.unsubscribe();
          resolve(e.span);
        }
      });
      signal?.addEventListener('abort', () => { sub.unsubscribe(); reject(new SpanError('NO_SPAN', `waiting for ${service} was aborted`, { cause: signal.reason })); }, { once: true });
    });
  }

  /**
   * Open a transaction to a span's originator, through any number of relays.
   * `span` is a SpanInfo (its current best path is used) or a service name.
   */
  open(span: SpanInfo | string, cmd: number, opts: Omit<OpenOptions, 'parent'> = {}): Transaction {
    if (this.#closed) throw new SpanError('CLOSED', `router ${this.name} is closed`);
    let link: SpanLink | undefined;
    if (typeof span === 'string') {
      // The best remote path of the first instance that has one (no SpanInfo built).
      for (const node of this.#table.findService(span)) {
        link = firstRemote(node);
        if (link) break;
      }
    } else {
      const node = this.#table.node(span.key as NodeKey);
      link = node && firstRemote(node);
    }
    if (!link) throw new SpanError('NO_SPAN', `no remote span of ${typeof span === 'string' ? span : `${span.service}/${span.instance}`} is known to ${this.name}`);
    const rx = this.#received.get(link.linkId)!;
    const conn = this.#conns.get(link.connId!)!;
    const tx = conn.iocom.open(cmd, { ...opts, parent: rx });
    this.#opened.add(tx);
    return tx;
  }

  /** Withdraw our spans, close every link gracefully. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Withdraw our spans first (with DMSG_ERR_WITHDRAWN, so nobody explores backups).
    for (const [linkId, local] of [...this.#locals]) {
      const link = this.#table.link(linkId);
      this.#locals.delete(linkId);
      local.subject.complete();
      if (link) this.#withdraw(link.nodeKey, local.fields.epoch!);
    }
    await Promise.all([...this.#conns.values()].map((c) => c.iocom.close()));
    this.#holds.clearAll();
    this.#spans.complete();
    this.#subTransactions.complete();
  }

  /** Describe the span table as text (the DBG_SHELL `tree` command). */
  describeTree(): string {
    const lines: string[] = [];
    for (const c of this.#table.clusters()) {
      lines.push(`cluster ${c.clusterLabel} ${c.clusterId} type=${c.peerType}`);
      for (const n of c.nodes) {
        lines.push(`  node ${n.nodeLabel} ${n.nodeId}`);
        for (const l of n.links) {
          const via = l.connId === null ? 'local' : `${l.connId}(${this.#conns.get(l.connId)?.peerName ?? '?'})`;
          lines.push(`    dist=${l.fields.dist} rnss=0x${l.fields.rnss.toString(16)} via=${via} path=${l.path.length}`);
        }
      }
    }
    return lines.join('\n') + (lines.length ? '\n' : '');
  }

  /**
   * Counts for tests and monitoring. spanMessagesSent: LNK_SPAN CREATEs and
   * DELETEs this router sent for its own (relayed or advertised) spans, acks
   * not counted; spansRefused: received spans refused (limits, bad fields, loops);
   * repairHolds: instances waiting now for neighbours' replacements after
   * a lost link, repairHoldsExpired: holds that ended by their time limit
   * (repair-hold.ts).
   */
  stats(): { links: number; spans: number; relays: number; received: number; spanMessagesSent: number; spansRefused: number; repairHolds: number; repairHoldsExpired: number } {
    return {
      repairHolds: this.#holds.size,
      repairHoldsExpired: this.#holds.expired,
      links: this.#conns.size,
      spans: this.#table.nodes().length,
      relays: this.#relays.size,
      received: this.#received.size,
      spanMessagesSent: this.#spanMessagesSent,
      spansRefused: this.#spansRefused,
    };
  }

  // ---- incoming ---------------------------------------------------------------

  #onTransaction(conn: ConnState, tx: Transaction): void {
    const base = tx.icmd;
    if (tx.parent === null) {
      if (base === DMSG.LNK_CONN || base === DMSG.LNK_CONN_V2) return this.#onConn(conn, tx);
      if (base === DMSG.LNK_SPAN) return this.#onSpan(conn, tx);
      // Unknown top-level transaction: not ours to serve.
      tx.rx$.subscribe({ error: () => {} });
      queueMicrotask(() => { if (tx.canSend) tx.reply(DMSG_ERR.NOSUPP); });
      return;
    }
    // Stacked on something: one of our relayed spans, or a relayed transaction.
    const parent = tx.parent;
    const ctx = parent.context as RelaySpanContext | undefined;
    if (isRelayed(parent.context)) {
      if (!relayTransaction(tx, conn.iocom, parent.context.peer, parent.context.peerIocom)) this.#refuse(tx, DMSG_ERR.LOSTLINK);
      return;
    }
    if (ctx?.kind === 'relay-span') {
      const relay = this.#relays.get(ctx.relayId);
      const source = relay ? this.#table.link(relay.sourceLinkId) : undefined;
      if (!relay || !source) return this.#refuse(tx, DMSG_ERR.LOSTLINK);
      if (source.connId === null) {
        const local = this.#locals.get(source.linkId);
        if (!local || !local.subject.observed) return this.#refuse(tx, DMSG_ERR.NOSUPP);
        tx.context = { kind: 'local-service', service: local.fields.clusterLabel };
        local.subject.next(tx);
        return;
      }
      const upstream = this.#received.get(source.linkId);
      const upConn = this.#conns.get(source.connId);
      if (!upstream || !upConn || !relayTransaction(tx, conn.iocom, upstream, upConn.iocom)) this.#refuse(tx, DMSG_ERR.LOSTLINK);
      return;
    }
    // The far end of a transaction we opened talks back.
    for (let t: Transaction | null = parent; t !== null; t = t.parent) {
      if (this.#opened.has(t)) {
        if (!this.#subTransactions.observed) return this.#refuse(tx, DMSG_ERR.NOSUPP);
        this.#subTransactions.next(tx);
        return;
      }
    }
    // A sub-transaction of a local service's transaction: hand it to the same service.
    let top: Transaction = parent;
    while (top.parent !== null && !(top.context as { kind?: string } | undefined)?.kind) top = top.parent;
    const svc = top.context as { kind?: string; service?: string } | undefined;
    if (svc?.kind === 'local-service') {
      for (const local of this.#locals.values()) {
        if (local.fields.clusterLabel === svc.service && local.subject.observed) {
          tx.context = svc;
          local.subject.next(tx);
          return;
        }
      }
    }
    this.#refuse(tx, DMSG_ERR.NOSUPP);
  }

  #refuse(tx: Transaction, error: number): void {
    tx.rx$.subscribe({ error: () => {} });
    queueMicrotask(() => { if (tx.canSend) tx.reply(error); });
  }

  #onConn(conn: ConnState, tx: Transaction): void {
    if (conn.theirConn !== null) {
      // A second LNK_CONN on one link (DragonFly asserts): refuse it.
      this.#logLine(`link ${conn.connId}: peer sent a second LNK_CONN; refused`);
      return this.#refuse(tx, DMSG_ERR.PARAM);
    }
    let info;
    try {
      info = decodeLnkConn(tx.first!.header.cmd, tx.first!.ext);
    } catch (err) {
      this.#logLine(`link ${conn.connId}: bad LNK_CONN: ${(err as Error).message}`);
      return this.#refuse(tx, DMSG_ERR.PARAM);
    }
    conn.theirConn = tx;
    conn.peerNodeId = info.mediaId === NIL ? null : info.mediaId;
    conn.peerName = info.peerLabel;
    conn.peerConn = { peerMask: info.peerMask, peerType: info.peerType, peerId: info.peerId === NIL ? null : info.peerId };
    this.#logLine(`link ${conn.connId}: peer ${info.peerLabel || '(unnamed)'} ${conn.peerNodeId ?? ''} connected`.trimEnd());
    tx.rx$.subscribe({
      complete: () => this.#connGone(conn, tx),
      error: () => this.#connGone(conn, tx),
    });
    queueMicrotask(() => {
      // Our spans first, then the answer: the peer knows it has our initial
      // spans once the answer arrives (ConnState.settled on its side).
      this.#replanAll();
      if (tx.canSend) tx.result(0);
    });
  }

  #connGone(conn: ConnState, tx: Transaction): void {
    if (conn.theirConn !== tx) return;
    conn.theirConn = null;
    conn.peerConn = null;
    // Closing a CONN closes every span we relayed on that link.
    for (const relay of [...this.#relays.values()]) if (relay.connId === conn.connId) this.#deleteRelay(relay.relayId);
    if (tx.canSend) tx.close();
  }

  #onSpan(conn: ConnState, tx: Transaction): void {
    const msg = tx.first!;
    const linkId = `${conn.connId}/s${this.#nextLink++}`;
    let fields: SpanFields;
    let path: NodeId[] | null = null;
    try {
      const s = decodeLnkSpan(msg.ext);
      fields = { peerType: s.peerType, pfsType: s.pfsType, clusterId: s.peerId, nodeId: s.pfsId, clusterLabel: s.peerLabel, nodeLabel: s.pfsLabel, dist: s.dist, rnss: s.rnss, extras: s };
      if (msg.aux.length > 0) {
        const record = decodePathRecordWithEpoch(msg.aux, this.#table.options.maxPathLength);
        path = record.path;
        if (record.epoch !== 0) fields = { ...fields, epoch: record.epoch };
        // As we will relay it: the sender's hops plus this link's incarnation.
        if (record.hops !== null) fields = { ...fields, hops: [...record.hops, this.#linkIncarnation(conn.connId)] };
      }
    } catch (err) {
      this.#logLine(`link ${conn.connId}: refused a span: ${(err as Error).message}`);
      this.#spansRefused++;
      return this.#refuse(tx, DMSG_ERR.PARAM);
    }
    const overDead = this.#lost.lostLinkOn(path ?? [], fields.hops);
    if (overDead !== null) {
      // A path over a link we know is lost: refuse it and say which.
      this.#spansRefused++;
      queueMicrotask(() => {
        if (tx.canSend) tx.send(DMSG.LNK_ERROR, { delete: true, aux: encodeRootCause(overDead) });
      });
      tx.rx$.subscribe({ error: () => {} });
      return;
    }
    if (fields.epoch && this.#lost.isWithdrawn(nodeKeyOf(fields), fields.epoch)) {
      // A stale copy of a withdrawn advertisement: refuse it and tell the sender why.
      this.#spansRefused++;
      return this.#refuse(tx, DMSG_ERR_WITHDRAWN);
    }
    const added = this.#table.add({ linkId, connId: conn.connId, peerNodeId: conn.peerNodeId, fields, path });
    if (!added.ok) {
      if (added.reason !== 'LOOP') this.#logLine(`link ${conn.connId}: refused span ${fields.clusterLabel}/${fields.nodeLabel}: ${added.message}`);
      this.#spansRefused++;
      return this.#refuse(tx, added.reason === 'LOOP' ? DMSG_ERR.CANTCIRC : DMSG_ERR.PARAM);
    }
    tx.context = { kind: 'received-span', linkId } satisfies ReceivedSpanContext;
    this.#received.set(linkId, tx);
    let withdrawn = false;
    let cause: RootCause | null = null;
    const gone = (): void => {
      if (tx.canSend) tx.close();
      // A dead offer we had pruned: its sender has now sent its replacement (if any).
      const held = this.#holds.settle(linkId);
      if (!this.#received.delete(linkId)) {
        if (held !== undefined) this.#nodeChanged(held);
        return;
      }
      if (withdrawn && fields.epoch) return this.#withdraw(added.link.nodeKey, fields.epoch);
      this.#withRootCause(cause, () => {
        if (cause) this.#pruneLink(cause);
        const link = this.#table.remove(linkId);
        if (link) this.#nodeChanged(link.nodeKey);
      });
    };
    tx.rx$.subscribe({
      next: (m) => {
        if (!(m.header.cmd & DMSGF.DELETE)) return;
        if (m.header.error === DMSG_ERR_WITHDRAWN) withdrawn = true;
        else if (m.aux.length > 0) {
          try {
            cause = decodeRootCause(m.aux);
          } catch {
            cause = null;
          }
        }
      },
      complete: gone,
      error: (err: unknown) => {
        // Our link to the sender is gone: we are the root cause's reporter.
        if ((err as { code?: string }).code === 'LOST_LINK' && conn.peerNodeId !== null && !conn.iocom.isOpen)
          cause = { a: conn.peerNodeId, b: this.nodeId, inc: this.#linkIncarnation(conn.connId) };
        gone();
      },
    });
    queueMicrotask(() => {
      if (tx.canSend) tx.result(0);
    });
    // A replacement (make before break): its sender closes the path it
    // replaces next (in the same write), maybe naming a lost link; decide
    // once that is known. The microtask runs after the rest of the read.
    const key = added.link.nodeKey;
    if (!replacesOnConn(this.#table.node(key)!, conn.connId, this.#table.options.maxRelayedPaths)) this.#nodeChanged(key);
    else queueMicrotask(() => {
      if (!this.#closed && this.#table.link(linkId)) this.#nodeChanged(key);
    });
  }

  #onOneWay(conn: ConnState, msg: Message): void {
    const base = msg.header.cmd & DMSGF.BASECMDMASK;
    if (base === DMSG.DBG_SHELL && !(msg.header.cmd & DMSGF.REPLY)) {
      const text = answerShell(this, new TextDecoder().decode(msg.aux).replace(/\0.*$/s, ''));
      if (conn.iocom.isOpen) conn.iocom.sendOneWay(DMSG.DBG_SHELL, { reply: true, aux: new TextEncoder().encode(text + '\0') });
    }
  }

  #onLinkClosed(conn: ConnState, why: string): void {
    if (!this.#conns.delete(conn.connId)) return;
    this.#logLine(`link ${conn.connId} down${conn.peerName ? ` (${conn.peerName})` : ''}: ${why}`);
    // The iocom already ended every transaction on it (received spans were
    // removed through their rx$); drop relays we had made on it.
    for (const relay of [...this.#relays.values()]) if (relay.connId === conn.connId) this.#forgetRelay(relay);
    for (const link of this.#table.removeConn(conn.connId)) {
      this.#received.delete(link.linkId);
      this.#nodeChanged(link.nodeKey);
    }
    // The consistency check judges every node's links against the direct
    // peers we have: losing one can change any node's plan.
    this.#replanAll();
  }

  // ---- relaying spans -------------------------------------------------------------

  #relayConns(): RelayConn[] {
    const out: RelayConn[] = [];
    for (const c of this.#conns.values()) if (c.peerConn !== null && c.iocom.isOpen) out.push({ connId: c.connId, peerNodeId: c.peerNodeId, peerConn: c.peerConn });
    return out;
  }

  #replanAll(): void {
    for (const node of this.#table.nodes()) if (!this.#holds.isHeld(node.key)) this.#replan(node.key);
  }

  #nodeChanged(key: NodeKey): void {
    const best = this.#table.node(key)?.links[0];
    const verdict = this.#holds.evaluate(key, best ? best.fields.dist : null);
    if (verdict.wait) return;
    if (verdict.cause !== null) {
      // A hold just ended: the deletions of our dead relays carry its lost link.
      const cause = verdict.cause;
      this.#withRootCause(cause, () => {
        this.#replan(key);
        this.#publish(key);
      });
      return;
    }
    this.#replan(key);
    this.#publish(key);
  }

  #replan(key: NodeKey): void {
    const ids = this.#relaysByNode.get(key);
    const existing = ids ? [...ids].map((id) => this.#relays.get(id)!) : [];
    // consistencyCheck: do not relay a path through a direct peer that has
    // not itself sent us a span as good; it cuts path exploration after a
    // cut ~10x (test/span/sim-mesh*.ts) and never changes the end state.
    // Not while a new peer's initial spans may still be coming: a path
    // through that peer would look stale until they arrive, and withdrawing
    // it would break make-before-break (far routers would see down, then up).
    let settled = true;
    for (const c of this.#conns.values()) if (c.peerConn !== null && !c.settled && c.iocom.isOpen) settled = false;
    const plan = planRelaysForNode(this.#table, key, this.#relayConns(), existing, { localRnss: this.#opts.localRnss, consistencyCheck: settled, preferCurrent: true });
    // Make before break.
    for (const spec of plan.create) this.#createRelay(spec);
    for (const id of plan.delete) this.#deleteRelay(id);
  }

  #createRelay(spec: RelaySpec): void {
    const conn = this.#conns.get(spec.connId);
    if (!conn || !conn.iocom.isOpen) return;
    const relayId = `r${this.#nextRelay++}`;
    const source = this.#table.link(spec.sourceLinkId);
    const extras = source?.fields.extras as Record<string, unknown> | undefined;
    const f = spec.fields;
    const ext = encodeLnkSpan({
      ...(extras ?? {}),
      peerId: f.clusterId, pfsId: f.nodeId, pfsType: f.pfsType, peerType: f.peerType, protoVersion: 1,
      dist: f.dist, rnss: f.rnss, peerLabel: f.clusterLabel, pfsLabel: f.nodeLabel,
    });
    let tx: Transaction;
    try {
      const hops = f.epoch && f.hops && f.hops.length === spec.path.length ? f.hops : undefined;
      tx = conn.iocom.open(DMSG.LNK_SPAN, { ext, aux: encodePathRecord(spec.path, f.epoch ?? 0, hops) });
      this.#spanMessagesSent++;
    } catch (err) {
      this.#logLine(`link ${conn.connId}: cannot relay span: ${(err as Error).message}`);
      return;
    }
    tx.context = { kind: 'relay-span', relayId } satisfies RelaySpanContext;
    const relay: RelayState = { ...spec, relayId, tx };
    this.#relays.set(relayId, relay);
    let set = this.#relaysByNode.get(spec.nodeKey);
    if (!set) this.#relaysByNode.set(spec.nodeKey, (set = new Set()));
    set.add(relayId);
    tx.rx$.subscribe({
      next: (msg) => {
        // The peer refused or closed our relayed span.
        if (msg.header.cmd & DMSGF.DELETE) {
          this.#forgetRelay(relay);
          if (tx.canSend) tx.close();
          // Refused as withdrawn, or over a lost link: the peer knows more than we do.
          if (msg.header.error === DMSG_ERR_WITHDRAWN && f.epoch) this.#withdraw(spec.nodeKey, f.epoch);
          else if (msg.aux.length > 0) {
            let rc: RootCause | null = null;
            try {
              rc = decodeRootCause(msg.aux);
            } catch {
              rc = null;
            }
            if (rc) {
              const cause = rc;
              this.#withRootCause(cause, () => this.#pruneLink(cause));
            }
          }
        }
      },
      error: () => this.#forgetRelay(relay),
    });
  }

  #deleteRelay(relayId: string, error = 0): void {
    const relay = this.#relays.get(relayId);
    if (!relay) return;
    this.#forgetRelay(relay);
    if (relay.tx.canSend) {
      if (error === 0 && this.#rootCause !== null) relay.tx.send(DMSG.LNK_ERROR, { delete: true, aux: encodeRootCause(this.#rootCause) });
      else relay.tx.close(error);
      this.#spanMessagesSent++;
    }
  }

  /**
   * An advertisement (instance `key`, `epoch`) was withdrawn by its
   * originator: forget every path to it, close our relays of it with
   * WITHDRAWN (make no backup relay: every backup is a stale copy), and
   * refuse it from now on. Received copies stay open until their senders
   * close them, but no longer count.
   */
  #withdraw(key: NodeKey, epoch: number): void {
    this.#lost.withdraw(key, epoch);
    this.#holds.clear(key);
    const node = this.#table.node(key);
    for (const link of node ? [...node.links] : []) {
      if (link.fields.epoch !== epoch) continue;
      this.#table.remove(link.linkId);
      this.#received.delete(link.linkId);
    }
    for (const id of [...(this.#relaysByNode.get(key) ?? [])]) {
      const relay = this.#relays.get(id);
      if (relay && relay.fields.epoch === epoch) this.#deleteRelay(id, DMSG_ERR_WITHDRAWN);
    }
    this.#nodeChanged(key);
  }

  /**
   * The incarnation of a link: its conn sequence number plus a random base
   * per router, so a restarted router with a fixed node id does not reuse
   * the incarnations of links others remember as lost.
   */
  #linkIncarnation(connId: string): number {
    return (this.#incarnationBase + Number(connId.slice(1))) >>> 0;
  }

  /** Run `fn` with relay deletions carrying `cause` (null: none). */
  #withRootCause(cause: RootCause | null, fn: () => void): void {
    const before = this.#rootCause;
    this.#rootCause = cause;
    try {
      fn();
    } finally {
      this.#rootCause = before;
    }
  }

  /**
   * A link somewhere upstream was lost: every path over it is dead. Drop
   * those links now (their senders will close them) and replan, so the loss
   * travels with the DELETEs instead of being discovered path by path.
   */
  #pruneLink(cause: RootCause): void {
    // Remember it: a copy of a path over the lost link that is still on its
    // way here is refused, not explored (a restored link has a new incarnation).
    this.#lost.loseLink(cause);
    const changed = new Set<NodeKey>();
    for (const node of this.#table.nodes()) {
      const oldBest = node.links[0]!.fields.dist;
      for (const link of [...node.links]) {
        if (link.connId !== null && pathUsesLink(link.path, link.fields.hops, cause)) {
          // Its sender has not closed it yet: it will send its replacement first.
          if (this.#received.has(link.linkId)) this.#holds.pruned(node.key, oldBest, { linkId: link.linkId, dist: link.fields.dist }, cause, this.#goesFirst(node.key, link, cause));
          this.#table.remove(link.linkId);
          this.#received.delete(link.linkId);
          changed.add(node.key);
        }
      }
    }
    for (const key of changed) this.#nodeChanged(key);
  }

  /** Does the sender of dead offer `link` go first (we wait for its replacement), or wait for ours (repair-hold.ts goesFirst)? */
  #goesFirst(key: NodeKey, link: SpanLink, cause: RootCause): boolean {
    let ours: number | null = null;
    for (const id of this.#relaysByNode.get(key) ?? []) {
      const r = this.#relays.get(id);
      if (r && r.connId === link.connId && pathUsesLink(r.path, r.fields.hops, cause)) ours = ours === null ? r.fields.dist : Math.min(ours, r.fields.dist);
    }
    return goesFirst(link.fields.dist, ours, link.peerNodeId ?? '', this.nodeId);
  }

  #forgetRelay(relay: RelayState): void {
    if (this.#relays.get(relay.relayId) !== relay) return;
    this.#relays.delete(relay.relayId);
    const set = this.#relaysByNode.get(relay.nodeKey);
    set?.delete(relay.relayId);
    if (set?.size === 0) this.#relaysByNode.delete(relay.nodeKey);
  }

  // ---- discovery ----------------------------------------------------------------

  #infoOf(node: SpanNode): SpanInfo {
    const best = node.links[0]!;
    return this.#linkInfo(node, best);
  }

  #linkInfo(node: SpanNode, link: SpanLink): SpanInfo {
    const conn = link.connId === null ? undefined : this.#conns.get(link.connId);
    return {
      service: node.clusterLabel,
      instance: node.nodeLabel,
      clusterId: node.clusterId,
      instanceId: node.nodeId,
      peerType: node.peerType,
      node: link.connId === null ? this.nodeId : link.path[0] ?? null,
      dist: link.connId === null ? -1 : link.fields.dist,
      via: link.connId,
      viaName: conn?.peerName ?? null,
      path: link.path,
      key: node.key,
    };
  }

  #publish(key: NodeKey): void {
    const node = this.#table.node(key);
    const before = this.#published.get(key);
    if (!node) {
      if (before) {
        this.#published.delete(key);
        this.#logLine(`span down ${before.service}/${before.instance}`);
        this.#spans.next({ type: 'down', span: before });
      }
      return;
    }
    const now = this.#infoOf(node);
    if (!before) {
      this.#published.set(key, now);
      if (now.via !== null) this.#logLine(`span up ${now.service}/${now.instance} dist=${now.dist} via=${now.via}`);
      this.#spans.next({ type: 'up', span: now });
    } else if (before.dist !== now.dist || before.via !== now.via) {
      this.#published.set(key, now);
      this.#logLine(`span changed ${now.service}/${now.instance} dist=${now.dist} via=${now.via}`);
      this.#spans.next({ type: 'changed', span: now });
    }
  }

  #logLine(line: string): void {
    this.#log?.(`[${this.name}] ${line}`);
  }
}
