/**
 * The views driver with the lockspace's recovery (the recovery contract:
 * setGate, fence, start(members, { generation, departed })) on the real
 * stack: locks held across a partition.
 */
import { virtualTime } from '../../../helpers/virtual-time.ts';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpanMembership } from '../../../../src/services/dlm/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import type { Mesh } from '../../../helpers/mesh.ts';
import { threeRouterLockspace } from './three-router-lockspace.ts';

function recovering(m: SpanMembership): boolean {
  return m.lockspace.raw.recovering;
}

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

const clock = new ManualClock();

const { run, runUntil } = virtualTime(clock, 15_000);

describe('views driver with lockspace recovery', () => {
  it('3 routers: the cut-off node stops granting; the majority recovers without it (its lock purged, theirs kept); after the heal it is fenced and rejoins fresh', async () => {
    const c = await threeRouterLockspace(clock, cleanup, { voters: true });
    mesh = c.mesh;
    const { ms } = c;
    await runUntil(() => ms.every((m) => m.viewsStats!.granting), 'all granting');

    // Node 0 holds "kept" in EX; node 2 (to be cut off) holds "lost" in EX.
    const kept = await ms[0]!.lockspace.lock('kept', 'EX');
    const lost = await ms[2]!.lockspace.lock('lost', 'EX');
    expect(lost.mode).toBe('EX');
    for (const l of mesh.links) if ((l.a === 2 || l.b === 2) && l.up) l.cut();
    // View 1 (every member with its run) is the first; the cut makes view 2.
    await runUntil(() => [0, 1].every((i) => ms[i]!.viewsStats!.view === 2 && ms[i]!.viewsStats!.granting && !recovering(ms[i]!)), 'majority recovered under view 2');
    expect(ms[2]!.viewsStats!.granting).toBe(false);
    expect(ms[2]!.state).toMatch(/^minority/);
    // A request on the minority side is not granted (its lockspace is gated/stopped).
    let minorityOutcome: string | null = null;
    ms[2]!.lockspace.lock('fresh', 'EX').then(
      (lk) => (minorityOutcome = `granted ${lk.mode}`),
      (err: { code?: string }) => (minorityOutcome = `failed ${err.code}`),
    );
    await run(500);
    expect(minorityOutcome).toBeNull();
    expect(ms[0]!.lockspace.raw.generation).toBe(2);
    // The cut-off node's EX lock is gone on the majority: node 1 gets "lost" at once; node 0's lock survived recovery.
    let got = false;
    const p = ms[1]!.lockspace.lock('lost', 'EX').then((lk) => {
      got = true;
      return lk;
    });
    await runUntil(() => got, 'node 1 granted the lock of the departed node');
    const taken = await p;
    let blocked = false;
    const q = ms[1]!.lockspace.lock('kept', 'PR', { flags: ['NOQUEUE'] }).then(
      () => false,
      () => (blocked = true),
    );
    await q;
    expect(blocked, 'node 0 still holds kept in EX after recovery').toBe(true);

    // Heal: node 2 learns it was excluded (fence), then rejoins with view 3.
    mesh.connect(2, 0);
    mesh.connect(2, 1);
    await runUntil(() => ms.every((m) => m.viewsStats!.view === 3 && m.viewsStats!.granting && !recovering(m)), 'all granting under view 3');
    expect(ms[2]!.viewsStats!.fences).toBe(1);
    expect(minorityOutcome, 'the request made on the minority side fails with the fence status').toBe('failed ENOTCONN');
    expect(ms[2]!.lockspace.raw.dump().flatMap((r) => r.grant)).toEqual([]);
    expect(ms.map((m) => m.lockspace.raw.generation)).toEqual([3, 3, 3]);
    await taken.unlock();
    await kept.unlock();
    const again = await ms[2]!.lockspace.lock('lost', 'EX');
    expect(again.fence).toBeGreaterThan(taken.fence);
    await again.unlock();
  });
});
