/**
 * Authenticated channels: a session takes a peer's frames only from a
 * channel it can attribute to that peer.
 *
 * The span layer does not say who opened a transaction (a transaction
 * arrives on the link of the last relay; DMSG circuits carry no opener), so a
 * channel a peer opened on us carries only a claim: the address in its
 * HELLO. What the mesh does bind is the other direction: a transaction *we*
 * open toward node X's instance reaches X, so what comes back on it comes
 * from X (or from a relay on the path, which the mesh trusts to route
 * anyway: README, threat model).
 *
 * So a channel claiming to be X's is held here, *pending*, and takes no
 * session traffic until X proves it opened it:
 *
 * 1. The opener X writes a random 8-byte **token** in its HELLO (a new one
 *    per channel; `Channel.token`) and nothing else until our answer
 *    (`ChannelOpener.awaitsReply`).
 * 2. We draw a random 8-byte **nonce** and send `CHALLENGE(token, nonce)` on
 *    a one-shot transaction we open on X's instance: only X (and relays on
 *    that path) see the nonce.
 * 3. X looks the token up among the channels it opened and still holds;
 *    it writes `PROOF(token, nonce)` *on that channel*, or, if it holds none
 *    with that token, answers `CHALLENGE` with `CHALLENGE_DENIED` on our
 *    transaction (an answer on a transaction we opened is X's).
 * 4. A PROOF carrying this channel's nonce, arriving on this channel, makes
 *    it X's: it goes to X's session (made now if needed, `maxSessions`),
 *    which reads the HELLO as before (session ids, reset on a new
 *    incarnation, refusal of a stale one) and answers it; on that answer X
 *    transmits on the channel. From then on the channel is X's both ways.
 *
 * Why each attack fails: a forged HELLO (any claimed address, any session
 * id) is never proven: X holds no channel with its token (denied) or the
 * claimed address has no span (timeout). A replayed HELLO of an old channel
 * names a token X no longer holds (denied). A third router relaying X's live
 * HELLO verbatim (same token) makes X write the PROOF for *its* nonce on X's
 * own channel, not on the relayer's, so the relayer's channel never sees its
 * nonce (timeout). Frames other than PROOF before the proof close the
 * channel (`unverifiedFrame`). The session with X is never touched by an
 * unproven channel, so it is neither fed nor reset.
 *
 * Bounded: at most `maxPending` pending channels (a full table first evicts
 * the oldest one whose address serves no span, else refuses the newcomer),
 * at most PENDING_PER_ADDRESS per claimed address (oldest evicted), each
 * holding only its HELLO (at most 4 KiB) until `verifyTimeoutMs`. Sessions
 * are made for proven addresses only, so invented addresses cost no session.
 * What remains: a peer flooding channels that claim real nodes makes us send
 * those nodes one CHALLENGE per channel (each answered by a denial), and
 * while it keeps the table full, new genuine channels may wait (liveness,
 * not safety: the opener retries).
 *
 * Nothing a peer sends throws out of here; every refusal is counted.
 */
import type { Clock } from '../../util/clock.ts';
import type { Channel, ChannelSink } from './channel.ts';
import { DLM_CMD, SIZE } from './constants.ts';
import { CHALLENGE_DENIED, TOKEN_BYTES, encodeChallengeFrame } from './frame-encoder.ts';
import { NO_TOKEN, challengeKey, frameLengthOrFail, helloTokenKey, hexKey, parseFrame } from './frame-reader.ts';

/** A channel as the verifier holds it (`TransactionChannel` is one). */
export interface VerifiableChannel extends Channel {
  /** Starts reporting the channel's events to `sink` (again: replaces it). */
  bind(sink: ChannelSink): void;
  /** Feeds `bytes` to the bound sink as if they had arrived. */
  receive(bytes: Uint8Array): void;
  /** The channel ended or was closed. */
  readonly isEnded: boolean;
}

/** Pending channels kept per claimed address (a re-opened one and a few older). */
export const PENDING_PER_ADDRESS = 4;
/** How often a pending channel's CHALLENGE is sent again while unanswered. */
export const CHALLENGE_RETRY_MS = 250;

/** Why a channel a peer opened was refused (the keys of `VerifierStats.refused`). */
export type ChannelRefusal =
  /** Its first frame is not a HELLO (nor a CHALLENGE). */
  | 'notHello'
  /** A HELLO without an address, naming us, without a session id or without a token. */
  | 'badHello'
  /** The pending table was full (or it was the oldest unverifiable one there). */
  | 'pendingFull'
  /** A newer pending channel claiming the same address replaced it. */
  | 'evicted'
  /** The claimed node answered that it holds no channel with that token. */
  | 'denied'
  /** No proof within `verifyTimeoutMs`. */
  | 'timeout'
  /** A frame other than PROOF before the proof, or a broken stream. */
  | 'unverifiedFrame'
  /** Proven, but the session table is full (`maxSessions`). */
  | 'sessionsFull'
  /** This midcomms is closed. */
  | 'closed';

const REFUSALS: readonly ChannelRefusal[] = ['notHello', 'badHello', 'pendingFull', 'evicted', 'denied', 'timeout', 'unverifiedFrame', 'sessionsFull', 'closed'];

export interface VerifierStats {
  /** Channels proven and handed to their session (by a PROOF or a ticket). */
  verified: number;
  /** Of those, proven by a resume ticket (no CHALLENGE). */
  byTicket: number;
  /** CHALLENGEs we sent (first tries and retries). */
  challengesSent: number;
  /** CHALLENGEs we answered with a PROOF on one of our channels. */
  proofsWritten: number;
  /** CHALLENGEs we answered with a denial (no channel of ours has that token). */
  denialsSent: number;
  /** PROOFs on a pending channel with another channel's nonce (a relayed HELLO's challenge, a stale retry). */
  proofsUnmatched: number;
  /** Channels refused, by reason. */
  refused: Record<ChannelRefusal, number>;
  /** Pending channels now. */
  pending: number;
  /** Channels we opened and hold now (what a CHALLENGE may name; forgotten when they end). */
  ownChannels: number;
}

/** What the verifier asks of the router binding. */
export interface VerifierDeps {
  readonly clock: Clock;
  readonly version: number;
  readonly nodeid: number;
  readonly maxPending: number;
  readonly verifyTimeoutMs: number;
  /** This node's address (a HELLO claiming it is refused). */
  readonly self: string;
  /**
   * Sends `frame` to `address`'s instance on a transaction this node opens;
   * `answer` hears each aux that comes back on it. Null: no span of that node now.
   */
  challenge(address: string, frame: Uint8Array, answer: (aux: Uint8Array) => void): { close(): void } | null;
  /** `address` serves our service now (a challenge can reach it). */
  isMember(address: string): boolean;
  /** The channel is proven to be `address`'s: hand it, and its HELLO, to that session. */
  verified(address: string, channel: VerifiableChannel, hello: Uint8Array): ChannelRefusal | null;
  /** A channel was refused (for the owner's total). */
  refused(reason: ChannelRefusal): void;
}

interface Pending {
  readonly channel: VerifiableChannel;
  readonly address: string;
  /** A copy of its HELLO frame (handed to the session once proven). */
  readonly hello: Uint8Array;
  readonly token: Uint8Array;
  readonly nonce: Uint8Array;
  readonly nonceKey: string;
  readonly tokenKey: string;
  challengeTx: { close(): void } | null;
  retry: unknown;
  deadline: unknown;
  done: boolean;
}

function random8(): Uint8Array {
  const b = new Uint8Array(TOKEN_BYTES);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/** A fresh random channel token and its map key. */
export function newToken(): { token: Uint8Array; key: string } {
  for (;;) {
    const token = random8();
    const key = hexKey(token);
    if (key !== NO_TOKEN) return { token, key };
  }
}

export class ChannelVerifier {
  readonly #d: VerifierDeps;
  /** Pending channels, oldest first. */
  readonly #pending = new Set<Pending>();
  /** Channels this node opened and holds, by token: what a CHALLENGE may ask about. */
  readonly #own = new Map<string, VerifiableChannel>();
  /** The one valid resume ticket we gave each proven address (used once). */
  readonly #tickets = new Map<string, string>();
  #closed = false;
  readonly #stats: Omit<VerifierStats, 'pending' | 'refused' | 'ownChannels'> = { verified: 0, byTicket: 0, challengesSent: 0, proofsWritten: 0, denialsSent: 0, proofsUnmatched: 0 };
  readonly #refused = Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<ChannelRefusal, number>;

  constructor(deps: VerifierDeps) {
    this.#d = deps;
  }

  stats(): VerifierStats {
    return { ...this.#stats, refused: { ...this.#refused }, pending: this.#pending.size, ownChannels: this.#own.size };
  }

  /** A channel refused before it reached the verifier (its first frame is not a HELLO, or we are closed). */
  count(reason: ChannelRefusal): void {
    this.#refused[reason]++;
    this.#d.refused(reason);
  }

  /** A channel we opened, with its token: CHALLENGEs about that token are answered on it. */
  registerOwn(key: string, channel: VerifiableChannel): void {
    this.#own.set(key, channel);
  }

  /** The channel we opened with that token ended. */
  forgetOwn(key: string, channel: VerifiableChannel): void {
    if (this.#own.get(key) === channel) this.#own.delete(key);
  }

  /** Channels we opened and still hold (for tests of the bound). */
  get ownChannels(): number {
    return this.#own.size;
  }

  /**
   * A CHALLENGE at `buf[at]` arrived on a transaction a peer opened: write
   * the PROOF on our channel with its token. False: we hold no such channel
   * (the caller answers with a denial).
   */
  answer(buf: Uint8Array, at: number): boolean {
    const channel = this.#own.get(challengeKey(buf, at, 0));
    if (channel === undefined || channel.isEnded) {
      this.#stats.denialsSent++;
      return false;
    }
    channel.write(encodeChallengeFrame(DLM_CMD.PROOF, this.#d.version, this.#d.nodeid, buf.subarray(at + 16, at + 24), buf.subarray(at + 24, at + 32)));
    this.#stats.proofsWritten++;
    return true;
  }

  /** The denial of a CHALLENGE at `buf[at]` (sent back on its transaction). */
  denial(buf: Uint8Array, at: number): Uint8Array {
    return encodeChallengeFrame(DLM_CMD.CHALLENGE, this.#d.version, this.#d.nodeid, buf.subarray(at + 16, at + 24), buf.subarray(at + 24, at + 32), CHALLENGE_DENIED);
  }

  /**
   * A channel a peer opened: `first` is its first message's aux, whose first
   * frame (`length` bytes) is a HELLO claiming `address`. Holds the channel
   * until it is proven (or refuses it, closing it).
   */
  admit(channel: VerifiableChannel, first: Uint8Array, length: number, address: string, hasSid: boolean): void {
    const refuse = (reason: ChannelRefusal): void => this.#refuse(channel, reason);
    if (this.#closed) return refuse('closed');
    const tokenKey = helloTokenKey(first, 0);
    if (address === '' || address === this.#d.self || !hasSid || tokenKey === NO_TOKEN) return refuse('badHello');
    // A resume ticket we gave that address, unused: the channel is its (no CHALLENGE, so no route of ours is needed).
    const ticket = helloTokenKey(first, 0, 1);
    if (ticket !== NO_TOKEN && this.#tickets.get(address) === ticket) {
      this.#tickets.delete(address);
      this.#stats.byTicket++;
      this.#hand(channel, address, first.slice(0, length), first.length > length ? first.slice(length) : null);
      return;
    }
    // Bounds: PENDING_PER_ADDRESS per claimed address, maxPending in all.
    let same = 0;
    let oldestSame: Pending | null = null;
    for (const p of this.#pending) {
      if (p.address !== address) continue;
      same++;
      oldestSame ??= p;
    }
    if (same >= PENDING_PER_ADDRESS && oldestSame !== null) this.#finish(oldestSame, 'evicted');
    if (this.#pending.size >= this.#d.maxPending) {
      let victim: Pending | null = null;
      for (const p of this.#pending) {
        if (!this.#d.isMember(p.address)) {
          victim = p;
          break;
        }
      }
      if (victim === null) return refuse('pendingFull');
      this.#finish(victim, 'pendingFull');
    }
    const nonce = random8();
    const p: Pending = {
      channel,
      address,
      hello: first.slice(0, length),
      token: first.slice(40, 40 + TOKEN_BYTES),
      nonce,
      nonceKey: hexKey(nonce),
      tokenKey,
      challengeTx: null,
      retry: null,
      deadline: null,
      done: false,
    };
    this.#pending.add(p);
    channel.bind(this.#sinkFor(p));
    p.deadline = this.#d.clock.setTimeout(() => {
      p.deadline = null;
      this.#finish(p, 'timeout');
    }, this.#d.verifyTimeoutMs);
    this.#challenge(p);
    // Whatever followed the HELLO in the first message (a PROOF cannot yet: it answers our challenge).
    if (!p.done && first.length > length) channel.receive(first.subarray(length));
  }

  /** `address` (re)joined the service: its pending channels' challenges can reach it now. */
  memberJoined(address: string): void {
    for (const p of [...this.#pending]) if (p.address === address && !p.done) this.#challenge(p);
  }

  /** Refuse every pending channel and answer no more. */
  close(): void {
    this.#closed = true;
    for (const p of [...this.#pending]) this.#finish(p, 'closed');
    this.#own.clear();
    this.#tickets.clear();
  }

  #challenge(p: Pending): void {
    if (p.done) return;
    if (p.retry !== null) this.#d.clock.clearTimeout(p.retry);
    p.retry = this.#d.clock.setTimeout(() => {
      p.retry = null;
      this.#challenge(p);
    }, CHALLENGE_RETRY_MS);
    if (!this.#d.isMember(p.address)) return; // no span to ask: on its join, or the next retry
    p.challengeTx?.close();
    p.challengeTx = null;
    let tx: { close(): void } | null;
    try {
      tx = this.#d.challenge(p.address, encodeChallengeFrame(DLM_CMD.CHALLENGE, this.#d.version, this.#d.nodeid, p.token, p.nonce), (aux) => this.#onAnswer(p, aux));
    } catch {
      tx = null;
    }
    if (tx === null) return;
    this.#stats.challengesSent++;
    if (p.done) tx.close();
    else p.challengeTx = tx;
  }

  /** What came back on our challenge transaction: only a denial means anything (the proof comes on the channel). */
  #onAnswer(p: Pending, aux: Uint8Array): void {
    if (p.done || aux.length < SIZE.CHALLENGE || frameLengthOrFail(aux, 0) < 0) return;
    const f = parseFrame(aux, 0, frameLengthOrFail(aux, 0));
    if (f.kind !== 'challenge' || (f.flags & CHALLENGE_DENIED) === 0) return;
    if (challengeKey(aux, 0, 1) !== p.nonceKey) return;
    this.#finish(p, 'denied');
  }

  #sinkFor(p: Pending): ChannelSink {
    return {
      data: (bytes) => {
        if (p.done) return;
        try {
          this.#onData(p, bytes);
        } catch {
          this.#finish(p, 'unverifiedFrame');
        }
      },
      writable: () => {},
      lost: () => this.#finish(p, null),
    };
  }

  /** Frames on a pending channel: PROOFs only. */
  #onData(p: Pending, bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length && !p.done) {
      const length = frameLengthOrFail(bytes, off);
      if (length < 0) return this.#finish(p, 'unverifiedFrame');
      const f = parseFrame(bytes, off, length);
      if (f.kind !== 'proof') return this.#finish(p, 'unverifiedFrame');
      const at = off;
      off += length;
      if (challengeKey(bytes, at, 1) !== p.nonceKey || challengeKey(bytes, at, 0) !== p.tokenKey) {
        this.#stats.proofsUnmatched++;
        continue;
      }
      this.#proven(p, off < bytes.length ? bytes.slice(off) : null);
    }
  }

  #proven(p: Pending, rest: Uint8Array | null): void {
    this.#finish(p, undefined);
    this.#hand(p.channel, p.address, p.hello, rest);
  }

  /** A proven channel to its session, then a new resume ticket on it (the session's HELLO answer goes first). */
  #hand(channel: VerifiableChannel, address: string, hello: Uint8Array, rest: Uint8Array | null): void {
    const reason = this.#d.verified(address, channel, hello);
    if (reason !== null) {
      this.#refuse(channel, reason);
      return;
    }
    this.#stats.verified++;
    if (!channel.isEnded) {
      const { token, key } = newToken();
      this.#tickets.set(address, key);
      channel.write(encodeChallengeFrame(DLM_CMD.TICKET, this.#d.version, this.#d.nodeid, token, new Uint8Array(TOKEN_BYTES)));
    }
    if (rest !== null) channel.receive(rest);
  }

  /** `address`'s session was forgotten (fenced): its ticket goes too. */
  forgetAddress(address: string): void {
    this.#tickets.delete(address);
  }

  /**
   * Ends `p`'s pending state. `reason`: refused (counted, channel closed);
   * null: the channel ended by itself; undefined: proven (kept open).
   */
  #finish(p: Pending, reason: ChannelRefusal | null | undefined): void {
    if (p.done) return;
    p.done = true;
    this.#pending.delete(p);
    if (p.retry !== null) this.#d.clock.clearTimeout(p.retry);
    if (p.deadline !== null) this.#d.clock.clearTimeout(p.deadline);
    p.retry = null;
    p.deadline = null;
    p.challengeTx?.close();
    p.challengeTx = null;
    if (reason !== null && reason !== undefined) this.#refuse(p.channel, reason);
  }

  #refuse(channel: VerifiableChannel, reason: ChannelRefusal): void {
    this.#refused[reason]++;
    this.#d.refused(reason);
    try {
      channel.close();
    } catch {
      // gone already
    }
  }
}
