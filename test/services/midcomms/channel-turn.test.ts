/**
 * A TransactionChannel tells a tick's first frame from the link's turn
 * (`Transaction.linkTurn`: the write queue's end-of-turn flush ends the tick
 * for it) instead of a microtask of its own per first frame. The DMSG
 * messages it makes must be exactly those of the microtask scheme, which it
 * still uses where the link has no turn (here: the same transaction with
 * `linkTurn` hidden): each scenario runs over a real link to a raw peer
 * both ways, and the peer must receive the same bytes.
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../../src/iocom/transaction.ts';
import { TransactionChannel } from '../../../src/services/midcomms/transaction-channel.ts';
import { DMSG } from '../../../src/wire/constants.ts';
import { rawLink } from '../../helpers/raw-peer.ts';

const CMD = DMSG.DBG_SHELL;
const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));

/** `tx` without a turn (as a local link's): the channel falls back to its own end-of-tick microtask. */
function withoutTurn(tx: Transaction): Transaction {
  return new Proxy(tx, {
    get(t, p) {
      if (p === 'linkTurn') return -1;
      const v = Reflect.get(t, p, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** Frames of `size` bytes cut back to back from one buffer, numbered from `first`. */
function frames(n: number, size: number, first: number): Uint8Array[] {
  const buf = new Uint8Array(n * size);
  return Array.from({ length: n }, (_, i) => {
    const f = new Uint8Array(buf.buffer, i * size, size);
    f.fill((first + i) & 0xff);
    f[1] = size & 0xff;
    return f;
  });
}

type Write = (f: Uint8Array) => void;

/** Writes in varied tick patterns: alone per tick, several per tick, from microtasks after the first, past maxBatchBytes. */
async function scenario(write: Write): Promise<void> {
  let k = 0;
  for (let t = 0; t < 6; t++) {
    for (const f of frames(1, 40, k++)) write(f);
    await turn();
  }
  for (let t = 0; t < 4; t++) {
    for (const f of frames(1 + t, 60, k)) write(f);
    k += 1 + t;
    await turn();
  }
  // A first frame, then more from microtasks of the same tick (the link's end-of-turn flush is queued between them).
  write(frames(1, 50, k++)[0]!);
  await Promise.resolve();
  write(frames(1, 50, k++)[0]!);
  void Promise.resolve().then(() => write(frames(1, 50, k++)[0]!));
  await turn();
  // Past maxBatchBytes (1024): a flush mid-tick, then a new first frame.
  for (const f of frames(30, 100, k)) write(f);
  k += 30;
  await turn();
  // Frames from separate buffers in one tick.
  for (let i = 0; i < 5; i++) write(frames(1, 70, k++)[0]!);
  await turn();
}

async function run(turnAware: boolean, highWater?: number): Promise<{ wire: string; messages: number; firstDirect: number }> {
  const l = await rawLink('memory', { name: 'ch', ...(highWater === undefined ? {} : { writeHighWaterMark: highWater }) });
  try {
    const { io, peer } = l;
    const u = io.open(CMD);
    const ch = new TransactionChannel(turnAware ? u : withoutTurn(u), { frameCmd: CMD, maxBatchBytes: 1024 });
    ch.bind({ data: () => {}, writable: () => {}, lost: () => {} });
    let firstDirect = 0;
    await scenario((f) => {
      const before = peer.bytes.length;
      ch.write(f);
      if (peer.bytes.length > before) firstDirect++;
    });
    await peer.roundTrip();
    const msgs = peer.received.filter((m) => (m.header.cmd & 0xffff) === (CMD & 0xffff));
    return { wire: Buffer.concat(peer.bytes.map((b) => Buffer.from(b))).toString('hex'), messages: msgs.length, firstDirect };
  } finally {
    await l.close();
  }
}

describe('TransactionChannel: the tick from the link\'s turn', () => {
  it('the same DMSG messages, byte for byte, as the end-of-tick microtask scheme', async () => {
    const a = await run(true);
    const b = await run(false);
    expect(a.messages).toBeGreaterThan(15);
    expect(a).toEqual(b);
  });

  it('the same bytes with a link above its write high-water mark (its queue waits for drain)', async () => {
    const a = await run(true, 256);
    const b = await run(false, 256);
    expect(a.messages).toBeGreaterThan(15);
    expect(a).toEqual(b);
  });

  it('a real transaction reports the link\'s turn: a number after a send until the link\'s end-of-turn flush, then -1', async () => {
    const l = await rawLink('memory', { name: 'ch' });
    try {
      const u = l.io.open(CMD);
      await turn();
      expect(u.linkTurn).toBe(-1);
      u.send(CMD, { aux: new Uint8Array(8) });
      const t = u.linkTurn;
      expect(t).toBeGreaterThanOrEqual(0);
      u.send(CMD, { aux: new Uint8Array(8) });
      expect(u.linkTurn).toBe(t);
      await Promise.resolve();
      await Promise.resolve();
      expect(u.linkTurn).toBe(-1);
      u.send(CMD, { aux: new Uint8Array(8) });
      expect(u.linkTurn).toBe(t + 1);
    } finally {
      await l.close();
    }
  });

  it('one microtask fewer per tick: a frame alone per tick queues no microtask of the channel', async () => {
    const l = await rawLink('memory', { name: 'ch' });
    try {
      const u = l.io.open(CMD);
      await turn();
      const ch = new TransactionChannel(u, { frameCmd: CMD, maxBatchBytes: 1024 });
      ch.bind({ data: () => {}, writable: () => {}, lost: () => {} });
      // The channel's end-of-tick flush is its only promise reaction: count them through Promise.prototype.then.
      const then = Promise.prototype.then;
      let thens = 0;
      Promise.prototype.then = function (this: Promise<unknown>, ...args: Parameters<typeof then>) {
        thens++;
        return then.apply(this, args);
      } as typeof then;
      let withTurn: number;
      try {
        ch.write(frames(1, 40, 1)[0]!);
        withTurn = thens;
      } finally {
        Promise.prototype.then = then;
      }
      await turn();
      const v = l.io.open(CMD);
      await turn();
      const fallback = new TransactionChannel(withoutTurn(v), { frameCmd: CMD, maxBatchBytes: 1024 });
      fallback.bind({ data: () => {}, writable: () => {}, lost: () => {} });
      thens = 0;
      Promise.prototype.then = function (this: Promise<unknown>, ...args: Parameters<typeof then>) {
        thens++;
        return then.apply(this, args);
      } as typeof then;
      let without: number;
      try {
        fallback.write(frames(1, 40, 2)[0]!);
        without = thens;
      } finally {
        Promise.prototype.then = then;
      }
      expect(without - withTurn).toBe(1);
    } finally {
      await l.close();
    }
  });
});
