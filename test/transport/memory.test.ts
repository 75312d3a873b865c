import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../src/transport/errors.ts';
import { createMemoryLink, memoryPair } from '../../src/transport/memory.ts';
import { duplexPair } from '../helpers/duplex-pair.ts';
import { collect, transportCompliance } from './compliance.ts';
import { memoryFactory } from './pairs.ts';

transportCompliance('memory', memoryFactory);

async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('memoryPair specifics', () => {
  it('delivers asynchronously: no data event runs inside write()', async () => {
    const [a, b] = memoryPair();
    const log: string[] = [];
    b.on('data', () => log.push('data'));
    a.write('x');
    log.push('after write');
    await turns();
    expect(log).toEqual(['after write', 'data']);
    a.destroy();
  });

  it('passes chunks through without copying', async () => {
    const [a, b] = memoryPair();
    const chunk = Buffer.from('same memory');
    const got = once(b, 'data');
    a.write(chunk);
    const [received] = (await got) as [Buffer];
    expect(received).toBe(chunk);
    a.destroy();
  });

  it('applies highWaterMark: a non-reading peer makes write() return false; reading again emits drain', async () => {
    const [a, b] = memoryPair({ highWaterMark: 100 });
    let writes = 0;
    // Keep writing until a stays blocked across loop turns (b's buffer absorbs a little first).
    for (let round = 0; round < 20 && !a.writableNeedDrain; round++) {
      while (writes < 100) {
        writes++;
        if (!a.write(Buffer.alloc(40))) break;
      }
      await turns();
    }
    expect(a.writableNeedDrain).toBe(true);
    // Bounded: b's readable side holds ~hwm, a's writable side ~hwm, not 100 × 40 bytes.
    expect(writes).toBeLessThan(10);
    expect(b.readableLength).toBeLessThanOrEqual(140);
    const drained = once(a, 'drain');
    b.resume();
    await drained;
    a.destroy();
  });

  it('destroy() cuts the peer: it closes without an error, and pending writes fail with a typed error', async () => {
    const [a, b] = memoryPair({ highWaterMark: 16 });
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    const results: Array<Error | null | undefined> = [];
    b.write(Buffer.alloc(64), (err) => results.push(err));
    b.write(Buffer.alloc(64), (err) => results.push(err));
    const closed = once(b, 'close');
    a.destroy();
    await closed;
    expect(errors).toEqual([]);
    expect(b.destroyed).toBe(true);
    await turns();
    expect(results.length).toBe(2);
    expect(results.every((e) => e instanceof Error)).toBe(true);
  });

  it('a clean close in both directions does not cut: the slower reader still gets end', async () => {
    const [a, b] = memoryPair();
    const gotA = collect(a);
    const aClosed = once(a, 'close');
    a.end('from a');
    b.end('from b');
    expect((await gotA).toString()).toBe('from b');
    await aClosed;
    expect(b.destroyed).toBe(false); // b has not read its EOF yet
    expect((await collect(b)).toString()).toBe('from a');
  });

  it('createMemoryLink pause()/resume() holds one direction without losing bytes', async () => {
    const link = duplexPair({ highWaterMark: 64 });
    link.pause('aToB');
    expect(link.isPaused('aToB')).toBe(true);
    expect(link.isPaused('bToA')).toBe(false);
    const got = collect(link.b);
    const back = collect(link.a);
    let writes = 0;
    while (link.a.write(Buffer.alloc(32, 1)) && writes < 100) writes++;
    link.b.end('pong');
    await turns();
    expect(link.b.readableLength).toBe(0);
    expect((await back).toString()).toBe('pong');
    link.resume();
    link.a.end();
    expect((await got).length).toBe((writes + 1) * 32);
  });

  it('validates options with typed errors', () => {
    expect(() => memoryPair({ highWaterMark: 0 })).toThrow(TransportError);
    expect(() => memoryPair({ highWaterMark: 1.5 })).toThrow(/highWaterMark must be an integer in \[1, /);
    expect(() => createMemoryLink({ allowHalfOpen: 'yes' as never })).toThrow(/allowHalfOpen must be a boolean, got "yes"/);
  });
});
