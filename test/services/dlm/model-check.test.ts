/**
 * Randomized model check (fixed seeds, printed on failure).
 *
 * 1. Step by step: the same random lock/convert/unlock/cancel requests run
 *    on a 5-node lockspace and on a single-node reference; after each step
 *    both settle and must agree on every synchronous return, every callback
 *    each client got (in order), and every client's granted mode and LVB.
 * 2. Concurrent: batches of requests issued without settling, with messages
 *    between random node pairs held and released, on 5 nodes.
 *
 * Both runs record a history that an independent checker, written below and
 * sharing no code with the DLM (its own compatibility table), verifies:
 * never two incompatible granted modes on a resource at once; every accepted
 * request gets exactly one completion and no completion comes without an
 * outstanding request; BASTs go only to holders that block a waiter.
 */
import { describe, expect, it } from 'vitest';
import { DlmSim, newLksb, type Lksb } from '../../../src/services/dlm/index.ts';
import type { Lockspace } from '../../../src/services/dlm/lockspace.ts';

// ---------------------------------------------------------------- the checker

// Held (row) x requested (column), NL..EX, from the spec's §1.4 table.
const COMPAT = ['111111', '111110', '111000', '110100', '110000', '100000'];
const compat = (a: number, b: number): boolean => COMPAT[a]![b] === '1';
const F = { NOQUEUE: 0x1, CANCEL: 0x2, CONVERT: 0x4, VALBLK: 0x8, QUECVT: 0x10, EXPEDITE: 0x400, NOQUEUEBAST: 0x800, HEADQUE: 0x1000, NOORDER: 0x2000, ALTPR: 0x8000, FORCEUNLOCK: 0x20000 };
const S = { EUNLOCK: -65538, ECANCEL: -65537, EAGAIN: -11, EDEADLK: -35 };
const PR = 3, CW = 2;

type HistoryEvent =
  | { kind: 'issue'; client: number; res: string; op: 'lock' | 'convert' | 'unlock' | 'cancel'; mode: number; flags: number; rv: number }
  | { kind: 'ast'; client: number; status: number; sbflags: number }
  | { kind: 'bast'; client: number; mode: number }
  | { kind: 'step' };

/** Returns the list of violations found in a history (empty = correct). */
function checkHistory(history: readonly HistoryEvent[], strictBast: boolean, quiescentAtEnd: boolean): string[] {
  const bad: string[] = [];
  interface C {
    res: string;
    held: number; // mode granted by the last completion, -1 none
    converting: number; // mode a conversion in flight asks for, -1 none
    everHeld: Set<number>;
    life: number; // incremented by each new lock request (a client reuses its lksb)
    ops: { op: string; mode: number; flags: number; life: number }[]; // outstanding, oldest first
  }
  const cs = new Map<number, C>();
  const requestedOn = new Map<string, Set<number>>(); // res -> modes ever requested
  let stepRequests: { client: number; res: string; mode: number }[] = [];
  const get = (id: number): C => {
    let c = cs.get(id);
    if (!c) cs.set(id, (c = { res: '', held: -1, converting: -1, everHeld: new Set(), life: 0, ops: [] }));
    return c;
  };
  history.forEach((e, i) => {
    if (e.kind === 'step') {
      stepRequests = [];
      for (const [id, c] of cs) for (const op of c.ops) if (op.op === 'lock' || op.op === 'convert') stepRequests.push({ client: id, res: c.res, mode: op.mode });
      return;
    }
    const c = get(e.client);
    if (e.kind === 'issue') {
      if (e.rv !== 0) return; // refused: nothing will follow
      if (e.op === 'lock') {
        c.life++;
        c.res = e.res;
        c.held = -1;
        c.everHeld = new Set();
      }
      if (e.op === 'lock' || e.op === 'convert') {
        const set = requestedOn.get(c.res) ?? new Set();
        set.add(e.mode);
        if (e.flags & F.ALTPR) set.add(PR);
        requestedOn.set(c.res, set);
        stepRequests.push({ client: e.client, res: c.res, mode: e.mode });
        if (e.flags & F.ALTPR) stepRequests.push({ client: e.client, res: c.res, mode: PR });
      }
      if (e.op === 'unlock') c.held = -1; // from here on the client may not rely on it
      // While a conversion is in flight the lock holds either mode: a grant
      // to another client is wrong only if it conflicts with both.
      if (e.op === 'convert') c.converting = e.mode;
      if (e.op !== 'cancel') c.ops.push({ op: e.op, mode: e.mode, flags: e.flags, life: c.life });
      return;
    }
    if (e.kind === 'ast') {
      if (e.status === S.EUNLOCK) {
        const u = c.ops.find((o) => o.op === 'unlock');
        if (!u) bad.push(`#${i} client ${e.client}: EUNLOCK without an outstanding unlock`);
        else c.ops = c.ops.filter((o) => o.life !== u.life); // the lock's life ends: overlapped requests end with it
        if (!u || u.life === c.life) {
          c.held = -1;
          c.converting = -1;
        }
        return;
      }
      const k = c.ops.findIndex((o) => o.op === 'lock' || o.op === 'convert');
      if (k < 0) {
        bad.push(`#${i} client ${e.client}: completion ${e.status} without an outstanding request`);
        return;
      }
      const op = c.ops.splice(k, 1)[0]!;
      if (e.status === 0) {
        const mode = e.sbflags & 4 ? (op.flags & F.ALTPR ? PR : CW) : op.mode;
        for (const [other, o] of cs) {
          if (other !== e.client && o.res === c.res && o.held >= 0 && !compat(o.held, mode) && (o.converting < 0 || !compat(o.converting, mode))) {
            bad.push(`#${i} client ${e.client} granted ${mode} on ${c.res} while client ${other} holds ${o.held}`);
          }
        }
        c.held = mode;
        c.converting = -1;
        c.everHeld.add(mode);
      } else if (op.op === 'convert') {
        c.converting = -1;
      } else if (op.op === 'lock') {
        if (op.life === c.life) c.held = -1; // a failed/cancelled new request: the lock is gone
        c.ops = c.ops.filter((o) => !(o.op === 'unlock' && o.life === op.life));
      }
      return;
    }
    // BAST
    const blocks = [...c.everHeld].some((h) => !compat(h, e.mode));
    if (!blocks) bad.push(`#${i} client ${e.client}: BAST ${e.mode} but it never held a mode blocking it`);
    if (!(requestedOn.get(c.res)?.has(e.mode))) bad.push(`#${i} client ${e.client}: BAST ${e.mode} that no request on ${c.res} asked for`);
    if (strictBast) {
      if (c.held < 0 || compat(c.held, e.mode)) bad.push(`#${i} client ${e.client}: BAST ${e.mode} while holding ${c.held}, which does not block it`);
      if (!stepRequests.some((r) => r.client !== e.client && r.res === c.res && r.mode === e.mode)) bad.push(`#${i} client ${e.client}: BAST ${e.mode} with no waiter asking for it`);
    }
  });
  if (quiescentAtEnd) {
    for (const [id, c] of cs) if (c.ops.length > 0) bad.push(`client ${id}: ${c.ops.map((o) => o.op).join(',')} never completed`);
  }
  return bad;
}

// ---------------------------------------------------------- the systems

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

interface Client {
  id: number;
  node: number;
  lksb: Lksb;
}

class System {
  readonly sim: DlmSim;
  readonly ls = new Map<number, Lockspace>();
  readonly clients: Client[] = [];
  readonly history: HistoryEvent[] = [];
  /** Callbacks per client since the last take(). */
  readonly recent = new Map<number, string[]>();

  constructor(nodes: number[], nClients: number, clientNode: (i: number) => number) {
    this.sim = new DlmSim({ nodes, tossMs: 50 });
    for (const id of nodes) this.ls.set(id, this.sim.node(id).newLockspace('mc', { lvblen: 8, members: nodes }));
    for (let i = 0; i < nClients; i++) this.clients.push({ id: i, node: clientNode(i), lksb: newLksb(8) });
  }

  #note(client: number, line: string): void {
    const l = this.recent.get(client) ?? [];
    l.push(line);
    this.recent.set(client, l);
  }

  ast = (arg: unknown): void => {
    const c = this.clients[arg as number]!;
    this.history.push({ kind: 'ast', client: c.id, status: c.lksb.status, sbflags: c.lksb.flags });
    this.#note(c.id, `ast ${c.lksb.status} sb=${c.lksb.flags}`);
  };

  bast = (arg: unknown, mode: number): void => {
    this.history.push({ kind: 'bast', client: arg as number, mode });
    this.#note(arg as number, `bast ${mode}`);
  };

  issue(client: number, op: 'lock' | 'convert' | 'unlock' | 'cancel', res: string, mode: number, flags: number, lvbValue: number): number {
    const c = this.clients[client]!;
    const ls = this.ls.get(c.node)!;
    if (lvbValue >= 0) new DataView(c.lksb.lvb!.buffer).setUint32(0, lvbValue, true);
    let rv: number;
    if (op === 'lock') rv = ls.lock(mode, c.lksb, flags, res, this.ast, client, this.bast);
    else if (op === 'convert') rv = ls.lock(mode, c.lksb, flags | F.CONVERT, null, this.ast, client, this.bast);
    else rv = ls.unlock(c.lksb.lkid, flags, c.lksb, client);
    this.history.push({ kind: 'issue', client, res, op, mode, flags, rv });
    this.#note(client, `rv ${rv}`);
    return rv;
  }

  take(): Map<number, string[]> {
    const out = new Map(this.recent);
    this.recent.clear();
    return out;
  }

  /** Per client: granted mode (or -1) and the LVB's first word. */
  state(): string[] {
    return this.clients.map((c) => {
      const lkb = this.ls.get(c.node)!.lockById(c.lksb.lkid);
      const gr = lkb && !lkb.endOfLife ? lkb.grmode : -1;
      return `${c.id}:${gr}:${new DataView(c.lksb.lvb!.buffer).getUint32(0, true)}`;
    });
  }
}

/** What the client may do next, chosen from its own view (the reference run's lock state). */
function randomOp(rand: () => number, sys: System, client: number): { op: 'lock' | 'convert' | 'unlock' | 'cancel'; res: string; mode: number; flags: number; lvb: number } {
  const c = sys.clients[client]!;
  const lkb = sys.ls.get(c.node)!.lockById(c.lksb.lkid);
  const live = !!lkb && !lkb.endOfLife && c.lksb.lkid !== 0;
  const mode = Math.floor(rand() * 6);
  const res = `r${Math.floor(rand() * 3)}`;
  const pick = (bits: number[]): number => bits.reduce((acc, b) => (rand() < 0.15 ? acc | b : acc), 0);
  const lvb = Math.floor(rand() * 1000);
  if (!live) {
    let flags = F.VALBLK | pick([F.NOQUEUE, F.NOORDER, F.HEADQUE, F.ALTPR]);
    if (flags & F.NOQUEUE && rand() < 0.5) flags |= F.NOQUEUEBAST;
    if (mode === 0 && rand() < 0.2 && !(flags & F.NOQUEUE)) flags |= F.EXPEDITE;
    return { op: 'lock', res, mode, flags, lvb: -1 };
  }
  const r = rand();
  if (r < 0.45) {
    let flags = F.VALBLK | pick([F.NOQUEUE, F.HEADQUE, F.NOORDER]);
    if (lkb.grmode >= 0 && mode > lkb.grmode && rand() < 0.3) flags |= F.QUECVT;
    return { op: 'convert', res, mode, flags, lvb };
  }
  if (r < 0.7) return { op: 'unlock', res, mode: -1, flags: rand() < 0.3 ? F.FORCEUNLOCK | F.VALBLK : F.VALBLK, lvb };
  return { op: 'cancel', res, mode: -1, flags: F.CANCEL, lvb: -1 };
}

const NODES = [1, 2, 3, 4, 5];
const CLIENTS = 10;

async function stepByStep(seed: number, steps: number): Promise<void> {
  const rand = lcg(seed);
  const multi = new System(NODES, CLIENTS, (i) => NODES[i % NODES.length]!);
  const ref = new System([1], CLIENTS, () => 1);
  for (let s = 0; s < steps; s++) {
    multi.history.push({ kind: 'step' });
    ref.history.push({ kind: 'step' });
    const client = Math.floor(rand() * CLIENTS);
    const op = randomOp(rand, ref, client);
    const rvRef = ref.issue(client, op.op, op.res, op.mode, op.flags, op.lvb);
    const rvMulti = multi.issue(client, op.op, op.res, op.mode, op.flags, op.lvb);
    await Promise.all([multi.sim.settle(), ref.sim.settle()]);
    const where = `seed ${seed} step ${s} client ${client} ${op.op}(${op.res}, mode ${op.mode}, flags 0x${op.flags.toString(16)})`;
    expect(rvMulti, where).toBe(rvRef);
    expect(Object.fromEntries(multi.take()), where).toEqual(Object.fromEntries(ref.take()));
    expect(multi.state(), where).toEqual(ref.state());
  }
  for (const sys of [multi, ref]) {
    for (const c of sys.clients) sys.issue(c.id, 'unlock', '', -1, F.FORCEUNLOCK, -1);
    await sys.sim.settle();
    const bad = checkHistory(sys.history, true, true);
    expect(bad.slice(0, 5).join("\n"), `seed ${seed}`).toBe("");
  }
  // Everything retired: no resource left anywhere.
  for (const [id, ls] of multi.ls) expect(JSON.stringify(ls.dump()) + JSON.stringify([...ls.rsbs.values()].map((r) => ({ first: r.firstLkid, toss: r.toss, dirRecord: r.dirRecord, locks: r.locks.size, ll: r.lookupList.length }))), `seed ${seed} node ${id}`).toBe("[][]");
}

async function concurrent(seed: number, batches: number): Promise<number> {
  const rand = lcg(seed);
  const sys = new System(NODES, CLIENTS, (i) => NODES[i % NODES.length]!);
  let accepted = 0;
  for (let b = 0; b < batches; b++) {
    // Delay one direction between two random nodes for this batch (order kept).
    const from = NODES[Math.floor(rand() * 5)]!;
    const to = NODES[Math.floor(rand() * 5)]!;
    if (from !== to) sys.sim.hold(from, to);
    const n = 1 + Math.floor(rand() * 6);
    for (let k = 0; k < n; k++) {
      const client = Math.floor(rand() * CLIENTS);
      const op = randomOp(rand, sys, client);
      if (sys.issue(client, op.op, op.res, op.mode, op.flags, op.lvb) === 0) accepted++;
      if (rand() < 0.3) sys.sim.runPending();
    }
    sys.sim.runPending();
    if (from !== to) sys.sim.release(from, to);
    if (rand() < 0.5) await sys.sim.settle();
  }
  await sys.sim.settle();
  for (const c of sys.clients) sys.issue(c.id, 'unlock', '', -1, F.FORCEUNLOCK, -1);
  await sys.sim.settle();
  const bad = checkHistory(sys.history, false, true);
  expect(bad.slice(0, 5).join("\n"), `seed ${seed}`).toBe("");
  for (const ls of sys.ls.values()) expect(ls.dump(), `seed ${seed}`).toEqual([]);
  return accepted;
}

describe('model check: 5 nodes against a single-node reference, step by step', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, async () => {
      await stepByStep(seed, 250);
    });
  }
});

describe('model check: concurrent traffic on 5 nodes, independent history checker', () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`seed ${seed}`, async () => {
      expect(await concurrent(seed, 120)).toBeGreaterThan(100);
    });
  }
});

describe('the checker itself', () => {
  it('catches two incompatible grants, a missing or extra completion, and a stray BAST', () => {
    const h: HistoryEvent[] = [
      { kind: 'issue', client: 0, res: 'r', op: 'lock', mode: 5, flags: 0, rv: 0 },
      { kind: 'issue', client: 1, res: 'r', op: 'lock', mode: 3, flags: 0, rv: 0 },
      { kind: 'ast', client: 0, status: 0, sbflags: 0 },
      { kind: 'ast', client: 1, status: 0, sbflags: 0 },
      { kind: 'ast', client: 1, status: 0, sbflags: 0 },
      { kind: 'bast', client: 1, mode: 0 },
      { kind: 'issue', client: 2, res: 'r', op: 'lock', mode: 1, flags: 0, rv: 0 },
    ];
    const bad = checkHistory(h, false, true);
    expect(bad.some((b) => b.includes('granted 3 on r while client 0 holds 5'))).toBe(true);
    expect(bad.some((b) => b.includes('without an outstanding request'))).toBe(true);
    expect(bad.some((b) => b.includes('BAST 0'))).toBe(true);
    expect(bad.some((b) => b.includes('client 2: lock never completed'))).toBe(true);
  });
});
