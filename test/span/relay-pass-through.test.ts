/**
 * The relay pass-through (src/iocom/raw-observer.ts): a relayed mid-stream
 * message is passed on from its raw header words instead of a decoded
 * Message. It must change nothing observable: the same bytes on both links,
 * the same link failures, the same counters as the general path.
 *
 * Each case runs a relay (two Iocoms paired by relayTransaction) between a
 * hand-driven client and a hand-driven server, twice: once as shipped (the
 * pass-through on) and once with a second observer on both relayed
 * transactions' rx$, which makes the pass-through decline every message
 * (it only takes a transaction whose rx$ has the relay half alone), so the
 * general path handles everything. Random valid traffic and random
 * corruption (a flipped byte in header or aux, a wrong sequence number,
 * unknown msgid or circuit, msgids of 2^32 and more, stray flags, split and
 * batched writes) must give identical results; the pass-through must
 * actually take messages in the first run and none in the second.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { ReceiveDispatch } from '../../src/iocom/receive-dispatch.ts';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { relayTransaction } from '../../src/span/relay.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import type { Header } from '../../src/wire/header.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import { createMemoryLink } from '../../src/transport/memory.ts';
import { RawPeer, rawLink, reasonCode, type RawLink } from '../helpers/raw-peer.ts';

const SEED = 0x5eed13;
const CMD = DMSG.DBG_SHELL;

type Corrupt = { kind: 'none' } | { kind: 'byte'; pos: number; xor: number } | { kind: 'seq' } | { kind: 'msgid' } | { kind: 'circuit' } | { kind: 'bigid' } | { kind: 'reserved18' };

interface Send {
  readonly dir: 'c2s' | 's2c';
  /** Extra cmd flags: mostly none; sometimes REPLY, ABORT, DELETE or DELETE|ABORT. */
  readonly flags: number;
  readonly auxLen: number;
  readonly fill: number;
  readonly reserved02: number;
  readonly error: number;
  readonly corrupt: Corrupt;
  /** How the bytes are written: alone, split in two at `at`, or batched with the next `n - 1` sends of the same direction. */
  readonly write: { kind: 'whole' } | { kind: 'split'; at: number } | { kind: 'batch'; n: number };
}

const corruptArb: fc.Arbitrary<Corrupt> = fc.oneof(
  { weight: 30, arbitrary: fc.constant({ kind: 'none' } as const) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('byte' as const), pos: fc.nat(400), xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'seq' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'msgid' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'circuit' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bigid' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reserved18' } as const) },
);

const sendArb: fc.Arbitrary<Send> = fc.record({
  dir: fc.oneof({ weight: 3, arbitrary: fc.constant('c2s' as const) }, { weight: 1, arbitrary: fc.constant('s2c' as const) }),
  flags: fc.oneof(
    { weight: 20, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constant(DMSGF.REPLY) },
    { weight: 1, arbitrary: fc.constant(DMSGF.ABORT) },
    { weight: 1, arbitrary: fc.constant(DMSGF.DELETE) },
    { weight: 1, arbitrary: fc.constant(DMSGF.DELETE | DMSGF.ABORT) },
    { weight: 1, arbitrary: fc.constant(DMSGF.CREATE) },
  ),
  auxLen: fc.oneof({ weight: 3, arbitrary: fc.constant(64) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(300) }),
  fill: fc.nat(255),
  reserved02: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff }) }),
  error: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
  corrupt: corruptArb,
  write: fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'whole' } as const) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('split' as const), at: fc.integer({ min: 1, max: 500 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('batch' as const), n: fc.integer({ min: 2, max: 12 }) }) },
  ),
});

interface Outcome {
  toServer: string;
  toClient: string;
  relayIn: string;
  relayOut: string;
  stats: string;
  taken: number;
}

const hexOf = (chunks: readonly Uint8Array[]): string => Buffer.from(concatBytes(chunks)).toString('hex');

/** Settle both links: a PING round trip on each (in the order that flushes what one forwarded to the other); a dead link is fine. */
async function settle(a: RawLink, b: RawLink): Promise<void> {
  for (const l of [a, b, a, b]) {
    if (!l.io.isOpen) continue;
    await Promise.race([l.peer.roundTrip().catch(() => {}), l.closed]);
  }
}

function spyTaken(): { count(): number; restore(): void } {
  const orig = ReceiveDispatch.prototype.passThrough;
  let n = 0;
  const spy = vi.spyOn(ReceiveDispatch.prototype, 'passThrough').mockImplementation(function (this: ReceiveDispatch, W, w, aux) {
    const r = orig.call(this, W, w, aux);
    if (r) n++;
    return r;
  });
  return { count: () => n, restore: () => spy.mockRestore() };
}

/** Run `sends` through a relay; `general`: make the pass-through decline everything. */
async function run(sends: readonly Send[], clientMsgid: bigint, general: boolean): Promise<Outcome> {
  const a = await rawLink('memory', { name: 'relay-in' });
  const b = await rawLink('memory', { name: 'relay-out' });
  const taken = spyTaken();
  try {
    // The relay's parent transaction toward the server (a span, in a router).
    const parent = b.io.open(CMD);
    let relayed: { incoming: Transaction; outgoing: Transaction } | undefined;
    a.io.transactions$.subscribe((tx) => {
      const out = relayTransaction(tx, a.io, parent, b.io);
      if (out === null) return;
      relayed = { incoming: tx, outgoing: out };
      if (general) {
        tx.rx$.subscribe({ error: () => {} });
        out.rx$.subscribe({ error: () => {} });
      }
    });
    // The client opens the relayed transaction; the server answers its CREATE.
    a.peer.send({ cmd: CMD | DMSGF.CREATE, msgid: clientMsgid });
    await settle(a, b);
    expect(relayed).toBeDefined();
    const create = b.peer.received.find((m) => (m.header.cmd & DMSGF.CREATE) !== 0 && m.header.circuit !== 0n)!;
    const serverMsgid = create.header.msgid;
    const circuit = create.header.circuit;
    b.peer.send({ cmd: CMD | DMSGF.REPLY | DMSGF.CREATE | DMSGF.REVTRANS | DMSGF.REVCIRC, msgid: serverMsgid, circuit });
    await settle(a, b);

    const pending: { c2s: Uint8Array[]; s2c: Uint8Array[] } = { c2s: [], s2c: [] };
    let batchLeft = { c2s: 0, s2c: 0 };
    for (const s of sends) {
      const peer = s.dir === 'c2s' ? a.peer : b.peer;
      const base = s.dir === 'c2s' ? CMD : CMD | DMSGF.REPLY | DMSGF.REVTRANS | DMSGF.REVCIRC;
      const h: Partial<Header> = {
        cmd: (base | s.flags) >>> 0,
        msgid: s.dir === 'c2s' ? clientMsgid : serverMsgid,
        circuit: s.dir === 'c2s' ? 0n : circuit,
        reserved02: s.reserved02,
        error: s.error,
        salt: peer.seq,
      };
      peer.skipSeq();
      const c = s.corrupt;
      if (c.kind === 'seq') h.salt = (peer.seq + 7) & 0xff;
      if (c.kind === 'msgid') h.msgid = 0x7777n;
      if (c.kind === 'circuit') h.circuit = 0x5555n;
      if (c.kind === 'bigid') h.msgid = (1n << 32n) + h.msgid!;
      if (c.kind === 'reserved18') h.reserved18 = 3n;
      const bytes = concatBytes(encodeMessage({ header: h, aux: new Uint8Array(s.auxLen).fill(s.fill) }));
      if (c.kind === 'byte') bytes[c.pos % bytes.length]! ^= c.xor;
      const q = pending[s.dir];
      q.push(bytes);
      if (s.write.kind === 'batch' && batchLeft[s.dir] === 0) batchLeft = { ...batchLeft, [s.dir]: s.write.n };
      if (batchLeft[s.dir] > 1) {
        batchLeft = { ...batchLeft, [s.dir]: batchLeft[s.dir] - 1 };
        continue;
      }
      batchLeft = { ...batchLeft, [s.dir]: 0 };
      const all = concatBytes(q.splice(0));
      if (s.write.kind === 'split' && s.write.at < all.length) {
        peer.writeRaw(all.slice(0, s.write.at));
        await Promise.resolve();
        peer.writeRaw(all.slice(s.write.at));
      } else {
        peer.writeRaw(all);
      }
      await new Promise<void>((r) => setImmediate(r));
    }
    for (const dir of ['c2s', 's2c'] as const) if (pending[dir].length > 0) (dir === 'c2s' ? a.peer : b.peer).writeRaw(concatBytes(pending[dir].splice(0)));
    await settle(a, b);
    const reason = async (l: RawLink): Promise<string> => (l.io.isOpen ? 'open' : reasonCode(await l.closed));
    const st = (l: RawLink): string => {
      const s = l.io.stats();
      return `${s.messagesIn}/${s.dropped}`;
    };
    return {
      toServer: hexOf(b.peer.bytes),
      toClient: hexOf(a.peer.bytes),
      relayIn: await reason(a),
      relayOut: await reason(b),
      stats: `${st(a)} ${st(b)}`,
      taken: taken.count(),
    };
  } finally {
    taken.restore();
    await a.close();
    await b.close();
  }
}

/**
 * Backpressure across the relay: the link toward the server stops moving
 * bytes, the relay's write queue toward it passes its high-water mark, the
 * relay pauses reading the client's link (the tap then declines and the
 * decoded messages wait in the inbound queue), and all flows again once the
 * server's side moves. Returns the bytes the server got and how many
 * messages the pass-through took.
 */
async function runBackpressured(n: number, general: boolean): Promise<{ toServer: string; taken: number; received: number; relayIn: string; relayOut: string }> {
  const a = await rawLink('memory', { name: 'relay-in' });
  const link = createMemoryLink();
  const server = new RawPeer(link.b);
  const out = new Iocom(link.a, { name: 'relay-out', pingIntervalMs: 0, linkTimeoutMs: 0, writeHighWaterMark: 4096 });
  const taken = spyTaken();
  try {
    const parent = out.open(CMD);
    a.io.transactions$.subscribe((tx) => {
      const o = relayTransaction(tx, a.io, parent, out);
      if (general && o !== null) {
        tx.rx$.subscribe({ error: () => {} });
        o.rx$.subscribe({ error: () => {} });
      }
    });
    a.peer.send({ cmd: CMD | DMSGF.CREATE, msgid: 9n });
    await a.peer.roundTrip();
    link.pause('aToB');
    for (let i = 0; i < n; i += 20) {
      const batch: Uint8Array[] = [];
      for (let j = i; j < i + 20 && j < n; j++) {
        batch.push(concatBytes(encodeMessage({ header: { cmd: CMD, msgid: 9n, salt: a.peer.seq }, aux: new Uint8Array(64).fill(j & 0xff) })));
        a.peer.skipSeq();
      }
      a.peer.writeRaw(concatBytes(batch));
      await new Promise<void>((r) => setImmediate(r));
    }
    link.resume('aToB');
    await server.until(() => server.received.length >= n + 2, `${n + 2} messages at the server`);
    return {
      toServer: hexOf(server.bytes),
      taken: taken.count(),
      received: server.received.length,
      relayIn: a.io.isOpen ? 'open' : reasonCode(await a.closed),
      relayOut: out.isOpen ? 'open' : 'closed',
    };
  } finally {
    taken.restore();
    out.destroy();
    link.b.destroy();
    await a.close();
  }
}

describe('relay pass-through', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a stream of mid-stream messages both ways: taken by the pass-through, bytes identical to the general path', async () => {
    const sends: Send[] = [];
    for (let i = 0; i < 300; i++) {
      sends.push({
        dir: i % 5 === 4 ? 's2c' : 'c2s',
        flags: 0,
        auxLen: [64, 0, 1, 63, 65, 200, 4096][i % 7]!,
        fill: i & 0xff,
        reserved02: i % 11 === 0 ? 0x1234 : 0,
        error: i % 13 === 0 ? 9 : 0,
        corrupt: { kind: 'none' },
        write: i % 3 === 0 ? { kind: 'batch', n: 8 } : { kind: 'whole' },
      });
    }
    const fast = await run(sends, 0x1234n, false);
    const slow = await run(sends, 0x1234n, true);
    expect(slow.taken).toBe(0);
    // Every mid-stream message of both directions but those in a chunk after a general-path message.
    expect(fast.taken).toBeGreaterThan(200);
    expect(fast.relayIn).toBe('open');
    expect(fast.relayOut).toBe('open');
    expect({ ...fast, taken: 0 }).toEqual({ ...slow, taken: 0 });
    // The server got all 240 client messages after the two CREATEs (and the PING replies).
    expect(fast.toServer.length).toBeGreaterThan(240 * 256);
  });

  it('reads whose messages start misaligned (after a message split across reads) are passed through too, with the same bytes', async () => {
    const sends: Send[] = [];
    for (let i = 0; i < 160; i++) {
      sends.push({
        dir: 'c2s',
        flags: 0,
        auxLen: i % 4 === 0 ? 0 : 64,
        fill: i & 0xff,
        reserved02: i % 3 === 0 ? 0x100 + i : 0,
        error: i % 5 === 0 ? i : 0,
        corrupt: { kind: 'none' },
        // Batches of 8 written in two reads split 100 bytes in: the rest of the second read starts at byte 28 of it.
        write: i % 8 === 7 ? { kind: 'split', at: 100 } : { kind: 'batch', n: 8 },
      });
    }
    const fast = await run(sends, 77n, false);
    const slow = await run(sends, 77n, true);
    expect(slow.taken).toBe(0);
    expect(fast.taken).toBeGreaterThan(100);
    expect(fast.relayIn).toBe('open');
    expect({ ...fast, taken: 0 }).toEqual({ ...slow, taken: 0 });
  });

  it('backpressure: the relay pauses the client link while the server side is stuck; same bytes, in order, after it moves again', async () => {
    const n = 400;
    const fast = await runBackpressured(n, false);
    const slow = await runBackpressured(n, true);
    expect(slow.taken).toBe(0);
    // Some messages went through the tap before the queue filled; the ones read while paused did not.
    expect(fast.taken).toBeGreaterThan(0);
    expect(fast.taken).toBeLessThan(n);
    expect(fast.received).toBe(n + 2);
    expect(fast.relayIn).toBe('open');
    expect(fast.relayOut).toBe('open');
    expect(fast.toServer).toBe(slow.toServer);
  });

  it('random traffic and random corruption: the same bytes, failures and counters with and without the pass-through', async () => {
    let takenTotal = 0;
    let failedRuns = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(sendArb, { minLength: 1, maxLength: 40 }), fc.oneof(fc.constant(5n), fc.bigInt({ min: 1n, max: (1n << 33n) })), async (sends, msgid) => {
        const fast = await run(sends, msgid, false);
        const slow = await run(sends, msgid, true);
        takenTotal += fast.taken;
        if (fast.relayIn !== 'open' || fast.relayOut !== 'open') failedRuns++;
        expect(slow.taken).toBe(0);
        expect({ ...fast, taken: 0 }).toEqual({ ...slow, taken: 0 });
      }),
      { seed: SEED, numRuns: 150, endOnFailure: true },
    );
    // Not vacuous: the pass-through took messages, and corruption failed links in both modes alike.
    expect(takenTotal).toBeGreaterThan(100);
    expect(failedRuns).toBeGreaterThan(10);
  }, 60_000);
});
