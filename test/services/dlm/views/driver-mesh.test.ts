/**
 * The views driver on the real stack: Routers joined by memory links,
 * midcomms, real (idle) lockspaces joined with `voters`, the views messages
 * as one-shot transactions on `dlm:<name>`. Virtual time (ManualClock) for
 * the views and midcomms timers; the mesh moves on event-loop turns between
 * clock steps (bounded, no sleeps).
 */
import { virtualTime } from '../../../helpers/virtual-time.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { Dlm, joinOverSpans, MemoryViewsStore, MidcommsEndpoint, NO_VOTERS_STATE, REJOIN_BY_INCARNATION_STATE, VIEWS_CMD, viewsService, type SpanMembership } from '../../../../src/services/dlm/index.ts';
import { midcomms, nodeidOf, type Midcomms } from '../../../../src/services/midcomms/index.ts';
import { Router } from '../../../../src/span/index.ts';
import { memoryPair } from '../../../../src/transport/memory.ts';
import { ManualClock } from '../../../../src/util/clock.ts';
import { createMesh, nodeIdOf, turn, until, type Mesh } from '../../../helpers/mesh.ts';

interface Member {
  router: Router;
  mc: Midcomms;
  endpoint: MidcommsEndpoint;
  dlm: Dlm;
  ms: SpanMembership;
  store: MemoryViewsStore;
  states: string[];
}

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

const clock = new ManualClock();

type Base = Pick<Member, 'router' | 'mc' | 'endpoint' | 'dlm'>;

function base(router: Router): Base {
  const mc = midcomms(router, { clock });
  const endpoint = new MidcommsEndpoint(router, mc);
  const dlm = new Dlm({ endpoint, clock });
  return { router, mc, endpoint, dlm };
}

/** Midcomms and a Dlm on every router, and wait until each sees every midcomms. */
async function bases(routers: Router[]): Promise<Base[]> {
  const out = routers.map((r) => base(r));
  cleanup.push(() => out.forEach((b) => { b.dlm.close(); b.endpoint.close(); b.mc.destroy(); }));
  await until(() => routers.every((r) => r.members('midcomms').length === routers.length), 'midcomms everywhere');
  return out;
}

async function member(b: Base, voters: number[], store = new MemoryViewsStore()): Promise<Member> {
  const { router, mc, endpoint, dlm } = b;
  const ms = await joinOverSpans(router, dlm, 'app', { lvblen: 8, voters, views: { clock, store } });
  const states: string[] = [];
  ms.state$.subscribe((s) => states.push(s));
  const m = { router, mc, endpoint, dlm, ms, store, states };
  cleanup.push(() => m.ms.close());
  return m;
}

function stop(m: Member): void {
  m.ms.close();
  m.dlm.close();
  m.endpoint.close();
  m.mc.destroy();
}

const { run, runUntil } = virtualTime(clock, 10_000);

function cutNode(m: Mesh, i: number): void {
  for (const l of m.links) if ((l.a === i || l.b === i) && l.up) l.cut();
}

describe('views driver on the mesh', () => {
  it('3 routers: elect and grant under view 1 (the first view, naming every member with its run); a node cut off goes minority and stops, the others commit view 2 and restart their lockspace with it; after the heal view 3 takes it back', async () => {
    mesh = createMesh(3, [
      [0, 1],
      [1, 2],
      [0, 2],
    ]);
    const voters = mesh.routers.map((r) => nodeidOf(r.nodeId)).sort((a, b) => a - b);
    const bs = await bases(mesh.routers);
    const ms: Member[] = [];
    for (const b of bs) ms.push(await member(b, voters));
    await until(() => mesh!.routers.every((r) => r.members('dlm:app').length === 3), 'lockspace service everywhere');
    await runUntil(() => ms.every((m) => /of view 1 \(granting\)/.test(m.ms.state)), 'all granting under view 1');
    expect(ms.every((m) => m.ms.views!.stats.messagesIn > 0 && m.ms.views!.stats.dropped === 0)).toBe(true);
    // View 0 (the voters, runs unknown) never grants on the mesh: view 1 names each router's incarnation.
    const v1 = ms[0]!.ms.views!.protocolState.log.find((e) => e.kind === 'view');
    expect(v1).toMatchObject({ view: 1, members: voters, incarnations: voters.map((v) => mesh!.routers.find((r) => nodeidOf(r.nodeId) === v)!.incarnation) });
    expect(ms.every((m) => m.states.every((s) => !/of view 0 \(granting\)/.test(s)))).toBe(true);
    // Each lockspace was joined alone, so its first start (view 1) ran recovery with the others, whatever
    // the members: a fresh lockspace never resumes with empty tables (fault seed 1093).
    for (const m of ms) expect(m.ms.lockspace.raw.stats.recovery.completed).toBe(1);
    // A lock works across nodes under view 1.
    const lk = await ms[0]!.ms.lockspace.lock('r', 'EX');
    await lk.unlock();

    const cut = 2;
    const cutId = nodeidOf(mesh.routers[cut]!.nodeId);
    cutNode(mesh, cut);
    const rest = voters.filter((v) => v !== cutId);
    await runUntil(() => ms.filter((_, i) => i !== cut).every((m) => m.ms.viewsStats!.view === 2 && m.ms.viewsStats!.granting), 'majority commits view 2');
    await runUntil(() => /^minority: waiting/.test(ms[cut]!.ms.state), 'the cut node says minority');
    expect(ms[cut]!.ms.viewsStats!.granting).toBe(false);
    for (const [i, m] of ms.entries()) {
      if (i === cut) continue;
      expect(m.ms.viewsStats!.members).toEqual(rest);
      expect(m.ms.state).toMatch(/of view 2 \(granting\)/);
      expect([...m.ms.lockspace.raw.members]).toEqual(rest); // the lockspace was restarted with the view's members
      expect(m.ms.viewsStats!.recoveries).toBe(2); // started under view 1, recovered under view 2
    }
    const lk2 = await ms[1]!.ms.lockspace.lock('r', 'EX');
    await lk2.unlock();

    // Heal: the cut node hears it was excluded (fence), then view 3 takes it back.
    mesh.connect(cut, 0);
    mesh.connect(cut, 1);
    await runUntil(() => ms.every((m) => m.ms.viewsStats!.view === 3 && m.ms.viewsStats!.granting), 'everyone granting under view 3');
    for (const m of ms) {
      expect(m.ms.viewsStats!.members).toEqual(voters);
      expect([...m.ms.lockspace.raw.members]).toEqual(voters);
    }
    expect(ms[cut]!.ms.viewsStats!.fences).toBe(1);
    expect(ms[cut]!.states.some((s) => /^minority/.test(s))).toBe(true);
    const lk3 = await ms[cut]!.ms.lockspace.lock('r', 'PR');
    await lk3.unlock();
  });

  it('5 routers split 2|3: the minority stops granting and says so, the majority commits a view of 3 and recovers with it; after the heal the 2 are fenced and view 3 has all 5', async () => {
    const edges: Array<[number, number]> = [];
    for (let a = 0; a < 5; a++) for (let b = a + 1; b < 5; b++) edges.push([a, b]);
    mesh = createMesh(5, edges);
    const voters = mesh.routers.map((r) => nodeidOf(r.nodeId)).sort((a, b) => a - b);
    const bs = await bases(mesh.routers);
    const ms: Member[] = [];
    for (const b of bs) ms.push(await member(b, voters));
    await runUntil(() => ms.every((m) => m.ms.viewsStats?.granting === true), 'all 5 granting under view 1');
    const minority = [0, 1];
    const majorityIds = mesh.routers.filter((_, i) => !minority.includes(i)).map((r) => nodeidOf(r.nodeId)).sort((a, b) => a - b);
    for (const l of mesh.links) if (minority.includes(l.a) !== minority.includes(l.b)) l.cut();
    await runUntil(() => ms.every((m, i) => (minority.includes(i) ? /^minority: waiting/.test(m.ms.state) : m.ms.viewsStats!.view === 2 && m.ms.viewsStats!.granting)), 'split settled');
    for (const [i, m] of ms.entries()) {
      if (minority.includes(i)) {
        expect(m.ms.viewsStats!.granting).toBe(false);
        expect(m.ms.viewsStats!.view).toBe(1);
      } else {
        expect(m.ms.viewsStats!.members).toEqual(majorityIds);
        expect([...m.ms.lockspace.raw.members]).toEqual(majorityIds);
        expect(m.ms.viewsStats!.recoveries).toBe(2);
      }
    }
    mesh.connect(0, 2);
    mesh.connect(1, 3);
    await runUntil(() => ms.every((m) => m.ms.viewsStats!.view === 3 && m.ms.viewsStats!.granting), 'all 5 granting under view 3');
    for (const [i, m] of ms.entries()) {
      expect([...m.ms.lockspace.raw.members]).toEqual(voters);
      expect(m.ms.viewsStats!.fences).toBe(minority.includes(i) ? 1 : 0);
    }
  });

  it('a restarted router (new incarnation) resumes from its store and is named again with its new run: one view, the survivors recover with it as departed, no fence', async () => {
    mesh = createMesh(3, [
      [0, 1],
      [1, 2],
      [0, 2],
    ]);
    const voters = mesh.routers.map((r) => nodeidOf(r.nodeId)).sort((a, b) => a - b);
    const bs = await bases(mesh.routers);
    const ms: Member[] = [];
    for (const b of bs) ms.push(await member(b, voters));
    await runUntil(() => ms.every((m) => m.ms.viewsStats?.granting === true), 'all granting');
    // Restart router 2: a new Router with the same node id (a new incarnation), the same store.
    const old = ms[2]!;
    const term = old.ms.viewsStats!.term;
    cutNode(mesh, 2);
    stop(old);
    await old.router.close();
    const fresh = new Router({ name: 'n2', nodeId: nodeIdOf(2), localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    cleanup.push(() => void fresh.close());
    expect(fresh.incarnation).not.toBe(old.router.incarnation);
    for (const peer of [0, 1]) {
      const [a, b] = memoryPair();
      mesh.routers[peer]!.attach(a);
      fresh.attach(b);
    }
    const [fb] = [base(fresh)];
    cleanup.push(() => { fb!.dlm.close(); fb!.endpoint.close(); fb!.mc.destroy(); });
    await until(() => mesh!.routers.slice(0, 2).every((r) => r.members('midcomms').some((m) => m.node === fresh.nodeId && m.incarnation === fresh.incarnation)), 'the restarted midcomms seen');
    const again = await member(fb!, voters, old.store);
    expect(again.ms.views!.protocolState.currentTerm).toBeGreaterThanOrEqual(term);
    ms[2] = again;
    // Restarted from its store: it rejoins — no lease — until a view names its new run; it keeps serving the lockspace.
    expect(again.ms.state).toBe(REJOIN_BY_INCARNATION_STATE);
    expect(again.ms.viewsStats!.rejoining).toBe(true);
    const seen: { type: string; incarnations?: readonly number[] }[] = [];
    again.ms.views$.subscribe((o) => seen.push(o.type === 'committed' ? { type: 'committed', ...(o.incarnations ? { incarnations: o.incarnations } : {}) } : { type: o.type }));
    const freshId = nodeidOf(fresh.nodeId);
    const namesFresh = (m: Member): boolean => {
      const st = m.ms.views!.protocolState;
      const e = [...st.log.slice(0, st.commitIndex)].reverse().find((x) => x.kind === 'view');
      return e !== undefined && e.kind === 'view' && e.incarnations?.[e.members.indexOf(freshId)] === fresh.incarnation;
    };
    await runUntil(() => ms.every((m) => namesFresh(m) && m.ms.viewsStats!.granting), 'a view naming the new run, every node granting');
    expect(again.ms.viewsStats!.rejoining).toBe(false);
    expect(again.ms.viewsStats!.fences).toBe(0);
    // Nothing granted before a committed view naming the new incarnation.
    const firstGrant = seen.findIndex((o) => o.type === 'granting');
    expect(firstGrant).toBeGreaterThan(0);
    expect(seen.slice(0, firstGrant).some((o) => o.type === 'committed' && o.incarnations?.includes(fresh.incarnation))).toBe(true);
    expect(again.states[0]).toBe(REJOIN_BY_INCARNATION_STATE);
    const survivors = ms.slice(0, 2);
    for (const m of survivors) {
      expect(m.ms.viewsStats!.members).toEqual(voters);
      expect([...m.ms.lockspace.raw.members]).toEqual(voters);
      expect(m.ms.views!.stats.recoveries).toBeGreaterThanOrEqual(2); // view 1, then the view with the new run
    }
    // No view left it out: the new incarnation alone made the view new.
    const views = survivors[0]!.ms.views!.protocolState.log.filter((e) => e.kind === 'view').map((e) => (e.kind === 'view' ? e.members : []));
    expect(views.every((mem) => mem.length === 3)).toBe(true);
  });

  it('garbage on dlm-views:<name> is counted and dropped (wrong command, bad bytes) and the views carry on', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const voters = mesh.routers.map((r) => nodeidOf(r.nodeId)).sort((a, b) => a - b);
    const bs = await bases(mesh.routers);
    const ms = [await member(bs[0]!, voters), await member(bs[1]!, voters)];
    await runUntil(() => ms.every((m) => m.ms.viewsStats?.granting === true), 'both granting');
    const target = mesh.routers[1]!.nodeId;
    const before = ms[1]!.ms.viewsStats!.dropped;
    for (const aux of [new TextEncoder().encode('{"type":"vote-req"}'), new Uint8Array([1, 2, 3]), new Uint8Array(0)]) {
      const tx = mesh.routers[0]!.open(viewsService('app'), VIEWS_CMD, { aux, delete: true, node: target });
      tx.rx$.subscribe({ error: () => {} });
    }
    await run(20);
    expect(ms[1]!.ms.viewsStats!.dropped - before).toBe(3);
    await run(500);
    expect(ms.every((m) => m.ms.viewsStats!.granting)).toBe(true);
  });

  it('without voters: state says no split-brain protection, views$ is silent, members follow spans', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const dlms = (await bases(mesh.routers)).map((b) => b.dlm);
    const j = await Promise.all(dlms.map((d, i) => joinOverSpans(mesh!.routers[i]!, d, 'plain')));
    cleanup.push(() => j.forEach((x) => x.close()));
    expect(j[0]!.state).toBe(NO_VOTERS_STATE);
    expect(j[0]!.viewsStats).toBeNull();
    const seen: unknown[] = [];
    j[0]!.views$.subscribe((o) => seen.push(o));
    await until(() => j.every((x) => x.lockspace.raw.members.length === 2), 'two members');
    expect(seen).toEqual([]);
  });

  it('bad voters are refused before joining (typed error), and the service is withdrawn', async () => {
    mesh = createMesh(1, []);
    const mc = midcomms(mesh.routers[0]!, { clock });
    const endpoint = new MidcommsEndpoint(mesh.routers[0]!, mc);
    const dlm = new Dlm({ endpoint });
    cleanup.push(() => { dlm.close(); endpoint.close(); mc.destroy(); });
    await expect(joinOverSpans(mesh.routers[0]!, dlm, 'x', { voters: [12345] })).rejects.toMatchObject({ code: 'VIEWS_BAD_OPTION' });
    expect(mesh.routers[0]!.members('dlm:x')).toEqual([]);
    expect(dlm.lockspace('x')).toBeUndefined();
  });
});
