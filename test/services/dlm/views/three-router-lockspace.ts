/**
 * Three routers in a triangle of memory links, each with midcomms, a DLM
 * endpoint and the lockspace `app` joined over spans (with or without
 * voters), all on one ManualClock: the real stack the views tests drive.
 * `cleanup` receives the closers (run them in reverse, then close the mesh).
 */
import { Dlm, joinOverSpans, MemoryViewsStore, MidcommsEndpoint, type SpanMembership } from '../../../../src/services/dlm/index.ts';
import { midcomms, nodeidOf } from '../../../../src/services/midcomms/index.ts';
import type { ManualClock } from '../../../../src/util/clock.ts';
import { createMesh, until, type Mesh } from '../../../helpers/mesh.ts';

/** The views timing these tests use (ms). */
export const VIEWS_TIMING = { electionMin: 150, electionMax: 300, heartbeatInterval: 50, lease: 400, driftMargin: 20 };

export interface ThreeRouterLockspace {
  readonly mesh: Mesh;
  readonly dlms: Dlm[];
  /** Each router's membership of `app`, in router order. */
  readonly ms: SpanMembership[];
}

export async function threeRouterLockspace(clock: ManualClock, cleanup: (() => void)[], opts: { voters: boolean }): Promise<ThreeRouterLockspace> {
  const mesh = createMesh(3, [
    [0, 1],
    [1, 2],
    [0, 2],
  ]);
  const mcs = mesh.routers.map((r) => midcomms(r, { clock }));
  const eps = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
  const dlms = eps.map((endpoint) => new Dlm({ endpoint, clock }));
  cleanup.push(() => {
    dlms.forEach((d) => d.close());
    eps.forEach((e) => e.close());
    mcs.forEach((m) => m.destroy());
  });
  await until(() => mesh.routers.every((r) => r.members('midcomms').length === 3), 'midcomms everywhere');
  const voters = mesh.routers.map((r) => nodeidOf(r.nodeId)).sort((a, b) => a - b);
  const ms: SpanMembership[] = [];
  for (const [i, r] of mesh.routers.entries()) ms.push(await joinOverSpans(r, dlms[i]!, 'app', { lvblen: 8, ...(opts.voters ? { voters, views: { ...VIEWS_TIMING, clock, store: new MemoryViewsStore() } } : {}) }));
  cleanup.push(() => ms.forEach((m) => m.close()));
  return { mesh, dlms, ms };
}
