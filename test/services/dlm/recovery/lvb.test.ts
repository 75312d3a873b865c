/** §4.7 on a cluster: the LVB after recovery, with a surviving master and with a new master. */
import { describe, expect, it } from 'vitest';
import { LKF, LKM, SBF } from '../../../../src/services/dlm/index.ts';
import { recoveryCluster } from './recovery-cluster.ts';

const { NL, CR, PR, PW, EX } = LKM;
const V = LKF.VALBLK;

describe('LVB after recovery (§4.7)', () => {
  it('master survived, a dead node held PW with VALBLK: VALNOTVALID, contents kept as last written', async () => {
    const c = recoveryCluster(3);
    const w = c.holder(1, 'W');
    c.lock(w, EX, 'd0l', V); // node 1: directory and master
    await c.settle();
    w.lksb.lvb!.set([1, 2, 3]);
    c.convert(w, NL, V); // writes the LVB
    const d = c.holder(3, 'D');
    c.lock(d, PW, 'd0l', V);
    expect(await c.settle()).toEqual(['W ast 0', 'D ast 0']);
    c.kill(3);
    await c.recover();
    const r = c.holder(2, 'R');
    c.lock(r, PR, 'd0l', V);
    expect(await c.settle()).toEqual([`R ast 0 sb=${SBF.VALNOTVALID}`]);
    expect([...r.lksb.lvb!.subarray(0, 3)]).toEqual([1, 2, 3]);
  });

  it('master survived, the dead node held PR: the LVB stays valid', async () => {
    const c = recoveryCluster(3);
    const w = c.holder(1, 'W');
    c.lock(w, EX, 'd0m', V);
    await c.settle();
    w.lksb.lvb!.set([4]);
    c.convert(w, NL, V);
    const d = c.holder(3, 'D');
    c.lock(d, PR, 'd0m', V);
    await c.settle();
    c.kill(3);
    await c.recover();
    const r = c.holder(2, 'R');
    c.lock(r, PR, 'd0m', V);
    expect(await c.settle()).toEqual(['R ast 0']);
    expect(r.lksb.lvb![0]).toBe(4);
  });

  it('new master, a survivor holds PR with VALBLK: its LVB becomes the resource LVB, valid', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    c.lock(m, EX, 'd1n', V); // node 3 masters
    await c.settle();
    m.lksb.lvb!.set([9, 9]);
    c.convert(m, NL, V);
    const a = c.holder(1, 'A');
    c.lock(a, PR, 'd1n', V);
    await c.settle();
    expect([...a.lksb.lvb!.subarray(0, 2)]).toEqual([9, 9]);
    c.log.splice(0);
    c.kill(3);
    await c.recover();
    const b = c.holder(2, 'B');
    c.lock(b, PR, 'd1n', V);
    expect(await c.settle()).toEqual(['B ast 0']);
    expect([...b.lksb.lvb!.subarray(0, 2)]).toEqual([9, 9]);
  });

  it('new master, only NL/CR holders with VALBLK: VALNOTVALID and the LVB of the highest sequence', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    c.lock(m, EX, 'd1o', V);
    await c.settle();
    m.lksb.lvb!.set([1]);
    const a = c.holder(1, 'A');
    c.convert(m, NL, V); // LVB [1], sequence 1
    await c.settle();
    c.lock(a, NL, 'd1o', V); // reads [1] at sequence 1
    await c.settle();
    c.convert(m, EX, V);
    await c.settle();
    m.lksb.lvb!.set([2]);
    c.convert(m, NL, V); // LVB [2], sequence 2
    const b = c.holder(2, 'B');
    c.lock(b, CR, 'd1o', V); // reads [2] at sequence 2
    await c.settle();
    expect([a.lksb.lvb![0], b.lksb.lvb![0]]).toEqual([1, 2]);
    c.log.splice(0);
    c.kill(3);
    await c.recover();
    c.convert(a, PR, V); // NL -> PR reads the recovered LVB
    expect(await c.settle()).toEqual([`A ast 0 sb=${SBF.VALNOTVALID}`]);
    expect(a.lksb.lvb![0]).toBe(2);
  });

  it('new master, no lock had VALBLK: the resource has no LVB (reads zeros)', async () => {
    const c = recoveryCluster(3);
    const m = c.holder(3, 'M');
    c.lock(m, EX, 'd1p', V);
    await c.settle();
    m.lksb.lvb!.set([7]);
    c.convert(m, NL, V);
    const a = c.holder(1, 'A');
    c.lock(a, NL, 'd1p'); // no VALBLK
    await c.settle();
    c.log.splice(0);
    c.kill(3);
    await c.recover();
    const b = c.holder(2, 'B');
    c.lock(b, PW, 'd1p', V);
    expect(await c.settle()).toEqual(['B ast 0']);
    expect(b.lksb.lvb![0]).toBe(0);
  });
});
