/**
 * Carrying out the relay plan (libdmsg's dmsg_generate_relay and relay
 * deletion): the planner (relay-plan.ts) says which spans to open and close
 * on which link; this opens them as LNK_SPAN transactions, keeps them by id
 * and by node, and closes them, make before break. A DELETE we send while a
 * lost link is being handled carries that link (root-cause notification).
 */
import { DMSG, DMSGF } from '../wire/constants.ts';
import { encodeLnkSpan } from '../wire/ext/lnk-span.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { Message } from '../wire/message.ts';
import type { RelayConn } from './filters.ts';
import { encodePathRecord } from './path-record.ts';
import { planRelaysForNode, type RelaySpec, type SpanTableView } from './relay-plan.ts';
import { decodeRootCause, encodeRootCause, type RootCause } from './root-cause.ts';
import type { RouterCore } from './router-core.ts';
import { DMSG_ERR_WITHDRAWN, hasDeadLink, isLiveLink, type RelayState } from './router-types.ts';
import type { NodeKey, SpanNode } from './span-table.ts';
import type { SpanFields } from './span-types.ts';

/** What the executor calls back for a relayed span the peer refused. */
export interface RelayRefusalHandler {
  /** The peer says the advertisement was withdrawn. */
  withdrawn(key: NodeKey, epoch: number): void;
  /** The peer says a path crosses a lost link. */
  lostLink(cause: RootCause): void;
}

export class RelayExecutor {
  readonly #core: RouterCore;
  readonly #refusals: RelayRefusalHandler;
  readonly #relays = new Map<string, RelayState>();
  readonly #byNode = new Map<NodeKey, Set<string>>();
  #next = 1;
  /** The lost link that the relay deletions now under way report (root-cause notification). */
  #rootCause: RootCause | null = null;

  constructor(core: RouterCore, refusals: RelayRefusalHandler) {
    this.#core = core;
    this.#refusals = refusals;
  }

  get size(): number {
    return this.#relays.size;
  }

  /** Relay ids of one node. */
  ofNode(key: NodeKey): readonly RelayState[] {
    const ids = this.#byNode.get(key);
    return ids ? [...ids].map((id) => this.#relays.get(id)!) : [];
  }

  /** Run `fn` with relay deletions carrying `cause` (null: none). */
  withRootCause(cause: RootCause | null, fn: () => void): void {
    const before = this.#rootCause;
    this.#rootCause = cause;
    try {
      fn();
    } finally {
      this.#rootCause = before;
    }
  }

  #relayConns(): RelayConn[] {
    const out: RelayConn[] = [];
    for (const c of this.#core.conns.values()) if (c.peerConn !== null && c.iocom.isOpen) out.push({ connId: c.connId, peerNodeId: c.peerNodeId, peerConn: c.peerConn });
    return out;
  }

  /** Plan one node again and carry the plan out. */
  replan(key: NodeKey): void {
    const core = this.#core;
    // consistencyCheck: do not relay a path through a direct peer that has
    // not itself sent us a span as good; it cuts path exploration after a
    // cut ~10x (test/span/sim-mesh*.ts) and never changes the end state.
    // Not while a new peer's initial spans may still be coming: a path
    // through that peer would look stale until they arrive, and withdrawing
    // it would break make-before-break (far routers would see down, then up).
    // preferCurrent (sticky relays): among equally short paths keep the one
    // relayed, so equal-length replacements after a lost link, arriving in
    // any order, do not replace each other (relay-plan.ts).
    let settled = true;
    for (const c of core.conns.values()) if (c.peerConn !== null && !c.settled && c.iocom.isOpen) settled = false;
    const plan = planRelaysForNode(this.#liveView(), key, this.#relayConns(), this.ofNode(key), { localRnss: core.opts.localRnss, consistencyCheck: settled, preferCurrent: true });
    // Make before break.
    for (const spec of plan.create) this.#create(spec);
    for (const id of plan.delete) this.delete(id);
  }

  /**
   * Close the relays of one node whose source path has left the table (it
   * died), making nothing in their place: for an instance on an origin-loss
   * hold (origin-loss-hold.ts), whose DELETEs must still travel (with the
   * current root cause) while its replacements wait.
   */
  deleteDead(key: NodeKey): void {
    const table = this.#core.table;
    for (const relay of this.ofNode(key)) if (table.link(relay.sourceLinkId) === undefined) this.delete(relay.relayId);
  }

  /**
   * The table as the planner must see it: a node's links of dead conns
   * (still waiting to leave the table, replan-queue.ts) left out, and a
   * node with no other link gone, so no relay is made or kept from them.
   */
  #liveView(): SpanTableView {
    const { table, conns } = this.#core;
    const live = (node: SpanNode | undefined): SpanNode | undefined => {
      if (!node || !hasDeadLink(node, conns)) return node;
      const links = node.links.filter((l) => isLiveLink(l, conns));
      return links.length > 0 ? { ...node, links } : undefined;
    };
    return {
      ownNodeId: table.ownNodeId,
      options: table.options,
      nodes: () => table.nodes().flatMap((n) => live(n) ?? []),
      node: (key: NodeKey) => live(table.node(key)),
    };
  }

  /** Close every relay on a conn (its peer closed its CONN). */
  deleteOnConn(connId: string): void {
    for (const relay of [...this.#relays.values()]) if (relay.connId === connId) this.delete(relay.relayId);
  }

  /** Forget every relay on a conn without sending anything (the link is gone). */
  forgetOnConn(connId: string): void {
    for (const relay of [...this.#relays.values()]) if (relay.connId === connId) this.#forget(relay);
  }

  /** The relay a span transaction of ours carries, if it is still open. */
  get(relayId: string): RelayState | undefined {
    return this.#relays.get(relayId);
  }

  #create(spec: RelaySpec): void {
    const core = this.#core;
    const conn = core.conns.get(spec.connId);
    if (!conn || !conn.iocom.isOpen) return;
    const relayId = `r${this.#next++}`;
    const source = core.table.link(spec.sourceLinkId);
    if (source?.connId != null && !core.conns.get(source.connId)?.iocom.isOpen) return; // its link died; it leaves the table soon
    const extras = source?.fields.extras as Record<string, unknown> | undefined;
    const f = spec.fields;
    let tx: Transaction;
    try {
      const ext = encodeLnkSpan({
        ...(extras ?? {}),
        peerId: f.clusterId, pfsId: f.nodeId, pfsType: f.pfsType, peerType: f.peerType, protoVersion: 1,
        dist: f.dist, rnss: f.rnss, peerLabel: f.clusterLabel, pfsLabel: f.nodeLabel,
      });
      const hops = f.epoch && f.hops && f.hops.length === spec.path.length ? f.hops : undefined;
      tx = conn.iocom.open(DMSG.LNK_SPAN, { ext, aux: encodePathRecord(spec.path, f.epoch ?? 0, hops, hops ? f.origin : undefined) });
      core.spanMessagesSent++;
    } catch (err) {
      core.log(`link ${conn.connId}: cannot relay span: ${(err as Error).message}`);
      return;
    }
    core.roles.set(tx, { kind: 'relay-span', relayId });
    // Spelled out, not `{ ...spec, relayId, tx }`: V8 gives a spread-then-extended
    // literal its own hidden class (map + descriptor array + out-of-object
    // property store, ~0.5 KB per relay, measured by heap snapshot); this
    // literal shares one shape across all relays.
    // The same content relayed on other links shares one fields object and path array.
    const twin = this.#twinOf(spec);
    const relay: RelayState = { connId: spec.connId, nodeKey: spec.nodeKey, sourceLinkId: spec.sourceLinkId, fields: twin?.fields ?? f, path: twin?.path ?? spec.path, relayId, tx };
    this.#relays.set(relayId, relay);
    let set = this.#byNode.get(spec.nodeKey);
    if (!set) this.#byNode.set(spec.nodeKey, (set = new Set()));
    set.add(relayId);
    tx.rx$.subscribe(new RelayAnswerObserver(this, relay));
  }

  /** A message on one of our relayed span transactions: the peer refused or closed it (its DELETE). @internal */
  _answered(relay: RelayState, msg: Message): void {
    if (!(msg.header.cmd & DMSGF.DELETE)) return;
    this.#forget(relay);
    const tx = relay.tx;
    if (tx.canSend) tx.close();
    // Refused as withdrawn, or over a lost link: the peer knows more than we do.
    const epoch = relay.fields.epoch;
    if (msg.header.error === DMSG_ERR_WITHDRAWN && epoch) this.#refusals.withdrawn(relay.nodeKey, epoch);
    else if (msg.aux.length > 0) {
      let rc: RootCause | null = null;
      try {
        rc = decodeRootCause(msg.aux);
      } catch {
        rc = null;
      }
      if (rc) this.#refusals.lostLink(rc);
    }
  }

  /** A relayed span transaction ended without the peer's DELETE (lost link, abort). @internal */
  _ended(relay: RelayState): void {
    this.#forget(relay);
  }

  /**
   * A relay of the same node, from the same source link, with content equal
   * to `spec` in every field (so its objects can be shared: the planner makes
   * a fresh fields object and path array per link, ~0.5 KB per relay with
   * their array slack, measured by heap snapshot; all are read-only). Looks
   * at the first relay from that source link only: O(relays of the node).
   */
  #twinOf(spec: RelaySpec): RelayState | undefined {
    const ids = this.#byNode.get(spec.nodeKey);
    if (ids === undefined) return undefined;
    for (const id of ids) {
      const r = this.#relays.get(id);
      if (r === undefined || r.sourceLinkId !== spec.sourceLinkId) continue;
      return sameArray(r.path, spec.path) && sameContent(r.fields, spec.fields) ? r : undefined;
    }
    return undefined;
  }

  /** Close one relay (with `error`, or carrying the root cause under way). */
  delete(relayId: string, error = 0): void {
    const relay = this.#relays.get(relayId);
    if (!relay) return;
    this.#forget(relay);
    if (relay.tx.canSend) {
      try {
        if (error === 0 && this.#rootCause !== null) relay.tx.send(DMSG.LNK_ERROR, { delete: true, aux: encodeRootCause(this.#rootCause) });
        else relay.tx.close(error);
        this.#core.spanMessagesSent++;
      } catch (err) {
        // The link is full or ending: it fails on its own; nothing more to send here.
        this.#core.log(`cannot close relay ${relayId}: ${(err as Error).message}`);
      }
    }
  }

  #forget(relay: RelayState): void {
    if (this.#relays.get(relay.relayId) !== relay) return;
    this.#relays.delete(relay.relayId);
    const set = this.#byNode.get(relay.nodeKey);
    set?.delete(relay.relayId);
    if (set?.size === 0) this.#byNode.delete(relay.nodeKey);
  }
}

/**
 * The rx$ observer of one relayed span transaction: methods on a prototype,
 * not two closures and their context per relay (a relay with 20 links and
 * 16,384 spans holds 327,680 of these; under tsx's keepNames each closure
 * also carried a dictionary-mode `name`, ~0.25 KB).
 */
class RelayAnswerObserver {
  readonly #executor: RelayExecutor;
  readonly #relay: RelayState;
  constructor(executor: RelayExecutor, relay: RelayState) {
    this.#executor = executor;
    this.#relay = relay;
  }
  next(msg: Message): void {
    this.#executor._answered(this.#relay, msg);
  }
  error(): void {
    this.#executor._ended(this.#relay);
  }
}

function sameArray(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every own field equal: by identity, arrays element-wise, the origin by name and incarnation. */
function sameContent(a: SpanFields, b: SpanFields): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const k of ka) {
    const x = ra[k];
    const y = rb[k];
    if (x === y) continue;
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (Array.isArray(x) && Array.isArray(y) && sameArray(x, y)) continue;
    if (k === 'origin' && x !== undefined && y !== undefined && a.origin!.name === b.origin!.name && a.origin!.incarnation === b.origin!.incarnation) continue;
    return false;
  }
  return true;
}
