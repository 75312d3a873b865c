/**
 * Span intake: a LNK_SPAN a peer opens on one of our links. It is decoded
 * (extended header, path record), refused when it crosses a link we know is
 * lost, is a stale copy of a withdrawn advertisement, loops or passes a
 * limit, else added to the span table; its end (DELETE, withdrawal, root
 * cause, lost link) removes it again.
 */
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { decodeLnkSpan } from '../wire/ext/lnk-span.ts';
import type { Transaction } from '../iocom/transaction.ts';
import { decodePathRecordWithEpoch, type NodeId } from './path-record.ts';
import type { RelayExecutor } from './relay-executor.ts';
import { decodeRootCause, encodeRootCause, type RootCause } from './root-cause.ts';
import type { RouterCore } from './router-core.ts';
import { DMSG_ERR_WITHDRAWN, type ConnState } from './router-types.ts';
import { nodeKeyOf, type SpanFields, type SpanNode } from './span-table.ts';
import type { Withdrawal } from './withdrawal.ts';

export function onSpan(core: RouterCore, relays: RelayExecutor, withdrawal: Withdrawal, conn: ConnState, tx: Transaction): void {
  const msg = tx.first!;
  const linkId = `${conn.connId}/s${core.nextLink++}`;
  let fields: SpanFields;
  let path: NodeId[] | null = null;
  try {
    const s = decodeLnkSpan(msg.ext);
    fields = { peerType: s.peerType, pfsType: s.pfsType, clusterId: s.peerId, nodeId: s.pfsId, clusterLabel: s.peerLabel, nodeLabel: s.pfsLabel, dist: s.dist, rnss: s.rnss, extras: s };
    if (msg.aux.length > 0) {
      const record = decodePathRecordWithEpoch(msg.aux, core.table.options.maxPathLength);
      path = record.path;
      if (record.epoch !== 0) fields = { ...fields, epoch: record.epoch };
      // As we will relay it: the sender's hops plus this link's incarnation.
      if (record.hops !== null) fields = { ...fields, hops: [...record.hops, core.linkIncarnation(conn.connId)] };
      if (record.origin) fields = { ...fields, origin: record.origin };
    }
  } catch (err) {
    core.log(`link ${conn.connId}: refused a span: ${(err as Error).message}`);
    core.spansRefused++;
    return core.refuse(tx, DMSG_ERR.PARAM);
  }
  const overDead = core.lost.lostLinkOn(path ?? [], fields.hops);
  if (overDead !== null) {
    // A path over a link we know is lost: refuse it and say which.
    core.spansRefused++;
    tx.rx$.subscribe({ error: () => {} });
    queueMicrotask(() => {
      if (tx.canSend) tx.send(DMSG.LNK_ERROR, { delete: true, aux: encodeRootCause(overDead) });
    });
    return;
  }
  if (fields.epoch && core.lost.isWithdrawn(nodeKeyOf(fields), fields.epoch)) {
    // A stale copy of a withdrawn advertisement: refuse it and tell the sender why.
    core.spansRefused++;
    return core.refuse(tx, DMSG_ERR_WITHDRAWN);
  }
  const added = core.table.add({ linkId, connId: conn.connId, peerNodeId: conn.peerNodeId, fields, path });
  if (!added.ok) {
    if (added.reason !== 'LOOP') core.log(`link ${conn.connId}: refused span ${fields.clusterLabel}/${fields.nodeLabel}: ${added.message}`);
    core.spansRefused++;
    return core.refuse(tx, added.reason === 'LOOP' ? DMSG_ERR.CANTCIRC : DMSG_ERR.PARAM);
  }
  core.roles.set(tx, { kind: 'received-span', linkId });
  core.received.set(linkId, tx);
  let withdrawn = false;
  let cause: RootCause | null = null;
  const gone = (linkLost = false): void => {
    if (tx.canSend) tx.close();
    // A dead offer we had pruned: its sender has now sent its replacement (if any).
    const held = withdrawal.settle(linkId);
    if (!core.received.delete(linkId)) {
      if (held !== undefined) {
        if (linkLost) core.nodeChangedLater(held, null);
        else core.nodeChanged(held);
      }
      return;
    }
    if (withdrawn && fields.epoch) return withdrawal.withdraw(added.link.nodeKey, fields.epoch);
    if (linkLost) {
      // Our link to the sender died with every span on it. Nothing per span
      // here (thousands end in this one event): the Router drops the conn's
      // spans from the table and replans in batches, with this root cause
      // (issue 7 item 3: never block the event loop).
      if (conn.lost === undefined) {
        conn.lost = cause;
        if (cause) core.lost.loseLink(cause);
      }
      // The sender originated it: a lost link next to its originator (origin-loss-hold.ts).
      if (cause && added.link.path[0] === cause.a) withdrawal.lostNextToOrigin(added.link.nodeKey, cause);
      return;
    }
    relays.withRootCause(cause, () => {
      if (cause) withdrawal.pruneLink(cause);
      const link = core.table.remove(linkId);
      if (link) core.nodeChanged(link.nodeKey);
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
    complete: () => gone(),
    error: (err: unknown) => {
      // Our link to the sender is gone: we are the root cause's reporter.
      const linkLost = (err as { code?: string }).code === 'LOST_LINK' && !conn.iocom.isOpen;
      if (linkLost && conn.peerNodeId !== null) cause = { a: conn.peerNodeId, b: core.nodeId, inc: core.linkIncarnation(conn.connId) };
      gone(linkLost);
    },
  });
  queueMicrotask(() => {
    if (tx.canSend) tx.result(0);
  });
  // A replacement (make before break): its sender closes the path it
  // replaces next (in the same write), maybe naming a lost link; decide
  // once that is known. The microtask runs after the rest of the read.
  const key = added.link.nodeKey;
  if (!replacesOnConn(core.table.node(key)!, conn.connId, core.table.options.maxRelayedPaths)) core.nodeChanged(key);
  else {
    queueMicrotask(() => {
      if (!core.closed && core.table.link(linkId)) core.nodeChanged(key);
    });
  }
}

/**
 * Does `node` hold more links from `connId` than a peer relays (a peer
 * sending a replacement CREATE before the DELETE of what it replaces)?
 */
function replacesOnConn(node: SpanNode, connId: string, maxRelayedPaths: number): boolean {
  let n = 0;
  for (const l of node.links) if (l.connId === connId && ++n > maxRelayedPaths) return true;
  return false;
}
