/**
 * The Router's constants and types: its options, what discovery shows
 * (SpanInfo, SpanEvent), advertisements, and the per-link and per-relay
 * state it keeps.
 */
import type { Subject } from 'rxjs';
import type { Iocom, OpenOptions } from '../iocom/iocom.ts';
import type { LocalLink } from './local-link.ts';
import type { IocomOptions } from '../iocom/options.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { LnkConnLayout } from '../wire/ext/lnk-conn.ts';
import type { Observable } from 'rxjs';
import type { Clock } from '../util/clock.ts';
import type { RelayConn } from './filters.ts';
import type { NodeId } from './path-record.ts';
import type { RootCause } from './root-cause.ts';
import type { ExistingRelay } from './relay-plan.ts';
import type { SpanOptions } from './options.ts';
import type { SpanFields, SpanLink, SpanNode } from './span-table.ts';

/**
 * `head.error` of a span DELETE that withdraws the advertisement itself (as
 * opposed to losing one path to it). Routers then refuse that epoch of that
 * instance, so no backup path is explored. DragonFly uses 0x20..0x24; a
 * DragonFly peer just sees a span closed with an error.
 */
export const DMSG_ERR_WITHDRAWN = 0x28;

/** peer_type of spans advertised with `advertise()` (DragonFly uses 1..3; 63 is CLIENT). */
export const SERVICE_PEER_TYPE = 4;
export const NIL = '00000000-0000-0000-0000-000000000000';

export interface RouterOptions extends SpanOptions {
  /** This node's id (a uuid): sent in LNK_CONN media_id and used in span paths. @default random */
  nodeId?: string;
  /** This node's name: sent as LNK_CONN peer_label. @default the host name */
  name?: string;
  /** peer_type we announce in LNK_CONN. @default DMSG_PEER.ROUTER (1) */
  peerType?: number;
  /** peer_mask we announce: which span peer_types we want to receive. @default all ones */
  peerMask?: bigint;
  /**
   * pfs_mask we announce (seed layout): which span pfs_types we want.
   * DragonFly relays only spans whose `(1 << pfs_type) & pfs_mask` is set,
   * so 0 would mean "send me nothing". @default all ones
   */
  pfsMask?: bigint;
  /**
   * cl_label we announce (seed layout). 2015 libdmsg relays us only spans of
   * our own peer_type with this cluster label when it is non-empty, so leave
   * it empty unless you want that filter; our name travels in fs_label.
   * @default ''
   */
  clusterLabel?: string;
  /** Time source of every router timer. @default systemClock */
  clock?: Clock;
  /** LNK_CONN layout we send: the seed's (0x1108) or DragonFly's later one (0x1106). @default 'seed' */
  connLayout?: LnkConnLayout;
  /** rnss added to relayed spans (DragonFly's per-process DMsgRNSS). @default random */
  localRnss?: number;
  /** Options for the iocoms `attach()` creates from streams. */
  iocom?: IocomOptions;
  /** One line per link and span event. @default none */
  log?: (line: string) => void;
}

/** One span as discovery shows it: the best path to one advertised instance. */
export interface SpanInfo {
  /** Service name (LNK_SPAN peer_label / cl_label). */
  readonly service: string;
  /** Instance name (pfs_label / fs_label). */
  readonly instance: string;
  /** The cluster uuid (peer_id). */
  readonly clusterId: string;
  /** The instance uuid (pfs_id). */
  readonly instanceId: string;
  readonly peerType: number;
  /** Node id of the router that advertises it (first id of its path), or null if unknown. */
  readonly node: string | null;
  /**
   * Name of the router that advertises it (carried in the path record), or
   * null when unknown (a DragonFly originator).
   */
  readonly nodeName: string | null;
  /**
   * Incarnation of the advertising router's current run (random, non-zero;
   * changes when that router restarts), or null when unknown.
   */
  readonly incarnation: number | null;
  /**
   * The LNK_SPAN `dist` field as this router holds it, the one convention
   * used everywhere (spans(), spans$, the relay log, DBG_SHELL `tree`), as
   * DragonFly shows it: 0 for a span advertised here or by a direct
   * neighbour, and each relay adds 1 when it passes a span on. So it counts
   * the relays between this router and the advertiser. A client attached to
   * a relay sees one more than that relay's own log does, because the relay
   * adds 1 when it passes the span to the client.
   */
  readonly dist: number;
  /** The link it arrives on (null: advertised by this router, a local instance). */
  readonly via: string | null;
  /** Name the peer on that link gave in its LNK_CONN. */
  readonly viaName: string | null;
  /**
   * Router node ids of the best path, originator first, ending with the
   * neighbour it arrived from (empty for a local advertisement, or a peer
   * that sent no path record and no node id, as DragonFly's).
   */
  readonly path: readonly string[];
  /** @internal */
  readonly key: string;
}

export interface SpanEvent {
  readonly type: 'up' | 'down' | 'changed';
  readonly span: SpanInfo;
}

export interface AdvertiseOptions {
  service: string;
  /** @default the router's name */
  instance?: string;
  /** @default SERVICE_PEER_TYPE (4) */
  peerType?: number;
  /** Instance uuid. @default derived from (node id, service, instance) */
  instanceId?: string;
}

/** Which instance `open()` goes to, beyond the service name. */
export interface RouteOptions {
  /** Only this instance name (also written `open('service/instance')`). @default any instance, nearest first */
  instance?: string;
  /** Only the instance of this router: a node id (uuid) or a router name. @default any router, nearest first */
  node?: string;
}

/** A router in a membership: one node offering a service. */
export interface Member {
  /** The router's node id (uuid), or the instance id when the node is unknown (a DragonFly originator). */
  readonly node: string;
  /** The router's name, or null when unknown. */
  readonly name: string | null;
  /** Its run's incarnation (changes on restart), or null when unknown. */
  readonly incarnation: number | null;
  /** Instance names of the service it offers, sorted. */
  readonly instances: readonly string[];
  /** True for this router itself. */
  readonly local: boolean;
}

/** A node began (join) or stopped (leave) offering a service. A restart is a leave and a join with a new incarnation. */
export interface MemberEvent {
  readonly type: 'join' | 'leave';
  readonly service: string;
  readonly member: Member;
}

/** Options of `Router.serve()`. */
export interface ServeOptions {
  /** @default the router's name */
  instance?: string;
  /** @default SERVICE_PEER_TYPE (4) */
  peerType?: number;
  /** Instance uuid. @default derived from (node id, service, instance) */
  instanceId?: string;
}

/**
 * What a service handler is told with each transaction.
 *
 * It does not say who opened the transaction: a transaction arrives on the
 * link of the last relay and DMSG circuits carry no opener, so anything the
 * opener writes about itself is a claim. What is bound is the other
 * direction: what comes back on a transaction this router opened with
 * `open(service, cmd, { node })` comes from that node's instance (or from a
 * relay on the path, trusted to route). A service that must know who sent a
 * message reads it from a transaction it opened toward the sender (the DLM
 * views transport does: docs/views.md, "Authenticated senders").
 */
export interface ServiceCall {
  readonly service: string;
  readonly instance: string;
  /**
   * The service transaction this one is stacked on (null for a transaction
   * opened on the service itself): sub-transactions reach the same handler.
   */
  readonly parent: Transaction | null;
  /** True when the caller is on this router (the in-process path). */
  readonly local: boolean;
  /** Open a sub-transaction stacked on `tx` toward the caller. */
  open(cmd: number, opts?: Omit<OpenOptions, 'parent'>): Transaction;
}

/**
 * Handles one incoming transaction (or sub-transaction). Subscribe to
 * `tx.rx$` synchronously; the opening message arrives on it. A throw
 * aborts that transaction only.
 */
export type ServiceHandler = (tx: Transaction, call: ServiceCall) => void;

/** A served service: its advertisement, until close(). */
export interface Service {
  readonly span: SpanInfo;
  /** Withdraw the service everywhere; open transactions on it end with LOSTLINK. */
  close(): void;
}

export interface Advertisement {
  readonly span: SpanInfo;
  /** Transactions opened on this span by anyone in the mesh (and their sub-transactions). */
  readonly transactions$: Observable<Transaction>;
  /** Withdraw the span everywhere. */
  close(): void;
}

/** One attached link. */
export interface RouterLink {
  readonly connId: string;
  readonly iocom: Iocom;
  /** The peer's LNK_CONN peer_label, once received. */
  readonly peerName: string | null;
  readonly peerNodeId: string | null;
}

/** @internal */
export interface ConnState {
  connId: string;
  iocom: Iocom;
  peerConn: RelayConn['peerConn'] | null;
  peerNodeId: NodeId | null;
  peerName: string | null;
  ourConn: Transaction | null;
  theirConn: Transaction | null;
  /**
   * The peer has answered our LNK_CONN. A Router peer sends its initial
   * spans before that answer, so until then what it has not sent yet may
   * still be coming (see #replan).
   */
  settled: boolean;
  /**
   * The link died: the root cause its span DELETEs report (null: none known),
   * set by the first span the failure ends. Its spans leave the table in
   * batches (replan-queue.ts). undefined while the link lives.
   */
  lost?: RootCause | null;
}

/** @internal */
export interface LocalAd {
  linkId: string;
  fields: SpanFields;
  subject: Subject<Transaction>;
  /** The in-process link local open() calls use (made on first use). */
  local: LocalLink | null;
}

/** What opens a sub-transaction next to a transaction: its Iocom, or a side of a LocalLink. @internal */
export interface TransactionOpener {
  open(cmd: number, opts?: OpenOptions): Transaction;
}

/** @internal */
export interface RelayState extends ExistingRelay {
  tx: Transaction;
}

/**
 * A link is live while its conn is attached, open and not lost. A dead
 * conn's links stay in the table until the replan batches remove them
 * (replan-queue.ts, issue 7 item 3); meanwhile nothing may choose, report
 * or relay them. @internal
 */
export function isLiveLink(link: SpanLink, conns: ReadonlyMap<string, ConnState>): boolean {
  if (link.connId === null) return true;
  const conn = conns.get(link.connId);
  return conn !== undefined && conn.lost === undefined && conn.iocom.isOpen;
}

/** A conn that can still carry spans: open, not lost, its peer's LNK_CONN received. @internal */
export function isLiveConn(conn: ConnState): boolean {
  return conn.lost === undefined && conn.iocom.isOpen && conn.theirConn !== null;
}

/** The node's best live link (local or remote), if any. @internal */
export function bestLive(node: SpanNode, conns: ReadonlyMap<string, ConnState>): SpanLink | undefined {
  for (const l of node.links) if (isLiveLink(l, conns)) return l;
  return undefined;
}

/** The node's best live remote link, if any. @internal */
export function firstRemote(node: SpanNode, conns: ReadonlyMap<string, ConnState>): SpanLink | undefined {
  for (const l of node.links) if (l.connId !== null && isLiveLink(l, conns)) return l;
  return undefined;
}

/** The node has a link of a dead conn still waiting to leave the table. @internal */
export function hasDeadLink(node: SpanNode, conns: ReadonlyMap<string, ConnState>): boolean {
  for (const l of node.links) if (!isLiveLink(l, conns)) return true;
  return false;
}

