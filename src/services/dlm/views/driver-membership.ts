/**
 * What a node proposes as the next view, from what it sees: the nodes serving
 * the lockspace (spans) with their incarnations. Pure data, no I/O.
 *
 * A node seen again with a new incarnation restarted: it lost its locks and
 * its lockspace state, so the survivors must treat it as departed.
 *
 * - By incarnation (`byIncarnation`, the mesh: views name each member's
 *   incarnation): the proposal names it with its new incarnation, a new view
 *   by itself, and the applier passes it in `departed` (one view, one
 *   recovery). Members whose incarnation is unknown are not proposed.
 * - Otherwise: the proposal leaves it out until a committed view does, then
 *   takes it back: two views, "departed" then "added", and the lockspace's
 *   recovery purges its old locks in between (the applier also passes it in
 *   `departed` when both views are applied at once).
 */
import type { Entry, NodeId } from './types.ts';

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

  /** Restarts are told apart by incarnation in the views (see the header). */
  readonly byIncarnation: boolean;
  /**
   * Per node, incarnations a later view entry replaced by another (old runs):
   * never proposed again, even while the mesh still lists an old run's span.
   */
  readonly #retired = new Map<NodeId, Set<number>>();
  /** Per node, the incarnation the latest view entry names (0: none known). */
  readonly #named = new Map<NodeId, number>();
  #logSeen = 0;
  /** Order in which (node, incarnation) pairs were first seen (a later run is seen later). */
  readonly #firstSeen = new Map<string, number>();
  #seq = 0;

  constructor(self: NodeId, voters: readonly NodeId[], options: { byIncarnation?: boolean } = {}) {
    this.self = self;
    this.byIncarnation = options.byIncarnation ?? false;
    this.#voters = [...voters];
    this.#committed = [...voters];
  }

  /**
   * Learn from the views log (any entries, committed or not) which runs were
   * replaced: an incarnation named for a node by one view entry and replaced
   * by another in a later one is an old run. Cheap to call often (only new
   * entries are read; a log truncated by Raft is read again from the start).
   */
  learnLog(log: readonly Entry[]): void {
    if (log.length < this.#logSeen) this.#logSeen = 0;
    for (let i = this.#logSeen; i < log.length; i++) {
      const e = log[i]!;
      if (e.kind !== 'view' || !e.incarnations) continue;
      e.members.forEach((n, k) => {
        const inc = e.incarnations![k] ?? 0;
        if (inc === 0) return;
        const before = this.#named.get(n);
        if (before !== undefined && before !== 0 && before !== inc) (this.#retired.get(n) ?? this.#retired.set(n, new Set()).get(n)!).add(before);
        this.#named.set(n, inc);
      });
    }
    this.#logSeen = log.length;
  }

  /** The members the mesh shows now (this node included or not). */
  observe(members: readonly SeenMember[]): void {
    const alive = new Set<NodeId>([this.self]);
    let nonVoters = 0;
    /** Per node, its runs the mesh lists now (a restarted router's old span may linger a while). */
    const runs = new Map<NodeId, number[]>();
    for (const m of members) {
      if (!this.#voters.includes(m.nodeid)) {
        nonVoters++;
        continue;
      }
      if (m.nodeid === this.self) continue;
      if (m.incarnation === null) {
        if (!this.byIncarnation) alive.add(m.nodeid); // by incarnation, a member must be named with its run
        continue;
      }
      const key = `${m.nodeid}:${m.incarnation}`;
      if (!this.#firstSeen.has(key)) this.#firstSeen.set(key, ++this.#seq);
      if (this.#retired.get(m.nodeid)?.has(m.incarnation)) continue; // an old run's span: not the node
      (runs.get(m.nodeid) ?? runs.set(m.nodeid, []).get(m.nodeid)!).push(m.incarnation);
    }
    for (const [nodeid, incs] of runs) {
      // Several runs listed: the newest is the one not yet named by the views, else the one seen last.
      const named = this.#named.get(nodeid);
      const order = (x: number): number => (x === named ? -1 : this.#firstSeen.get(`${nodeid}:${x}`)!);
      const incarnation = incs.reduce((a, b) => (order(b) > order(a) ? b : a));
      alive.add(nodeid);
      const before = this.#incarnations.get(nodeid);
      if (before !== undefined && before !== incarnation) {
        this.restartsSeen++;
        // Already out of the latest committed view: its old state is gone from the others; it just comes back.
        // By incarnation the new incarnation itself makes the next view a new one.
        if (this.#committed.includes(nodeid) && !this.byIncarnation) this.#pending.add(nodeid);
      }
      this.#incarnations.set(nodeid, incarnation);
    }
    if (this.#firstSeen.size > 64 * this.#voters.length) this.#firstSeen.clear(); // bounded: a long-lived node sees many runs
    this.nonVoters = nonVoters;
    this.#alive = [...alive].sort((a, b) => a - b);
  }

  /** A view was committed: restarted nodes it leaves out have departed and may come back. */
  committed(members: readonly NodeId[]): void {
    this.#committed = [...members];
    for (const n of [...this.#pending]) if (!members.includes(n)) this.#pending.delete(n);
  }

  /** The latest incarnation seen of each node (for the proposal; unknown nodes absent). */
  get incarnations(): Record<number, number> {
    return Object.fromEntries(this.#incarnations);
  }

  /**
   * The run to name each of `members` with (a proposal's incarnations): the
   * run seen serving the lockspace, else (a member `proposal` kept from the
   * committed view, not seen serving) the run the views last named for it;
   * absent when unknown (the leader then leaves that member out of a view
   * naming runs). Never the last run merely *seen* of a node not serving:
   * that may be a dead run the views already replaced.
   */
  runsOf(members: readonly NodeId[]): Record<number, number> {
    const out: Record<number, number> = {};
    for (const n of members) {
      const r = this.#alive.includes(n) ? this.#incarnations.get(n) : this.#named.get(n);
      if (r !== undefined && r !== 0) out[n] = r;
    }
    return out;
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
