/**
 * How a TransactionChannel puts frames into DMSG messages: the first frame
 * of a tick goes to the transaction at once, as its own message; the frames
 * after it in the same tick go as one batch at the end of the tick; a batch
 * never exceeds maxBatchBytes.
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../../src/span/index.ts';
import { TransactionChannel } from '../../../src/services/midcomms/transaction-channel.ts';

/** The members of a Transaction the channel uses; `sent` records each message's aux. */
function fakeTx(): { tx: Transaction; sent: Uint8Array[]; flushed: boolean[]; closed: () => boolean } {
  const sent: Uint8Array[] = [];
  const flushed: boolean[] = [];
  let closed = false;
  const tx = {
    get canSend() {
      return !closed;
    },
    get writable() {
      return !closed;
    },
    send(_cmd: number, opts: { aux: Uint8Array; flush?: boolean }) {
      sent.push(opts.aux.slice());
      flushed.push(opts.flush === true);
      return true;
    },
    whenWritable: () => new Promise<void>(() => {}),
    close() {
      closed = true;
    },
  };
  return { tx: tx as unknown as Transaction, sent, flushed, closed: () => closed };
}

/** `n` frames of `size` bytes cut back to back from one buffer (as the sender's slab does), byte k of frame i = i. */
function frames(n: number, size: number): Uint8Array[] {
  const buf = new Uint8Array(n * size);
  return Array.from({ length: n }, (_, i) => {
    const f = new Uint8Array(buf.buffer, i * size, size);
    f.fill(i);
    return f;
  });
}

const tick = (): Promise<void> => Promise.resolve().then(() => {});

describe('TransactionChannel batching', () => {
  it('a frame alone in its tick goes to the transaction at once, as its own message', async () => {
    const { tx, sent } = fakeTx();
    const ch = new TransactionChannel(tx, { frameCmd: 1, maxBatchBytes: 65536 });
    const [f] = frames(1, 104);
    expect(ch.write(f!)).toBe(true);
    expect(sent.length).toBe(1); // before the end of the tick
    expect([...sent[0]!]).toEqual([...f!]);
    await tick();
    expect(sent.length).toBe(1);
    // The next tick's first frame goes at once again.
    const [g] = frames(1, 104);
    ch.write(g!);
    expect(sent.length).toBe(2);
  });

  it('the first frame of a tick is sent with flush (written during send), the end-of-tick batch without', async () => {
    const { tx, sent, flushed } = fakeTx();
    const ch = new TransactionChannel(tx, { frameCmd: 1, maxBatchBytes: 65536 });
    for (const f of frames(3, 104)) ch.write(f);
    expect(flushed).toEqual([true]);
    await tick();
    expect(flushed).toEqual([true, false]);
    expect(sent.map((s) => s.length)).toEqual([104, 2 * 104]);
    ch.write(frames(1, 104)[0]!); // the next tick's first
    expect(flushed).toEqual([true, false, true]);
  });

  it('the frames after the first in a tick go as one batch at the end of the tick, in order', async () => {
    const { tx, sent } = fakeTx();
    const ch = new TransactionChannel(tx, { frameCmd: 1, maxBatchBytes: 65536 });
    const fs = frames(100, 104);
    for (const f of fs) ch.write(f);
    expect(sent.length).toBe(1);
    await tick();
    expect(sent.length).toBe(2);
    expect(sent[0]!.length).toBe(104);
    expect(sent[1]!.length).toBe(99 * 104);
    const all = new Uint8Array([...sent[0]!, ...sent[1]!]);
    for (let i = 0; i < 100; i++) expect(all[i * 104]).toBe(i);
  });

  it('a batch never exceeds maxBatchBytes; frames from different buffers are joined', async () => {
    const { tx, sent } = fakeTx();
    const ch = new TransactionChannel(tx, { frameCmd: 1, maxBatchBytes: 4096 });
    ch.write(frames(1, 1000)[0]!); // the tick's first: at once
    for (let i = 0; i < 10; i++) ch.write(frames(1, 1000)[0]!.fill(i + 1)); // each from its own buffer
    await tick();
    // 1000 at once; the batch reaches 5000 > 4096 at the 6th frame: flushed then as 4000 + 1000 (whole frames);
    // the 7th is again the first of a new batch (at once), the last four go at the end of the tick.
    expect(sent.map((a) => a.length)).toEqual([1000, 4000, 1000, 1000, 4000]);
    for (const a of sent) expect(a.length).toBeLessThanOrEqual(4096);
    expect(sent.slice(1).flatMap((a) => [...a].filter((_, k) => k % 1000 === 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('after the channel closed nothing more is sent', async () => {
    const { tx, sent, closed } = fakeTx();
    const ch = new TransactionChannel(tx, { frameCmd: 1, maxBatchBytes: 65536 });
    ch.write(frames(1, 104)[0]!);
    ch.write(frames(1, 104)[0]!);
    ch.close(); // flushes what is pending, then closes
    expect(closed()).toBe(true);
    expect(sent.length).toBe(2);
    ch.write(frames(1, 104)[0]!);
    await tick();
    expect(sent.length).toBe(2);
  });
});
