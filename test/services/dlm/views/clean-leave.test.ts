/**
 * Spec §4.1: a clean leave is not a failure. On the mesh a node leaving a
 * lockspace serves the `dlm-left:<name>` tombstone before it withdraws
 * `dlm:<name>` (views/clean-leave.ts); with voters the leader names it in the
 * next view's `left`, and every survivor recovers it with `start(..., { left
 * })`: no `recoverSlot`. A node that dies (its links cut) gets `recoverSlot`
 * as before. Routers over memory links, midcomms, real lockspaces, one
 * ManualClock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { nodeidOf } from '../../../../src/services/midcomms/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { type Mesh } from '../../../helpers/mesh.ts';
import { threeRouterLockspace } from './three-router-lockspace.ts';
import { virtualTime } from '../../../helpers/virtual-time.ts';
import { leftService } from '../../../../src/services/dlm/views/clean-leave.ts';
import { applyOutput, initApplyState } from '../../../../src/services/dlm/views/driver-apply.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

async function three(clock: ManualClock, withVoters: boolean) {
  const c = await threeRouterLockspace(clock, cleanup, { voters: withVoters });
  mesh = c.mesh;
  const { dlms, ms } = c;
  /** recoverSlot calls seen by each node, as "nodeid/slot". */
  const slotRecoveries = ms.map(() => [] as string[]);
  ms.forEach((m, i) => m.lockspace.raw.addRecoveryOps({ recoverSlot: (s) => slotRecoveries[i]!.push(`${s.nodeid}/${s.slot}`) }));
  return { mesh, dlms, ms, ids: mesh.routers.map((r) => nodeidOf(r.nodeId)), slotRecoveries };
}

describe('a clean leave on the mesh passes left (no recoverSlot); a death does not', () => {
  it('with voters: the view leaving the node out names it in left, the survivors recover it without recoverSlot', async () => {
    const clock = new ManualClock();
    const { run, runUntil } = virtualTime(clock, 20_000);
    const c = await three(clock, true);
    await runUntil(() => c.ms.every((m) => m.viewsStats!.granting && !m.lockspace.raw.recovering), 'all granting');
    expect(c.ms.map((m) => m.lockspace.raw.slot).sort()).toEqual([1, 2, 3]);
    const view = c.ms[0]!.viewsStats!.view;
    // Node 2 leaves cleanly: its membership closes (the tombstone first), its lockspace is released.
    c.ms[2]!.close();
    expect(c.dlms[2]!.releaseLockspace('app', 1)).toBe(0);
    await runUntil(() => [0, 1].every((i) => c.ms[i]!.viewsStats!.view > view && c.ms[i]!.viewsStats!.granting && !c.ms[i]!.lockspace.raw.recovering), 'the survivors recovered without node 2');
    expect(c.ms[0]!.viewsStats!.members).toEqual([c.ids[0]!, c.ids[1]!].sort((a, b) => a - b));
    const log = c.ms[0]!.views!.protocolState.log;
    const entry = log.filter((e) => e.kind === 'view').at(-1)!;
    expect(entry).toMatchObject({ kind: 'view', left: [c.ids[2]] });
    expect(c.slotRecoveries[0]).toEqual([]);
    expect(c.slotRecoveries[1]).toEqual([]);
    expect(c.mesh.routers[0]!.members(leftService('app')).map((m) => nodeidOf(m.node))).toEqual([c.ids[2]]);
    await run(200);
    expect(c.slotRecoveries.slice(0, 2)).toEqual([[], []]);
  });

  it('with voters: a node whose links are cut (a failure) is recovered with recoverSlot by the survivors', async () => {
    const clock = new ManualClock();
    const { runUntil } = virtualTime(clock, 20_000);
    const c = await three(clock, true);
    await runUntil(() => c.ms.every((m) => m.viewsStats!.granting && !m.lockspace.raw.recovering), 'all granting');
    const view = c.ms[0]!.viewsStats!.view;
    const slot2 = c.ms[2]!.lockspace.raw.slot;
    for (const l of c.mesh.links) if ((l.a === 2 || l.b === 2) && l.up) l.cut();
    await runUntil(() => [0, 1].every((i) => c.ms[i]!.viewsStats!.view > view && c.ms[i]!.viewsStats!.granting && !c.ms[i]!.lockspace.raw.recovering), 'the survivors recovered without node 2');
    expect(c.ms[0]!.views!.protocolState.log.filter((e) => e.kind === 'view').at(-1)).not.toHaveProperty('left');
    expect(c.slotRecoveries[0]).toEqual([`${c.ids[2]}/${slot2}`]);
    expect(c.slotRecoveries[1]).toEqual([`${c.ids[2]}/${slot2}`]);
  });

  it('without voters: a clean leave restarts the lockspace with left (no recoverSlot)', async () => {
    const clock = new ManualClock();
    const { runUntil } = virtualTime(clock, 20_000);
    const c = await three(clock, false);
    await runUntil(() => c.ms.every((m) => m.lockspace.raw.members.length === 3), 'all three members');
    // Members from spans: a first recovery with all three gives slots.
    await runUntil(() => c.ms.every((m) => !m.lockspace.raw.recovering && m.lockspace.raw.slot !== 0), 'slots assigned');
    const before = c.ms[0]!.lockspace.raw.stats.recovery.runs;
    c.ms[2]!.close();
    expect(c.dlms[2]!.releaseLockspace('app', 1)).toBe(0);
    await runUntil(() => [0, 1].every((i) => c.ms[i]!.lockspace.raw.members.length === 2 && !c.ms[i]!.lockspace.raw.recovering), 'the others run without node 2');
    expect(c.ms[0]!.lockspace.raw.stats.recovery.runs).toBeGreaterThan(before);
    expect(c.slotRecoveries[0]).toEqual([]);
    expect(c.slotRecoveries[1]).toEqual([]);
  });
});

describe('applyOutput: left comes from the log', () => {
  const v = (view: number, members: number[], left?: number[]) => ({ type: 'committed' as const, view, members, incarnations: members.map((m) => m * 10), ...(left ? { left } : {}) });
  const run = (outputs: ReturnType<typeof v>[]) => {
    let s = applyOutput(initApplyState(1, [1, 2, 3]), v(1, [1, 2, 3])).state;
    s = applyOutput(s, { type: 'granting', view: 1, until: 1e9 }).state;
    for (const o of outputs) s = applyOutput(s, o).state;
    return applyOutput(s, { type: 'granting', view: outputs.at(-1)!.view, until: 1e9 }).actions.at(-1);
  };
  it('a view naming node 3 in left: start with left [3]; left out without it (a failure): no left', () => {
    expect(run([v(2, [1, 2], [3])])).toEqual({ type: 'start', members: [1, 2], generation: 2, departed: [], left: [3] });
    expect(run([v(2, [1, 2])])).toEqual({ type: 'start', members: [1, 2], generation: 2, departed: [] });
  });
  it('left cleanly, back, then failed before this node applied: the failure wins; left and back: departed and left', () => {
    expect(run([v(2, [1, 2], [3]), v(3, [1, 2, 3]), v(4, [1, 2])])).toEqual({ type: 'start', members: [1, 2], generation: 4, departed: [] });
    expect(run([v(2, [1, 2], [3]), v(3, [1, 2, 3])])).toEqual({ type: 'start', members: [1, 2, 3], generation: 3, departed: [3], left: [3] });
  });
});
