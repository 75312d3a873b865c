/**
 * A cluster of ViewsDrivers on one ManualClock, joined by a fake network
 * (delivery after `delay` ms of virtual time, per-pair cuts), each with a
 * fake lockspace target that records every call. Deterministic: no sleeps,
 * no randomness beyond the drivers' seeded election timers.
 */
import { ManualClock } from '../../../../src/util/clock.ts';
import { MemoryViewsStore, ViewsDriver, type ViewsDriverOptions, type ViewsTarget } from '../../../../src/services/dlm/views/index.ts';

export type TargetCall =
  | { t: number; node: number; call: 'stop' }
  | { t: number; node: number; call: 'start'; members: number[]; generation?: number; departed?: number[] }
  | { t: number; node: number; call: 'fence'; status: number }
  | { t: number; node: number; call: 'setGate'; set: boolean };

/** A stand-in lockspace: records calls, tracks running/members/generation, and evaluates its gate on demand. */
export class FakeTarget implements ViewsTarget {
  running = true;
  members: number[];
  generation = 0;
  gate: (() => boolean) | null = null;
  readonly node: number;
  readonly clock: ManualClock;
  readonly log: TargetCall[];
  constructor(node: number, clock: ManualClock, log: TargetCall[], members: number[]) {
    this.node = node;
    this.clock = clock;
    this.log = log;
    this.members = members;
  }
  stop(): void {
    this.running = false;
    this.log.push({ t: this.clock.now(), node: this.node, call: 'stop' });
  }
  /** Rule breaks seen by the target itself (the cluster's violations list). */
  violations: string[] = [];
  start(members: readonly number[], opts: { generation?: number; departed?: readonly number[] }): void {
    // The driver starts (or resumes) only while this node holds a lease under the view: its gate is open.
    if (this.gate !== null && !this.gate()) this.violations.push(`t=${this.clock.now()}: node ${this.node} started with its gate closed`);
    if (opts.generation !== undefined) {
      if (opts.generation <= this.generation) throw new Error(`generation ${opts.generation} not above ${this.generation}`);
      this.generation = opts.generation;
    }
    this.members = [...members];
    this.running = true;
    this.log.push({ t: this.clock.now(), node: this.node, call: 'start', members: [...members], ...(opts.generation !== undefined ? { generation: opts.generation } : {}), ...(opts.departed ? { departed: [...opts.departed] } : {}) });
  }
  setGate(fn: (() => boolean) | null): void {
    this.gate = fn;
    this.log.push({ t: this.clock.now(), node: this.node, call: 'setGate', set: fn !== null });
  }
  fence(status: number): void {
    this.running = false;
    this.log.push({ t: this.clock.now(), node: this.node, call: 'fence', status });
  }
  /** Would this lockspace grant now (running and gate open)? */
  get grants(): boolean {
    return this.running && (this.gate === null || this.gate());
  }
}

export interface Node {
  id: number;
  driver: ViewsDriver;
  target: FakeTarget;
  store: MemoryViewsStore;
  /** This run's incarnation (0 unless the cluster runs by incarnation). */
  incarnation: number;
}

export class FakeCluster {
  readonly clock = new ManualClock(1000);
  readonly calls: TargetCall[] = [];
  readonly nodes = new Map<number, Node>();
  /** Undirected cut pairs "a-b". */
  readonly cuts = new Set<string>();
  /** Every instant checked by `advance`: the views of the granting lockspaces (must be one). */
  readonly violations: string[] = [];
  delivered = 0;
  lost = 0;

  readonly voters: number[];
  readonly options: Omit<ViewsDriverOptions, 'voters'>;
  readonly delay: number;

  /** Every boot gets a new incarnation (as a router run does on the mesh) and proposals carry them. */
  readonly byIncarnation: boolean;
  #runs = 0;

  constructor(voters: number[], options: Omit<ViewsDriverOptions, 'voters'> = {}, delay = 5, byIncarnation = false) {
    this.voters = voters;
    this.options = options;
    this.delay = delay;
    this.byIncarnation = byIncarnation;
    for (const id of voters) this.boot(id, new MemoryViewsStore());
  }

  /** (Re)start node `id` with `store` (a restart keeps the store: persisted state). */
  boot(id: number, store: MemoryViewsStore): Node {
    this.nodes.get(id)?.driver.close();
    const target = new FakeTarget(id, this.clock, this.calls, [...this.voters]);
    target.violations = this.violations;
    const incarnation = this.byIncarnation ? 1000 * id + ++this.#runs : 0;
    const driver = new ViewsDriver(id, { voters: this.voters, seed: id * 7919, ...this.options }, { clock: this.clock, store, target, send: (to, bytes) => this.send(id, to, bytes), incarnation });
    const node = { id, driver, target, store, incarnation };
    this.nodes.set(id, node);
    return node;
  }

  /** A node crashes: its driver stops (timers gone), nothing is delivered to it until it boots again. */
  crash(id: number): void {
    this.nodes.get(id)!.driver.close();
    this.nodes.delete(id);
  }

  cut(a: number, b: number): void {
    this.cuts.add(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  /** Cut every link between `side` and the rest. */
  partition(side: number[]): void {
    for (const a of side) for (const b of this.voters) if (!side.includes(b)) this.cut(a, b);
  }

  heal(): void {
    this.cuts.clear();
  }

  connected(a: number, b: number): boolean {
    return !this.cuts.has(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  send(from: number, to: number, bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.clock.setTimeout(() => {
      const n = this.nodes.get(to);
      if (!n || !this.connected(from, to)) {
        this.lost++;
        return;
      }
      this.delivered++;
      n.driver.receive(copy);
    }, this.delay);
  }

  /**
   * Each node proposes the nodes it can reach (what spans would show: a node
   * rejoining through a view without it does not serve the membership
   * service; by incarnation it does, and is proposed with its new run).
   */
  proposeReachable(): void {
    for (const n of this.nodes.values()) {
      const seen = [...this.nodes.values()].filter((m) => this.connected(n.id, m.id) && (!m.driver.rejoining || m.driver.rejoinsByIncarnation));
      n.driver.propose(seen.map((m) => m.id), Object.fromEntries(seen.map((m) => [m.id, m.incarnation])));
    }
  }

  /** Advance virtual time in `step` ms steps (default 1), checking after each that every granting lockspace runs the same view. */
  advance(ms: number, step = 1): void {
    for (let i = 0; i < ms; i += step) {
      this.clock.advance(step);
      const granting = [...this.nodes.values()].filter((n) => n.target.grants);
      if (granting.length < 2) continue;
      const gens = new Set(granting.map((n) => n.driver.appliedView));
      if (gens.size > 1) this.violations.push(`t=${this.clock.now()}: granting under views ${[...gens].join(',')} (${granting.map((n) => `${n.id}:${n.driver.appliedView}`).join(' ')})`);
    }
  }

  leader(): Node | undefined {
    return [...this.nodes.values()].find((n) => n.driver.stats.role === 'leader' && n.driver.granting);
  }

  callsOf(id: number, since = 0): TargetCall[] {
    return this.calls.filter((c) => c.node === id && c.t >= since);
  }
}
