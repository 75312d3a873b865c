/**
 * The DLM over the real stack, as several tests build it: three Routers in a
 * line (0 - 1 - 2) joined by memory links, midcomms on each (timers on one
 * ManualClock), a MidcommsEndpoint and a Dlm per router. Resolves once every
 * router sees midcomms on all three; `cleanup` gets the teardown (the caller
 * closes the mesh itself, as its afterEach does).
 */
import { Dlm, MidcommsEndpoint } from '../../src/services/dlm/index.ts';
import { midcomms, type Midcomms } from '../../src/services/midcomms/index.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { createMesh, until, type Mesh } from './mesh.ts';

export interface DlmLine {
  mesh: Mesh;
  clock: ManualClock;
  mcs: Midcomms[];
  endpoints: MidcommsEndpoint[];
  dlms: Dlm[];
}

export async function dlmLine(cleanup: (() => void)[]): Promise<DlmLine> {
  const mesh = createMesh(3, [
    [0, 1],
    [1, 2],
  ]);
  const clock = new ManualClock();
  const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r, { clock }));
  const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
  const dlms = endpoints.map((endpoint) => new Dlm({ endpoint }));
  cleanup.push(() => {
    for (const d of dlms) d.close();
    for (const e of endpoints) e.close();
    for (const m of mcs) m.destroy();
  });
  await until(() => mesh.routers.every((r) => r.members('midcomms').length === 3), 'midcomms everywhere');
  return { mesh, clock, mcs, endpoints, dlms };
}
