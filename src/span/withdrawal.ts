/**
 * Ending paths: an advertisement withdrawn by its originator, and links lost
 * somewhere upstream (root-cause notification, see root-cause.ts). Both are
 * remembered in LossMemory so stale copies still on their way are refused
 * instead of explored.
 *
 * Cost: removing the paths over one lost link looks them up in the span
 * table's edge index, O(paths removed × log), never a walk of the table.
 */
import type { RelayExecutor } from './relay-executor.ts';
import type { RootCause } from './root-cause.ts';
import type { RouterCore } from './router-core.ts';
import { DMSG_ERR_WITHDRAWN } from './router-types.ts';
import type { NodeKey } from './span-table.ts';

export class Withdrawal {
  readonly #core: RouterCore;
  readonly #relays: RelayExecutor;

  constructor(core: RouterCore, relays: RelayExecutor) {
    this.#core = core;
    this.#relays = relays;
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
    for (const link of core.table.linksOverEdge(cause.a, cause.b, cause.inc)) {
      if (link.connId === null) continue;
      core.table.remove(link.linkId);
      core.received.delete(link.linkId);
      changed.add(link.nodeKey);
    }
    for (const key of changed) core.nodeChanged(key);
  }

  /** pruneLink with the DELETEs it causes carrying `cause`. */
  lostLink(cause: RootCause): void {
    this.#relays.withRootCause(cause, () => this.pruneLink(cause));
  }
}
