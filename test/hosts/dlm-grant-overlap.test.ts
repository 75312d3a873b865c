import { describe, expect, it } from 'vitest';
import { checkOverlap, holdings, type CollectedRecord } from './dlm-grant-overlap.ts';

const rec = (host: string, t: number, ev: string, op: number, res = 'r0', mode: CollectedRecord['mode'] = 'EX'): CollectedRecord => ({ host, run: 0, t, ev, w: 0, op, res, mode });

describe('DLM grant overlap check (fault-free run)', () => {
  it('back-to-back EX holdings on one clock are fine; an unlock at t and a grant at t do not overlap', () => {
    const v = checkOverlap([rec('a', 10, 'grant', 1), rec('a', 20, 'unlock', 1), rec('b', 20, 'grant', 1), rec('b', 30, 'unlock', 1)]);
    expect(v.holdings).toBe(2);
    expect(v.violations).toEqual([]);
    expect(v.perHost.get('a')).toEqual({ requests: 0, grants: 1, fails: {}, unlocks: 1 });
  });

  it('finds two EX holders at once, and PR with EX, but not PR with PR or CR with PW', () => {
    const v = checkOverlap([
      rec('a', 10, 'grant', 1), rec('b', 15, 'grant', 1), rec('a', 20, 'unlock', 1), rec('b', 25, 'unlock', 1),
      rec('a', 30, 'grant', 2, 'r1', 'PR'), rec('b', 31, 'grant', 2, 'r1', 'PR'), rec('c', 32, 'grant', 1, 'r1', 'EX'),
      rec('a', 40, 'grant', 3, 'r2', 'CR'), rec('b', 41, 'grant', 3, 'r2', 'PW'),
    ]);
    expect(v.violations).toHaveLength(3);
    expect(v.violations[0]).toMatch(/^r0: a#0\/0\/1 EX \[10, 20\) and b#0\/0\/1 EX \[15, 25\)$/);
    expect(v.violations.slice(1).every((s) => s.startsWith('r1: ') && s.includes('c#0/0/1 EX'))).toBe(true);
  });

  it('a killed holder holds until its kill time; without one, to the end of the run', () => {
    const rs = [rec('a', 10, 'grant', 1), rec('b', 50, 'grant', 1)];
    expect(checkOverlap(rs, new Map([['a#0', 40]])).violations).toEqual([]);
    expect(checkOverlap(rs).violations).toHaveLength(1);
    expect(holdings(rs).map((h) => h.to)).toEqual([Infinity, Infinity]);
  });

  it('counts requests and failures by code per host', () => {
    const v = checkOverlap([rec('a', 1, 'request', 1), { ...rec('a', 2, 'fail', 1), code: 'ECANCEL' }, rec('a', 3, 'request', 2), { ...rec('a', 4, 'fail', 2), code: 'ECANCEL' }]);
    expect(v.perHost.get('a')).toEqual({ requests: 2, grants: 0, fails: { ECANCEL: 2 }, unlocks: 0 });
  });
});
