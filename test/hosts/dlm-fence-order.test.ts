import { describe, expect, it } from 'vitest';
import { checkFenceOrder } from './dlm-fence-order.ts';
import type { CollectedRecord } from './dlm-grant-overlap.ts';

const g = (host: string, t: number, fence: number | null, mode: CollectedRecord['mode'] = 'EX', res = 'r0'): CollectedRecord => ({ host, run: 0, t, ev: 'grant', w: 0, op: 1, res, mode, fence });

describe('DLM fencing-token order check', () => {
  it('rising tokens per resource pass; PR and CR grants and other resources are apart', () => {
    const v = checkFenceOrder([g('a', 1, 10), g('b', 2, 11, 'PW'), g('c', 3, null, 'PR'), g('a', 4, 12), g('b', 2, 5, 'EX', 'r1')]);
    expect(v).toEqual({ grants: 4, withToken: 4, violations: [] });
  });

  it('a later grant with a token not above an earlier one is a violation', () => {
    const v = checkFenceOrder([g('a', 1, 10), g('b', 2, 10), g('c', 3, 9)]);
    expect(v.violations).toEqual([
      'r0: b#0 EX at 2 token 10 <= a#0 at 1 token 10',
      'r0: c#0 EX at 3 token 9 <= a#0 at 1 token 10',
    ]);
  });

  it('grants in the same millisecond are not compared with each other, only with earlier ones', () => {
    expect(checkFenceOrder([g('a', 1, 10), g('b', 5, 12), g('c', 5, 11)]).violations).toEqual([]);
    expect(checkFenceOrder([g('a', 1, 10), g('b', 5, 12), g('c', 5, 9)]).violations).toHaveLength(1);
  });

  it('counts grants without a token (a DLM without fencing)', () => {
    expect(checkFenceOrder([g('a', 1, null), g('b', 2, null)])).toEqual({ grants: 2, withToken: 0, violations: [] });
  });
});
