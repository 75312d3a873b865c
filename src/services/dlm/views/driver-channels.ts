/**
 * Authenticated transport of the views messages: a node takes a message as
 * voter X's only when it arrived on a transaction this node opened on X's
 * router, so that no peer can speak for a voter.
 *
 * The span layer does not tell a service who opened a transaction on it: a
 * transaction arrives on the link of the last relay, and the opener's
 * identity travels nowhere (DMSG circuits carry none). It does bind the
 * other direction: a transaction this node opens toward router R's instance
 * (`router.open(service, cmd, { node: R })`) reaches R, so what comes back on
 * it comes from R (or from a relay on the path, which the mesh trusts to
 * route anyway: README, threat model).
 *
 * So every node Y opens one long-lived **channel** on each other voter X's
 * instance of `dlm-views:<name>` (a HELLO naming Y and X), and X sends its
 * messages for Y down the channels that name Y. Y hands on what arrives on
 * its channel to X with the sender X; the driver then refuses a message
 * whose `from` is not X (`forged-sender`). When a channel that carried
 * messages ends (its path broke), Y opens another at once on the best path
 * now; otherwise at its next `ensure()` (the driver's heartbeat interval).
 * Messages in between are lost, which Raft tolerates.
 *
 * A channel's HELLO is not proven: a peer may open channels naming Y. It
 * then receives copies of X's messages to Y (they are not secret: Raft
 * messages carry no data beyond the views), and what it sends on them is
 * ignored. X keeps at most CHANNELS_PER_SUBSCRIBER channels per named voter
 * (newest first), so memory stays bounded; a peer that keeps opening
 * channels naming Y can keep Y's evicted (liveness, not safety: Y re-opens).
 *
 * What this stops: a peer anywhere in the mesh (a client of a relay, a
 * non-voter, a voter) sending a message with another voter's `from`,
 * replaying a recorded message of a voter, or forwarding one verbatim: no
 * transaction it can open is one the receiver opened toward the claimed
 * voter. What it does not: a relay on the path between X and Y can still
 * read, drop or inject (as it can for every transaction it relays), and so
 * can a peer that advertises spans as X's router (a span hijack: with
 * LNK_AUTH only key holders can; without keys any peer can, README).
 * Which router is X: routerOfVoter in driver-mesh.ts.
 *
 * Nothing a peer sends throws out of here; bad input is counted in `stats`.
 */
import { DMSG, DMSGF, SVC_CODE_BASE, svcCmd, type Router, type Transaction } from '../../../span/index.ts';
import type { NodeId } from './types.ts';

/** A views message, sent by a voter down a channel another voter opened on it. */
export const VIEWS_CMD = svcCmd(SVC_CODE_BASE.DLM + 0x11);
/** Opens a channel: aux is the HELLO (magic "DVC1", subscriber, voter asked; u32 little-endian each). */
export const VIEWS_CHANNEL_CMD = svcCmd(SVC_CODE_BASE.DLM + 0x12);

/** Channels kept per named subscriber (a re-opened one and the old one until its end arrives). */
export const CHANNELS_PER_SUBSCRIBER = 2;

const HELLO_MAGIC = 0x31435644; // "DVC1" little-endian
const HELLO_BYTES = 12;

/** What a peer sent that was refused or ignored (counted in `ChannelStats.refused`). */
export type ChannelRefusal =
  /** A HELLO that does not parse, names another node as the one asked, this node, or a non-voter. */
  | 'bad-hello'
  /** A newer channel naming the same subscriber replaced it. */
  | 'evicted'
  /** Something a subscriber sent on its channel (a channel carries messages one way only). */
  | 'ignored'
  /** A transaction that is neither a channel nor a one-shot views message. */
  | 'foreign';

export interface ChannelStats {
  /** Channels this node opened on other voters (again after each one ended). */
  opened: number;
  /** Channels this node could not open (no single router is that voter, no route). */
  openErrors: number;
  /** Channels peers opened on this node (accepted HELLOs). */
  accepted: number;
  /** Messages this node sent, one per channel (a voter with two channels naming it gets two). */
  sent: number;
  /** Messages not sent on a channel past its write high-water mark (Raft tolerates the loss). */
  skippedUnwritable: number;
  /** Held messages sent down a channel when it arrived (see `send`). */
  sentHeld: number;
  refused: Record<ChannelRefusal, number>;
}

export interface ChannelDeps {
  readonly router: Router;
  /** The service (`dlm-views:<name>`). */
  readonly service: string;
  readonly self: NodeId;
  readonly voters: readonly NodeId[];
  /** The one router (node id) serving `service` that is DLM node `id`, or null (none, or ambiguous). */
  routerOf(id: NodeId): string | null;
  /**
   * A message: from a channel this node opened on voter X, `sender` is X;
   * from a one-shot transaction a peer opened, null: nobody knows who sent it.
   */
  deliver(bytes: Uint8Array, sender: NodeId | null): void;
}

interface Outbound {
  readonly tx: Transaction;
  /** The router it was opened on: a voter now served by another router gets a new channel. */
  readonly node: string;
}

function hello(from: NodeId, to: NodeId): Uint8Array {
  const b = new Uint8Array(HELLO_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, HELLO_MAGIC, true);
  v.setUint32(4, from, true);
  v.setUint32(8, to, true);
  return b;
}

function parseHello(b: Uint8Array): { from: NodeId; to: NodeId } | null {
  if (b.length !== HELLO_BYTES) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== HELLO_MAGIC) return null;
  return { from: v.getUint32(4, true), to: v.getUint32(8, true) };
}

const base = (cmd: number): number => cmd & DMSGF.BASECMDMASK;

/** Close our side of `tx` if we still can; never throws. */
function closeQuietly(tx: Transaction): void {
  try {
    if (tx.canSend) tx.close();
  } catch {
    // gone already
  }
}

export class ViewsChannels {
  readonly #d: ChannelDeps;
  /** Channels this node opened, by the voter they reach. */
  readonly #out = new Map<NodeId, Outbound>();
  /** Channels peers opened on this node, by the subscriber their HELLO names, oldest first. */
  readonly #in = new Map<NodeId, Transaction[]>();
  /**
   * Per voter, the latest message that found no channel to it: sent down the
   * next channel that voter opens. A path that comes back is seen by both
   * ends at once, and this node's next message (a leader's heartbeat) may
   * leave before the voter's new channel arrives: without this it would be
   * lost and the voter might time out and start an election. Delivering it
   * late is safe: Raft takes delayed messages (a stale term is ignored, an
   * old `sentAt` echo only shortens a lease). One per voter: bounded.
   */
  readonly #held = new Map<NodeId, Uint8Array>();
  #closed = false;
  readonly stats: ChannelStats = {
    opened: 0,
    openErrors: 0,
    accepted: 0,
    sent: 0,
    skippedUnwritable: 0,
    sentHeld: 0,
    refused: { 'bad-hello': 0, evicted: 0, ignored: 0, foreign: 0 },
  };

  constructor(deps: ChannelDeps) {
    this.#d = deps;
  }

  /** Open a channel on every other voter that has none (or whose router changed). Never throws. */
  ensure(): void {
    if (this.#closed) return;
    const d = this.#d;
    for (const v of d.voters) {
      if (v === d.self) continue;
      const node = d.routerOf(v);
      const ch = this.#out.get(v);
      if (ch !== undefined && ch.tx.canSend && ch.node === node) continue;
      if (ch !== undefined) {
        this.#out.delete(v);
        closeQuietly(ch.tx);
      }
      if (node !== null) this.#open(v, node);
    }
  }

  /** A channel that carried messages ended (its path broke): open another at once, on the best path now. */
  #reopen(voter: NodeId): void {
    if (this.#closed || this.#out.has(voter)) return;
    const node = this.#d.routerOf(voter);
    if (node !== null) this.#open(voter, node);
  }

  #open(voter: NodeId, node: string): void {
    let tx: Transaction;
    try {
      tx = this.#d.router.open(this.#d.service, VIEWS_CHANNEL_CMD, { aux: hello(this.#d.self, voter), node });
    } catch {
      this.stats.openErrors++;
      return;
    }
    const ch: Outbound = { tx, node };
    this.#out.set(voter, ch);
    this.stats.opened++;
    let carried = false;
    const end = (): void => {
      if (this.#out.get(voter) !== ch) return;
      this.#out.delete(voter);
      closeQuietly(tx);
      // A channel that worked lost its path: another at once (not at the next ensure), so the voter's messages
      // find the new path as one-shot transactions would. One that never carried anything waits for ensure():
      // a voter that keeps refusing it cannot make this node spin.
      if (carried) queueMicrotask(() => this.#reopen(voter));
    };
    tx.rx$.subscribe({
      next: (m) => {
        // What the voter sends down our channel is the voter's: that is the whole point.
        if (this.#closed || base(m.header.cmd) !== base(VIEWS_CMD)) return;
        carried = true;
        this.#d.deliver(m.aux, voter);
      },
      complete: end,
      error: end,
    });
  }

  /**
   * Send `bytes` to voter `to` down the channels that name it.
   * @throws when there is none (the driver counts a send error); the message
   *   is then held for the next channel `to` opens (the latest one only)
   */
  send(to: NodeId, bytes: Uint8Array): void {
    if (this.#closed) return;
    const list = this.#in.get(to);
    let sent = 0;
    for (const tx of list ?? []) {
      if (!tx.canSend) continue;
      if (!tx.writable) {
        this.stats.skippedUnwritable++;
        continue;
      }
      tx.send(VIEWS_CMD, { aux: bytes });
      sent++;
    }
    this.stats.sent += sent;
    if (sent > 0) {
      this.#held.delete(to);
      return;
    }
    // Kept (the latest only) for the channel `to` will open: it may be on its way now (a path just came back).
    this.#held.set(to, bytes.slice());
    throw new Error(`views: no channel from voter ${to} to send on`);
  }

  /** A transaction a peer opened on the service: a channel, a one-shot message, or something refused. */
  handle(tx: Transaction): void {
    let first = true;
    let subscriber: NodeId | null = null;
    const end = (): void => {
      if (subscriber !== null) this.#forget(subscriber, tx);
      closeQuietly(tx);
    };
    tx.rx$.subscribe({
      next: (m) => {
        if (!first) {
          if (base(m.header.cmd) !== DMSG.LNK_ERROR) this.stats.refused.ignored++;
          return;
        }
        first = false;
        const cmd = base(m.header.cmd);
        if (cmd === base(VIEWS_CHANNEL_CMD)) subscriber = this.#accept(tx, m.aux);
        else if (cmd === base(VIEWS_CMD)) {
          // A one-shot message proves no sender: the driver counts and drops it (unknown-sender) unless it is garbage anyway.
          if (!this.#closed) this.#d.deliver(m.aux, null);
          closeQuietly(tx);
        } else {
          this.stats.refused.foreign++;
          closeQuietly(tx);
        }
      },
      complete: end,
      error: end,
    });
  }

  #accept(tx: Transaction, aux: Uint8Array): NodeId | null {
    const d = this.#d;
    const h = this.#closed ? null : parseHello(aux);
    if (h === null || h.to !== d.self || h.from === d.self || !d.voters.includes(h.from)) {
      this.stats.refused['bad-hello']++;
      closeQuietly(tx);
      return null;
    }
    const list = this.#in.get(h.from) ?? [];
    this.#in.set(h.from, list);
    list.push(tx);
    this.stats.accepted++;
    while (list.length > CHANNELS_PER_SUBSCRIBER) {
      this.stats.refused.evicted++;
      closeQuietly(list.shift()!);
    }
    const held = this.#held.get(h.from);
    if (held !== undefined && tx.canSend) {
      this.#held.delete(h.from);
      tx.send(VIEWS_CMD, { aux: held });
      this.stats.sentHeld++;
    }
    return h.from;
  }

  #forget(subscriber: NodeId, tx: Transaction): void {
    const list = this.#in.get(subscriber);
    if (list === undefined) return;
    const i = list.indexOf(tx);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#in.delete(subscriber);
  }

  /** Close every channel. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ch of this.#out.values()) closeQuietly(ch.tx);
    this.#out.clear();
    for (const list of this.#in.values()) for (const tx of list) closeQuietly(tx);
    this.#in.clear();
    this.#held.clear();
  }
}
