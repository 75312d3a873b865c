/**
 * A scripted peer that relays spans the way DragonFly's 2015 libdmsg does
 * (msg_lnk.c dmsg_relay_scan_specific), so the libdmsg hub scenario runs on
 * a fresh clone without building the reference node:
 * - it sends a seed-layout LNK_CONN (pfs_mask all ones, peer_type CLUSTER,
 *   no media id), answers the peer's CONN and keeps it open;
 * - it keeps every span it receives (acked, left open) and relays each one,
 *   dist + 1, without aux (DragonFly ignores span aux), to every other
 *   connection whose CONN accepts it: skipped when `(1 << peer_type) &
 *   peer_mask` or `(1 << pfs_type) & pfs_mask` is 0, and, for spans of the
 *   connection's own peer_type, when its pfs_clid is set and differs or its
 *   cl_label is non-empty and differs;
 * - a transaction opened on a relayed span is relayed to the span's source
 *   connection (msgid/circuit translated), both ways;
 * - DBG_SHELL is answered with one DBG_SHELL|REPLY per line.
 * Not DragonFly's code: a reimplementation of its filters for tests.
 */
import { DMSG, DMSGF, DMSG_PEER } from '../../src/wire/constants.ts';
import { decodeLnkConn, encodeLnkConn, type LnkConn } from '../../src/wire/ext/lnk-conn.ts';
import { decodeLnkSpan, encodeLnkSpan, type LnkSpan } from '../../src/wire/ext/lnk-span.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { relayTransaction } from '../../src/span/relay.ts';
import type { Duplex } from 'node:stream';

const NIL = '00000000-0000-0000-0000-000000000000';

interface HubConn {
  readonly id: number;
  readonly iocom: Iocom;
  conn: LnkConn | null;
}

interface HubSpan {
  readonly from: HubConn;
  readonly tx: Transaction;
  readonly span: LnkSpan;
  /** Relayed copies by destination conn id. */
  readonly relays: Map<number, Transaction>;
}

/** Why libdmsg would not relay `span` to a conn with CONN `c`, or null. */
export function libdmsgFilter(span: LnkSpan, c: LnkConn): string | null {
  if (((1n << BigInt(span.peerType & 63)) & c.peerMask) === 0n) return 'peer_mask';
  if (((1n << BigInt(span.pfsType & 63)) & c.pfsMask) === 0n) return 'pfs_mask';
  if (span.peerType === c.peerType && c.peerId !== NIL && c.peerId !== span.peerId) return 'pfs_clid';
  if (span.peerType === c.peerType && c.peerLabel !== '' && c.peerLabel !== span.peerLabel) return 'cl_label';
  return null;
}

export class LibdmsgLikeHub {
  readonly shellLines: string[];
  readonly #conns = new Map<number, HubConn>();
  readonly #spans: HubSpan[] = [];
  /** Relayed span tx → the span it copies. */
  readonly #relayOf = new WeakMap<Transaction, HubSpan>();
  #next = 1;
  /** Spans refused per conn id and filter, for assertions. */
  readonly filtered: string[] = [];

  constructor(shellLines = ['libdmsg-like hub: cmd "tree"', 'Cluster ...', '    Node ...', '\tSLink ...', '\t    Relay-out ...', 'Cluster ...', '    Node ...']) {
    this.shellLines = shellLines;
  }

  attach(stream: Duplex): Iocom {
    const iocom = new Iocom(stream, { name: `hub/${this.#next}`, pingIntervalMs: 0, linkTimeoutMs: 0 });
    const c: HubConn = { id: this.#next++, iocom, conn: null };
    this.#conns.set(c.id, c);
    iocom.transactions$.subscribe((tx) => this.#onTransaction(c, tx));
    iocom.messages$.subscribe((m) => {
      if ((m.header.cmd & DMSGF.BASECMDMASK) !== DMSG.DBG_SHELL || m.header.cmd & DMSGF.REPLY) return;
      for (const line of this.shellLines) iocom.sendOneWay(DMSG.DBG_SHELL, { reply: true, aux: new TextEncoder().encode(`${line}\n\0`) });
    });
    iocom.closed$.subscribe(() => this.#onClosed(c));
    const ours = iocom.open(DMSG.LNK_CONN, { ext: encodeLnkConn({ peerMask: 0xffffffffffffffffn, pfsMask: 0xffffffffffffffffn, peerType: DMSG_PEER.CLUSTER, protoVersion: 1 }, 'seed') });
    ours.rx$.subscribe({ error: () => {} });
    return iocom;
  }

  #onTransaction(c: HubConn, tx: Transaction): void {
    if (tx.parent === null && tx.icmd === DMSG.LNK_CONN) {
      c.conn = decodeLnkConn(tx.first!.header.cmd, tx.first!.ext);
      tx.rx$.subscribe({ error: () => {} });
      queueMicrotask(() => {
        if (tx.canSend) tx.result(0);
        for (const s of this.#spans) this.#relay(s, c);
      });
      return;
    }
    if (tx.parent === null && tx.icmd === DMSG.LNK_SPAN) {
      const span = decodeLnkSpan(tx.first!.ext);
      const s: HubSpan = { from: c, tx, span, relays: new Map() };
      this.#spans.push(s);
      tx.rx$.subscribe({
        complete: () => this.#dropSpan(s),
        error: () => this.#dropSpan(s),
      });
      queueMicrotask(() => {
        if (tx.canSend) tx.result(0);
        for (const other of this.#conns.values()) this.#relay(s, other);
      });
      return;
    }
    // A transaction on one of our relayed spans (or deeper): toward the span's source.
    const s = tx.parent ? this.#relayOf.get(tx.parent) : undefined;
    if (s && s.tx.canSend) {
      relayTransaction(tx, c.iocom, s.tx, s.from.iocom);
      return;
    }
    tx.rx$.subscribe({ error: () => {} });
    queueMicrotask(() => { if (tx.canSend) tx.reply(0x20); });
  }

  #relay(s: HubSpan, to: HubConn): void {
    if (to === s.from || to.conn === null || s.relays.has(to.id) || !to.iocom.isOpen) return;
    const why = libdmsgFilter(s.span, to.conn);
    if (why !== null) {
      this.filtered.push(`${s.span.peerLabel}/${s.span.pfsLabel} -> ${to.id}: ${why}`);
      return;
    }
    const copy = to.iocom.open(DMSG.LNK_SPAN, { ext: encodeLnkSpan({ ...s.span, dist: s.span.dist + 1 }) });
    copy.rx$.subscribe({ error: () => {} });
    s.relays.set(to.id, copy);
    this.#relayOf.set(copy, s);
  }

  #dropSpan(s: HubSpan): void {
    const i = this.#spans.indexOf(s);
    if (i < 0) return;
    this.#spans.splice(i, 1);
    if (s.tx.canSend) s.tx.close();
    for (const copy of s.relays.values()) if (copy.canSend) copy.close();
  }

  #onClosed(c: HubConn): void {
    this.#conns.delete(c.id);
    for (const s of [...this.#spans]) if (s.from === c) this.#dropSpan(s);
  }

  close(): void {
    for (const c of this.#conns.values()) c.iocom.destroy();
  }
}
