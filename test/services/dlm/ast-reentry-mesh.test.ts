/**
 * Adversarial review (session 8), end to end: the DLM over midcomms over
 * real Routers (three in a line, 0-1-2: node 0's traffic to node 2 is
 * relayed by node 1, so links carry relayed transactions and midcomms
 * channels, both tapped), with every session-8 fast path in play at once:
 * the receive tap, midcomms' deferred joined ACK and direct write (the
 * DLM's replies are sent from inside the midcomms reader), and the DLM's
 * deferred unused check, reused completion records and name/LVB copies.
 *
 * Clients on every node increment counters kept in resource LVBs (lvblen 8
 * and 64), starting the next cycle from inside the unlock's AST, in a
 * promise continuation, or from the driver; some ASTs throw (planted). Node
 * 0 holds an NL lock on every resource (keeps the LVB alive). Checked: every
 * cycle completes, every node reads every counter as the number of
 * increments done, only the planted throws are reported, each AST got its
 * own astarg.
 *
 * Seeds fixed (in the names). Memory links; midcomms on a ManualClock; the
 * mesh moves on event-loop turns, bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dlm, LKF, LKM, MidcommsEndpoint, newLksb, type Lockspace } from '../../../src/services/dlm/index.ts';
import { midcomms, type Midcomms } from '../../../src/services/midcomms/index.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { createMesh, turn, until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('DLM over midcomms over relayed routers: re-entering, throwing callbacks (review of the session-8 fast paths end to end)', () => {
  for (const seed of [0x3e5a1, 0x3e5a2]) {
    it(`seed ${seed}: every increment lands and every node reads the same counters`, async () => {
      const rand = lcg(seed);
      mesh = createMesh(3, [
        [0, 1],
        [1, 2],
      ]);
      const clock = new ManualClock();
      const errors: string[] = [];
      let thrown = 0;
      const mcs: Midcomms[] = mesh.routers.map((r) => midcomms(r, { clock }));
      const endpoints = mesh.routers.map((r, i) => new MidcommsEndpoint(r, mcs[i]!));
      const dlms = endpoints.map(
        (endpoint) =>
          new Dlm({
            endpoint,
            onCallbackError: (err: unknown) => {
              if ((err as Error).message === 'planted') thrown--;
              else errors.push(String((err as Error)?.stack ?? err));
            },
          }),
      );
      cleanup.push(() => {
        for (const d of dlms) d.close();
        for (const e of endpoints) e.close();
        for (const m of mcs) m.destroy();
      });
      const m = mesh;
      await until(() => m.routers.every((r) => r.members('midcomms').length === 3), 'midcomms everywhere');
      const members = endpoints.map((e) => e.nodeid).sort((x, y) => x - y);
      const lvblens = [8, 64];
      const spaces: Lockspace[][] = lvblens.map((lvblen) => dlms.map((d) => d.newLockspace(`mesh${lvblen}`, { lvblen, members })));
      const names = ['eightchr', 'q'.repeat(64), 'short'];
      const expected = new Map<string, number>();
      let nlGranted = 0;
      for (let s = 0; s < lvblens.length; s++) {
        for (const name of names) {
          expect(spaces[s]![0]!.lock(LKM.NL, newLksb(lvblens[s]!), LKF.VALBLK, name, () => void nlGranted++)).toBe(0);
          expected.set(`${lvblens[s]}/${name}`, 0);
        }
      }
      await until(() => nlGranted === lvblens.length * names.length, 'NL holders');

      let planned = 0;
      let cycles = 0;
      let reentries = 0;
      let calls = 0;
      const later: Array<() => void> = [];
      const client = (ls: Lockspace, lvblen: number, name: string, left: number): void => {
        planned += left;
        const cycle = (): void => {
          const lksb = newLksb(lvblen);
          let stage = 0;
          const grantArg = { id: ++calls };
          const unlockArg = { of: grantArg };
          const rv = ls.lock(
            LKM.EX,
            lksb,
            LKF.VALBLK,
            name,
            (arg: unknown) => {
              if (arg !== (stage === 0 ? grantArg : unlockArg)) errors.push(`${name}: AST ${stage} got another call's astarg`);
              if (stage++ === 0) {
                if (lksb.status !== 0) return void errors.push(`${name}: grant status ${lksb.status}`);
                const dv = new DataView(lksb.lvb!.buffer, lksb.lvb!.byteOffset, lvblen);
                const v = dv.getUint32(0, true);
                dv.setUint32(0, v + 1, true);
                for (let k = 4; k < lvblen; k++) lksb.lvb![k] = (v + 1 + k) & 0xff;
                const key = `${lvblen}/${name}`;
                expected.set(key, expected.get(key)! + 1);
                const rv2 = ls.unlock(lksb.lkid, LKF.VALBLK, lksb, unlockArg);
                if (rv2 !== 0) errors.push(`${name}: unlock ${rv2}`);
                if (rand() < 0.05) {
                  thrown++;
                  throw new Error('planted');
                }
                return;
              }
              cycles++;
              left--;
              if (left === 0) return;
              const r = rand();
              if (r < 0.4) {
                reentries++;
                cycle();
              } else if (r < 0.7) void Promise.resolve().then(cycle);
              else later.push(cycle);
              if (rand() < 0.05) {
                thrown++;
                throw new Error('planted');
              }
            },
            grantArg,
          );
          if (rv !== 0) errors.push(`${name}: lock ${rv}`);
        };
        cycle();
      };
      for (let s = 0; s < lvblens.length; s++) for (const name of names) for (let n = 0; n < 3; n++) client(spaces[s]![n]!, lvblens[s]!, name, 4 + Math.floor(rand() * 5));
      for (let step = 0; step < 20_000 && cycles < planned; step++) {
        if (later.length > 0 && rand() < 0.3) later.splice(Math.floor(rand() * later.length), 1)[0]!();
        if (step % 50 === 0) clock.advance(10);
        await turn();
      }
      expect(errors, `seed ${seed}`).toEqual([]);
      expect(cycles, `seed ${seed}`).toBe(planned);

      // Every node reads every counter under PR|VALBLK.
      const reads = new Map<string, number[]>();
      let pendingReads = 0;
      for (let s = 0; s < lvblens.length; s++) {
        for (const name of names) {
          const key = `${lvblens[s]}/${name}`;
          reads.set(key, []);
          for (let n = 0; n < 3; n++) {
            const ls = spaces[s]![n]!;
            const lksb = newLksb(lvblens[s]!);
            let done = false;
            pendingReads++;
            expect(
              ls.lock(LKM.PR, lksb, LKF.VALBLK, name, () => {
                if (done) return;
                done = true;
                const v = new DataView(lksb.lvb!.buffer).getUint32(0, true);
                reads.get(key)!.push(v);
                for (let k = 4; k < lvblens[s]!; k++) if (v > 0 && lksb.lvb![k] !== ((v + k) & 0xff)) errors.push(`${key}: LVB byte ${k} after ${v}`);
                pendingReads--;
                ls.unlock(lksb.lkid, 0, lksb);
              }),
            ).toBe(0);
          }
        }
      }
      for (let i = 0; i < 20_000 && pendingReads > 0; i++) await turn();
      expect(pendingReads, `seed ${seed}`).toBe(0);
      expect(errors, `seed ${seed}`).toEqual([]);
      for (const [key, want] of expected) expect(reads.get(key), `seed ${seed} ${key}`).toEqual([want, want, want]);
      expect(thrown, `seed ${seed}: planted throws not reported once each`).toBe(0);
      expect(planned, `seed ${seed}`).toBeGreaterThan(60);
      expect(reentries, `seed ${seed}`).toBeGreaterThan(10);
      expect(endpoints.every((e) => e.unknownPeer === 0 && e.sendErrors === 0)).toBe(true);
    }, 60_000);
  }
});
