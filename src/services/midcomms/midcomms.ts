/**
 * The midcomms service on a Router: every node serves `midcomms`; a session
 * with a node runs in a transaction opened on that node's instance (through
 * any number of relays), and survives the transaction: when it ends (a link
 * or relay died, the path changed) the session opens another on the best
 * remaining path and resends every unacknowledged message (§5.7).
 *
 * A channel a peer opens on us is read only once the node its HELLO names
 * proved it opened it (`channel-verifier.ts`): sessions take a peer's frames
 * only from channels they can attribute to that peer.
 *
 * ```ts
 * const mc = midcomms(router);
 * const s = mc.session(peerNodeId);
 * s.messages$.subscribe((m) => ...);      // in order, exactly once
 * await s.send(encodeDlmMessage(DLM_CMD.MSG, lockspace, body));
 * await s.sendAcked(bytes);                // resolves when the peer acknowledged it
 * ```
 */
import { SVC_CMD } from '../../span/index.ts';
import type { Message, Router, Transaction } from '../../span/index.ts';
import type { ChannelOpener } from './channel.ts';
import { MidcommsError } from './errors.ts';
import { ChannelVerifier, newToken } from './channel-verifier.ts';
import type { ChannelRefusal, VerifiableChannel, VerifierStats } from './channel-verifier.ts';
import { frameLengthOrFail, parseFrame } from './frame-reader.ts';
import { resolveMidcommsOptions } from './options.ts';
import type { MidcommsOptions, ResolvedMidcommsOptions } from './options.ts';
import { Session } from './session.ts';
import { TransactionChannel } from './transaction-channel.ts';

/** The session transaction and the frame-batch messages (the span layer's service command codes). */
export const MIDCOMMS_SESSION_CMD = SVC_CMD.MIDCOMMS_SESSION;
export const MIDCOMMS_FRAME_CMD = SVC_CMD.MIDCOMMS_FRAME;

export interface MidcommsServiceOptions extends MidcommsOptions {
  /** Service name served and opened. @default 'midcomms' */
  service?: string;
  /** Largest aux of one batch of frames (one DMSG message). @default 65536 */
  maxBatchBytes?: number;
  /**
   * Sessions this node keeps at once; channels from further unknown peers
   * are refused, so peers cannot grow our memory by inventing addresses.
   * @default 4096
   */
  maxSessions?: number;
  /**
   * A channel a peer opened waits this long for the proof that the node its
   * HELLO names opened it (`channel-verifier.ts`), then is refused.
   * @default 5000
   */
  verifyTimeoutMs?: number;
  /**
   * Channels waiting for that proof at once (each holds its HELLO, at most
   * 4 KiB); a full table evicts the oldest one naming no current member,
   * else refuses the newcomer. @default 64
   */
  maxPendingChannels?: number;
}

/** FNV-1a of the router's node id: a stable DLM node id (u32, not 0). */
export function nodeidOf(nodeId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < nodeId.length; i++) {
    h ^= nodeId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

export class Midcomms {
  readonly #router: Router;
  readonly #o: ResolvedMidcommsOptions;
  readonly #serviceName: string;
  readonly #maxBatchBytes: number;
  readonly #maxSessions: number;
  readonly #sessions = new Map<string, Session>();
  readonly #service: { close(): void };
  readonly #membership: { unsubscribe(): void };
  readonly #verifier: ChannelVerifier;
  #gen = 0;
  #closed = false;
  /**
   * Channels peers opened that we refused: not starting with a HELLO, a bad
   * HELLO, never proven to be the claimed node's, or the table of sessions
   * full (by reason: `verification().refused`).
   */
  refusedChannels = 0;

  constructor(router: Router, options: MidcommsServiceOptions = {}) {
    const { service, maxBatchBytes, maxSessions, verifyTimeoutMs, maxPendingChannels, ...engine } = options;
    this.#serviceName = service ?? 'midcomms';
    this.#maxBatchBytes = checkInt('maxBatchBytes', maxBatchBytes ?? 65536, 4096, 1 << 20);
    this.#maxSessions = checkInt('maxSessions', maxSessions ?? 4096, 1, 1 << 20);
    const verifyTimeout = checkInt('verifyTimeoutMs', verifyTimeoutMs ?? 5000, 1, 3_600_000);
    const maxPending = checkInt('maxPendingChannels', maxPendingChannels ?? 64, 1, 1 << 16);
    const inc = router.incarnation;
    this.#o = resolveMidcommsOptions(
      { ...(Number.isInteger(inc) && inc > 0 && inc <= 0xffffffff ? { incarnation: inc } : {}), ...engine },
      nodeidOf(router.nodeId),
    );
    this.#router = router;
    this.#verifier = new ChannelVerifier({
      clock: this.#o.clock,
      version: this.#o.version,
      nodeid: this.#o.nodeid,
      maxPending,
      verifyTimeoutMs: verifyTimeout,
      self: router.nodeId,
      challenge: (address, frame, answer) => this.#sendChallenge(address, frame, answer),
      isMember: (address) => this.#router.members(this.#serviceName).some((m) => m.node === address),
      verified: (address, channel, hello) => this.#verified(address, channel, hello),
      refused: () => {
        this.refusedChannels++;
      },
    });
    this.#service = router.serve(this.#serviceName, (tx) => this.#onTransaction(tx));
    // A node (re)joining the service: a session waiting for a path tries at once.
    this.#membership = router.members$(this.#serviceName).subscribe((e) => {
      if (e.type !== 'join') return;
      this.#sessions.get(e.member.node)?.pathAvailable();
      this.#verifier.memberJoined(e.member.node);
    });
  }

  /** How channels peers opened were verified or refused (see `channel-verifier.ts`). */
  verification(): VerifierStats {
    return this.#verifier.stats();
  }

  /** Our DLM node id (`h_nodeid` of what we send). */
  get nodeid(): number {
    return this.#o.nodeid;
  }

  /**
   * The session with `node`, made on first use: a router node id, or the
   * name of a router that serves midcomms now (sessions are filed by id).
   */
  session(node: string): Session {
    if (this.#closed) throw new MidcommsError('CLOSED', 'this midcomms is closed');
    node = this.#resolve(node);
    if (node === this.#router.nodeId) throw new MidcommsError('INVALID_ARGUMENT', 'no session with ourselves (self is never a member, §5.9)');
    const s = this.#sessions.get(node) ?? this.#make(node);
    if (s === null) throw new MidcommsError('INVALID_ARGUMENT', `maxSessions (${this.#maxSessions}) reached`);
    return s;
  }

  /** Sessions now, by node. */
  sessions(): ReadonlyMap<string, Session> {
    return this.#sessions;
  }

  #resolve(node: string): string {
    if (this.#sessions.has(node)) return node;
    const members = this.#router.members(this.#serviceName);
    if (members.some((m) => m.node === node)) return node;
    return members.find((m) => m.name === node)?.node ?? node;
  }

  /** A lockspace gained `node` (§5.9). */
  addMember(node: string): void {
    this.session(node).addMember();
  }

  /** A lockspace lost `node` (§5.9). */
  removeMember(node: string): void {
    this.#sessions.get(this.#resolve(node))?.removeMember();
  }

  /** Fence `node`: its session goes CLOSED at once and is forgotten. */
  close(node: string): void {
    this.#sessions.get(this.#resolve(node))?.close();
  }

  /** Active close of every session (§5.8); settles when each is CLOSED or timed out. */
  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.shutdown()));
  }

  /** Fence every session and withdraw the service. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#verifier.close();
    for (const s of [...this.#sessions.values()]) s.close();
    this.#membership.unsubscribe();
    this.#service.close();
  }

  #make(node: string): Session | null {
    if (this.#sessions.size >= this.#maxSessions) return null;
    const s = new Session(node, this.#opener(node), this.#o, {
      address: this.#router.nodeId,
      nextGen: () => ++this.#gen,
      onFenced: () => {
        if (this.#sessions.get(node) !== s) return;
        this.#sessions.delete(node);
        this.#verifier.forgetAddress(node);
      },
    });
    this.#sessions.set(node, s);
    return s;
  }

  #opener(node: string): ChannelOpener {
    return {
      // The peer verifies our channel (a CHALLENGE about its token) before it answers our HELLO.
      awaitsReply: true,
      open: (sink) => {
        if (this.#closed) return null;
        let tx: Transaction;
        try {
          tx = this.#router.open(this.#serviceName, MIDCOMMS_SESSION_CMD, { node });
        } catch {
          return null; // no span of that node's instance now: the session retries
        }
        const { token, key } = newToken();
        const channel: TransactionChannel = new TransactionChannel(tx, {
          frameCmd: MIDCOMMS_FRAME_CMD,
          maxBatchBytes: this.#maxBatchBytes,
          token,
          onEnd: () => this.#verifier.forgetOwn(key, channel),
        });
        this.#verifier.registerOwn(key, channel);
        channel.bind(sink);
        channel.observe();
        return channel;
      },
    };
  }

  /**
   * A transaction a peer opened: a channel (its first frame, a HELLO, claims
   * an address; the verifier holds it until that node proves it opened it),
   * or a CHALLENGE about one of our channels (answered, then closed).
   */
  #onTransaction(tx: Transaction): void {
    tx.subscribeRaw(new AcceptedRx(tx, this.#acceptor));
  }

  /** What AcceptedRx asks of the service (one object per service, not closures per transaction). */
  readonly #acceptor: Acceptor = {
    firstAux: (tx, aux) => this.#firstAux(tx, aux),
    refuse: (tx, reason) => this.#refuse(tx, reason),
  };

  /**
   * The first aux of a transaction a peer opened (AcceptedRx): a CHALLENGE
   * is answered; a HELLO makes the channel (returned), which waits for the
   * verifier; anything else is refused. Null: no channel.
   */
  #firstAux(tx: Transaction, aux: Uint8Array): TransactionChannel | null {
    const length = frameLengthOrFail(aux, 0);
    const f = length < 0 ? null : parseFrame(aux, 0, length);
    if (f?.kind === 'challenge') {
      this.#onChallenge(tx, aux);
      return null;
    }
    if (this.#closed) return this.#refuse(tx, 'closed');
    if (f === null || f.kind !== 'hello') return this.#refuse(tx, 'notHello');
    const channel = new TransactionChannel(tx, { frameCmd: MIDCOMMS_FRAME_CMD, maxBatchBytes: this.#maxBatchBytes });
    this.#verifier.admit(channel, aux, length, f.address, f.sid !== null);
    return channel;
  }

  /** Refuse a transaction a peer opened: counted, and closed. */
  #refuse(tx: Transaction, reason: ChannelRefusal): null {
    this.#verifier.count(reason);
    closeTx(tx);
    return null;
  }

  /** A CHALLENGE: the PROOF goes on our channel with that token, else a denial on this transaction. */
  #onChallenge(tx: Transaction, aux: Uint8Array): void {
    if (!this.#closed && !this.#verifier.answer(aux, 0)) {
      try {
        if (tx.canSend) tx.send(MIDCOMMS_FRAME_CMD, { aux: this.#verifier.denial(aux, 0) });
      } catch {
        // gone already
      }
    }
    closeTx(tx);
  }

  /** Sends a CHALLENGE to `address`'s instance on a transaction we open (what comes back on it is that node's). */
  #sendChallenge(address: string, frame: Uint8Array, answer: (aux: Uint8Array) => void): { close(): void } | null {
    if (this.#closed) return null;
    let tx: Transaction;
    try {
      tx = this.#router.open(this.#serviceName, MIDCOMMS_SESSION_CMD, { node: address, aux: frame });
    } catch {
      return null;
    }
    tx.rx$.subscribe({ next: (m) => answer(m.aux), error: () => {} });
    return {
      close: () => {
        try {
          tx.close();
        } catch {
          // gone already
        }
      },
    };
  }

  /** A channel proven to be `address`'s: to its session, HELLO first. */
  #verified(address: string, channel: VerifiableChannel, hello: Uint8Array): ChannelRefusal | null {
    if (this.#closed) return 'closed';
    const session = this.#sessions.get(address) ?? this.#make(address);
    if (session === null) return 'sessionsFull';
    channel.bind(session.accept(channel));
    channel.receive(hello);
    return null;
  }
}

/** Close our side of `tx`, if it is not gone already. */
function closeTx(tx: Transaction): void {
  try {
    tx.close();
  } catch {
    // gone already
  }
}

/** What AcceptedRx asks of the midcomms service. */
interface Acceptor {
  /** The first aux of a transaction a peer opened: the channel it makes, or null (answered or refused). */
  firstAux(tx: Transaction, aux: Uint8Array): TransactionChannel | null;
  /** Refuse it (counted, closed). */
  refuse(tx: Transaction, reason: ChannelRefusal): null;
}

/**
 * The rx$ observer of a transaction a peer opened: its first aux (in the
 * CREATE, or the first message with aux) goes to the service
 * (`Acceptor.firstAux`: a channel, a CHALLENGE answered, or a refusal); once a
 * channel is made, every aux goes to it. A raw observer (the iocom's receive
 * tap): a mid-stream message's aux comes to `rawNext` exactly as `next`
 * would take it from the decoded message.
 */
class AcceptedRx {
  readonly #tx: Transaction;
  readonly #service: Acceptor;
  #channel: TransactionChannel | null = null;
  #first = true;
  constructor(tx: Transaction, service: Acceptor) {
    this.#tx = tx;
    this.#service = service;
  }

  next(m: Message): void {
    this.#aux(m.aux);
  }

  rawNext(_cmd: number, _error: number, aux: Uint8Array): void {
    this.#aux(aux);
  }

  #aux(aux: Uint8Array): void {
    const channel = this.#channel;
    if (channel !== null) return channel.receive(aux);
    if (!this.#first || aux.length === 0) return;
    this.#first = false;
    this.#channel = this.#service.firstAux(this.#tx, aux);
  }

  complete(): void {
    if (this.#channel !== null) this.#channel.ended('closed by peer');
    else if (this.#first) this.#service.refuse(this.#tx, 'notHello');
  }

  error(e: unknown): void {
    this.#channel?.ended(`lost: ${(e as Error)?.message ?? String(e)}`);
  }
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new MidcommsError('INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

/** The midcomms service on `router` (see `Midcomms`). */
export function midcomms(router: Router, options: MidcommsServiceOptions = {}): Midcomms {
  return new Midcomms(router, options);
}
