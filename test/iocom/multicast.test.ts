import { describe, expect, it } from 'vitest';
import { map, take } from 'rxjs';
import { Multicast } from '../../src/iocom/multicast.ts';

/** No test here expects a subscriber to throw: surface it if one does. */
const unexpected = (err: unknown): void => {
  throw err;
};

describe('Multicast (the Subject stand-in of messages$, transactions$, rx$)', () => {
  it('delivers to every subscriber present, in subscription order', () => {
    const m = new Multicast<number>(unexpected);
    const seen: string[] = [];
    m.subscribe((v) => seen.push(`a${v}`));
    m.next(1);
    m.subscribe((v) => seen.push(`b${v}`));
    m.next(2);
    expect(seen).toEqual(['a1', 'a2', 'b2']);
  });

  it('a subscriber added during next does not get that value; one removed stops at once', () => {
    const m = new Multicast<number>(unexpected);
    const seen: string[] = [];
    let late = false;
    const first = m.subscribe((v) => {
      seen.push(`a${v}`);
      if (!late) {
        late = true;
        m.subscribe((w) => seen.push(`c${w}`));
        second.unsubscribe();
      }
    });
    const second = m.subscribe((v) => seen.push(`b${v}`));
    m.next(1);
    m.next(2);
    first.unsubscribe();
    m.next(3);
    expect(seen).toEqual(['a1', 'a2', 'c2', 'c3']);
  });

  it('observed follows subscribe and unsubscribe', () => {
    const m = new Multicast<number>(unexpected);
    expect(m.observed).toBe(false);
    const s1 = m.subscribe(() => {});
    const s2 = m.subscribe(() => {});
    expect(m.observed).toBe(true);
    s1.unsubscribe();
    expect(m.observed).toBe(true);
    s2.unsubscribe();
    expect(m.observed).toBe(false);
  });

  it('complete and error reach current subscribers once and late subscribers at once', () => {
    const done = new Multicast<number>(unexpected);
    const log: string[] = [];
    done.subscribe({ next: (v) => log.push(`n${v}`), complete: () => log.push('c1') });
    done.next(1);
    done.complete();
    done.complete();
    done.next(2);
    done.error(new Error('ignored after complete'));
    done.subscribe({ next: () => log.push('late next'), complete: () => log.push('c2'), error: () => log.push('late error') });
    expect(log).toEqual(['n1', 'c1', 'c2']);

    const failed = new Multicast<number>(unexpected);
    const err = new Error('boom');
    const errs: unknown[] = [];
    failed.subscribe({ error: (e) => errs.push(e) });
    failed.error(err);
    failed.subscribe({ error: (e) => errs.push(e) });
    expect(errs).toEqual([err, err]);
    expect(failed.observed).toBe(false);
  });

  it('works with operators (pipe, take unsubscribes early)', () => {
    const m = new Multicast<number>(unexpected);
    const got: number[] = [];
    let completed = false;
    m.pipe(map((v) => v * 10), take(2)).subscribe({ next: (v) => got.push(v), complete: () => (completed = true) });
    for (let i = 1; i <= 4; i++) m.next(i);
    expect(got).toEqual([10, 20]);
    expect(completed).toBe(true);
    expect(m.observed).toBe(false);
  });

  it('keeps only live subscribers across many subscribe/unsubscribe cycles', () => {
    const m = new Multicast<number>(unexpected);
    let n = 0;
    const keep = m.subscribe(() => n++);
    for (let i = 0; i < 1000; i++) m.subscribe(() => {}).unsubscribe();
    m.next(1);
    expect(n).toBe(1);
    keep.unsubscribe();
    expect(m.observed).toBe(false);
  });

  it('a subscriber that throws is reported to the handler with the value; the others still get it; nothing escapes next()', () => {
    const reported: Array<[unknown, unknown]> = [];
    const m = new Multicast<number>((err, value) => reported.push([err, value]));
    const seen: number[] = [];
    const boom = new Error('handler bug');
    m.subscribe(() => {
      throw boom;
    });
    m.subscribe((v) => seen.push(v));
    expect(() => m.next(7)).not.toThrow();
    m.next(8);
    expect(seen).toEqual([7, 8]);
    expect(reported).toEqual([[boom, 7], [boom, 8]]);
  });

  it('an error with no error callback ends the subscription silently; a throwing error/complete callback is reported', () => {
    const reported: unknown[] = [];
    const failed = new Multicast<number>((err) => reported.push(err));
    failed.subscribe(() => {});
    failed.subscribe({
      error: () => {
        throw new Error('in error');
      },
    });
    expect(() => failed.error(new Error('link lost'))).not.toThrow();
    expect(reported.map((e) => (e as Error).message)).toEqual(['in error']);
    const done = new Multicast<number>((err) => reported.push(err));
    done.subscribe({
      complete: () => {
        throw new Error('in complete');
      },
    });
    done.complete();
    expect(reported.map((e) => (e as Error).message)).toEqual(['in error', 'in complete']);
  });
});
