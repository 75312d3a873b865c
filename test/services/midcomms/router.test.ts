/**
 * midcomms on real Routers over memory links: sessions through relays that
 * survive random link cuts (fixed seeds, printed on failure). Time for the
 * midcomms timers is a ManualClock advanced by the test; the mesh moves on
 * event-loop turns; no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MC_STATE } from '../../../src/services/midcomms/constants.ts';
import { midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Midcomms } from '../../../src/services/midcomms/midcomms.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { Router } from '../../../src/span/index.ts';
import { memoryPair } from '../../../src/transport/memory.ts';
import { createMesh, nodeIdOf, turn, until } from '../../helpers/mesh.ts';
import type { Mesh } from '../../helpers/mesh.ts';
import { lcg, msg, msgNumber } from './fake-net.ts';
import { closeMidcomms, midcommsReachable } from '../../helpers/midcomms-mesh.ts';

const SOAK = process.env.MIDCOMMS_SOAK === '1';
let mesh: Mesh | null = null;
const services: Midcomms[] = [];

afterEach(async () => {
  await closeMidcomms(services, mesh);
  mesh = null;
});

describe('midcomms over routers', () => {
  it('two nodes, direct: in order both ways, queues empty', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const clock = new ManualClock();
    const [m0, m1] = mesh.routers.map((r) => midcomms(r, { clock })) as [Midcomms, Midcomms];
    services.push(m0, m1);
    await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0), 'spans of midcomms');
    const s01 = m0.session(mesh.routers[1]!.nodeId);
    const s10 = m1.session(mesh.routers[0]!.nodeId);
    const got0: number[] = [];
    const got1: number[] = [];
    s01.messages$.subscribe((m) => got0.push(msgNumber(m)));
    s10.messages$.subscribe((m) => got1.push(msgNumber(m)));
    for (let i = 0; i < 500; i++) {
      await s01.send(msg(i));
      await s10.send(msg(1000 + i));
    }
    await until(() => got1.length === 500 && got0.length === 500, 'all delivered');
    clock.advance(100);
    await until(() => s01.stats().queueMessages === 0 && s10.stats().queueMessages === 0, 'all acknowledged');
    expect(got1).toEqual([...Array(500).keys()]);
    expect(got0).toEqual([...Array(500).keys()].map((i) => 1000 + i));
    expect(s01.state).toBe(MC_STATE.ESTABLISHED);
    // one channel in the end (the one opened by the lower DLM node id)
    expect(s01.stats().channels).toBe(1);
  });

  it('sessions are filed by node id; a router name resolves to it', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const clock = new ManualClock();
    const [m0, m1] = mesh.routers.map((r) => midcomms(r, { clock })) as [Midcomms, Midcomms];
    services.push(m0, m1);
    await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0), 'spans of midcomms');
    const byName = m0.session('n1');
    expect(byName).toBe(m0.session(mesh.routers[1]!.nodeId));
    const got: number[] = [];
    m1.session('n0').messages$.subscribe((m) => got.push(msgNumber(m)));
    await byName.send(msg(5));
    await until(() => got.length === 1, 'delivery');
    expect(m1.sessions().size).toBe(1);
    expect(() => m0.session(mesh!.routers[0]!.nodeId)).toThrow(/ourselves/);
  });

  it('a router that restarts (same node id, new incarnation) gets a new session; pending messages are reported, none delivered twice', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const clock = new ManualClock();
    const m0 = midcomms(mesh.routers[0]!, { clock });
    let m1 = midcomms(mesh.routers[1]!, { clock });
    services.push(m0, m1);
    await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0), 'spans of midcomms');
    const s = m0.session(mesh.routers[1]!.nodeId);
    const got1: number[] = [];
    m1.session(mesh.routers[0]!.nodeId).messages$.subscribe((m) => got1.push(msgNumber(m)));
    const outcome = new Map<number, string>();
    const track = (i: number): void => {
      s.sendAcked(msg(i)).then(
        () => outcome.set(i, 'acked'),
        (e: { code: string }) => outcome.set(i, e.code),
      );
    };
    for (let i = 0; i < 100; i++) track(i);
    await until(() => got1.length >= 50, 'half delivered');
    // restart router 1: same node id, a new run
    m1.destroy();
    for (const l of mesh.links) l.cut();
    await mesh.routers[1]!.close();
    const r1 = new Router({ name: 'n1', nodeId: nodeIdOf(1), localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    mesh.routers[1] = r1;
    const [x, y] = memoryPair();
    mesh.routers[0]!.attach(x);
    r1.attach(y);
    m1 = midcomms(r1, { clock });
    services.push(m1);
    const got2: number[] = [];
    m1.session(mesh.routers[0]!.nodeId).messages$.subscribe((m) => got2.push(msgNumber(m)));
    await until(() => midcommsReachable(mesh!, 0, 1), 'the restarted router serves midcomms');
    for (let i = 100; i < 150; i++) track(i);
    for (let i = 0; i < 2000 && outcome.size < 150; i++) {
      clock.advance(20);
      await turn();
    }
    expect(outcome.size).toBe(150);
    const before = new Set(got1);
    expect(got1).toEqual([...Array(got1.length).keys()]);
    const ackedAfter = [...outcome].filter(([i, v]) => v === 'acked' && !before.has(i)).map(([i]) => i);
    expect(got2).toEqual(ackedAfter);
    expect(got2.every((i) => !before.has(i))).toBe(true);
    expect([...outcome.values()].every((v) => v === 'acked' || v === 'PEER_RESET')).toBe(true);
    expect(s.stats().peerResets).toBe(1);
    expect(got2.length).toBeGreaterThanOrEqual(50);
  });

  it('fencing: close(node) fails what is pending with FENCED and forgets the session; the peer resets when we come back', async () => {
    mesh = createMesh(2, [[0, 1]]);
    const clock = new ManualClock();
    const [m0, m1] = mesh.routers.map((r) => midcomms(r, { clock })) as [Midcomms, Midcomms];
    services.push(m0, m1);
    await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0), 'spans of midcomms');
    const id1 = mesh.routers[1]!.nodeId;
    const peer = m1.session(mesh.routers[0]!.nodeId);
    const got: number[] = [];
    peer.messages$.subscribe((m) => got.push(msgNumber(m)));
    peer.pauseReading();
    const pending = m0.session(id1).sendAcked(msg(1));
    await turn();
    m0.close(id1);
    await expect(pending).rejects.toMatchObject({ code: 'FENCED' });
    expect(m0.sessions().has(id1)).toBe(false);
    peer.resumeReading();
    await m0.session(id1).send(msg(2));
    await until(() => got.includes(2), 'delivery in the new session');
    expect(peer.stats().peerResets).toBe(1);
    expect(got.filter((n) => n === 2)).toEqual([2]);
  });

  for (const seed of SOAK ? [0xc0ffee, 0xbeef, 0xfeed, 0xface] : [0xc0ffee, 0xbeef]) {
    it(`seed ${seed}: through two relay paths with random cuts, exactly once and in order`, async () => {
      // 0 and 1 talk; 2 and 3 are relays: 0-2-1 and 0-3-1 (and the links come back after a cut).
      const edges: Array<[number, number]> = [
        [0, 2],
        [2, 1],
        [0, 3],
        [3, 1],
      ];
      mesh = createMesh(4, edges);
      const rand = lcg(seed);
      const clock = new ManualClock();
      const m0 = midcomms(mesh.routers[0]!, { clock, windowMessages: 128 });
      const m1 = midcomms(mesh.routers[1]!, { clock, windowMessages: 128 });
      services.push(m0, m1);
      await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0), 'spans of midcomms');
      const a = m0.session(mesh.routers[1]!.nodeId);
      const b = m1.session(mesh.routers[0]!.nodeId);
      const gotA: number[] = [];
      const gotB: number[] = [];
      a.messages$.subscribe((m) => gotA.push(msgNumber(m)));
      b.messages$.subscribe((m) => gotB.push(msgNumber(m)));
      const N = SOAK ? 100_000 : 3000;
      let sentA = 0;
      let sentB = 0;
      let cuts = 0;
      let relayKills = 0;
      const live = new Map<string, { cut(): void; readonly up: boolean }>();
      for (const l of mesh.links) live.set(`${l.a}-${l.b}`, l);
      const failures: unknown[] = [];
      for (let step = 0; step < (SOAK ? 2_000_000 : 20_000) && (cuts < 250 || sentA < N || sentB < N || gotA.length < N || gotB.length < N); step++) {
        for (let k = 0; k < 4 && sentA < N && a.waiting === 0; k++) a.send(msg(sentA++)).catch((e) => failures.push(e));
        for (let k = 0; k < 4 && sentB < N && b.waiting === 0; k++) b.send(msg(sentB++)).catch((e) => failures.push(e));
        const r = rand();
        if (r < (SOAK ? 0.01 : 0.3) && cuts < (SOAK ? 5000 : 400)) {
          // cut one live link; bring back any link that is down (so a path always returns)
          const up = [...live.entries()].filter(([, l]) => l.up);
          if (up.length > 0) {
            const [key, l] = up[Math.floor(rand() * up.length)]!;
            l.cut();
            cuts++;
            live.set(key, l);
          }
        } else if (r < (SOAK ? 0.012 : 0.36)) {
          // a relay dies: every link of relay 2 or 3 at once (restored below like any link)
          const relay = rand() < 0.5 ? 2 : 3;
          for (const [key, l] of live) if (l.up && key.split('-').map(Number).includes(relay)) l.cut();
          relayKills++;
          cuts++;
        } else if (r < 0.6) {
          for (const [key, l] of [...live.entries()]) {
            if (!l.up && rand() < 0.5) {
              const [x, y] = key.split('-').map(Number) as [number, number];
              live.set(key, mesh.connect(x, y));
            }
          }
        }
        clock.advance(Math.floor(rand() * 30));
        await turn();
      }
      // heal everything and let it settle
      for (const [key, l] of [...live.entries()]) {
        if (!l.up) {
          const [x, y] = key.split('-').map(Number) as [number, number];
          live.set(key, mesh.connect(x, y));
        }
      }
      for (let i = 0; i < 5000 && (gotA.length < N || gotB.length < N || a.stats().queueMessages > 0 || b.stats().queueMessages > 0); i++) {
        clock.advance(50);
        await turn();
      }
      expect(failures, `seed ${seed}`).toEqual([]);
      expect(gotB, `seed ${seed}: a->b`).toEqual([...Array(N).keys()]);
      expect(gotA, `seed ${seed}: b->a`).toEqual([...Array(N).keys()]);
      expect(a.stats().queueMessages, `seed ${seed}`).toBe(0);
      expect(b.stats().queueMessages, `seed ${seed}`).toBe(0);
      expect(cuts, `seed ${seed}`).toBeGreaterThanOrEqual(200);
      expect(relayKills, `seed ${seed}`).toBeGreaterThan(0);
      expect(a.stats().retransmits + b.stats().retransmits, `seed ${seed}`).toBeGreaterThan(0);
    }, SOAK ? 900_000 : 60_000);
  }
});
