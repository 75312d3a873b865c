/**
 * Ending paths: an advertisement withdrawn by its originator, and links lost
 * somewhere upstream (root-cause notification, see root-cause.ts). Both are
 * remembered in LossMemory so stale copies still on their way are refused
 * instead of explored. After a lost link, the instances whose dead offers we
 * pruned before their senders closed them are held (repair-hold.ts) until
 * the neighbours that go first have sent their replacements; the holds run
 * on the router's clock. An instance whose originator looks dead (paths
 * pruned for two different lost links next to it) is held until no path is
 * left, so its routers do not re-announce one doomed path after another
 * (origin-loss-hold.ts).
 *
 * Cost: removing the paths over one lost link looks them up in the span
 * table's edge index, O(paths removed × log), never a walk of the table.
 */
import type { RelayExecutor } from './relay-executor.ts';
import { OriginLossHolds } from './origin-loss-hold.ts';
import { RepairHolds, goesFirst, type HoldVerdict } from './repair-hold.ts';
import { pathUsesLink, type RootCause } from './root-cause.ts';
import type { RouterCore } from './router-core.ts';
import { DMSG_ERR_WITHDRAWN } from './router-types.ts';
import type { NodeKey, SpanLink } from './span-table.ts';

/** A repair hold's verdict, or an origin-loss hold's: wait, but close the relays whose paths died (`deadOnly`). */
export type WithdrawalVerdict = HoldVerdict | { readonly wait: true; readonly deadOnly: true };

export class Withdrawal {
  readonly #core: RouterCore;
  readonly #relays: RelayExecutor;
  /** Instances not replanned after a lost link until the neighbours that go first have sent their replacements (repair-hold.ts). */
  readonly #holds: RepairHolds<NodeKey>;
  /** Instances not replanned while their originator looks dead and paths to it remain (origin-loss-hold.ts). */
  readonly #originHolds: OriginLossHolds<NodeKey>;

  constructor(core: RouterCore, relays: RelayExecutor) {
    this.#core = core;
    this.#relays = relays;
    this.#holds = new RepairHolds<NodeKey>({
      clock: core.clock,
      onExpire: (key, cause) => relays.withRootCause(cause, () => core.nodeChanged(key)),
    });
    this.#originHolds = new OriginLossHolds<NodeKey>({
      clock: core.clock,
      holdMs: core.table.options.originLossHoldMs,
      onExpire: (key, cause) => relays.withRootCause(cause, () => core.nodeChanged(key)),
    });
  }


  /** Instances held now. */
  get holds(): number {
    return this.#holds.size;
  }

  /** Holds that ended by their time limit (0 after a single loss in a quiet mesh). */
  get holdsExpired(): number {
    return this.#holds.expired;
  }

  /** Is instance `key` held (not to be replanned yet)? */
  isHeld(key: NodeKey): boolean {
    return this.#holds.isHeld(key) || this.#originHolds.isHeld(key);
  }

  /**
   * Instance `key` changed: may it be planned and published now? Ends its
   * hold when no neighbour it waits for could still offer as good a path as
   * its best one now (`cause`: the hold's lost link, for the relay DELETEs).
   */
  evaluate(key: NodeKey): WithdrawalVerdict {
    const best = this.#core.table.node(key)?.links[0];
    const verdict = this.#holds.evaluate(key, best ? best.fields.dist : null);
    if (verdict.wait) return verdict;
    const origin = this.#originHolds.evaluate(key, best !== undefined);
    if (origin === null) return verdict;
    if (origin === 'wait') return { wait: true, deadOnly: true };
    return { wait: false, cause: origin };
  }

  /**
   * Our own link to the originator of instance `key` was lost (`cause`):
   * one lost link next to the originator (origin-loss-hold.ts).
   */
  lostNextToOrigin(key: NodeKey, cause: RootCause): void {
    this.#originHolds.lostNextToOrigin(key, cause);
  }

  /**
   * The sender of received span `linkId` closed it (or its link went down):
   * the instance that waited for it, if any (the caller replans it).
   */
  settle(linkId: string): NodeKey | undefined {
    return this.#holds.settle(linkId);
  }

  /** Forget every hold and stop their timers (the router is closing). */
  close(): void {
    this.#holds.clearAll();
    this.#originHolds.clearAll();
  }

  /**
   * An advertisement (instance `key`, `epoch`) was withdrawn by its
   * originator: forget every path to it, close our relays of it with
   * WITHDRAWN (make no backup relay: every backup is a stale copy), and
   * refuse it from now on. Received copies stay open until their senders
   * close them, but no longer count.
   */
  withdraw(key: NodeKey, epoch: number): void {
    const core = this.#core;
    core.lost.withdraw(key, epoch);
    this.#holds.clear(key);
    this.#originHolds.clear(key);
    const node = core.table.node(key);
    for (const link of node ? [...node.links] : []) {
      if (link.fields.epoch !== epoch) continue;
      core.table.remove(link.linkId);
      core.received.delete(link.linkId);
    }
    for (const relay of this.#relays.ofNode(key)) {
      if (relay.fields.epoch === epoch) this.#relays.delete(relay.relayId, DMSG_ERR_WITHDRAWN);
    }
    core.nodeChanged(key);
  }

  /**
   * A link somewhere upstream was lost: every path over it is dead. Drop
   * those links now (their senders will close them) and replan, so the loss
   * travels with the DELETEs instead of being discovered path by path.
   */
  pruneLink(cause: RootCause): void {
    const core = this.#core;
    // Remember it: a copy of a path over the lost link that is still on its
    // way here is refused, not explored (a restored link has a new incarnation).
    core.lost.loseLink(cause);
    const changed = new Set<NodeKey>();
    /** Best dist of each changed instance before this prune. */
    const oldBest = new Map<NodeKey, number>();
    for (const link of core.table.linksOverEdge(cause.a, cause.b, cause.inc)) {
      if (link.connId === null) continue;
      let best = oldBest.get(link.nodeKey);
      if (best === undefined) oldBest.set(link.nodeKey, (best = core.table.node(link.nodeKey)!.links[0]!.fields.dist));
      // Its sender has not closed it yet: it will send its replacement first.
      if (core.received.has(link.linkId)) {
        this.#holds.pruned(link.nodeKey, best, { linkId: link.linkId, dist: link.fields.dist }, cause, this.#goesFirst(link, cause));
      }
      // A lost link next to the instance's originator: two of them start an origin-loss hold.
      if (link.path[0] === cause.a) this.#originHolds.lostNextToOrigin(link.nodeKey, cause);
      core.table.remove(link.linkId);
      core.received.delete(link.linkId);
      changed.add(link.nodeKey);
    }
    for (const key of changed) core.nodeChanged(key);
  }

  /** Does the sender of dead offer `link` go first (we wait for its replacement), or wait for ours (repair-hold.ts goesFirst)? */
  #goesFirst(link: SpanLink, cause: RootCause): boolean {
    let ours: number | null = null;
    for (const r of this.#relays.ofNode(link.nodeKey)) {
      if (r.connId === link.connId && pathUsesLink(r.path, r.fields.hops, cause)) ours = ours === null ? r.fields.dist : Math.min(ours, r.fields.dist);
    }
    return goesFirst(link.fields.dist, ours, link.peerNodeId ?? '', this.#core.nodeId);
  }

  /** pruneLink with the DELETEs it causes carrying `cause`. */
  lostLink(cause: RootCause): void {
    this.#relays.withRootCause(cause, () => this.pruneLink(cause));
  }
}
