/**
 * What a node proposes as the next view, from what it sees: the nodes serving
 * the lockspace (spans) with their incarnations. Pure data, no I/O.
 *
 * A node seen again with a new incarnation restarted: it lost its locks and
 * its lockspace state, so the survivors must treat it as departed. The
 * proposal leaves it out until a committed view does, then takes it back:
 * two views, "departed" then "added", and the lockspace's recovery purges
 * its old locks in between (the applier also passes it in `departed` when
 * both views are applied at once).
 */
import type { NodeId } from './types.ts';

/** One node serving the lockspace, as the mesh reports it. */
export interface SeenMember {
  readonly nodeid: NodeId;
  /** The router's run incarnation (changes on restart); null when unknown. */
  readonly incarnation: number | null;
}

export class MembershipTracker {
  readonly self: NodeId;
  readonly #voters: readonly NodeId[];
  /** Latest incarnation seen per node (kept across leaves, to spot a restart). */
  readonly #incarnations = new Map<NodeId, number>();
  /** Restarted nodes waiting for a committed view without them. */
  readonly #pending = new Set<NodeId>();
  #alive: NodeId[] = [];
  /** Members of the latest committed view (view 0: the voters). */
  #committed: readonly NodeId[];
  /** Nodes serving the lockspace that are not voters (they cannot be members; counted, ignored). */
  nonVoters = 0;
  /** Restarts seen (a node back with a new incarnation). */
  restartsSeen = 0;

  constructor(self: NodeId, voters: readonly NodeId[]) {
    this.self = self;
    this.#voters = [...voters];
    this.#committed = [...voters];
  }

  /** The members the mesh shows now (this node included or not). */
  observe(members: readonly SeenMember[]): void {
    const alive = new Set<NodeId>([this.self]);
    let nonVoters = 0;
    for (const m of members) {
      if (!this.#voters.includes(m.nodeid)) {
        nonVoters++;
        continue;
      }
      alive.add(m.nodeid);
      if (m.nodeid === this.self || m.incarnation === null) continue;
      const before = this.#incarnations.get(m.nodeid);
      if (before !== undefined && before !== m.incarnation) {
        this.restartsSeen++;
        // Already out of the latest committed view: its old state is gone from the others; it just comes back.
        if (this.#committed.includes(m.nodeid)) this.#pending.add(m.nodeid);
      }
      this.#incarnations.set(m.nodeid, m.incarnation);
    }
    this.nonVoters = nonVoters;
    this.#alive = [...alive].sort((a, b) => a - b);
  }

  /** A view was committed: restarted nodes it leaves out have departed and may come back. */
  committed(members: readonly NodeId[]): void {
    this.#committed = [...members];
    for (const n of [...this.#pending]) if (!members.includes(n)) this.#pending.delete(n);
  }

  /** Restarted nodes still waiting to be left out by a committed view. */
  get pendingDeparture(): readonly NodeId[] {
    return [...this.#pending].sort((a, b) => a - b);
  }

  /**
   * The members to propose: the live voters (this node always), without
   * restarted nodes not yet departed.
   *
   * A view must hold a majority of the voters. When fewer are live (e.g.
   * most nodes restarted and wait, not serving the lockspace, for a view
   * that leaves them out), the proposal keeps just enough members of the
   * latest committed view to reach the majority, taken from `reachable`
   * (the voters still answering this node's views protocol: restarted nodes
   * follow and acknowledge while they wait; highest ids first), and drops
   * the rest: those nodes end their rejoining, come back as fresh members,
   * and the next proposal drops the others. Never adds a node the committed
   * view did not have; with nothing to drop it repeats that view (no new
   * entry); with too few reachable it proposes the live voters only (a
   * cut-off node). Without this rule a majority of restarted nodes could
   * never be left out and no view would ever be committed again.
   */
  proposal(reachable: ReadonlySet<NodeId> = new Set()): NodeId[] {
    const base = this.#alive.filter((n) => !this.#pending.has(n));
    const need = Math.floor(this.#voters.length / 2) + 1;
    if (base.length >= need) return base;
    const fill = this.#committed.filter((n) => !base.includes(n) && reachable.has(n)).sort((a, b) => b - a);
    if (base.length + fill.length < need) return base;
    return [...base, ...fill.slice(0, need - base.length)].sort((a, b) => a - b);
  }
}
