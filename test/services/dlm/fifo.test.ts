import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../src/services/dlm/fifo.ts';
import { ManualScheduler, MicrotaskScheduler } from '../../../src/services/dlm/scheduler.ts';
import { mulberry32 } from '../../helpers/prng.ts';

describe('Fifo', () => {
  it('keeps first-in first-out order across wrap-around and growth, against an array model (seeded)', () => {
    for (const seed of [1, 2, 3, 42]) {
      const rnd = mulberry32(seed);
      const q = new Fifo<number>(4);
      const model: number[] = [];
      let next = 0;
      for (let step = 0; step < 5000; step++) {
        if (rnd() < 0.55) {
          q.push(next);
          model.push(next++);
        } else {
          expect(q.shift(), `seed ${seed} step ${step}`).toBe(model.shift());
        }
        expect(q.length, `seed ${seed} step ${step}`).toBe(model.length);
      }
      while (model.length > 0) expect(q.shift(), `seed ${seed} drain`).toBe(model.shift());
      expect(q.shift()).toBeUndefined();
      expect(q.length).toBe(0);
    }
  });

  it('grows past its initial capacity with items wrapped around the end of the ring', () => {
    const q = new Fifo<string>(4);
    for (const s of ['a', 'b', 'c']) q.push(s);
    expect(q.shift()).toBe('a');
    expect(q.shift()).toBe('b');
    for (const s of ['d', 'e', 'f', 'g', 'h', 'i']) q.push(s); // wraps, then grows
    const out: string[] = [];
    for (let s = q.shift(); s !== undefined; s = q.shift()) out.push(s);
    expect(out).toEqual(['c', 'd', 'e', 'f', 'g', 'h', 'i']);
  });
});

describe('schedulers on the Fifo', () => {
  it('ManualScheduler runs tasks and what they post in FIFO order, a nested runPending included, and counts them', () => {
    const s = new ManualScheduler();
    const order: string[] = [];
    s.post(() => {
      order.push('a');
      s.post(() => order.push('c'));
    });
    s.post(() => {
      order.push('b');
      expect(s.runPending()).toBe(1); // the nested run takes 'c', posted by 'a'
      s.post(() => order.push('d'));
    });
    expect(s.pending).toBe(2);
    expect(s.runPending()).toBe(3); // a, b, d: the nested run counted 'c'
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(s.pending).toBe(0);
  });

  it('ManualScheduler stops between batches past its limit', () => {
    const s = new ManualScheduler();
    const again = (): void => s.post(again);
    s.post(again);
    expect(() => s.runPending(100)).toThrow(RangeError);
  });

  it('ManualScheduler keeps the tasks after one whose error its onError rethrows', () => {
    const s = new ManualScheduler();
    const order: string[] = [];
    s.post(() => {
      throw new Error('boom');
    });
    s.post(() => order.push('after'));
    expect(() => s.runPending()).toThrow('boom');
    expect(s.pending).toBe(1);
    expect(s.runPending()).toBe(1);
    expect(order).toEqual(['after']);
  });

  it('MicrotaskScheduler drains in FIFO order on one microtask, reports errors and goes on', async () => {
    const errors: unknown[] = [];
    const s = new MicrotaskScheduler((e) => errors.push(e));
    const order: number[] = [];
    s.post(() => order.push(1));
    s.post(() => {
      throw new Error('x');
    });
    s.post(() => {
      order.push(2);
      s.post(() => order.push(3));
    });
    expect(order).toEqual([]); // never synchronously
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual([1, 2, 3]);
    expect(errors).toHaveLength(1);
  });
});
