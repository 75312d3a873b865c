/**
 * Adversarial review (session 8) of the DLM's per-message fast paths with
 * the node's real scheduler (MicrotaskScheduler: the deferred unused check
 * `checkUnusedSoon`/`postAfter`, reused completion records `CastDelivery`,
 * reused name/LVB copies `ExtraCopies`, the idle-granted unlock fast path),
 * which the simulator-based model check (ManualScheduler) does not run.
 *
 * Three nodes on a hand-driven network (in order per pair, pairs interleaved
 * at random, virtual time). Clients on every node increment a counter kept
 * in a resource's LVB: EX|VALBLK, read the LVB, write +1, unlock with VALBLK.
 * From inside the callbacks: the next cycle is started in the unlock's AST
 * itself, or in a promise continuation of it, or later from the driver; an
 * AST keeps its lksb and LVB and checks them later (they must still hold
 * what that AST saw: nothing reused behind its back); some ASTs throw after
 * their work (a callback error, counted, costs nothing else). Names of
 * lengths equal to the LVB length and to other lengths share the receive
 * copies' buffers. lvblen 8, 32 and 64 in different lockspaces at once.
 * Node 1 holds an NL lock on every resource (the Linux idiom that keeps the
 * LVB alive between increments).
 *
 * Checked: every cycle completes, each resource's counter (read at the end
 * with PR|VALBLK from every node) equals the increments done on it (no lost
 * or stale LVB), the thrown errors are exactly the planted ones, kept lksb
 * snapshots are intact, and once all is unlocked and the clock passes the
 * retirement delay no node but the NL holder keeps a resource.
 *
 * Seeds fixed, in the test names; DLM_ATTACK_SEEDS=n runs n more.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/util/clock.ts';
import { Dlm, DLM_ERRNO, LKF, LKM, newLksb, type Lksb, type Lockspace } from '../../../src/services/dlm/index.ts';

const TOSS_MS = 1000;
const NODES = [1, 2, 3];

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ticks = async (n = 6): Promise<void> => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

interface Outcome {
  counters: Record<string, number[]>;
  expected: Record<string, number>;
  cycles: number;
  planned: number;
  thrown: number;
  errors: string[];
  badKept: number;
  leftover: string[];
  reentries: number;
  recovered: number;
}

async function attackRun(seed: number, recoveries = 0): Promise<Outcome> {
  const rand = lcg(seed);
  const clock = new ManualClock();
  // Per ordered pair, a FIFO (midcomms' order); pairs interleaved at random.
  const pipes = new Map<string, { to: number; from: number; q: Uint8Array[] }>();
  const receivers = new Map<number, (from: number, bytes: Uint8Array) => void>();
  const errors: string[] = [];
  let thrown = 0;
  const dlms = NODES.map(
    (id) =>
      new Dlm({
        endpoint: {
          nodeid: id,
          asyncReceive: true,
          send: (to: number, bytes: Uint8Array) => {
            const k = `${id}>${to}`;
            let p = pipes.get(k);
            if (!p) pipes.set(k, (p = { from: id, to, q: [] }));
            p.q.push(bytes.slice());
          },
          setReceiver: (fn: ((from: number, bytes: Uint8Array) => void) | null) => void (fn ? receivers.set(id, fn) : receivers.delete(id)),
        },
        hash: (name: Uint8Array) => {
          let h = 2166136261;
          for (const b of name) h = Math.imul(h ^ b, 16777619);
          return h >>> 0;
        },
        clock,
        tossMs: TOSS_MS,
        onCallbackError: (err: unknown) => {
          if ((err as Error).message === 'planted') thrown--;
          else errors.push(String((err as Error)?.stack ?? err));
        },
      }),
  );
  const lvblens = [8, 32, 64];
  // One lockspace per lvblen, on every node.
  const spaces = lvblens.map((lvblen) => NODES.map((_, i) => dlms[i]!.newLockspace(`ls${lvblen}`, { lvblen, members: NODES })));
  // Names: lengths equal to some lvblen (8, 32, 64) and others.
  const names = (lvblen: number): string[] => [`n${'x'.repeat(7)}`.slice(0, 8), 'r'.repeat(32), 's'.repeat(64), 'short', `mid-${lvblen}-name`];
  const expected: Record<string, number> = {};
  let cycles = 0;
  let planned = 0;
  let reentries = 0;
  let calls = 0;
  let recoveriesLeft = recoveries;
  let badKept = 0;
  const later: Array<() => void> = [];
  const kept: Array<{ lksb: Lksb; lkid: number; status: number; lvb: string }> = [];

  const deliverOne = (): boolean => {
    const busy = [...pipes.values()].filter((p) => p.q.length > 0);
    if (busy.length === 0) return false;
    const p = busy[Math.floor(rand() * busy.length)]!;
    const bytes = p.q.shift()!;
    receivers.get(p.to)?.(p.from, bytes);
    return true;
  };

  // The NL holders on node 1 (keep every resource and its LVB alive).
  for (let s = 0; s < lvblens.length; s++) {
    for (const name of names(lvblens[s]!)) {
      expect(spaces[s]![0]!.lock(LKM.NL, newLksb(lvblens[s]!), LKF.VALBLK, name, () => {})).toBe(0);
      expected[`${lvblens[s]}/${name}`] = 0;
    }
  }
  for (let i = 0; i < 200 && deliverOne(); i++) await ticks(2);
  await ticks();

  /** One client: `left` increments on `name` in `ls`, each started where the dice say. */
  const client = (ls: Lockspace, lvblen: number, name: string, left: number): void => {
    planned += left;
    const cycle = (): void => {
      const lksb = newLksb(lvblen);
      let stage = 0;
      // Each call's own astarg: a reused completion record must hand each AST its own.
      const grantArg = { name, id: ++calls };
      const unlockArg = { unlockOf: grantArg };
      const rv = ls.lock(LKM.EX, lksb, LKF.VALBLK, name, (arg: unknown) => {
        if (arg !== (stage === 0 ? grantArg : unlockArg)) errors.push(`${name}: AST ${stage} got another call's astarg`);
        if (stage++ === 0) {
          if (lksb.status !== 0) {
            errors.push(`${name}: grant status ${lksb.status}`);
            return;
          }
          const dv = new DataView(lksb.lvb!.buffer, lksb.lvb!.byteOffset, lvblen);
          const v = dv.getUint32(0, true);
          dv.setUint32(0, v + 1, true);
          // The rest of the LVB: a pattern of this value, so a stale or mixed copy shows.
          for (let k = 4; k < lvblen; k++) lksb.lvb![k] = (v + 1 + k) & 0xff;
          expected[`${lvblen}/${name}`]!++;
          if (rand() < 0.1) kept.push({ lksb, lkid: lksb.lkid, status: lksb.status, lvb: Buffer.from(lksb.lvb!).toString('hex') });
          const rv2 = ls.unlock(lksb.lkid, LKF.VALBLK, lksb, unlockArg);
          if (rv2 !== 0) errors.push(`${name}: unlock ${rv2}`);
          if (rand() < 0.05) {
            thrown++;
            throw new Error('planted');
          }
          return;
        }
        // The unlock's AST: the resource may have no lock now (but node 1's NL).
        if (recoveriesLeft > 0 && rand() < 0.03) {
          // Recovery of this lockspace on every node (same members) while deferred checks are pending.
          recoveriesLeft--;
          const all = spaces[lvblens.indexOf(lvblen)]!;
          for (const x of all) x.stop();
          for (const x of all) x.start(NODES);
        }
        cycles++;
        left--;
        if (left === 0) return;
        const r = rand();
        if (r < 0.4) {
          reentries++;
          cycle(); // locked again from inside the unlock's AST
        } else if (r < 0.7) void Promise.resolve().then(cycle);
        else later.push(cycle);
        if (rand() < 0.05) {
          thrown++;
          throw new Error('planted');
        }
      }, grantArg);
      if (rv !== 0) errors.push(`${name}: lock ${rv}`);
    };
    cycle();
  };

  for (let s = 0; s < lvblens.length; s++) {
    for (const name of names(lvblens[s]!)) {
      for (let n = 0; n < NODES.length; n++) if (rand() < 0.8) client(spaces[s]![n]!, lvblens[s]!, name, 3 + Math.floor(rand() * 6));
    }
  }
  for (let step = 0; step < 200_000 && cycles < planned; step++) {
    const r = rand();
    if (r < 0.05 && later.length > 0) later.splice(Math.floor(rand() * later.length), 1)[0]!();
    else if (r < 0.08) clock.advance(Math.floor(rand() * 50));
    else if (!deliverOne()) {
      if (later.length > 0) later.shift()!();
      else await ticks();
    }
    if (step % 3 === 0) await ticks(2);
  }
  for (let i = 0; i < 1000 && deliverOne(); i++) await ticks(2);
  await ticks();

  // Kept lksbs: their lock's id and the LVB their AST saw and wrote; the status is the unlock's (EUNLOCK). A later cycle uses its own lksb.
  for (const k of kept) if (k.lksb.lkid !== k.lkid || k.lksb.status !== DLM_ERRNO.EUNLOCK || Buffer.from(k.lksb.lvb!).toString('hex') !== k.lvb) badKept++;

  // Read every counter under PR|VALBLK from every node.
  const counters: Record<string, number[]> = {};
  for (let s = 0; s < lvblens.length; s++) {
    for (const name of names(lvblens[s]!)) {
      counters[`${lvblens[s]}/${name}`] = [];
      for (let n = 0; n < NODES.length; n++) {
        const lksb = newLksb(lvblens[s]!);
        const ls = spaces[s]![n]!;
        let read = false;
        expect(ls.lock(LKM.PR, lksb, LKF.VALBLK, name, () => {
          if (read) return; // the unlock's AST
          read = true;
          const v = new DataView(lksb.lvb!.buffer).getUint32(0, true);
          counters[`${lvblens[s]}/${name}`]!.push(v);
          // The whole LVB is the pattern the last writer put there.
          if (v > 0) for (let k = 4; k < lvblens[s]!; k++) if (lksb.lvb![k] !== ((v + k) & 0xff)) errors.push(`${name}: LVB byte ${k} ${lksb.lvb![k]} after ${v}`);
          ls.unlock(lksb.lkid, 0, lksb);
        })).toBe(0);
        for (let i = 0; i < 100 && deliverOne(); i++) await ticks(2);
        await ticks();
        for (let i = 0; i < 100 && deliverOne(); i++) await ticks(2);
        await ticks();
      }
    }
  }
  for (let i = 0; i < 1000 && deliverOne(); i++) await ticks(2);
  clock.advance(TOSS_MS * 3);
  for (let i = 0; i < 1000 && deliverOne(); i++) await ticks(2);
  await ticks();
  // No node but node 1 (the NL holder) keeps a resource it does not master or direct.
  const leftover: string[] = [];
  for (let s = 0; s < lvblens.length; s++) {
    for (let n = 1; n < NODES.length; n++) {
      for (const [key, r] of spaces[s]![n]!.rsbs) if (r.master !== NODES[n] && !r.dirRecord) leftover.push(`node ${NODES[n]} ls${lvblens[s]} ${key} toss ${r.toss}`);
    }
  }
  return { counters, expected, cycles, planned, thrown, errors, badKept, leftover, reentries, recovered: recoveries - recoveriesLeft };
}

describe('DLM callbacks that re-enter, throw and keep their lksb, with the node scheduler (review of the session-8 fast paths)', () => {
  const extra = Array.from({ length: Number(process.env.DLM_ATTACK_SEEDS ?? 0) }, (_, i) => 7000 + i);
  for (const seed of [0xa57a1, 0xa57a2, 0xa57a3, ...extra]) {
    it(`seed ${seed}: every increment lands, counters agree on every node, planted throws only, kept lksbs intact, idle resources retire`, async () => {
      const o = await attackRun(seed);
      expect(o.errors, `seed ${seed}`).toEqual([]);
      expect(o.cycles, `seed ${seed}`).toBe(o.planned);
      expect(o.thrown, `seed ${seed}: planted throws not reported (positive) or reported twice (negative)`).toBe(0);
      for (const [key, want] of Object.entries(o.expected)) expect(o.counters[key], `seed ${seed} ${key}`).toEqual([want, want, want]);
      expect(o.badKept, `seed ${seed}`).toBe(0);
      expect(o.leftover, `seed ${seed}`).toEqual([]);
      // Not vacuous: many cycles, many started from inside an unlock's AST.
      expect(o.planned, `seed ${seed}`).toBeGreaterThan(150);
      expect(o.reentries, `seed ${seed}`).toBeGreaterThan(30);
    }, 60_000);
  }
  for (const seed of [0xbec01, 0xbec02, 0xbec03, ...extra.map((s) => s + 500)]) {
    it(`seed ${seed}: the same with recoveries of a lockspace (every node stops and starts) begun from inside unlock ASTs`, async () => {
      const o = await attackRun(seed, 3);
      expect(o.errors, `seed ${seed}`).toEqual([]);
      expect(o.cycles, `seed ${seed}`).toBe(o.planned);
      expect(o.thrown, `seed ${seed}`).toBe(0);
      for (const [key, want] of Object.entries(o.expected)) expect(o.counters[key], `seed ${seed} ${key}`).toEqual([want, want, want]);
      expect(o.badKept, `seed ${seed}`).toBe(0);
      expect(o.leftover, `seed ${seed}`).toEqual([]);
      expect(o.recovered, `seed ${seed}`).toBeGreaterThan(0);
    }, 60_000);
  }
});
