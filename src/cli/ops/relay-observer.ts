/**
 * What the operator sees of one Router: the live links (with their
 * transport, direction and authentication state), the spans, and counters
 * kept since start (links opened and closed by reason, protocol errors by
 * code, keepalive losses, span events). Per-link traffic figures are read
 * from `Iocom.stats()` when asked (collect on scrape); a closed link's
 * figures are folded into node-wide totals so those stay monotonic.
 *
 * It also publishes the `node:diagnostics_channel` events of diagnostics.ts.
 * The relay daemon calls `attached()` for every link it attaches; an
 * embedder running its own Router does the same after `router.attach()`.
 */
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Subscription } from 'rxjs';
import type { Router, RouterLink, SpanEvent } from '../../span/router.ts';
import { relayedOpenOn } from '../../span/relay.ts';
import type { LinkCloseReason } from '../../iocom/errors.ts';
import { ProtocolError } from '../../wire/errors.ts';
import { DMSG } from '../../wire/constants.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import type { MetricFamily, Sample } from './exposition.ts';
import {
  linkDownChannel,
  linkUpChannel,
  protocolErrorChannel,
  publish,
  spanChangedChannel,
  spanDownChannel,
  spanUpChannel,
} from './diagnostics.ts';

export type Transport = 'tcp' | 'tls' | 'unix' | 'memory' | 'unknown';
export type Direction = 'in' | 'out' | 'unknown';
/** none: no LNK_AUTH configured; pending: handshake running; verified: the peer proved an allowed key; unverified: done, the peer's key is not checked. */
export type AuthState = 'none' | 'pending' | 'verified' | 'unverified';

export interface ObserverOptions {
  /** The node has peers to dial: ready only once one link has finished LNK_CONN. @default false */
  expectPeers?: boolean;
  /** Time source for link ages and uptime. @default systemClock */
  clock?: Clock;
  /** One text line per protocol error and keepalive loss. @default none */
  log?: (line: string) => void;
}

/** One live link as /stats.json shows it. */
export interface LinkStats {
  connId: string;
  peerName: string | null;
  peerNodeId: string | null;
  transport: Transport;
  direction: Direction;
  auth: AuthState;
  upSeconds: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Open transactions on the link (both directions). */
  openTransactions: number;
  /** Relayed transactions open toward this link. */
  relayedOpen: number;
  queuedBytes: number;
}

/** One span (best path to one instance) as /stats.json shows it. */
export interface SpanStats {
  service: string;
  instance: string;
  /** Router node id of the originator, or null. */
  node: string | null;
  /** Relay hops (-1: advertised here). */
  dist: number;
  via: string | null;
  viaName: string | null;
  /** Router ids, originator first, ending with the neighbour it came from. */
  path: readonly string[];
}

export interface RelayTotals {
  linksUp: number;
  linksOpened: number;
  /** Closed links by reason: closed, peer-closed, or the error code. */
  linksClosed: Record<string, number>;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  relayedOpen: number;
  spanRelays: number;
  spanMessagesSent: number;
  spansRefused: number;
  refusedBeforeConn: number;
  /** Convergence events: discovery's span up / down / changed. */
  spanEvents: { up: number; down: number; changed: number };
  /** ProtocolErrors that closed a link, by code (CRC errors are BAD_HDR_CRC and BAD_AUX_CRC). */
  protocolErrors: Record<string, number>;
  crcErrors: number;
  keepaliveLosses: number;
}

/** Everything /stats.json serves, `top` shows and the status page draws. */
export interface RelayStats {
  node: { name: string; nodeId: string; uptimeSeconds: number; listening: readonly string[]; ready: boolean };
  /** Wall time of the snapshot (ms since the epoch). */
  time: number;
  links: LinkStats[];
  spans: SpanStats[];
  totals: RelayTotals;
  /** DLM lockspaces this relay takes part in (absent when it runs no DLM). */
  lockspaces?: LockspaceStats[];
}

/** One DLM lockspace on the status page and in /stats.json. */
export interface LockspaceStats {
  name: string;
  members: number;
  /** Resources known here (mastered, cached or in use). */
  resources: number;
  /** Locks on this node's resources' queues (granted, converting, waiting), and of them waiting or converting. */
  locks: number;
  waiting: number;
  /** Decided by this node as master since start. */
  grants: number;
  waits: number;
  basts: number;
}

interface LinkRecord {
  readonly link: RouterLink;
  readonly transport: Transport;
  readonly direction: Direction;
  readonly since: number;
  auth: AuthState;
  /** The peer's name once seen (the router forgets it with the link). */
  peerName: string | null;
}

/** Guess the transport of a stream the daemon attached. */
export function transportOf(stream: Duplex | undefined): Transport {
  if (stream === undefined) return 'unknown';
  if (stream instanceof TLSSocket) return 'tls';
  if (stream instanceof Socket) return stream.remoteAddress === undefined && stream.remoteFamily === undefined ? 'unix' : 'tcp';
  return 'memory';
}

function codeOf(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

export class RelayObserver {
  readonly router: Router;
  readonly #clock: Clock;
  readonly #expectPeers: boolean;
  readonly #log: ((line: string) => void) | undefined;
  readonly #started: number;
  readonly #links = new Map<string, LinkRecord>();
  readonly #subs: Subscription[] = [];
  #listening: string[] = [];
  #isListening = false;
  #lockspaces: (() => LockspaceStats[]) | null = null;
  #linksOpened = 0;
  readonly #linksClosed: Record<string, number> = {};
  readonly #protocolErrors: Record<string, number> = {};
  #keepaliveLosses = 0;
  readonly #spanEvents = { up: 0, down: 0, changed: 0 };
  /** Traffic of links already closed. */
  readonly #closedTraffic = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };

  constructor(router: Router, options: ObserverOptions = {}) {
    this.router = router;
    this.#clock = options.clock ?? systemClock;
    this.#expectPeers = options.expectPeers ?? false;
    this.#log = options.log;
    this.#started = this.#clock.now();
    this.#subs.push(router.spans$.subscribe((e) => this.#onSpan(e)));
  }

  /** The node's listeners are bound (what /readyz waits for). */
  setListening(addresses: readonly string[]): void {
    this.#listening = [...addresses];
    this.#isListening = true;
  }

  /** Listening and, when peers are configured, linked (LNK_CONN done) to at least one. */
  get ready(): boolean {
    if (!this.#isListening) return false;
    if (!this.#expectPeers) return true;
    return this.router.links.some((l) => l.peerNodeId !== null);
  }

  /** Watch a link the router just attached (`stream`: what it was made from, to tell the transport). */
  attached(link: RouterLink, stream?: Duplex, direction: Direction = 'unknown'): void {
    const iocom = link.iocom;
    const authOn = iocom.options.keyPair !== undefined || iocom.options.allowedPeerKeys !== undefined;
    const rec: LinkRecord = { link, transport: transportOf(stream), direction, since: this.#clock.now(), auth: authOn ? 'pending' : 'none', peerName: null };
    this.#links.set(link.connId, rec);
    this.#linksOpened++;
    if (authOn) {
      iocom.ready.then(
        () => { rec.auth = iocom.peerKey ? 'verified' : 'unverified'; },
        () => {},
      );
    }
    publish(linkUpChannel, () => ({ router: this.router.name, nodeId: this.router.nodeId, connId: link.connId, transport: rec.transport, direction }));
    // Note the peer's name once its LNK_CONN is handled (the router forgets it as the link goes down).
    iocom.transactions$.subscribe((tx) => {
      if (tx.parent !== null || (tx.icmd !== DMSG.LNK_CONN && tx.icmd !== DMSG.LNK_CONN_V2)) return;
      queueMicrotask(() => {
        rec.peerName = this.router.links.find((l) => l.connId === link.connId)?.peerName ?? rec.peerName;
      });
    });
    iocom.closed$.subscribe((reason) => this.#onClosed(rec, reason));
  }

  #onClosed(rec: LinkRecord, reason: LinkCloseReason): void {
    const connId = rec.link.connId;
    if (!this.#links.delete(connId)) return;
    const s = rec.link.iocom.stats();
    this.#closedTraffic.messagesIn += s.messagesIn;
    this.#closedTraffic.messagesOut += s.messagesOut;
    this.#closedTraffic.bytesIn += s.bytesIn;
    this.#closedTraffic.bytesOut += s.bytesOut;
    const code = reason.kind === 'error' ? codeOf(reason.error) : null;
    const key = code ?? reason.kind;
    this.#linksClosed[key] = (this.#linksClosed[key] ?? 0) + 1;
    const peerName = this.#peerName(connId) ?? rec.peerName;
    if (reason.kind === 'error') {
      if (reason.error instanceof ProtocolError) {
        this.#protocolErrors[code!] = (this.#protocolErrors[code!] ?? 0) + 1;
        this.#logLine(`link ${connId}: protocol error ${code}: ${reason.error.message}`);
        publish(protocolErrorChannel, () => ({ router: this.router.name, nodeId: this.router.nodeId, connId, code: code!, message: reason.error.message }));
      } else if (code === 'KEEPALIVE_TIMEOUT') {
        this.#keepaliveLosses++;
        this.#logLine(`link ${connId}: keepalive lost: ${reason.error.message}`);
      }
    }
    publish(linkDownChannel, () => ({ router: this.router.name, nodeId: this.router.nodeId, connId, peerName, reason: reason.kind, code }));
  }

  #peerName(connId: string): string | null {
    // The router forgets a link as it goes down (its closed$ subscriber runs first); then the name recorded at the last snapshot is used.
    return this.router.links.find((l) => l.connId === connId)?.peerName ?? null;
  }

  #logLine(line: string): void {
    if (!this.#log) return;
    try {
      this.#log(line);
    } catch {
      // a broken logger costs nothing else
    }
  }

  #onSpan(e: SpanEvent): void {
    this.#spanEvents[e.type]++;
    const ch = e.type === 'up' ? spanUpChannel : e.type === 'down' ? spanDownChannel : spanChangedChannel;
    publish(ch, () => ({ router: this.router.name, nodeId: this.router.nodeId, service: e.span.service, instance: e.span.instance, dist: e.span.dist, via: e.span.via, path: e.span.path }));
  }

  /** A snapshot of everything (what /stats.json serves). */
  stats(): RelayStats {
    const now = this.#clock.now();
    const links: LinkStats[] = [];
    const t = { ...this.#closedTraffic };
    let relayedOpen = 0;
    for (const l of this.router.links) {
      const rec = this.#links.get(l.connId);
      if (rec && l.peerName !== null) rec.peerName = l.peerName;
      const s = l.iocom.stats();
      const relayed = relayedOpenOn(l.iocom);
      relayedOpen += relayed;
      t.messagesIn += s.messagesIn;
      t.messagesOut += s.messagesOut;
      t.bytesIn += s.bytesIn;
      t.bytesOut += s.bytesOut;
      links.push({
        connId: l.connId,
        peerName: l.peerName,
        peerNodeId: l.peerNodeId,
        transport: rec?.transport ?? 'unknown',
        direction: rec?.direction ?? 'unknown',
        auth: rec?.auth ?? 'none',
        upSeconds: rec ? (now - rec.since) / 1000 : 0,
        messagesIn: s.messagesIn,
        messagesOut: s.messagesOut,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        openTransactions: s.weOpened + s.peerOpened,
        relayedOpen: relayed,
        queuedBytes: s.queuedBytes,
      });
    }
    const spans: SpanStats[] = this.router.spans().map((s) => ({ service: s.service, instance: s.instance, node: s.node, dist: s.dist, via: s.via, viaName: s.viaName, path: s.path }));
    const r = this.router.stats();
    const pe = { ...this.#protocolErrors };
    return {
      node: { name: this.router.name, nodeId: this.router.nodeId, uptimeSeconds: (now - this.#started) / 1000, listening: this.#listening, ready: this.ready },
      time: Date.now(),
      links,
      spans,
      totals: {
        linksUp: links.length,
        linksOpened: this.#linksOpened,
        linksClosed: { ...this.#linksClosed },
        ...t,
        relayedOpen,
        spanRelays: r.relays,
        spanMessagesSent: r.spanMessagesSent,
        spansRefused: r.spansRefused,
        refusedBeforeConn: r.refusedBeforeConn,
        spanEvents: { ...this.#spanEvents },
        protocolErrors: pe,
        crcErrors: (pe.BAD_HDR_CRC ?? 0) + (pe.BAD_AUX_CRC ?? 0),
        keepaliveLosses: this.#keepaliveLosses,
      },
      ...(this.#lockspaces ? { lockspaces: this.#lockspaces() } : {}),
    };
  }

  /** Where the DLM lockspaces of this relay come from (the relay daemon sets it when it joins lockspaces). */
  setLockspaces(provider: (() => LockspaceStats[]) | null): void {
    this.#lockspaces = provider;
  }

  /** The snapshot as metric families (a collector for MetricsRegistry). */
  collect(): MetricFamily[] {
    return statsToFamilies(this.stats());
  }

  /** Stop watching (spans$ subscription). Links already closed or open are left alone. */
  dispose(): void {
    for (const s of this.#subs.splice(0)) s.unsubscribe();
  }
}

/** A RelayStats snapshot as metric families. Pure. */
export function statsToFamilies(st: RelayStats): MetricFamily[] {
  const T = st.totals;
  const fam = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): MetricFamily => ({ name, type, help, samples });
  const one = (value: number): Sample[] => [{ value }];
  const byKey = (rec: Record<string, number>, label: string): Sample[] => Object.entries(rec).map(([k, v]) => ({ labels: { [label]: k }, value: v }));

  const upGroups = new Map<string, { transport: string; direction: string; auth: string; n: number }>();
  for (const l of st.links) {
    const k = `${l.transport}|${l.direction}|${l.auth}`;
    const g = upGroups.get(k) ?? { transport: l.transport, direction: l.direction, auth: l.auth, n: 0 };
    g.n++;
    upGroups.set(k, g);
  }
  const spanGroups = new Map<string, { service: string; dist: string; n: number }>();
  for (const s of st.spans) {
    const k = `${s.service}\0${s.dist}`;
    const g = spanGroups.get(k) ?? { service: s.service, dist: String(s.dist), n: 0 };
    g.n++;
    spanGroups.set(k, g);
  }
  const perLink = (pick: (l: LinkStats) => number): Sample[] => st.links.map((l) => ({ labels: { link: l.connId, peer: l.peerName ?? '' }, value: pick(l) }));

  return [
    fam('dmsg_up', 'gauge', 'The relay is running.', one(1)),
    fam('dmsg_ready', 'gauge', 'Listening and, when peers are configured, linked to one (what /readyz says).', one(st.node.ready ? 1 : 0)),
    fam('dmsg_uptime_seconds', 'gauge', 'Seconds since the relay started.', one(st.node.uptimeSeconds)),
    fam('dmsg_links_up', 'gauge', 'Links attached now, by transport, direction and authentication state.', [...upGroups.values()].map((g) => ({ labels: { transport: g.transport, direction: g.direction, auth: g.auth }, value: g.n }))),
    fam('dmsg_links_opened_total', 'counter', 'Links attached since start.', one(T.linksOpened)),
    fam('dmsg_links_closed_total', 'counter', 'Links closed since start, by reason (closed, peer-closed or the error code).', byKey(T.linksClosed, 'reason')),
    fam('dmsg_spans', 'gauge', 'Spans known (best path per instance), by service and the dist the span carries (0: advertised here).', [...spanGroups.values()].map((g) => ({ labels: { service: g.service, dist: g.dist }, value: g.n }))),
    fam('dmsg_span_relays', 'gauge', 'LNK_SPAN transactions this router keeps open on its links (relayed or advertised).', one(T.spanRelays)),
    fam('dmsg_relayed_transactions_open', 'gauge', 'Transactions relayed through this router and still open.', one(T.relayedOpen)),
    fam('dmsg_messages_received_total', 'counter', 'Messages received on every link since start.', one(T.messagesIn)),
    fam('dmsg_messages_sent_total', 'counter', 'Messages sent on every link since start.', one(T.messagesOut)),
    fam('dmsg_bytes_received_total', 'counter', 'Bytes received on every link since start.', one(T.bytesIn)),
    fam('dmsg_bytes_sent_total', 'counter', 'Bytes sent on every link since start.', one(T.bytesOut)),
    fam('dmsg_link_messages_received_total', 'counter', 'Messages received per live link.', perLink((l) => l.messagesIn)),
    fam('dmsg_link_messages_sent_total', 'counter', 'Messages sent per live link.', perLink((l) => l.messagesOut)),
    fam('dmsg_link_bytes_received_total', 'counter', 'Bytes received per live link.', perLink((l) => l.bytesIn)),
    fam('dmsg_link_bytes_sent_total', 'counter', 'Bytes sent per live link.', perLink((l) => l.bytesOut)),
    fam('dmsg_link_open_transactions', 'gauge', 'Open transactions per live link.', perLink((l) => l.openTransactions)),
    fam('dmsg_link_queued_bytes', 'gauge', 'Bytes queued for writing per live link.', perLink((l) => l.queuedBytes)),
    fam('dmsg_protocol_errors_total', 'counter', 'Protocol errors that closed a link, by code.', byKey(T.protocolErrors, 'code')),
    fam('dmsg_crc_errors_total', 'counter', 'Header or aux CRC errors that closed a link.', one(T.crcErrors)),
    fam('dmsg_keepalive_losses_total', 'counter', 'Links closed because nothing was received for linkTimeoutMs.', one(T.keepaliveLosses)),
    fam('dmsg_span_messages_sent_total', 'counter', 'LNK_SPAN CREATEs and DELETEs sent for relayed or advertised spans.', one(T.spanMessagesSent)),
    fam('dmsg_spans_refused_total', 'counter', 'Received spans refused (limits, bad fields, loops, before LNK_CONN).', one(T.spansRefused)),
    fam('dmsg_refused_before_conn_total', 'counter', "Peer transactions refused because the peer's LNK_CONN had not arrived.", one(T.refusedBeforeConn)),
    fam('dmsg_span_events_total', 'counter', 'Convergence events: spans up, down, or whose best path changed.', [
      { labels: { type: 'up' }, value: T.spanEvents.up },
      { labels: { type: 'down' }, value: T.spanEvents.down },
      { labels: { type: 'changed' }, value: T.spanEvents.changed },
    ]),
  ];
}
