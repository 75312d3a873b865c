import { describe, expect, it } from 'vitest';
import { map, take } from 'rxjs';
import { Multicast } from '../../src/iocom/multicast.ts';

describe('Multicast (the Subject stand-in of messages$, transactions$, rx$)', () => {
  it('delivers to every subscriber present, in subscription order', () => {
    const m = new Multicast<number>();
    const seen: string[] = [];
    m.subscribe((v) => seen.push(`a${v}`));
    m.next(1);
    m.subscribe((v) => seen.push(`b${v}`));
    m.next(2);
    expect(seen).toEqual(['a1', 'a2', 'b2']);
  });

  it('a subscriber added during next does not get that value; one removed stops at once', () => {
    const m = new Multicast<number>();
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
    const m = new Multicast<number>();
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
    const done = new Multicast<number>();
    const log: string[] = [];
    done.subscribe({ next: (v) => log.push(`n${v}`), complete: () => log.push('c1') });
    done.next(1);
    done.complete();
    done.complete();
    done.next(2);
    done.error(new Error('ignored after complete'));
    done.subscribe({ next: () => log.push('late next'), complete: () => log.push('c2'), error: () => log.push('late error') });
    expect(log).toEqual(['n1', 'c1', 'c2']);

    const failed = new Multicast<number>();
    const err = new Error('boom');
    const errs: unknown[] = [];
    failed.subscribe({ error: (e) => errs.push(e) });
    failed.error(err);
    failed.subscribe({ error: (e) => errs.push(e) });
    expect(errs).toEqual([err, err]);
    expect(failed.observed).toBe(false);
  });

  it('works with operators (pipe, take unsubscribes early)', () => {
    const m = new Multicast<number>();
    const got: number[] = [];
    let completed = false;
    m.pipe(map((v) => v * 10), take(2)).subscribe({ next: (v) => got.push(v), complete: () => (completed = true) });
    for (let i = 1; i <= 4; i++) m.next(i);
    expect(got).toEqual([10, 20]);
    expect(completed).toBe(true);
    expect(m.observed).toBe(false);
  });

  it('keeps only live subscribers across many subscribe/unsubscribe cycles', () => {
    const m = new Multicast<number>();
    let n = 0;
    const keep = m.subscribe(() => n++);
    for (let i = 0; i < 1000; i++) m.subscribe(() => {}).unsubscribe();
    m.next(1);
    expect(n).toBe(1);
    keep.unsubscribe();
    expect(m.observed).toBe(false);
  });
});
