/**
 * The midcomms service on a Router: every node serves `midcomms`; a session
 * with a node runs in a transaction opened on that node's instance (through
 * any number of relays), and survives the transaction: when it ends (a link
 * or relay died, the path changed) the session opens another on the best
 * remaining path and resends every unacknowledged message (§5.7).
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
import type { Router, Transaction } from '../../span/index.ts';
import type { ChannelOpener } from './channel.ts';
import { MidcommsError } from './errors.ts';
import { frameLengthAt, parseFrame } from './frame-reader.ts';
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
  #gen = 0;
  #closed = false;
  /** Channels refused because the table of sessions was full, or did not start with a HELLO. */
  refusedChannels = 0;

  constructor(router: Router, options: MidcommsServiceOptions = {}) {
    const { service, maxBatchBytes, maxSessions, ...engine } = options;
    this.#serviceName = service ?? 'midcomms';
    this.#maxBatchBytes = checkInt('maxBatchBytes', maxBatchBytes ?? 65536, 4096, 1 << 20);
    this.#maxSessions = checkInt('maxSessions', maxSessions ?? 4096, 1, 1 << 20);
    const inc = router.incarnation;
    this.#o = resolveMidcommsOptions(
      { ...(Number.isInteger(inc) && inc > 0 && inc <= 0xffffffff ? { incarnation: inc } : {}), ...engine },
      nodeidOf(router.nodeId),
    );
    this.#router = router;
    this.#service = router.serve(this.#serviceName, (tx) => this.#onTransaction(tx));
    // A node (re)joining the service: a session waiting for a path tries at once.
    this.#membership = router.members$(this.#serviceName).subscribe((e) => {
      if (e.type === 'join') this.#sessions.get(e.member.node)?.pathAvailable();
    });
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
        if (this.#sessions.get(node) === s) this.#sessions.delete(node);
      },
    });
    this.#sessions.set(node, s);
    return s;
  }

  #opener(node: string): ChannelOpener {
    return {
      open: (sink) => {
        if (this.#closed) return null;
        let tx: Transaction;
        try {
          tx = this.#router.open(this.#serviceName, MIDCOMMS_SESSION_CMD, { node });
        } catch {
          return null; // no span of that node's instance now: the session retries
        }
        const channel = new TransactionChannel(tx, { frameCmd: MIDCOMMS_FRAME_CMD, maxBatchBytes: this.#maxBatchBytes });
        channel.bind(sink);
        tx.rx$.subscribe({
          next: (m) => channel.receive(m.aux),
          complete: () => channel.ended('closed by peer'),
          error: (e: unknown) => channel.ended(`lost: ${(e as Error)?.message ?? String(e)}`),
        });
        return channel;
      },
    };
  }

  /** A channel a peer opened: its first frame (a HELLO) names the peer. */
  #onTransaction(tx: Transaction): void {
    let channel: TransactionChannel | null = null;
    const refuse = (): void => {
      this.refusedChannels++;
      try {
        tx.close();
      } catch {
        // gone already
      }
    };
    tx.rx$.subscribe({
      next: (m) => {
        if (channel !== null) return channel.receive(m.aux);
        if (m.aux.length === 0) return;
        const check = frameLengthAt(m.aux, 0);
        const hello = check.ok ? parseFrame(m.aux, 0, check.length) : null;
        if (this.#closed || hello === null || hello.kind !== 'hello' || hello.address === '' || hello.address === this.#router.nodeId) return refuse();
        const session = this.#sessions.get(hello.address) ?? this.#make(hello.address);
        if (session === null) return refuse();
        channel = new TransactionChannel(tx, { frameCmd: MIDCOMMS_FRAME_CMD, maxBatchBytes: this.#maxBatchBytes });
        channel.bind(session.accept(channel));
        channel.receive(m.aux);
      },
      complete: () => (channel !== null ? channel.ended('closed by peer') : refuse()),
      error: (e: unknown) => channel?.ended(`lost: ${(e as Error)?.message ?? String(e)}`),
    });
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
