/**
 * Authenticated transport of the views messages: who really sent a message,
 * checked by dial-back, so that a peer cannot speak for a voter.
 *
 * The span layer does not tell a service who opened a transaction on it: a
 * transaction arrives on the link of the last relay, and the opener's
 * identity travels nowhere (DMSG circuits carry none). It does bind the
 * other direction: a transaction this node opens toward router R's instance
 * (`router.open(service, cmd, { node: R })`) reaches R, so what comes back
 * on it comes from R (or from a relay on the path, which the mesh trusts to
 * route anyway; README, threat model).
 *
 * So a node X that sends to voter Y opens one long-lived **channel** on Y's
 * instance of `dlm-views:<name>`, with a HELLO naming X, Y and a fresh random
 * 16-byte nonce, and sends its messages on it. Y believes the HELLO only
 * after a **dial-back**: Y opens a one-shot probe on the instance of the
 * router that is X (the one router serving the service whose DLM node id is
 * X; none or several: refused) asking "is nonce N your channel to me?", and
 * X answers yes only for its live channel to Y. Until then Y keeps at most
 * `PENDING_MESSAGES` of the channel's messages; a "no", a failed probe or
 * no answer within the probe timeout closes the channel (counted). Every
 * message of a verified channel is handed on with the sender X; the driver
 * then refuses one whose `from` is not X (`forged-sender`).
 *
 * What this stops: a peer anywhere in the mesh (a client of a relay, a
 * non-voter, a voter) sending a message with another voter's `from`,
 * replaying a recorded message of a voter on a channel of its own, or
 * forwarding one verbatim: its channel fails the dial-back or carries its
 * own id. What it does not: a relay on the path between X and Y can still
 * read, drop or inject (as it can for every transaction it relays); an
 * attacker flooding channels that claim X can keep X's channel pending
 * (bounded memory, liveness only).
 *
 * Nothing a peer sends throws out of here; bad input is counted in `stats`.
 */
import { DMSGF, SVC_CODE_BASE, svcCmd, type Router, type Transaction } from '../../../span/index.ts';
import type { Clock } from '../../../util/clock.ts';
import { VIEWS_MAX_MESSAGE_BYTES } from './driver-codec.ts';
import type { NodeId } from './types.ts';

/** A views message on a channel (and formerly a one-shot transaction of its own). */
export const VIEWS_CMD = svcCmd(SVC_CODE_BASE.DLM + 0x11);
/** Opens a channel: aux is the HELLO (magic, from, to, nonce). */
export const VIEWS_CHANNEL_CMD = svcCmd(SVC_CODE_BASE.DLM + 0x12);
/** A dial-back probe (aux: magic, prober, asked, nonce); the answer is one byte, 1 = yes. */
export const VIEWS_PROBE_CMD = svcCmd(SVC_CODE_BASE.DLM + 0x13);

/** Messages kept for a channel until its dial-back answers (more are dropped: Raft tolerates loss). */
export const PENDING_MESSAGES = 4;
/** Unverified channels kept per claimed sender; a newer one closes the oldest. */
export const PENDING_CHANNELS_PER_SENDER = 2;
/** Verified channels kept per sender (a reopened channel and the old one until its end arrives). */
export const VERIFIED_CHANNELS_PER_SENDER = 2;

const HELLO_MAGIC = 0x31435644; // "DVC1" little-endian
const PROBE_MAGIC = 0x31505644; // "DVP1"
const NONCE_BYTES = 16;
const RECORD_BYTES = 12 + NONCE_BYTES;

/** Why a channel or message was refused (counted in `ChannelStats.refused`). */
export type ChannelRefusal =
  /** A HELLO that does not parse, names another node, or a non-voter. */
  | 'bad-hello'
  /** No router, or more than one, is the claimed sender (DLM node ids are hashes of router ids: see memberNodeid). */
  | 'unknown-sender'
  /** The claimed sender said no, the probe failed, or no answer came in time. */
  | 'dial-back-failed'
  /** A newer unverified channel claiming the same sender replaced it, or too many channels. */
  | 'evicted'
  /** A message on a channel that is not verified yet, beyond PENDING_MESSAGES. */
  | 'unverified-message'
  /** A transaction that is neither a channel, a probe nor a one-shot message; or a message on a channel with another command or too large. */
  | 'foreign';

export interface ChannelStats {
  /** Channels this node opened (one per peer, again after each one ended). */
  opened: number;
  /** Channels peers opened that passed the dial-back. */
  verified: number;
  /** Probes this node answered, and of those with yes. */
  probesAnswered: number;
  probesConfirmed: number;
  refused: Record<ChannelRefusal, number>;
}

export interface ChannelDeps {
  readonly router: Router;
  /** The service (`dlm-views:<name>`). */
  readonly service: string;
  readonly self: NodeId;
  readonly voters: readonly NodeId[];
  readonly clock: Clock;
  /** How long a dial-back may take before the channel is refused, ms. */
  readonly probeTimeoutMs: number;
  /** The one router (node id) serving `service` that is DLM node `id`, or null (none, or ambiguous). */
  routerOf(id: NodeId): string | null;
  /**
   * A message: from a verified channel, `sender` is who the dial-back proved
   * opened it; from a one-shot transaction (no channel), null: nobody knows.
   */
  deliver(bytes: Uint8Array, sender: NodeId | null): void;
}

interface Outbound {
  readonly tx: Transaction;
  readonly nonce: Uint8Array;
}

interface Inbound {
  readonly tx: Transaction;
  readonly from: NodeId;
  readonly nonce: Uint8Array;
  verified: boolean;
  pending: Uint8Array[] | null;
  probe: Transaction | null;
  timer: unknown;
  closed: boolean;
}

function record(magic: number, from: NodeId, to: NodeId, nonce: Uint8Array): Uint8Array {
  const b = new Uint8Array(RECORD_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic, true);
  v.setUint32(4, from, true);
  v.setUint32(8, to, true);
  b.set(nonce, 12);
  return b;
}

function parseRecord(magic: number, b: Uint8Array): { from: NodeId; to: NodeId; nonce: Uint8Array } | null {
  if (b.length !== RECORD_BYTES) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== magic) return null;
  return { from: v.getUint32(4, true), to: v.getUint32(8, true), nonce: b.slice(12) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
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
  readonly #out = new Map<NodeId, Outbound>();
  /** Channels peers opened, by claimed sender, oldest first. */
  readonly #in = new Map<NodeId, Inbound[]>();
  #closed = false;
  readonly stats: ChannelStats = {
    opened: 0,
    verified: 0,
    probesAnswered: 0,
    probesConfirmed: 0,
    refused: { 'bad-hello': 0, 'unknown-sender': 0, 'dial-back-failed': 0, evicted: 0, 'unverified-message': 0, foreign: 0 },
  };

  constructor(deps: ChannelDeps) {
    this.#d = deps;
  }

  /** Send `bytes` to voter `to` on our channel to it (opened on first use). @throws when no single router is `to`, or the open fails */
  send(to: NodeId, bytes: Uint8Array): void {
    if (this.#closed) return;
    let ch = this.#out.get(to);
    if (ch === undefined || !ch.tx.canSend) ch = this.#open(to);
    ch.tx.send(VIEWS_CMD, { aux: bytes });
  }

  #open(to: NodeId): Outbound {
    const node = this.#d.routerOf(to);
    if (node === null) throw new Error(`views: no single router serving ${this.#d.service} is DLM node ${to}`);
    const nonce = new Uint8Array(NONCE_BYTES);
    crypto.getRandomValues(nonce);
    const tx = this.#d.router.open(this.#d.service, VIEWS_CHANNEL_CMD, { aux: record(HELLO_MAGIC, this.#d.self, to, nonce), node });
    const ch: Outbound = { tx, nonce };
    this.#out.set(to, ch);
    this.stats.opened++;
    const end = (): void => {
      if (this.#out.get(to) === ch) this.#out.delete(to);
      closeQuietly(tx);
    };
    // The far end sends nothing but its close (a refusal, or its end).
    tx.rx$.subscribe({ complete: end, error: end });
    return ch;
  }

  /** A transaction a peer opened on the service: a channel, a probe, or something refused. */
  handle(tx: Transaction): void {
    let first = true;
    let ch: Inbound | null = null;
    tx.rx$.subscribe({
      next: (m) => {
        if (first) {
          first = false;
          const cmd = base(m.header.cmd);
          if (cmd === base(VIEWS_CHANNEL_CMD)) ch = this.#accept(tx, m.aux);
          else if (cmd === base(VIEWS_PROBE_CMD)) this.#answer(tx, m.aux);
          else if (cmd === base(VIEWS_CMD) && !this.#closed) {
            // A one-shot message proves no sender: the driver counts and drops it (unknown-sender) unless it is garbage anyway.
            this.#d.deliver(m.aux, null);
            closeQuietly(tx);
          } else {
            this.stats.refused.foreign++;
            closeQuietly(tx);
          }
          return;
        }
        if (ch !== null && !ch.closed) this.#message(ch, base(m.header.cmd), m.aux);
      },
      complete: () => {
        if (ch !== null) this.#drop(ch);
        closeQuietly(tx);
      },
      error: () => {
        if (ch !== null) this.#drop(ch);
      },
    });
  }

  #accept(tx: Transaction, aux: Uint8Array): Inbound | null {
    const d = this.#d;
    const h = this.#closed ? null : parseRecord(HELLO_MAGIC, aux);
    if (h === null || h.to !== d.self || h.from === d.self || !d.voters.includes(h.from)) {
      this.stats.refused['bad-hello']++;
      closeQuietly(tx);
      return null;
    }
    const node = d.routerOf(h.from);
    if (node === null) {
      this.stats.refused['unknown-sender']++;
      closeQuietly(tx);
      return null;
    }
    const ch: Inbound = { tx, from: h.from, nonce: h.nonce, verified: false, pending: [], probe: null, timer: null, closed: false };
    const list = this.#in.get(h.from) ?? [];
    this.#in.set(h.from, list);
    list.push(ch);
    const unverified = list.filter((c) => !c.verified);
    if (unverified.length > PENDING_CHANNELS_PER_SENDER) this.#refuse(unverified[0]!, 'evicted');
    this.#probe(ch, node);
    return ch;
  }

  /** Dial back: ask the router that is `ch.from` whether the channel is its own. */
  #probe(ch: Inbound, node: string): void {
    const d = this.#d;
    let probe: Transaction;
    try {
      probe = d.router.open(d.service, VIEWS_PROBE_CMD, { aux: record(PROBE_MAGIC, d.self, ch.from, ch.nonce), node });
    } catch {
      this.#refuse(ch, 'dial-back-failed');
      return;
    }
    ch.probe = probe;
    ch.timer = d.clock.setTimeout(() => {
      ch.timer = null;
      if (!ch.verified) this.#refuse(ch, 'dial-back-failed');
    }, d.probeTimeoutMs);
    let answered = false;
    const fail = (): void => {
      if (!answered && !ch.verified) this.#refuse(ch, 'dial-back-failed');
    };
    probe.rx$.subscribe({
      next: (m) => {
        if (answered) return;
        answered = true;
        if (base(m.header.cmd) === base(VIEWS_PROBE_CMD) && m.aux.length === 1 && m.aux[0] === 1) this.#verified(ch);
        else this.#refuse(ch, 'dial-back-failed');
        closeQuietly(probe);
      },
      complete: () => {
        fail();
        closeQuietly(probe);
      },
      error: fail,
    });
  }

  #verified(ch: Inbound): void {
    if (ch.closed || ch.verified) return;
    ch.verified = true;
    this.#clearProbe(ch);
    this.stats.verified++;
    const list = this.#in.get(ch.from)!;
    const verified = list.filter((c) => c.verified);
    if (verified.length > VERIFIED_CHANNELS_PER_SENDER) this.#refuse(verified[0]!, 'evicted');
    const pending = ch.pending ?? [];
    ch.pending = null;
    for (const bytes of pending) if (!ch.closed && !this.#closed) this.#d.deliver(bytes, ch.from);
  }

  #message(ch: Inbound, cmd: number, aux: Uint8Array): void {
    if (cmd !== base(VIEWS_CMD) || aux.length > VIEWS_MAX_MESSAGE_BYTES) {
      this.stats.refused.foreign++;
      return;
    }
    if (ch.verified) {
      if (!this.#closed) this.#d.deliver(aux, ch.from);
      return;
    }
    if (ch.pending !== null && ch.pending.length < PENDING_MESSAGES) ch.pending.push(aux.slice());
    else this.stats.refused['unverified-message']++;
  }

  /** A probe from a peer: yes iff `nonce` is our live channel to the prober. */
  #answer(tx: Transaction, aux: Uint8Array): void {
    const p = parseRecord(PROBE_MAGIC, aux);
    const ch = p !== null && p.to === this.#d.self ? this.#out.get(p.from) : undefined;
    const yes = !this.#closed && ch !== undefined && ch.tx.canSend && sameBytes(ch.nonce, p!.nonce);
    this.stats.probesAnswered++;
    if (yes) this.stats.probesConfirmed++;
    try {
      if (tx.canSend) tx.send(VIEWS_PROBE_CMD, { aux: Uint8Array.of(yes ? 1 : 0), delete: true });
    } catch {
      // the prober is gone
    }
  }

  #refuse(ch: Inbound, why: ChannelRefusal): void {
    if (ch.closed) return;
    this.stats.refused[why]++;
    this.#drop(ch);
    closeQuietly(ch.tx);
  }

  #clearProbe(ch: Inbound): void {
    if (ch.timer !== null) this.#d.clock.clearTimeout(ch.timer);
    ch.timer = null;
    if (ch.probe !== null) closeQuietly(ch.probe);
    ch.probe = null;
  }

  /** Forget `ch` (it ended or was refused). */
  #drop(ch: Inbound): void {
    if (ch.closed) return;
    ch.closed = true;
    ch.pending = null;
    this.#clearProbe(ch);
    const list = this.#in.get(ch.from);
    if (list === undefined) return;
    const i = list.indexOf(ch);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#in.delete(ch.from);
  }

  /** Close every channel and probe. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ch of this.#out.values()) closeQuietly(ch.tx);
    this.#out.clear();
    for (const list of [...this.#in.values()]) for (const ch of [...list]) {
      this.#drop(ch);
      closeQuietly(ch.tx);
    }
  }
}
