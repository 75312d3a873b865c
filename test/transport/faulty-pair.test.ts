import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { faultyPair } from '../helpers/faulty-pair.ts';
import type { FaultyPair } from '../helpers/faulty-pair.ts';
import { collect, transportCompliance } from './compliance.ts';
import { destroyAndWait } from './pairs.ts';

/** Let microtasks and immediates run until `cond` holds (bounded; never a timed sleep). */
async function until(cond: () => boolean, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond(), 'condition not reached within the turn bound').toBe(true);
}

transportCompliance('faulty pair without faults', async ({ allowHalfOpen }) => {
  const link = faultyPair({ allowHalfOpen });
  return { a: link.a, b: link.b, cleanup: () => destroyAndWait(link.a, link.b) };
});

describe('faultyPair', () => {
  let link: FaultyPair;
  afterEach(async () => {
    vi.useRealTimers();
    await destroyAndWait(link.a, link.b);
  });

  it('cut() closes both ends without an error event', async () => {
    link = faultyPair();
    const errors: unknown[] = [];
    link.a.on('error', (e) => errors.push(e));
    link.b.on('error', (e) => errors.push(e));
    const closed = Promise.all([once(link.a, 'close'), once(link.b, 'close')]);
    link.a.write('in flight');
    link.cut();
    await closed;
    expect(link.a.destroyed && link.b.destroyed).toBe(true);
    expect(errors).toEqual([]);
  });

  it('destroying one end reaches the other end through the middle', async () => {
    link = faultyPair();
    const closed = once(link.b, 'close');
    link.a.destroy();
    await closed;
    expect(link.b.destroyed).toBe(true);
  });

  it('stall() backs the writer up (write() false) and resume() delivers everything in order', async () => {
    link = faultyPair({ highWaterMark: 1024 });
    link.stall('aToB');
    const got = collect(link.b);
    const chunk = Buffer.alloc(512, 7);
    let writes = 0;
    // Buffers between a and the stall absorb a little; keep writing until
    // a stays blocked across loop turns (bounded rounds).
    for (let round = 0; round < 20; round++) {
      while (writes < 1000) {
        writes++;
        if (!link.a.write(chunk)) break;
      }
      for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
      if (link.a.writableNeedDrain) break;
    }
    expect(link.a.writableNeedDrain).toBe(true);
    expect(writes).toBeLessThan(1000);
    expect(link.stats('aToB').bytesOut).toBe(0); // nothing passed the stall
    const drained = once(link.a, 'drain');
    link.resume('aToB');
    await drained;
    link.a.end();
    const data = await got;
    expect(data.length).toBe(writes * 512);
    expect(data.every((x) => x === 7)).toBe(true);
  });

  it('corrupt(offset) flips exactly that byte, across chunk boundaries, without touching the writer buffer', async () => {
    link = faultyPair();
    link.corrupt(25, 'aToB');
    link.corrupt(29, 'aToB', 0x01);
    link.corrupt(3, 'bToA', 0x80);
    const src = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
    const chunks = [src.subarray(0, 10), src.subarray(10, 20), src.subarray(20, 30), src.subarray(30)];
    const got = collect(link.b);
    const back = collect(link.a);
    for (const c of chunks) link.a.write(c);
    link.a.end();
    link.b.end(Buffer.from([0, 0, 0, 0, 0]));
    const data = await got;
    const expected = Buffer.from(src);
    expected[25] = 25 ^ 0xff;
    expected[29] = 29 ^ 0x01;
    expect([...data]).toEqual([...expected]);
    expect(src[25]).toBe(25); // the writer's buffer is intact
    expect([...(await back)]).toEqual([0, 0, 0, 0x80, 0]);
    expect(link.stats('aToB').pendingCorruptions).toBe(0);
    expect(() => link.corrupt(10, 'aToB')).toThrow(RangeError);
  });

  it('hold()/release(count) lets chunks through one at a time, release() lets all go', async () => {
    link = faultyPair();
    link.hold('bToA');
    const received: string[] = [];
    link.a.on('data', (c: Buffer) => received.push(c.toString()));
    for (const s of ['one', 'two', 'three']) link.b.write(s);
    await until(() => link.stats('bToA').queued === 3);
    expect(received).toEqual([]);
    expect(link.release('bToA', 1)).toBe(1);
    await until(() => received.length === 1);
    expect(received).toEqual(['one']);
    link.b.write('four');
    await until(() => link.stats('bToA').queued === 3);
    expect(received).toEqual(['one']);
    expect(link.release('bToA')).toBe(3);
    await until(() => received.length === 4);
    expect(received).toEqual(['one', 'two', 'three', 'four']);
    link.b.write('five'); // no longer held
    await until(() => received.length === 5);
  });

  it('delay(ms) forwards each chunk ms later, in order (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    link = faultyPair();
    link.delay(100, 'aToB');
    const received: string[] = [];
    link.b.on('data', (c: Buffer) => received.push(c.toString()));
    link.a.write('x');
    await vi.advanceTimersByTimeAsync(50);
    link.a.write('y');
    await vi.advanceTimersByTimeAsync(49);
    expect(received).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(received).toEqual(['x']);
    await vi.advanceTimersByTimeAsync(50);
    expect(received).toEqual(['x', 'y']);
    link.delay(0, 'aToB');
    link.a.write('z');
    await vi.advanceTimersByTimeAsync(0);
    expect(received).toEqual(['x', 'y', 'z']);
  });

  it('rejects bad arguments', () => {
    link = faultyPair();
    expect(() => link.corrupt(-1)).toThrow(RangeError);
    expect(() => link.corrupt(0, 'aToB', 0)).toThrow(RangeError);
    expect(() => link.delay(1.5)).toThrow(RangeError);
    expect(() => link.release('aToB', -1)).toThrow(RangeError);
  });
});
