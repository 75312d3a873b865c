/**
 * The LNK_CONN handshake on one link (libdmsg's h2span_conn): we open our
 * CONN as soon as a link is attached; the peer's CONN tells us who it is and
 * which spans it wants (peer_mask, pfs_mask, cluster filters), and until it
 * has arrived nothing but CONN is accepted from it (see dispatch.ts). Closing
 * a CONN closes every span we relayed on that link.
 *
 * What we send: media_id = our node id, peer_type and peer_mask as
 * configured, pfs_mask all ones (DragonFly's relay code skips every span
 * whose `(1 << pfs_type) & pfs_mask` is 0, so 0 there means "send me
 * nothing"), cl_label empty (2015 libdmsg drops spans of our peer_type whose
 * cluster label differs from a non-empty one) and our name in fs_label (seed
 * layout) or peer_label (v2 layout, which has only that label).
 */
import { DMSG, DMSGF, DMSG_ERR } from '../wire/constants.ts';
import { decodeLnkConn, encodeLnkConn } from '../wire/ext/lnk-conn.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { RouterCore } from './router-core.ts';
import { NIL, type ConnState } from './router-types.ts';

/** Send our LNK_CONN on a freshly attached link. */
export function sendConn(core: RouterCore, conn: ConnState): void {
  if (!conn.iocom.isOpen) return;
  const o = core.opts;
  const seed = o.connLayout === 'seed';
  const ext = encodeLnkConn(
    {
      mediaId: core.nodeId,
      peerMask: o.peerMask,
      peerType: o.peerType,
      protoVersion: 1,
      pfsMask: o.pfsMask,
      peerLabel: seed ? o.clusterLabel : core.name,
      pfsLabel: seed ? core.name : '',
    },
    o.connLayout,
  );
  const cmd = seed ? DMSG.LNK_CONN : DMSG.LNK_CONN_V2;
  let tx: Transaction;
  try {
    tx = conn.iocom.open(cmd, { ext });
  } catch (err) {
    core.log(`link ${conn.connId}: cannot send LNK_CONN: ${(err as Error).message}`);
    return;
  }
  conn.ourConn = tx;
  tx.rx$.subscribe({
    next: (msg) => {
      conn.settled = true;
      // The peer closing our CONN: close our side too.
      if (msg.header.cmd & DMSGF.DELETE && tx.canSend) tx.close();
    },
    error: () => {},
  });
}

/** The peer's LNK_CONN arrived. */
export function onConn(core: RouterCore, conn: ConnState, tx: Transaction): void {
  if (conn.theirConn !== null) {
    // A second LNK_CONN on one link (DragonFly asserts): refuse it.
    core.log(`link ${conn.connId}: peer sent a second LNK_CONN; refused`);
    return core.refuse(tx, DMSG_ERR.PARAM);
  }
  let info;
  try {
    info = decodeLnkConn(tx.first!.header.cmd, tx.first!.ext);
  } catch (err) {
    core.log(`link ${conn.connId}: bad LNK_CONN: ${(err as Error).message}`);
    return core.refuse(tx, DMSG_ERR.PARAM);
  }
  conn.theirConn = tx;
  conn.peerNodeId = info.mediaId === NIL ? null : info.mediaId;
  // Our routers put their name in fs_label (seed) or peer_label (v2); libdmsg in neither.
  conn.peerName = info.layout === 'seed' ? info.pfsLabel || info.peerLabel : info.peerLabel;
  conn.peerConn = {
    peerMask: info.peerMask,
    peerType: info.peerType,
    peerId: info.peerId === NIL ? null : info.peerId,
    pfsMask: info.pfsMask,
    clusterLabel: info.layout === 'seed' ? info.peerLabel : '',
  };
  core.log(`link ${conn.connId}: peer ${conn.peerName || '(unnamed)'} ${conn.peerNodeId ?? ''} connected`.trimEnd());
  tx.rx$.subscribe({
    complete: () => connGone(core, conn, tx),
    error: () => connGone(core, conn, tx),
  });
  queueMicrotask(() => {
    // Our spans first, then the answer: the peer knows it has our initial
    // spans once the answer arrives (ConnState.settled on its side).
    core.replanAll();
    if (tx.canSend) tx.result(0);
  });
}

/** The peer closed its CONN: stop relaying to it. */
function connGone(core: RouterCore, conn: ConnState, tx: Transaction): void {
  if (conn.theirConn !== tx) return;
  conn.theirConn = null;
  conn.peerConn = null;
  core.connClosed(conn.connId);
  if (tx.canSend) tx.close();
}
