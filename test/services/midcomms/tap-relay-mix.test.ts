/**
 * Adversarial review (session 8) of the receive tap: relay halves and
 * midcomms channels as raw observers on the SAME links. Routers 2 and 3
 * relay the sessions between 0 and 1 (0-2-1, 0-3-1) and at the same time
 * hold midcomms sessions of their own with 0 and 1 over those very links,
 * so every link carries tapped relayed messages and tapped channel messages
 * interleaved, both ways. Some links are cut and brought back meanwhile.
 * Every session (0-1 through a relay, and 0-2, 2-1, 0-3, 3-1 direct) must
 * deliver everything exactly once and in order, both ways.
 * Fixed seeds (in the names); a ManualClock for midcomms; no sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { createMesh, turn, until } from '../../helpers/mesh.ts';
import type { Mesh } from '../../helpers/mesh.ts';
import { lcg, msg, msgNumber } from './fake-net.ts';
import { closeMidcomms, midcommsReachable } from '../../helpers/midcomms-mesh.ts';

let mesh: Mesh | null = null;
const services: Midcomms[] = [];

afterEach(async () => {
  await closeMidcomms(services, mesh);
  services.length = 0;
  mesh = null;
});

describe('receive tap: relayed transactions and midcomms channels on the same links', () => {
  for (const seed of [0x7a9a1, 0x7a9a2]) {
    it(`seed ${seed}: five sessions (one through relays, four direct over the relayed links), exactly once and in order both ways, with cuts`, async () => {
      const edges: Array<[number, number]> = [
        [0, 2],
        [2, 1],
        [0, 3],
        [3, 1],
      ];
      mesh = createMesh(4, edges);
      const rand = lcg(seed);
      const clock = new ManualClock();
      const mc = [0, 1, 2, 3].map((i) => midcomms(mesh!.routers[i]!, { clock, windowMessages: 64 }));
      services.push(...mc);
      const pairs: Array<[number, number]> = [[0, 1], ...edges];
      await until(() => pairs.every(([x, y]) => midcommsReachable(mesh!, x, y) && midcommsReachable(mesh!, y, x)), 'spans of midcomms');
      const N = 600;
      const flows: Array<{ name: string; from: Session; got: number[]; sent: number }> = [];
      for (const [x, y] of pairs) {
        const sx = mc[x]!.session(mesh.routers[y]!.nodeId);
        const sy = mc[y]!.session(mesh.routers[x]!.nodeId);
        const fx = { name: `${x}->${y}`, from: sx, got: [] as number[], sent: 0 };
        const fy = { name: `${y}->${x}`, from: sy, got: [] as number[], sent: 0 };
        sy.messages$.subscribe((m) => fx.got.push(msgNumber(m)));
        sx.messages$.subscribe((m) => fy.got.push(msgNumber(m)));
        flows.push(fx, fy);
      }
      const live = new Map<string, { cut(): void; readonly up: boolean }>();
      for (const l of mesh.links) live.set(`${l.a}-${l.b}`, l);
      const failures: string[] = [];
      let cuts = 0;
      const done = (): boolean => flows.every((f) => f.got.length >= N);
      for (let step = 0; step < 20_000 && !done(); step++) {
        for (const f of flows) for (let k = 0; k < 3 && f.sent < N && f.from.waiting === 0; k++) f.from.send(msg(f.sent++)).catch((e) => failures.push(`${f.name}: ${String(e)}`));
        const r = rand();
        if (r < 0.08 && cuts < 30) {
          const up = [...live.values()].filter((l) => l.up);
          if (up.length > 1) {
            up[Math.floor(rand() * up.length)]!.cut();
            cuts++;
          }
        } else if (r < 0.3) {
          for (const [key, l] of [...live.entries()]) {
            if (!l.up) {
              const [x, y] = key.split('-').map(Number) as [number, number];
              live.set(key, mesh.connect(x, y));
            }
          }
        }
        clock.advance(Math.floor(rand() * 20));
        await turn();
      }
      for (const [key, l] of [...live.entries()]) {
        if (!l.up) {
          const [x, y] = key.split('-').map(Number) as [number, number];
          live.set(key, mesh.connect(x, y));
        }
      }
      for (let i = 0; i < 5000 && (!done() || flows.some((f) => f.from.stats().queueMessages > 0)); i++) {
        clock.advance(50);
        await turn();
      }
      expect(failures, `seed ${seed}`).toEqual([]);
      for (const f of flows) expect(f.got, `seed ${seed} ${f.name}`).toEqual([...Array(N).keys()]);
      expect(cuts, `seed ${seed}`).toBeGreaterThan(2);
    }, 60_000);
  }
});
