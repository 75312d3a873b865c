/**
 * Views that name each member's run (its incarnation), on the fake network
 * (FakeCluster by incarnation: every boot is a new run, proposals carry the
 * runs; ManualClock, deterministic).
 *
 * Found by the fault test (kill/restart/partition seeds 1018, 1031, 1047,
 * 1061, 1062, 1064, 1114, 1199): a restarted node could rejoin only through
 * a committed view that leaves it out, and it never campaigned meanwhile
 * (a leader cannot propose a view without itself). When every node holding
 * the latest view had restarted, the others' logs were behind (the
 * restarted nodes refuse them their votes) and the restarted ones never
 * stood: no view was ever committed again and every request waited
 * forever. With the incarnation in the view entry a restarted node may
 * lead: a view naming it with its new run is a new view by itself, the
 * others recover with it as departed, and it grants only under such a view.
 */
import { describe, expect, it } from 'vitest';
import { applyOutput, initApplyState } from '../../../../src/services/dlm/views/driver-apply.ts';
import { MembershipTracker } from '../../../../src/services/dlm/views/driver-membership.ts';
import { REJOIN_BY_INCARNATION_STATE } from '../../../../src/services/dlm/views/index.ts';
import { incarnationIn, viewAt } from '../../../../src/services/dlm/views/view-log.ts';
import { initViewsState, resolveViewsOptions, step } from '../../../../src/services/dlm/views/index.ts';
import { FakeCluster, type Node } from './driver-harness.ts';

/** The latest committed view at `n`. */
function committedView(n: Node) {
  const st = n.driver.protocolState;
  return viewAt(st.log, st.commitIndex, st.config.voters);
}

/** Propose what each node reaches every 100 ms (as the mesh binding looks every heartbeat) for `ms`. */
function run(c: FakeCluster, ms: number): void {
  for (let t = 0; t < ms; t += 100) {
    c.proposeReachable();
    c.advance(100);
  }
}

describe('views naming each member with its run (incarnation)', () => {
  it('nobody grants under view 0 (runs unknown): the first leader commits view 1 naming every run, and all grant under it', () => {
    const c = new FakeCluster([1, 2, 3], {}, 5, true);
    run(c, 3000);
    for (const n of c.nodes.values()) {
      const v = committedView(n);
      expect(v.view).toBe(1);
      expect(incarnationIn(v, n.id)).toBe(n.incarnation);
      expect(n.target.grants).toBe(true);
      // Never started under view 0: the only start is view 1's.
      expect(c.callsOf(n.id).filter((x) => x.call === 'start')).toEqual([expect.objectContaining({ members: [1, 2, 3], generation: 1 })]);
    }
    expect(c.violations).toEqual([]);
  });

  it('a restarted follower is named again with its new run: one view, the others recover with it as departed, no fence, and it grants only after that view', () => {
    const c = new FakeCluster([1, 2, 3], {}, 5, true);
    run(c, 3000);
    const follower = [...c.nodes.values()].find((n) => n.driver.stats.role !== 'leader')!;
    const oldRun = follower.incarnation;
    c.crash(follower.id);
    c.advance(50); // back before anyone proposes without it (else a view without it comes first, as before)
    const again = c.boot(follower.id, follower.store);
    expect(again.incarnation).not.toBe(oldRun);
    expect(again.driver.rejoining).toBe(true);
    expect(again.driver.rejoinsByIncarnation).toBe(true);
    expect(again.driver.state).toBe(REJOIN_BY_INCARNATION_STATE);
    const t0 = c.clock.now();
    let grantedEarly = false;
    for (let t = 0; t < 4000; t += 100) {
      c.proposeReachable();
      for (let k = 0; k < 100; k++) {
        c.advance(1);
        if (again.target.grants && incarnationIn(committedView(again), again.id) !== again.incarnation) grantedEarly = true;
      }
    }
    expect(grantedEarly).toBe(false);
    expect(again.driver.rejoining).toBe(false);
    for (const n of c.nodes.values()) {
      const v = committedView(n);
      expect(v.view).toBe(2);
      expect(v.members).toEqual([1, 2, 3]);
      expect(incarnationIn(v, follower.id)).toBe(again.incarnation);
      expect(n.target.grants).toBe(true);
    }
    for (const n of c.nodes.values()) {
      if (n.id === follower.id) continue;
      expect(c.callsOf(n.id, t0).filter((x) => x.call === 'start')).toEqual([expect.objectContaining({ members: [1, 2, 3], generation: 2, departed: [follower.id] })]);
    }
    expect(c.callsOf(follower.id, t0).filter((x) => x.call === 'fence')).toEqual([]);
    expect(c.violations).toEqual([]);
  });

  it('every holder of the latest view restarts (seeds 1018/1031/1047): a restarted node leads and a view naming the new runs is committed; everyone grants again', () => {
    const c = new FakeCluster([1, 2, 3, 4, 5], {}, 5, true);
    run(c, 3000);
    expect([...c.nodes.values()].every((n) => n.target.grants)).toBe(true);
    // 4 and 5 cut off: view 2 = {1, 2, 3}, committed on 1, 2, 3 only.
    c.partition([4, 5]);
    run(c, 4000);
    for (const id of [1, 2, 3]) expect(committedView(c.nodes.get(id)!).members).toEqual([1, 2, 3]);
    for (const id of [4, 5]) expect(c.nodes.get(id)!.driver.protocolState.log.some((e) => e.kind === 'view' && e.members.length === 3)).toBe(false);
    // Every node holding view 2 restarts from its store; then the partition heals.
    const stores = [1, 2, 3].map((id) => [id, c.nodes.get(id)!.store] as const);
    for (const [id] of stores) c.crash(id);
    for (const [id, store] of stores) c.boot(id, store);
    c.heal();
    run(c, 10_000);
    for (const n of c.nodes.values()) {
      const v = committedView(n);
      expect(v.members, `node ${n.id}`).toEqual([1, 2, 3, 4, 5]);
      for (const m of c.nodes.values()) expect(incarnationIn(v, m.id)).toBe(m.incarnation);
      expect(n.driver.rejoining).toBe(false);
      expect(n.target.grants, `node ${n.id} grants`).toBe(true);
    }
    // 4 and 5 learnt they were excluded (view 2) and were fenced; the restarted ones were not.
    for (const id of [4, 5]) expect(c.callsOf(id).some((x) => x.call === 'fence')).toBe(true);
    expect(c.violations).toEqual([]);
  });
});

describe('MembershipTracker by incarnation', () => {
  const voters = [1, 2, 3];
  it('a restarted node is proposed at once with its new run (no view without it); an old run still listed is ignored once a view named the new one', () => {
    const t = new MembershipTracker(1, voters, { byIncarnation: true });
    t.observe([
      { nodeid: 2, incarnation: 20 },
      { nodeid: 3, incarnation: 30 },
    ]);
    expect(t.proposal()).toEqual([1, 2, 3]);
    expect(t.incarnations).toMatchObject({ 2: 20, 3: 30 });
    t.learnLog([{ term: 1, kind: 'view', view: 1, members: [1, 2, 3], incarnations: [10, 20, 30] }]);
    // Node 3 restarted: the mesh lists its new run while the old one's span lingers.
    t.observe([
      { nodeid: 2, incarnation: 20 },
      { nodeid: 3, incarnation: 30 },
      { nodeid: 3, incarnation: 31 },
    ]);
    expect(t.pendingDeparture).toEqual([]);
    expect(t.proposal()).toEqual([1, 2, 3]);
    expect(t.incarnations[3]).toBe(31); // the run the views have not named yet
    t.learnLog([
      { term: 1, kind: 'view', view: 1, members: [1, 2, 3], incarnations: [10, 20, 30] },
      { term: 1, kind: 'view', view: 2, members: [1, 2, 3], incarnations: [10, 20, 31] },
    ]);
    t.observe([
      { nodeid: 2, incarnation: 20 },
      { nodeid: 3, incarnation: 30 },
      { nodeid: 3, incarnation: 31 },
    ]);
    expect(t.incarnations[3]).toBe(31); // never back to the old run
    // Only the old run listed: node 3 is not seen at all.
    t.observe([
      { nodeid: 2, incarnation: 20 },
      { nodeid: 3, incarnation: 30 },
    ]);
    expect(t.proposal()).toEqual([1, 2]);
  });

  it('a member with an unknown incarnation is not proposed by incarnation (it could not be told apart from its next run)', () => {
    const t = new MembershipTracker(1, voters, { byIncarnation: true });
    t.observe([
      { nodeid: 2, incarnation: null },
      { nodeid: 3, incarnation: 30 },
    ]);
    expect(t.proposal()).toEqual([1, 3]);
    const legacy = new MembershipTracker(1, voters);
    legacy.observe([
      { nodeid: 2, incarnation: null },
      { nodeid: 3, incarnation: 30 },
    ]);
    expect(legacy.proposal()).toEqual([1, 2, 3]);
  });
});

describe('applyOutput: a fresh lockspace names nobody departed', () => {
  it('a lockspace never started that learns several views at once (others left, came back, restarted) starts with no departed; one that ran names them', () => {
    const v = (view: number, incarnations: number[], members = [1, 2, 3]) => ({ type: 'committed' as const, view, members, incarnations });
    const common = [v(1, [10, 20, 30]), v(2, [10, 30], [1, 3]), v(3, [10, 20, 30])];
    // Node 3's new run (31): fresh, it learns views 1-4 at once, never left out (fault seed 1093 named 1 and 2 departed here).
    let fresh = initApplyState(3, [1, 2, 3]);
    for (const o of [...common, v(4, [11, 20, 31])]) fresh = applyOutput(fresh, o).state;
    expect(applyOutput(fresh, { type: 'granting', view: 4, until: 1e9 }).actions).toEqual([{ type: 'start', members: [1, 2, 3], generation: 4, departed: [] }]);
    // Node 3's run 30 ran under view 1: node 2 left and came back, node 1 restarted: both departed.
    let ran = initApplyState(3, [1, 2, 3]);
    ran = applyOutput(ran, common[0]!).state;
    ran = applyOutput(ran, { type: 'granting', view: 1, until: 1e9 }).state;
    for (const o of [...common.slice(1), v(4, [11, 20, 30])]) ran = applyOutput(ran, o).state;
    expect(applyOutput(ran, { type: 'granting', view: 4, until: 1e9 }).actions.at(-1)).toEqual({ type: 'start', members: [1, 2, 3], generation: 4, departed: [1, 2] });
  });
});

describe('a view naming runs names every member with its run (issue 14)', () => {
  it('a leader told of a member with an unknown run (0) next to known ones leaves it out: never a view naming it 0', () => {
    const s0 = { ...initViewsState(resolveViewsOptions({ self: 1, voters: [1, 2, 3], seed: 1 }), 0, undefined, undefined, 11), role: 'leader' as const, currentTerm: 1 };
    const r = step(s0, { type: 'propose', now: 1, members: [1, 2, 3], incarnations: { 1: 11, 2: 22 } });
    expect(r.state.log.at(-1)).toEqual({ term: 1, kind: 'view', view: 1, members: [1, 2], incarnations: [11, 22] });
    // Only unknown runs (the pure module's own tests, no incarnations at all): named as before, without runs.
    const u = { ...initViewsState(resolveViewsOptions({ self: 1, voters: [1, 2, 3], seed: 1 }), 0), role: 'leader' as const, currentTerm: 1 };
    expect(step(u, { type: 'propose', now: 1, members: [1, 2] }).state.log.at(-1)).toEqual({ term: 1, kind: 'view', view: 1, members: [1, 2] });
    // Left with less than a majority once the unknown ones are out: no view.
    const few = step(s0, { type: 'propose', now: 1, members: [1, 2, 3], incarnations: { 1: 11 } });
    expect(few.state.log).toEqual([]);
  });

  it('applyOutput compares a member run with the last run a view named for it, skipping a view that named it 0 (a restart across it is departed, no restart is not)', () => {
    const v = (view: number, incarnations: number[]) => ({ type: 'committed' as const, view, members: [1, 2, 3], incarnations });
    const startAfter = (views: ReturnType<typeof v>[]) => {
      let s = applyOutput(initApplyState(1, [1, 2, 3]), v(1, [10, 20, 30])).state;
      s = applyOutput(s, { type: 'granting', view: 1, until: 1e9 }).state;
      for (const o of views) s = applyOutput(s, o).state;
      const last = views.at(-1)!.view;
      return applyOutput(s, { type: 'granting', view: last, until: 1e9 }).actions.at(-1);
    };
    // Node 3 restarted (run 31) across a view naming it 0: departed (before: compared 0 with 31, not departed).
    expect(startAfter([v(2, [10, 20, 0]), v(3, [10, 20, 31])])).toEqual({ type: 'start', members: [1, 2, 3], generation: 3, departed: [3] });
    // Node 3 did not restart (run 30 again): not departed (before: 30 -> 0 counted as a restart).
    expect(startAfter([v(2, [10, 20, 0]), v(3, [10, 20, 30])])).toEqual({ type: 'start', members: [1, 2, 3], generation: 3, departed: [] });
  });

  it('the tracker names a member kept by the majority fill with the run the views named, not a run merely seen; unknown: not named', () => {
    const t = new MembershipTracker(1, [1, 2, 3, 4, 5], { byIncarnation: true });
    t.observe([{ nodeid: 2, incarnation: 20 }, { nodeid: 4, incarnation: 41 }]);
    t.learnLog([{ term: 1, kind: 'view', view: 1, members: [1, 2, 3, 4], incarnations: [10, 20, 30, 40] }]);
    t.committed([1, 2, 3, 4]);
    // Only 1 serves now; 3 and 4 answer the leader (restarted or cut from the lockspace's spans).
    t.observe([]);
    const p = t.proposal(new Set([3, 4]));
    expect(p).toEqual([1, 3, 4]);
    // 4 was last seen as run 41, but the views named 40: the fill keeps the committed member as named.
    expect(t.runsOf(p)).toEqual({ 3: 30, 4: 40 });
    // A member the views never named with a run (view 0) has no run to name.
    const fresh = new MembershipTracker(1, [1, 2, 3], { byIncarnation: true });
    fresh.observe([]);
    expect(fresh.runsOf(fresh.proposal(new Set([2, 3])))).toEqual({});
  });
});
