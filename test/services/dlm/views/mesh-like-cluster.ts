/**
 * FakeCluster (by incarnation) whose proposals are made as the mesh binding
 * makes them (driver-mesh.ts): a MembershipTracker per node over what spans
 * would show, where a dead run's span lingers for a while (next to its
 * successor's), a new run shows up late, and a leader short of a majority
 * keeps committed members that still answer it (the tracker's fill). Every
 * boot and fence is recorded among the target calls (`boot` markers) for
 * the departed-agreement check. Deterministic (seeded).
 */
import { MembershipTracker } from '../../../../src/services/dlm/views/driver-membership.ts';
import type { MemoryViewsStore } from '../../../../src/services/dlm/views/index.ts';
import type { AgreementCall } from './departed-agreement.ts';
import { FakeCluster, type Node } from './driver-harness.ts';

export class MeshLikeCluster extends FakeCluster {
  // Set lazily: FakeCluster's constructor boots the nodes before subclass fields would be initialised.
  declare trackers: Map<number, MembershipTracker>;
  declare absent: Map<number, Map<number, number>>;
  /** Dead runs whose spans are still listed, until `until`. */
  declare linger: { node: number; inc: number; until: number }[];
  /** When each run's span shows up. */
  declare visibleAt: Map<number, number>;
  declare rand: () => number;
  /** Longest time a dead run's span lingers / a new run takes to show (ms). */
  declare lingerMs: number;
  declare showMs: number;

  /** Seeded: `rand` draws the linger and show delays. */
  configure(rand: () => number, lingerMs: number, showMs: number): this {
    this.rand = rand;
    this.lingerMs = lingerMs;
    this.showMs = showMs;
    return this;
  }

  get agreementCalls(): AgreementCall[] {
    return this.calls as unknown as AgreementCall[];
  }

  override boot(id: number, store: MemoryViewsStore): Node {
    this.trackers ??= new Map();
    this.absent ??= new Map();
    this.linger ??= [];
    this.visibleAt ??= new Map();
    this.rand ??= () => 0;
    this.lingerMs ??= 0;
    this.showMs ??= 0;
    this.agreementCalls.push({ node: id, call: 'boot' });
    const n = super.boot(id, store);
    this.trackers.set(id, new MembershipTracker(id, this.voters, { byIncarnation: true }));
    this.absent.set(id, new Map());
    this.visibleAt.set(n.incarnation, this.clock.now() + Math.floor(this.rand() * this.showMs));
    return n;
  }

  override crash(id: number): void {
    const n = this.nodes.get(id);
    if (n) this.linger.push({ node: id, inc: n.incarnation, until: this.clock.now() + Math.floor(this.rand() * this.lingerMs) });
    super.crash(id);
  }

  /** Each node proposes what its tracker makes of the spans it sees (driver-mesh.ts's `propose`). */
  override proposeReachable(): void {
    const now = this.clock.now();
    this.linger = this.linger.filter((l) => l.until > now);
    for (const n of this.nodes.values()) {
      const seen = [...this.nodes.values()]
        .filter((m) => m.id === n.id || (this.connected(n.id, m.id) && (this.visibleAt.get(m.incarnation) ?? 0) <= now))
        .map((m) => ({ nodeid: m.id, incarnation: m.incarnation }));
      for (const l of this.linger) if (l.node !== n.id && this.connected(n.id, l.node)) seen.push({ nodeid: l.node, incarnation: l.inc });
      const t = this.trackers.get(n.id)!;
      t.learnLog(n.driver.protocolState.log);
      t.observe(seen);
      const absent = this.absent.get(n.id)!;
      const serving = new Set(seen.map((x) => x.nodeid));
      for (const v of this.voters) {
        if (serving.has(v)) absent.delete(v);
        else if (!absent.has(v)) absent.set(v, now);
      }
      const st = n.driver.protocolState;
      const answering = new Set<number>();
      if (st.role === 'leader') {
        for (const [id, at] of Object.entries(st.ackAt)) {
          const since = absent.get(Number(id));
          if (since !== undefined && at > since) answering.add(Number(id));
        }
      }
      const p = t.proposal(answering);
      n.driver.propose(p, t.runsOf(p));
    }
  }
}
