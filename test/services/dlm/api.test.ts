/**
 * The TypeScript API: promises that resolve at grant and reject with typed
 * DlmErrors, bast$, convert, LVBs, AbortSignal, leave(); on a plain Dlm (real
 * microtask delivery) and on the simulation (three nodes, an LVB counter).
 */
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Dlm, DlmError, DlmSim } from '../../../src/services/dlm/index.ts';
import { pinHash } from './cluster.ts';

const u32 = (b: Uint8Array | null): number => new DataView(b!.buffer, b!.byteOffset).getUint32(0, true);
const withU32 = (n: number, len = 32): Uint8Array => {
  const b = new Uint8Array(len);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

describe('TypeScript API on one node', () => {
  it('lock resolves at grant; a waiter BASTs the holder through bast$; unlock passes the lock on', async () => {
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('app', { lvblen: 16 });
    const a = await ls.lock('res', 'EX');
    expect(a.mode).toBe('EX');
    const bast = firstValueFrom(a.bast$);
    let bGranted = false;
    const pb = ls.lock('res', 'PR').then((lk) => {
      bGranted = true;
      return lk;
    });
    expect(await bast).toBe('PR');
    expect(bGranted).toBe(false);
    await a.unlock();
    const b = await pb;
    expect(b.mode).toBe('PR');
    expect(a.ended).toBe(true);
    await b.unlock();
    await ls.leave();
    expect(dlm.lockspace('app')).toBeUndefined();
  });

  it('rejects with typed errors: EAGAIN (NOQUEUE), EDEADLK, EINVAL, ECANCEL (abort)', async () => {
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('app');
    const a = await ls.lock('r', 'PR');
    const b = await ls.lock('r', 'PR');
    const err = await ls.lock('r', 'EX', { flags: ['NOQUEUE'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DlmError);
    expect((err as DlmError).code).toBe('EAGAIN');
    expect((err as DlmError).errno).toBe(-11);
    const pa = a.convert('EX');
    const dead = await b.convert('EX').catch((e: unknown) => e);
    expect((dead as DlmError).code).toBe('EDEADLK');
    expect(b.mode).toBe('PR');
    const ctl = new AbortController();
    const pc = ls.lock('r', 'EX', { signal: ctl.signal });
    ctl.abort();
    expect(((await pc.catch((e: unknown) => e)) as DlmError).code).toBe('ECANCEL');
    await b.unlock();
    await pa;
    expect(a.mode).toBe('EX');
    expect(((await ls.lock('r', 'XX' as 'EX').catch((e: unknown) => e)) as DlmError).code).toBe('EINVAL');
    expect(((await ls.lock('x'.repeat(65), 'EX').catch((e: unknown) => e)) as DlmError).code).toBe('EINVAL');
    await a.unlock();
  });

  it('LVB: written by unlock({ lvb }) from EX, read by the next holder', async () => {
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('app', { lvblen: 32 });
    const keep = await ls.lock('v', 'NL');
    const w = await ls.lock('v', 'EX');
    await w.unlock({ lvb: withU32(41) });
    const r = await ls.lock('v', 'PR');
    expect(u32(r.lvb)).toBe(41);
    await r.convert('EX');
    await r.convert('NL', { lvb: withU32(42) });
    const r2 = await ls.lock('v', 'CR');
    expect(u32(r2.lvb)).toBe(42);
    await Promise.all([keep.unlock(), r.unlock(), r2.unlock()]);
  });
});

describe('TypeScript API on three simulated nodes', () => {
  it('three nodes increment a counter in an LVB under EX: no lost update', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
    const spaces = await Promise.all([1, 2, 3].map((id) => sim.node(id).join('counter', { lvblen: 8, members: [1, 2, 3] })));
    // An NL lock on each node keeps the LVB alive between the EX holders.
    const keepers = spaces.map((ls) => ls.lock('d1counter', 'NL'));
    await sim.settle({ timers: false });
    await Promise.all(keepers);
    const rounds = 20;
    const worker = async (i: number): Promise<void> => {
      const ls = spaces[i]!;
      for (let k = 0; k < rounds; k++) {
        const lk = await ls.lock('d1counter', 'EX');
        const n = u32(lk.lvb);
        await lk.unlock({ lvb: withU32(n + 1, 8) });
      }
    };
    const done = Promise.all([0, 1, 2].map(worker));
    await sim.settle({ timers: false });
    await done;
    const check = spaces[0]!.lock('d1counter', 'PR');
    await sim.settle({ timers: false });
    expect(u32((await check).lvb)).toBe(3 * rounds);
  });

  it('an aborted remote request is cancelled; a remote NOQUEUE fails with EAGAIN', async () => {
    const sim = new DlmSim({ nodes: [1, 2], hash: pinHash });
    const [l1, l2] = await Promise.all([1, 2].map((id) => sim.node(id).join('x', { members: [1, 2] })));
    const p = l1!.lock('d0r', 'EX');
    await sim.settle({ timers: false });
    const holder = await p;
    const ctl = new AbortController();
    const waiting = l2!.lock('d0r', 'PR', { signal: ctl.signal }).catch((e: unknown) => e);
    const noq = l2!.lock('d0r', 'PR', { flags: ['NOQUEUE'] }).catch((e: unknown) => e);
    await sim.settle({ timers: false });
    ctl.abort();
    await sim.settle({ timers: false });
    expect(((await waiting) as DlmError).code).toBe('ECANCEL');
    expect(((await noq) as DlmError).code).toBe('EAGAIN');
    const u = holder.unlock();
    await sim.settle({ timers: false });
    await u;
  });
});

describe('leave() on a multi-member lockspace', () => {
  it('is a clean leave: its own locks end first; the others recover without it and keep theirs (nothing purged)', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
    const [l1, l2, l3] = await Promise.all([1, 2, 3].map((id) => sim.node(id).join('lv', { members: [1, 2, 3] })));
    const p = l1!.lock('d1x', 'EX'); // node 1 masters d1x (directory: node 2)
    await sim.settle({ timers: false });
    const mine = await p;
    const q = l2!.lock('d1x', 'NL'); // a lock of node 2 mastered on node 1
    await sim.settle({ timers: false });
    const theirs = await q;
    const leaving = l1!.leave();
    await sim.settle({ timers: false });
    await leaving;
    expect(mine.ended).toBe(true);
    expect(sim.node(1).lockspace('lv')).toBeUndefined();
    for (const l of [l2!, l3!]) l.raw.stop();
    for (const l of [l2!, l3!]) l.raw.start([2, 3]);
    await sim.settle();
    expect(theirs.mode).toBe('NL');
    expect(l2!.raw.stats.recovery.purged + l3!.raw.stats.recovery.purged).toBe(0);
    expect(l2!.raw.dump().find((r) => r.name === 'd1x')!.master).not.toBe(1);
    const u = theirs.unlock();
    await sim.settle();
    await u;
  });

  it('removes the directory records of what it mastered', async () => {
    const sim = new DlmSim({ nodes: [1, 2, 3], hash: pinHash });
    const [l1, l2] = await Promise.all([1, 2, 3].map((id) => sim.node(id).join('lv', { members: [1, 2, 3] })));
    const p = l1!.lock('d1x', 'EX'); // node 1 masters d1x (directory: node 2)
    await sim.settle({ timers: false });
    await p;
    const leaving = l1!.leave();
    await sim.settle({ timers: false });
    await leaving;
    await sim.settle({ timers: false });
    expect(sim.node(1).lockspace('lv')).toBeUndefined();
    // The directory (node 2) forgot node 1 as master: a new request elsewhere is mastered anew.
    expect(l2!.raw.dump().find((r) => r.name === 'd1x')).toBeUndefined();
  });
});
