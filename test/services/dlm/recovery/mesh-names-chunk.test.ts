/**
 * Recovery over real routers with a directory larger than one RCOM NAMES
 * chunk. The NAMES reply was sized to the DLM's 4096-byte message limit, but
 * midcomms carries at most 4072 bytes in an OPTS frame (Linux sizes it
 * DLM_MAX_APP_BUFSIZE - sizeof(struct dlm_rcom) for that reason): a full
 * chunk was refused by midcomms, lost, and recovery waited for ever.
 * Three routers in a full mesh, midcomms and the DLM on one ManualClock,
 * virtual time in 10 ms steps (no sleeps).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dlm, LKM, MidcommsEndpoint, newLksb, type Lksb, type Lockspace } from '../../../../src/services/dlm/index.ts';
import { DLM_MAX_APP_BUFSIZE, DLM_RCOM_FIXED_LEN } from '../../../../src/services/dlm/message.ts';
import { answerNames } from '../../../../src/services/dlm/recovery/directory-rebuild.ts';
import { midcomms, type Midcomms } from '../../../../src/services/midcomms/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { createMesh, until, type Mesh } from '../../../helpers/mesh.ts';
import { virtualTime } from '../../../helpers/virtual-time.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

const RESOURCES = 1500;
const nameOf = (i: number): string => `a-resource-name-long-enough-${i}`;

describe('recovery over midcomms: RCOM NAMES chunks fit an OPTS frame', () => {
  it('a NAMES reply is at most DLM_MAX_APP_BUFSIZE (4072) bytes with its RCOM header', () => {
    const enc = new TextEncoder();
    const names = Array.from({ length: 500 }, (_, i) => enc.encode(`${'n'.repeat(60)}${i}`)).sort((a, b) => Buffer.compare(a, b));
    const buf = answerNames(names, new Uint8Array(0));
    expect(buf.length).toBeGreaterThan(3000); // a full chunk, not a short list
    expect(DLM_RCOM_FIXED_LEN + buf.length).toBeLessThanOrEqual(DLM_MAX_APP_BUFSIZE);
    expect(DLM_MAX_APP_BUFSIZE).toBe(4072);
  });

  it(`${RESOURCES} resources over 3 routers: the highest node dies, the survivors recover and grant its resources`, async () => {
    mesh = createMesh(3, [
      [0, 1],
      [0, 2],
      [1, 2],
    ]);
    const clock = new ManualClock();
    const vt = virtualTime(clock, 60_000);
    const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r, { clock }));
    const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
    const dlms = endpoints.map((endpoint) => new Dlm({ endpoint, clock }));
    cleanup.push(() => {
      for (const d of dlms) d.close();
      for (const e of endpoints) e.close();
      for (const m of mcs) m.destroy();
    });
    await until(() => mesh!.routers.every((r) => r.members('midcomms').length === 3), 'midcomms everywhere');
    const ids = endpoints.map((e) => e.nodeid).sort((a, b) => a - b);
    const ls = new Map<number, Lockspace>(endpoints.map((e, i) => [e.nodeid, dlms[i]!.newLockspace('names', { lvblen: 8, members: ids })]));
    const victim = ids[2]!;
    const live = ids.slice(0, 2);

    const held: { node: number; lksb: Lksb }[] = [];
    let granted = 0;
    for (let i = 0; i < RESOURCES; i++) {
      const node = ids[i % 3]!;
      const lksb = newLksb(8);
      held.push({ node, lksb });
      expect(ls.get(node)!.lock(LKM.EX, lksb, 0, nameOf(i), () => void (lksb.status === 0 && granted++))).toBe(0);
    }
    await vt.runUntil(() => granted === RESOURCES, 'initial locks');

    const waiting: Lksb[] = [];
    let done = 0;
    for (let i = 0; i < RESOURCES; i++) {
      if (held[i]!.node !== victim) continue;
      const lksb = newLksb(8);
      waiting.push(lksb);
      expect(ls.get(live[i % 2]!)!.lock(LKM.EX, lksb, 0, nameOf(i), () => void done++)).toBe(0);
    }
    await vt.runUntil(() => live.every((id) => ls.get(id)!.pendingOperations === 0), 'requests queued');
    expect(done).toBe(0);

    const vi = endpoints.findIndex((e) => e.nodeid === victim);
    for (const l of mesh.routers[vi]!.links) l.iocom.destroy();
    for (const id of live) ls.get(id)!.stop();
    for (const id of live) ls.get(id)!.start(live);
    await vt.runUntil(() => done === waiting.length && live.every((id) => !ls.get(id)!.recovering), 'recovery and the waiting grants');

    expect(waiting.every((l) => l.status === 0)).toBe(true);
    for (const id of live) {
      const e = endpoints.find((x) => x.nodeid === id)!;
      expect([e.sendErrors, e.backlogDrops]).toEqual([0, 0]);
    }
  });
});
