/**
 * The DLM over the real stack: Routers joined by memory links, midcomms
 * sessions through a relay, lockspace membership from spans. Time for the
 * midcomms timers is a ManualClock; the mesh moves on event-loop turns
 * (`until` polls a condition with a bounded number of turns), no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { joinOverSpans, type DlmLock, type SpanMembership } from '../../../src/services/dlm/index.ts';
import { dlmLine } from '../../helpers/dlm-mesh.ts';
import { until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

describe('DLM over midcomms and spans', () => {
  it('three routers in a line: members from spans, a lock mastered on one end, BAST and grant across the relay', async () => {
    const line = await dlmLine(cleanup);
    mesh = line.mesh;
    const { endpoints, dlms } = line;
    const joined: SpanMembership[] = [];
    for (let i = 0; i < 3; i++) joined.push(await joinOverSpans(mesh.routers[i]!, dlms[i]!, 'app', { lvblen: 8 }));
    cleanup.push(() => joined.forEach((j) => j.close()));
    await until(() => joined.every((j) => j.lockspace.raw.members.length === 3), 'lockspace members from spans');
    expect(joined[0]!.lockspace.raw.members).toEqual(endpoints.map((e) => e.nodeid).sort((a, b) => a - b));

    const a = await joined[0]!.lockspace.lock('res', 'EX');
    const basts: string[] = [];
    a.bast$.subscribe((m) => basts.push(m));
    let b: DlmLock | null = null;
    const pb = joined[2]!.lockspace.lock('res', 'PR').then((lk) => (b = lk));
    await until(() => basts.length === 1, 'BAST to the holder');
    expect(basts).toEqual(['PR']);
    expect(b).toBeNull();
    await a.unlock({ lvb: new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]) });
    await until(() => b !== null, 'grant across the relay');
    await pb;
    expect(b!.mode).toBe('PR');
    expect([...b!.lvb!]).toEqual([7, 0, 0, 0, 0, 0, 0, 0]);
    // Messages really went through the DLM's codec on each side.
    const sent = dlms.map((d) => d.lockspace('app')!.stats.sent);
    expect(sent.reduce((x, y) => x + y, 0)).toBeGreaterThan(3);
    expect(endpoints.every((e) => e.unknownPeer === 0 && e.sendErrors === 0)).toBe(true);
    await b!.unlock();
  });

  it('membership follows spans: a node joining grows the list; a change while a resource is in use is refused and counted', async () => {
    const line = await dlmLine(cleanup);
    mesh = line.mesh;
    const { dlms } = line;
    const j0 = await joinOverSpans(mesh.routers[0]!, dlms[0]!, 'grow');
    const j1 = await joinOverSpans(mesh.routers[1]!, dlms[1]!, 'grow');
    cleanup.push(() => [j0, j1].forEach((j) => j.close()));
    await until(() => j0.lockspace.raw.members.length === 2 && j1.lockspace.raw.members.length === 2, 'two members');
    const lk = await j1.lockspace.lock('r', 'EX');
    await lk.unlock();
    const j2 = await joinOverSpans(mesh.routers[2]!, dlms[2]!, 'grow');
    cleanup.push(() => j2.close());
    await until(() => [j0, j1, j2].every((j) => j.lockspace.raw.members.length === 3), 'three members');
    expect(j0.refusedChanges + j1.refusedChanges).toBe(0);
    const held = await j2.lockspace.lock('r2', 'PR');
    j1.close(); // node 1 leaves the lockspace while node 2 holds a lock: no recovery yet
    await until(() => j2.refusedChanges + j0.refusedChanges > 0, 'a refused change');
    expect(j2.lockspace.raw.members.length).toBe(3);
    await held.unlock();
  });
});
