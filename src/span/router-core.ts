/**
 * The state one Router shares between its parts (the LNK_CONN handshake,
 * span intake, relay execution, withdrawal, discovery, dispatch and the debug
 * shell): the span table, the links, the spans received on them, the local
 * advertisements, what is remembered as lost, and counters. The parts are
 * plain modules over this object; `Router` is the facade that wires them.
 *
 * Routing state never goes in `Transaction.context` (that belongs to the
 * application): the router keeps the role of each of its transactions in a
 * WeakMap here.
 *
 * @internal
 */
import { randomInt } from 'node:crypto';
import { DMSG_ERR } from '../wire/constants.ts';
import type { Transaction } from '../iocom/transaction.ts';
import type { IocomOptions } from '../iocom/options.ts';
import type { Clock } from '../util/clock.ts';
import type { LnkConnLayout } from '../wire/ext/lnk-conn.ts';
import { LOSS_MEMORY_SIZE, LossMemory } from './loss-memory.ts';
import type { RootCause } from './root-cause.ts';
import type { SpanTable, NodeKey } from './span-table.ts';
import type { ConnState, LocalAd, TransactionOpener } from './router-types.ts';
import { TxSlotMap } from './tx-slots.ts';

/** What a transaction of the router's own is for. */
export type TxRole =
  /** A LNK_SPAN we relay (or advertise) on a link. */
  | { readonly kind: 'relay-span'; readonly relayId: string }
  /** A LNK_SPAN a peer sent us. */
  | { readonly kind: 'received-span'; readonly linkId: string }
  /** A transaction opened on one of our local services (and its sub-transactions). */
  | { readonly kind: 'local-service'; readonly linkId: string };

/** The Router's resolved own options (the span-table ones live in the table). */
export interface CoreOptions {
  readonly peerType: number;
  readonly peerMask: bigint;
  readonly pfsMask: bigint;
  readonly clusterLabel: string;
  readonly connLayout: LnkConnLayout;
  readonly localRnss: number;
}

export class RouterCore {
  readonly nodeId: string;
  readonly name: string;
  readonly opts: CoreOptions;
  readonly iocomOpts: IocomOptions;
  readonly table: SpanTable;
  readonly clock: Clock;
  /** This run of the router: random, non-zero; carried in our spans' path records (v4). */
  readonly incarnation = randomInt(1, 0xffffffff);
  readonly conns = new Map<string, ConnState>();
  /** Received span transactions by link id. */
  readonly received = new Map<string, Transaction>();
  readonly locals = new Map<string, LocalAd>();
  /** Withdrawn advertisements and lost links, so stale copies are refused. */
  readonly lost: LossMemory;
  /** The role of each of the router's own transactions (never Transaction.context). */
  readonly roles = new TxSlotMap<TxRole>(this, 'role');
  /** Where sub-transactions of a transaction handed to the application are opened (its link or local side). */
  readonly hosts = new TxSlotMap<TransactionOpener>(this, 'host');
  readonly #log: ((line: string) => void) | undefined;
  readonly #incarnationBase = randomInt(1, 0xffffffff);
  spanMessagesSent = 0;
  spansRefused = 0;
  nextConn = 1;
  nextLink = 1;
  closed = false;
  /** Set by the Router: replan and publish one node. */
  nodeChanged: (key: NodeKey) => void = () => {};
  /** Set by the Router: replan every node (a conn came or went). */
  replanAll: () => void = () => {};
  /**
   * Set by the Router: replan and publish one node soon (batched, see
   * replan-queue.ts), its relay DELETEs carrying `cause`. For mass removals.
   */
  nodeChangedLater: (key: NodeKey, cause: RootCause | null) => void = () => {};
  /** Set by the Router: replan every node soon (batched). */
  replanAllLater: () => void = () => {};
  /** Set by the Router: the peer on `connId` closed its CONN; drop what we relay there. */
  connClosed: (connId: string) => void = () => {};

  constructor(init: { nodeId: string; name: string; opts: CoreOptions; iocomOpts: IocomOptions; table: SpanTable; clock: Clock; log?: (line: string) => void }) {
    this.nodeId = init.nodeId;
    this.name = init.name;
    this.opts = init.opts;
    this.iocomOpts = init.iocomOpts;
    this.table = init.table;
    this.clock = init.clock;
    this.lost = new LossMemory(LOSS_MEMORY_SIZE, { clock: init.clock, ttlMs: init.table.options.lossMemoryMs });
    this.#log = init.log;
  }

  log(line: string): void {
    this.#log?.(`[${this.name}] ${line}`);
  }

  /**
   * The incarnation of a link: its conn sequence number plus a random base
   * per router, so a restarted router with a fixed node id does not reuse
   * the incarnations of links others remember as lost.
   */
  linkIncarnation(connId: string): number {
    return (this.#incarnationBase + Number(connId.slice(1))) >>> 0;
  }

  /** Answer a peer's transaction with a final error (after its CREATE is delivered). */
  refuse(tx: Transaction, error: number = DMSG_ERR.NOSUPP): void {
    tx.rx$.subscribe({ error: () => {} });
    queueMicrotask(() => {
      if (tx.canSend) tx.reply(error);
    });
  }
}
