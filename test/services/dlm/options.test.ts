/**
 * Options and lockspace parameters are validated in one place, with typed
 * errors; and a few rules not covered elsewhere (NOQUEUEBAST reaching the
 * convert queue, sb flags reset per call, ALTCW, a BAST callback given by a
 * conversion of a remote lock, the bound on messages saved while stopped).
 */
import { describe, expect, it } from 'vitest';
import { Dlm, DlmError, LKF, LKM, resolveDlmOptionsForTest } from './options-helper.ts';
import { singleNode } from './harness.ts';
import { cluster, pinHash } from './cluster.ts';
import { DlmSim, newLksb } from '../../../src/services/dlm/index.ts';

const { NL, CW, PR, EX } = LKM;

describe('option validation', () => {
  const bad: [string, () => unknown][] = [
    ['nodeid 0', () => new Dlm({ nodeid: 0 })],
    ['nodeid 2^32', () => new Dlm({ nodeid: 2 ** 32 })],
    ['tossMs -1', () => new Dlm({ tossMs: -1 })],
    ['tossMs NaN', () => new Dlm({ tossMs: Number.NaN })],
    ['maxSavedMessages 1.5', () => new Dlm({ maxSavedMessages: 1.5 })],
    ['lvblen 12', () => new Dlm().newLockspace('a', { lvblen: 12 })],
    ['lvblen -8', () => new Dlm().newLockspace('a', { lvblen: -8 })],
    ['empty lockspace name', () => new Dlm().newLockspace('')],
    ['65-byte lockspace name', () => new Dlm().newLockspace('x'.repeat(65))],
    ['members without this node', () => new Dlm({ nodeid: 1 }).newLockspace('a', { members: [2, 3] })],
    ['members but no endpoint', () => new Dlm({ nodeid: 1 }).newLockspace('a', { members: [1, 2] })],
  ];
  for (const [what, f] of bad) {
    it(`refuses ${what} with DlmError EINVAL`, () => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DlmError);
      expect((err as DlmError).code).toBe('EINVAL');
      expect((err as DlmError).message).toMatch(/got|must/);
    });
  }
  it('documents its defaults and opens an existing lockspace only with the same lvblen', () => {
    expect(resolveDlmOptionsForTest({})).toMatchObject({ nodeid: 1, tossMs: 10_000, maxSavedMessages: 100_000 });
    const dlm = new Dlm();
    const ls = dlm.newLockspace('a', { lvblen: 16 });
    expect(dlm.newLockspace('a', { lvblen: 16 })).toBe(ls);
    expect(() => dlm.newLockspace('a', { lvblen: 32 })).toThrow(expect.objectContaining({ code: 'EPROTO' }));
  });
  it('DlmError is branded: instanceof works on a copy, not on a plain Error', () => {
    const e = new DlmError('EAGAIN', 'x');
    expect(e.errno).toBe(-11);
    expect(new Error('x')).not.toBeInstanceOf(DlmError);
    expect({ code: 'EAGAIN' }).not.toBeInstanceOf(DlmError);
    expect(DlmError.fromStatus(-65537, 'op').code).toBe('ECANCEL');
    expect(DlmError.fromStatus(-999, 'op').code).toBe('EPROTO');
  });
});

describe('more rules', () => {
  it('NOQUEUEBAST also BASTs converting locks that block the request', () => {
    const t = singleNode();
    const [a, b, c] = [t.holder('A'), t.holder('B'), t.holder('C')];
    t.lock(a, PR);
    t.lock(b, PR);
    t.run();
    t.convert(b, EX);
    expect(t.run()).toEqual(['A bast EX']);
    t.lock(c, EX, LKF.NOQUEUE | LKF.NOQUEUEBAST);
    expect(t.run()).toEqual(['C ast EAGAIN', 'B bast EX']);
  });

  it('sb flags are reset at every call: a grant after a demotion reports 0', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, PR);
    t.lock(b, PR);
    t.run();
    t.convert(a, EX);
    t.convert(b, EX, LKF.CONVDEADLK);
    t.run();
    t.unlock(a);
    expect(t.run()).toEqual(['A ast EUNLOCK', 'B ast 0 sb=1']);
    t.convert(b, NL);
    expect(t.run()).toEqual(['B ast 0']);
  });

  it('ALTCW grants CW when the request is blocked and CW is not', () => {
    const t = singleNode();
    const [a, b] = [t.holder('A'), t.holder('B')];
    t.lock(a, CW);
    t.lock(b, PR, LKF.ALTCW);
    expect(t.run()).toEqual(['A ast 0', 'B ast 0 sb=4']);
  });

  it('a remote lock that gains a BAST callback in a conversion gets BASTs', () => {
    const c = cluster(3);
    const a = c.holder(3, 'A');
    const w = c.holder(2, 'W');
    c.ls.get(3)!.lock(NL, a.lksb, 0, 'd1g', a.ast); // no BAST callback
    const m = c.holder(1, 'M');
    c.lock(m, NL, 'd1g');
    c.run();
    c.convert(a, PR); // now with one
    c.run();
    c.lock(w, EX, 'd1g');
    expect(c.run()).toEqual(['A bast EX']);
  });

  it('messages saved while stopped are bounded; the overflow is counted', () => {
    const sim = new DlmSim({ nodes: [1, 2], hash: pinHash, maxSavedMessages: 1 });
    const [l1, l2] = [1, 2].map((id) => sim.node(id).newLockspace('s', { members: [1, 2] }));
    l1!.stop();
    const done: string[] = [];
    for (const name of ['d0a', 'd0b']) l2!.lock(NL, newLksb(0), 0, name, () => done.push(name));
    sim.runPending();
    expect(l1!.stats.refused.SAVED_OVERFLOW).toBe(1);
    l1!.start([1, 2]);
    sim.runPending();
    expect(done).toEqual(['d0a']); // the second lookup was dropped (recovery resends, next issue)
  });
});
