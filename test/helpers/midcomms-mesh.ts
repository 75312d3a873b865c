/**
 * What the midcomms-over-routers tests share (test/services/midcomms/router*.test.ts,
 * test/ops/midcomms-metrics.test.ts): whether one router of a mesh sees
 * another's midcomms span, and the cleanup after each test of the services
 * and the mesh it made.
 */
import type { Midcomms } from '../../src/services/midcomms/midcomms.ts';
import type { Mesh } from './mesh.ts';

/** Router `from` of `m` has a midcomms span of router `to`. */
export function midcommsReachable(m: Mesh, from: number, to: number): boolean {
  return m.routers[from]!.spans('midcomms').some((s) => s.node === m.routers[to]!.nodeId);
}

/** Destroy every service in `services` (emptying the list), then close `mesh` if there is one. */
export async function closeMidcomms(services: Midcomms[], mesh: Mesh | null): Promise<void> {
  for (const s of services.splice(0)) s.destroy();
  await mesh?.close();
}
