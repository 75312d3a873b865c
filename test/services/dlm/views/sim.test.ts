/**
 * Randomized simulation of the membership-view protocol on 5 nodes, in virtual
 * time: random partitions (minority and even splits), heals, crashes, restarts
 * from persisted state, message loss and delay; then a heal. An independent
 * checker over the recorded history of outputs (it shares nothing with the
 * protocol) proves:
 *  - never two different views committed with the same number, and every
 *    view's members include a majority of the configured members;
 *  - grants: a node grants under view v from its `granting` output until the
 *    earliest of that output's `until`, its next `stopped`/`granting` output,
 *    or its crash. No two such intervals of different views overlap in time
 *    (so all granting nodes name the same view at every instant), and a node
 *    grants only under a view that was committed and includes it;
 *  - minority sides stop: a node cut off in a group smaller than a majority
 *    grants nothing from one lease after the cut until the cut ends;
 *  - after the heal, every node grants under one view that has all 5 members.
 * Seeds are fixed and printed on failure; VIEWS_SOAK=1 runs more of them.
 */
import { describe, expect, it } from 'vitest';
import { initViewsState, resolveViewsOptions, step } from '../../../../src/services/dlm/views/index.ts';
import type { Message, ViewsOutput, ViewsState } from '../../../../src/services/dlm/views/index.ts';

const N = 5;
const NODES = [0, 1, 2, 3, 4];
const LEASE = 400;
const MAX_DELAY = 20;
const SEEDS = process.env['VIEWS_SOAK'] === '1' ? 200 : 24;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rec = { t: number; node: number; out: ViewsOutput } | { t: number; node: number; crash: true };

interface Cut { start: number; end: number; minority: number[] }

interface RunResult { history: Rec[]; cuts: Cut[]; faults: number; endT: number; up: boolean[] }

function run(seed: number): RunResult {
  const r = rng(seed);
  const configs = NODES.map((self) => resolveViewsOptions({ self, voters: NODES, lease: LEASE, seed: seed * 31 + self + 1 }));
  const nodes: ViewsState[] = configs.map((c) => initViewsState(c, 0));
  const up = NODES.map(() => true);
  const timers: Record<string, number>[] = NODES.map(() => ({}));
  let inflight: { at: number; m: Message }[] = [];
  const group = NODES.map(() => 0);
  const history: Rec[] = [];
  const cuts: Cut[] = [];
  let now = 0;
  let loss = 0.05;
  let faults = 0;

  const apply = (n: number, ev: Parameters<typeof step>[1]): void => {
    const res = step(nodes[n]!, ev);
    nodes[n] = res.state;
    for (const t of res.timers) timers[n]![t.kind] = t.at;
    for (const m of res.messages) {
      if (r() < loss) continue;
      inflight.push({ at: now + 1 + Math.floor(r() * MAX_DELAY), m });
      if (r() < 0.02) inflight.push({ at: now + 1 + Math.floor(r() * MAX_DELAY), m }); // duplicate
    }
    for (const out of res.outputs) history.push({ t: now, node: n, out });
  };
  /** Spans tell every live node who it can see. */
  const proposeAll = (): void => {
    for (const n of NODES) if (up[n]) apply(n, { type: 'propose', now, members: NODES.filter((m) => up[m] && group[m] === group[n]) });
  };
  for (const n of NODES) for (const t of [{ kind: 'election', at: nodes[n]!.electionAt }]) timers[n]![t.kind] = t.at;
  proposeAll();

  const advanceTo = (until: number): void => {
    for (;;) {
      let next = until;
      for (const f of inflight) next = Math.min(next, f.at);
      for (const n of NODES) if (up[n]) for (const at of Object.values(timers[n]!)) next = Math.min(next, at);
      now = Math.max(now, next);
      if (now >= until && next >= until) { now = until; return; }
      const due = inflight.filter((f) => f.at <= now);
      inflight = inflight.filter((f) => f.at > now);
      for (const f of due) {
        if (up[f.m.to] && group[f.m.from] === group[f.m.to]) apply(f.m.to, { type: 'message', now, message: f.m });
      }
      for (const n of NODES) {
        if (!up[n]) continue;
        for (const [kind, at] of Object.entries(timers[n]!)) {
          if (at > now) continue;
          delete timers[n]![kind];
          apply(n, { type: 'timer', now, kind: kind as 'election' });
        }
      }
    }
  };

  advanceTo(2000);
  const end = 2000 + 40 * 1500;
  while (now < end) {
    const dice = r();
    faults++;
    if (dice < 0.35) {
      // Partition: a minority (1-2 nodes) or, with 5 nodes, the most even split 2/3.
      const k = 1 + Math.floor(r() * 2);
      const shuffled = [...NODES].sort(() => r() - 0.5);
      for (const n of NODES) group[n] = shuffled.indexOf(n) < k ? 1 : 0;
      cuts.push({ start: now, end: Infinity, minority: shuffled.slice(0, k) });
    } else if (dice < 0.55) {
      for (const n of NODES) group[n] = 0; // heal
    } else if (dice < 0.75) {
      const n = Math.floor(r() * N);
      if (up[n] && up.filter(Boolean).length > 2) {
        up[n] = false;
        timers[n] = {};
        history.push({ t: now, node: n, crash: true });
      }
    } else if (dice < 0.9) {
      const n = NODES.find((m) => !up[m]);
      if (n !== undefined) {
        up[n] = true;
        const s = nodes[n]!;
        apply(n, { type: 'restart', now, persisted: { currentTerm: s.currentTerm, votedFor: s.votedFor, log: s.log } });
      }
    } else {
      loss = r() * 0.3;
    }
    const last = cuts[cuts.length - 1];
    if (last && last.end === Infinity && group.every((g) => g === 0)) last.end = now;
    if (last && last.end === Infinity && dice < 0.35 && cuts.length > 1 && cuts[cuts.length - 2]!.end === Infinity) cuts[cuts.length - 2]!.end = now;
    proposeAll();
    advanceTo(now + 200 + Math.floor(r() * 2300));
  }
  // Heal everything, restart the dead, stop losing messages, and let it settle.
  for (const n of NODES) group[n] = 0;
  for (const c of cuts) if (c.end === Infinity) c.end = now;
  loss = 0;
  for (const n of NODES) {
    if (!up[n]) {
      up[n] = true;
      const s = nodes[n]!;
      apply(n, { type: 'restart', now, persisted: { currentTerm: s.currentTerm, votedFor: s.votedFor, log: s.log } });
    }
  }
  proposeAll();
  advanceTo(now + 20 * LEASE);
  return { history, cuts, faults, endT: now, up };
}

/** The independent checker. Returns a list of violations (empty = all good). */
function checkHistory(res: RunResult): string[] {
  const bad: string[] = [];
  const committed = new Map<number, number[]>([[0, NODES]]);
  const committedAt = new Map<number, number>([[0, 0]]);
  for (const h of res.history) {
    if ('crash' in h || h.out.type !== 'committed') continue;
    const prev = committed.get(h.out.view);
    if (prev && prev.join() !== h.out.members.join()) bad.push(`view ${h.out.view} committed as [${prev}] and [${h.out.members}]`);
    if (h.out.members.length * 2 <= N) bad.push(`view ${h.out.view} lacks a majority`);
    if (!prev) { committed.set(h.out.view, [...h.out.members]); committedAt.set(h.out.view, h.t); }
  }
  // Grant intervals.
  const intervals: { node: number; view: number; from: number; to: number }[] = [];
  const open: ({ view: number; from: number; until: number } | null)[] = NODES.map(() => null);
  const close = (n: number, t: number): void => {
    const o = open[n];
    if (o) intervals.push({ node: n, view: o.view, from: o.from, to: Math.min(o.until, t) });
    open[n] = null;
  };
  for (const h of res.history) {
    if ('crash' in h) { close(h.node, h.t); continue; }
    if (h.out.type === 'granting') {
      close(h.node, h.t);
      open[h.node] = { view: h.out.view, from: h.t, until: h.out.until };
      const members = committed.get(h.out.view);
      if (!members || (committedAt.get(h.out.view) ?? Infinity) > h.t) bad.push(`node ${h.node} grants under view ${h.out.view} before it is committed`);
      else if (!members.includes(h.node)) bad.push(`node ${h.node} grants under view ${h.out.view} that excludes it`);
    } else if (h.out.type === 'stopped') close(h.node, h.t);
  }
  for (const n of NODES) close(n, Infinity);
  const live = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  for (let i = 0; i < live.length; i++) {
    for (let j = i + 1; j < live.length && live[j]!.from < live[i]!.to; j++) {
      if (live[j]!.view !== live[i]!.view) bad.push(`node ${live[i]!.node} grants view ${live[i]!.view} [${live[i]!.from},${live[i]!.to}) while node ${live[j]!.node} grants view ${live[j]!.view} from ${live[j]!.from}`);
    }
  }
  // Minority sides stop granting one lease after the cut.
  for (const c of res.cuts) {
    if (c.minority.length * 2 >= N) continue;
    for (const iv of live) {
      if (c.minority.includes(iv.node) && iv.to > c.start + LEASE && iv.from < c.end) bad.push(`node ${iv.node} in a minority cut [${c.start},${c.end}) grants during [${iv.from},${iv.to})`);
    }
  }
  // Convergence after the heal: every node grants at the end, under one view with all members.
  const views = new Set<number>();
  for (const n of NODES) {
    const o = open[n] ?? intervals.filter((i) => i.node === n).at(-1);
    const last = intervals.filter((i) => i.node === n).at(-1);
    if (!o || !last || last.to < res.endT) { bad.push(`node ${n} is not granting after the heal`); continue; }
    views.add(last.view);
  }
  if (views.size > 1) bad.push(`after the heal nodes grant under views ${[...views]}`);
  const v = [...views][0];
  if (v !== undefined && committed.get(v)!.length !== N) bad.push(`after the heal view ${v} has members [${committed.get(v)}]`);
  return bad;
}

describe('membership views: randomized simulation (5 nodes)', () => {
  it(`${SEEDS} seeds of partitions, heals, crashes, restarts and loss keep the invariants and converge`, () => {
    let faults = 0;
    let views = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const res = run(seed);
      const bad = checkHistory(res);
      if (bad.length) throw new Error(`seed ${seed}: ${bad.slice(0, 5).join('; ')}`);
      faults += res.faults;
      views += new Set(res.history.flatMap((h) => ('out' in h && h.out.type === 'committed' ? [h.out.view] : []))).size;
    }
    console.log(`views sim: ${SEEDS} seeds, ${faults} fault events, ${views} views committed in all`);
    expect(faults).toBeGreaterThan(SEEDS * 30);
    expect(views).toBeGreaterThan(SEEDS);
  });
});
