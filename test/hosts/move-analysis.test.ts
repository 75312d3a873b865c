import { describe, expect, it } from 'vitest';
import { analyseMove, formatMoveTable, type Move } from './move-analysis.ts';
import type { CallRecord } from './service-calls.ts';

/** Calls 10 ms long, one every 20 ms from t=0, answered as `who` says. */
function calls(who: readonly (string | 'lost' | 'noroute')[]): CallRecord[] {
  return who.map((w, i) => ({
    seq: i + 1,
    start: i * 20,
    end: i * 20 + 10,
    outcome: w === 'lost' || w === 'noroute' ? w : 'answered',
    by: w === 'lost' || w === 'noroute' ? null : w,
    extraAnswers: 0,
  }));
}

describe('analyseMove', () => {
  // Calls start at 0, 20, 40, ...; stop at 45 (call 3 in flight), stopped at 50, started at 55.
  const move: Move = { from: 'a', to: 'b', stopAt: 45, stoppedAt: 50, startAt: 55 };

  it('break-before-make: the gap, the failed calls in it, and every later call on the new host', () => {
    const v = analyseMove('c', calls(['a', 'a', 'a', 'lost', 'noroute', 'noroute', 'b', 'b', 'b']), move);
    expect(v.calls).toBe(6); // calls starting at or after min(startAt, stopAt) = 45: seq 4..9
    expect(v.gapMs).toBe(130 - 45); // call 7 ends at 130
    expect(v.answerGapMs).toBe(130 - 50); // from call 3's answer (ended 50), in flight at the stop
    expect(v.lostInGap).toBe(1);
    expect(v.norouteInGap).toBe(2);
    expect(v.after).toBe(2);
    expect(v.afterOnNew).toBe(2);
    expect(v.afterElsewhere).toEqual([]);
    expect(v.oldAfterStopped).toBe(0);
  });

  it('names each later call that did not reach the new host, and old answers after the stop', () => {
    const v = analyseMove('c', calls(['a', 'a', 'a', 'a', 'b', 'lost', 'a', 'b']), move);
    expect(v.afterElsewhere).toEqual(['6 lost -', '7 answered a']);
    expect(v.afterOnNew).toBe(1);
    expect(v.oldAfterStopped).toBe(2); // calls 4 (start 60) and 7 (start 120)
  });

  it('no answer on the new host: gap unknown', () => {
    const v = analyseMove('c', calls(['a', 'a', 'a', 'lost', 'lost']), move);
    expect(v.gapMs).toBeNull();
    expect(v.answerGapMs).toBeNull();
    expect(v.after).toBe(0);
  });

  it('make-before-break: answers on the old host until the stop, then on the new one, nothing lost', () => {
    const mbb: Move = { from: 'a', to: 'b', startAt: 5, stopAt: 65, stoppedAt: 70, until: 200 };
    const v = analyseMove('c', calls(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'b', 'a']), mbb);
    expect(v.calls).toBe(9); // starts 20..180; call 11 starts at 200 = until
    expect(v.gapMs).toBe(90 - 65);
    expect(v.answerGapMs).toBe(90 - 70);
    expect(v.lostInGap + v.norouteInGap).toBe(0);
    expect(v.after).toBe(5);
    expect(v.afterOnNew).toBe(5);
  });

  it('counts extra answers as duplicates and formats a table row per client', () => {
    const cs = calls(['a', 'b', 'b']).map((c, i) => (i === 2 ? { ...c, extraAnswers: 1 } : c));
    const v = analyseMove('h5', cs, { from: 'a', to: 'b', stopAt: 10, stoppedAt: 12, startAt: 0 });
    expect(v.duplicates).toBe(1);
    const md = formatMoveTable('move a -> b', [v]);
    expect(md.split('\n')[2]).toBe(`| h5 | 3 | ${30 - 10} | ${30 - 10} | 0 | 0 | 1 | 1 | 0 | 0 | 1 |`);
  });
});
