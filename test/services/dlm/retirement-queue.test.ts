import { describe, expect, it } from 'vitest';
import { RetirementQueue } from '../../../src/services/dlm/retirement-queue.ts';
import { ManualClock } from '../../../src/util/clock.ts';

interface Res {
  name: string;
  toss: number | null;
}

function setup(delayMs = 100): { clock: ManualClock; q: RetirementQueue<Res>; retired: string[]; paused: { v: boolean } } {
  const clock = new ManualClock();
  const retired: string[] = [];
  const paused = { v: false };
  const q = new RetirementQueue<Res>(clock, delayMs, () => paused.v, (r) => retired.push(r.name));
  return { clock, q, retired, paused };
}

const res = (name: string): Res => ({ name, toss: null });

describe('RetirementQueue', () => {
  it('retires a resource the delay after it was added, in the order they were added', () => {
    const { clock, q, retired } = setup();
    const a = res('a');
    const b = res('b');
    q.add(a);
    clock.advance(30);
    q.add(b);
    expect(a.toss).toBe(100);
    expect(b.toss).toBe(130);
    clock.advance(69);
    expect(retired).toEqual([]);
    clock.advance(1);
    expect(retired).toEqual(['a']);
    clock.advance(30);
    expect(retired).toEqual(['a', 'b']);
    expect(clock.pending).toBe(0);
  });

  it('a revived resource does not retire, and its stale entry goes when the timer passes it', () => {
    const { clock, q, retired } = setup();
    const a = res('a');
    q.add(a);
    q.revive(a);
    expect(a.toss).toBeNull();
    clock.advance(1000);
    expect(retired).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('revived then unused again: retires the full delay after the second add, behind later ones', () => {
    const { clock, q, retired } = setup();
    const a = res('a');
    const b = res('b');
    q.add(a); // due 100
    clock.advance(10);
    q.add(b); // due 110
    clock.advance(40);
    q.revive(a);
    q.add(a); // unused again at 50: due 150, after b
    expect(a.toss).toBe(150);
    clock.advance(50); // t = 100: a's old entry is passed and moved to the back
    expect(retired).toEqual([]);
    clock.advance(10); // t = 110
    expect(retired).toEqual(['b']);
    clock.advance(39);
    expect(retired).toEqual(['b']);
    clock.advance(1); // t = 150
    expect(retired).toEqual(['b', 'a']);
    expect(clock.pending).toBe(0);
  });

  it('many revive/add cycles keep one entry per resource and retire it once', () => {
    const { clock, q, retired } = setup();
    const a = res('a');
    for (let i = 0; i < 1000; i++) {
      q.add(a);
      q.revive(a);
    }
    q.add(a);
    clock.advance(99);
    expect(retired).toEqual([]);
    clock.advance(1);
    expect(retired).toEqual(['a']);
    clock.advance(1000);
    expect(retired).toEqual(['a']);
  });

  it('remove() drops a resource at once; clear() forgets everything and stops the timer', () => {
    const { clock, q, retired } = setup();
    const a = res('a');
    const b = res('b');
    q.add(a);
    q.add(b);
    q.remove(a);
    expect(a.toss).toBeNull();
    clock.advance(100);
    expect(retired).toEqual(['b']);
    q.add(a);
    q.clear();
    expect(clock.pending).toBe(0);
    clock.advance(1000);
    expect(retired).toEqual(['b']);
  });

  it('nothing retires while paused; resume() picks the queue up again', () => {
    const { clock, q, retired, paused } = setup();
    const a = res('a');
    q.add(a);
    paused.v = true;
    clock.advance(200);
    expect(retired).toEqual([]);
    paused.v = false;
    q.resume();
    clock.advance(100);
    expect(retired).toEqual(['a']);
  });
});
