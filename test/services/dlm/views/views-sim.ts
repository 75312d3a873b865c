/**
 * Views drivers driving REAL lockspaces of the DLM simulator (DlmSim: one
 * ManualClock, a manual scheduler for DLM messages and callbacks): a fake
 * views network (delivery after `delay` ms), nodes that crash and boot again
 * with their views store and a new incarnation (a fresh lockspace with the
 * same node id, joined alone as the mesh binding joins it), and **lag**: a
 * node whose event loop is starved of timers and of its views channel
 * while its DLM traffic still flows (what a loaded relay process does).
 * Deterministic: no sleeps, no randomness beyond the drivers' seeded
 * election timers.
 */
import { DlmSim, LKF, modeName, newLksb, statusName, type Lksb } from '../../../../src/services/dlm/index.ts';
import type { Lockspace } from '../../../../src/services/dlm/lockspace.ts';
import { lockspaceTarget } from '../../../../src/services/dlm/views/driver-mesh.ts';
import { MemoryViewsStore, ViewsDriver, type ViewsDriverOptions } from '../../../../src/services/dlm/views/index.ts';
import type { Clock, ManualClock } from '../../../../src/util/clock.ts';
import { pinHash } from '../cluster.ts';

/** A clock whose timers do not fire while `lagging` (they run, in due order, when the lag ends). */
export class LaggyClock implements Clock {
  readonly #base: ManualClock;
  lagging = false;
  readonly #late: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;
  constructor(base: ManualClock) {
    this.#base = base;
  }
  now(): number {
    return this.#base.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const h = { cancelled: false, inner: null as unknown };
    const at = this.#base.now() + ms;
    const seq = ++this.#seq;
    h.inner = this.#base.setTimeout(() => {
      if (h.cancelled) return;
      if (this.lagging) this.#late.push({ at, seq, fn: () => !h.cancelled && fn() });
      else fn();
    }, ms);
    return h;
  }
  clearTimeout(handle: unknown): void {
    const h = handle as { cancelled: boolean; inner: unknown } | null;
    if (!h) return;
    h.cancelled = true;
    this.#base.clearTimeout(h.inner);
  }
  /** End the lag: the late timers run now, in due order. */
  catchUp(): void {
    this.lagging = false;
    const late = this.#late.splice(0).sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const t of late) t.fn();
  }
}

export interface SimNode {
  readonly id: number;
  readonly incarnation: number;
  readonly ls: Lockspace;
  readonly driver: ViewsDriver;
  readonly store: MemoryViewsStore;
  readonly clock: LaggyClock;
}

export interface Holder {
  readonly tag: string;
  readonly node: number;
  readonly lksb: Lksb;
  readonly ast: () => void;
  readonly bast: (arg: unknown, mode: number) => void;
}

export class ViewsSim {
  readonly sim: DlmSim;
  readonly voters: number[];
  readonly nodes = new Map<number, SimNode>();
  readonly log: string[] = [];
  readonly options: Omit<ViewsDriverOptions, 'voters'>;
  readonly delay: number;
  /** Views messages waiting for a lagging receiver. */
  readonly #backlog = new Map<number, Uint8Array[]>();
  #runs = 0;

  constructor(n: number, options: Omit<ViewsDriverOptions, 'voters'>, delay = 2) {
    this.voters = Array.from({ length: n }, (_, i) => i + 1);
    this.sim = new DlmSim({ nodes: this.voters, hash: pinHash });
    this.options = options;
    this.delay = delay;
    for (const id of this.voters) this.boot(id, new MemoryViewsStore());
  }

  get clock(): ManualClock {
    return this.sim.clock;
  }

  /** (Re)start node `id`: a fresh lockspace (joined alone, same node id) and a views driver with `store` and a new incarnation. */
  boot(id: number, store: MemoryViewsStore): SimNode {
    const old = this.nodes.get(id);
    if (old) this.crash(id);
    const dlm = this.sim.node(id);
    const ls = dlm.newLockspace('ls', { lvblen: 32, members: [id] });
    const clock = new LaggyClock(this.sim.clock);
    const incarnation = 1000 * id + ++this.#runs;
    const driver = new ViewsDriver(id, { voters: this.voters, seed: id * 7919, ...this.options }, { clock, store, target: lockspaceTarget(ls), send: (to, bytes) => this.#send(id, to, bytes), incarnation });
    const node = { id, incarnation, ls, driver, store, clock };
    this.nodes.set(id, node);
    return node;
  }

  /** Node `id` dies: its driver stops, its lockspace is gone (forced release: it sends nothing). */
  crash(id: number): void {
    const n = this.nodes.get(id);
    if (!n) return;
    n.driver.close();
    n.ls.stop();
    this.sim.node(id).releaseLockspace('ls', 3);
    this.nodes.delete(id);
  }

  #send(from: number, to: number, bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.sim.clock.setTimeout(() => {
      const n = this.nodes.get(to);
      if (!n) return;
      if (n.clock.lagging) (this.#backlog.get(to) ?? this.#backlog.set(to, []).get(to)!).push(copy);
      else n.driver.receive(copy);
    }, this.delay);
  }

  /** Starve node `id` of timers and views messages (its DLM messages still flow). */
  lag(id: number): void {
    this.nodes.get(id)!.clock.lagging = true;
  }

  /** End node `id`'s lag: late timers, then the views messages that waited. */
  catchUp(id: number): void {
    const n = this.nodes.get(id)!;
    n.clock.catchUp();
    for (const b of this.#backlog.get(id)?.splice(0) ?? []) n.driver.receive(b);
  }

  /** Every node that is not lagging proposes every live node with its run (what spans show). */
  propose(): void {
    const live = [...this.nodes.values()];
    for (const n of live) if (!n.clock.lagging) n.driver.propose(live.map((m) => m.id), Object.fromEntries(live.map((m) => [m.id, m.incarnation])));
  }

  /** Run `ms` of virtual time in 1 ms steps, delivering DLM messages after each; proposals every 50 ms. `check` runs after each step. */
  run(ms: number, check: () => void = () => {}): void {
    for (let t = 0; t < ms; t++) {
      if (t % 50 === 0) this.propose();
      this.sim.clock.advance(1);
      while (this.sim.runPending() > 0);
      check();
    }
  }

  /** Run until `cond` (checked each ms) or `limit` ms; returns whether it held. */
  runUntil(cond: () => boolean, limit: number, check: () => void = () => {}): boolean {
    for (let t = 0; t < limit; t += 1) {
      if (cond()) return true;
      this.run(1, check);
    }
    return cond();
  }

  holder(node: number, tag: string): Holder {
    const lksb = newLksb(32);
    return {
      tag,
      node,
      lksb,
      ast: () => this.log.push(`${tag} ast ${statusName(lksb.status)}`),
      bast: (_a, mode) => this.log.push(`${tag} bast ${modeName(mode)}`),
    };
  }

  lock(h: Holder, mode: number, name: string): number {
    return this.nodes.get(h.node)!.ls.lock(mode, h.lksb, 0, name, h.ast, undefined, h.bast);
  }

  convert(h: Holder, mode: number): number {
    return this.nodes.get(h.node)!.ls.lock(mode, h.lksb, LKF.CONVERT, null, h.ast, undefined, h.bast);
  }

  unlock(h: Holder): number {
    return this.nodes.get(h.node)!.ls.unlock(h.lksb.lkid, 0, h.lksb);
  }
}
